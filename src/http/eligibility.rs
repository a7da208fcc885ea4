//! `GET /v1/eligibility` (one point) and `POST /v1/eligibility` (a batch, answers in input order).

use std::collections::BTreeMap;

use axum::extract::{RawQuery, State};
use chrono::NaiveDate;
use serde::Serialize;
use serde_json::Value;

use axum::response::{IntoResponse, Response};

use super::error::{ApiError, AppBytes, AppQuery, ItemError};
use super::state::AppState;
use crate::coord::LonLat;
use crate::eligibility::{PointEligibility, ZoneRef, ZoneSetRef, round_cm};
use crate::zones::{Location, ZoneIndex};

/// Parses the optional `at` date (default today).
pub(super) fn date_param(q: &BTreeMap<String, String>) -> Result<NaiveDate, ApiError> {
    match q.get("at") {
        None => Ok(chrono::Local::now().date_naive()),
        Some(raw) => parse_date(raw),
    }
}

fn parse_date(raw: &str) -> Result<NaiveDate, ApiError> {
    raw.parse()
        .map_err(|_| ApiError::bad_request(format!("at {raw:?} is not a date: use YYYY-MM-DD, e.g. at=2018-06-01")))
}

/// Refuses query parameters other than `allowed`.
pub(super) fn only_params(q: &BTreeMap<String, String>, allowed: &[&str]) -> Result<(), ApiError> {
    match q.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(ApiError::bad_request(format!(
            "unknown query parameter {k:?}; this endpoint takes {}",
            allowed.join(", ")
        ))),
        None => Ok(()),
    }
}

/// The index of the zone set in force on `at`.
pub(super) fn index_on(state: &AppState, at: NaiveDate) -> Result<std::sync::Arc<ZoneIndex>, ApiError> {
    let loaded = state.loaded();
    loaded.zones.in_force(at).map(std::sync::Arc::clone).map_err(|e| ApiError::unprocessable(e.to_string()))
}

/// Is this contact location in a LEAD area?
#[utoipa::path(
    get,
    path = "/v1/eligibility",
    tag = "eligibility",
    params(
        ("lon" = f64, Query, description = "Longitude, WGS84 degrees east (x), e.g. -122.6793"),
        ("lat" = f64, Query, description = "Latitude, WGS84 degrees north (y), e.g. 45.5189"),
        ("at" = Option<String>, Query, description = "Date whose zone set applies, YYYY-MM-DD; default today"),
    ),
    responses(
        (status = 200, description = "The answer", body = PointEligibility),
        (status = 400, description = "A query value is missing or wrong", body = super::error::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = super::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token's role is too low", body = super::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "No zone set is in force on that date", body = super::error::Problem, content_type = "application/problem+json"),
        (status = 503, description = "Timed out or over the concurrency limit", body = super::error::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn get_eligibility(State(state): State<AppState>, RawQuery(query): RawQuery) -> Result<Response, ApiError> {
    let q = PointQuery::parse(query.as_deref().unwrap_or(""))?;
    let lon = PointQuery::coordinate(q.lon.as_deref(), "lon", "-122.6793")?;
    let lat = PointQuery::coordinate(q.lat.as_deref(), "lat", "45.5189")?;
    let point = LonLat::new(lon, lat).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let at = match q.at.as_deref() {
        None => chrono::Local::now().date_naive(),
        Some(raw) => parse_date(raw)?,
    };
    let served = state.loaded();
    let (index, template) = served.answering(at).map_err(|e| ApiError::unprocessable(e.to_string()))?;
    let Some(template) = template else {
        return Ok(axum::Json(PointEligibility::of(index, point, at)).into_response());
    };
    let json = template.render(&index.locate(point), point, at).map_err(|e| ApiError::internal(e.to_string()))?;
    Ok(([(axum::http::header::CONTENT_TYPE, "application/json")], json).into_response())
}

/// A JSON boolean.
fn flag(b: bool) -> &'static [u8] {
    if b { b"true" } else { b"false" }
}

/// The constant parts of one zone set's [`PointEligibility`] answers, rendered once when the set is
/// loaded, so that answering a point writes only what varies. [`AnswerTemplate::render`] gives the bytes
/// serializing a [`PointEligibility`] would.
#[derive(Debug)]
pub struct AnswerTemplate {
    /// `{"id":..,"name":..}` of each zone.
    zones: Vec<Vec<u8>>,
    /// `,"borderline_m":..,"point":{"lon":`
    borderline: Vec<u8>,
    /// `,"zone_set":{..}}`
    tail: Vec<u8>,
}

impl AnswerTemplate {
    /// Renders the constant parts for `index` (serializing plain structs into memory does not fail in
    /// practice; if it did, answers would be serialized whole instead).
    pub fn new(index: &ZoneIndex) -> Result<Self, serde_json::Error> {
        let zones =
            index.set().zones().iter().map(|z| serde_json::to_vec(&ZoneRef::from(z))).collect::<Result<_, _>>()?;
        let borderline_m = index.options().borderline_m;
        let mut borderline = b",\"borderline_m\":".to_vec();
        serde_json::to_writer(&mut borderline, &borderline_m)?;
        borderline.extend_from_slice(b",\"point\":{\"lon\":");
        let mut tail = b",\"zone_set\":".to_vec();
        serde_json::to_writer(&mut tail, &ZoneSetRef::from(index.set()))?;
        tail.push(b'}');
        Ok(Self { zones, borderline, tail })
    }

    /// The answer for `point` located as `loc` on `at`.
    fn render(&self, loc: &Location, point: LonLat, at: NaiveDate) -> Result<Vec<u8>, serde_json::Error> {
        let zone_or_null = |z: Option<usize>| z.map_or(&b"null"[..], |z| self.zones[z].as_slice());
        let mut out = Vec::with_capacity(512);
        out.extend_from_slice(b"{\"eligible\":");
        out.extend_from_slice(flag(loc.zone.is_some()));
        out.extend_from_slice(b",\"zone\":");
        out.extend_from_slice(zone_or_null(loc.zone));
        out.extend_from_slice(b",\"on_boundary\":");
        out.extend_from_slice(flag(loc.on_boundary));
        out.extend_from_slice(b",\"borderline\":");
        out.extend_from_slice(flag(loc.borderline));
        out.extend_from_slice(b",\"distance_m\":");
        serde_json::to_writer(&mut out, &round_cm(loc.distance_m))?;
        out.extend_from_slice(b",\"coverage_borderline\":");
        out.extend_from_slice(flag(loc.coverage_borderline));
        out.extend_from_slice(b",\"coverage_distance_m\":");
        serde_json::to_writer(&mut out, &round_cm(loc.coverage_distance_m))?;
        out.extend_from_slice(b",\"nearest_zone\":");
        out.extend_from_slice(zone_or_null(loc.zone.is_none().then_some(loc.nearest_zone)));
        out.extend_from_slice(&self.borderline);
        serde_json::to_writer(&mut out, &point.lon())?;
        out.extend_from_slice(b",\"lat\":");
        serde_json::to_writer(&mut out, &point.lat())?;
        out.extend_from_slice(b"},\"at\":");
        serde_json::to_writer(&mut out, &at)?;
        out.extend_from_slice(&self.tail);
        Ok(out)
    }
}

/// The query of `GET /v1/eligibility`, read straight from the raw query string: the hot path of the
/// service, so no map is built and values are only copied when percent-decoding needs it.
struct PointQuery<'a> {
    lon: Option<std::borrow::Cow<'a, str>>,
    lat: Option<std::borrow::Cow<'a, str>>,
    at: Option<std::borrow::Cow<'a, str>>,
}

impl<'a> PointQuery<'a> {
    fn parse(raw: &'a str) -> Result<Self, ApiError> {
        let mut q = Self { lon: None, lat: None, at: None };
        for (key, value) in form_urlencoded::parse(raw.as_bytes()) {
            let slot = match key.as_ref() {
                "lon" => &mut q.lon,
                "lat" => &mut q.lat,
                "at" => &mut q.at,
                other => {
                    return Err(ApiError::bad_request(format!(
                        "unknown query parameter {other:?}; this endpoint takes lon, lat, at"
                    )));
                }
            };
            if slot.replace(value).is_some() {
                return Err(ApiError::bad_request(format!("query parameter {key} is given more than once")));
            }
        }
        Ok(q)
    }

    /// Parses a required coordinate value.
    fn coordinate(raw: Option<&str>, name: &str, example: &str) -> Result<f64, ApiError> {
        let raw = raw.ok_or_else(|| {
            ApiError::bad_request(format!("query parameter {name} is required (WGS84 degrees, e.g. {name}={example})"))
        })?;
        raw.trim()
            .parse::<f64>()
            .map_err(|_| ApiError::bad_request(format!("{name} {raw:?} is not a number of degrees")))
    }
}

/// One point's answer inside a batch (zone ids only; the zone set is given once).
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[expect(clippy::struct_excessive_bools, reason = "a wire format: each flag is a field of the JSON answer")]
pub struct BatchItem<'a> {
    /// In a LEAD zone (edges included).
    pub eligible: bool,
    /// Zone id, or null.
    pub zone: Option<&'a str>,
    /// Exactly on a zone edge.
    pub on_boundary: bool,
    /// Within the borderline distance of a zone edge.
    pub borderline: bool,
    /// Within the borderline distance of an edge between a LEAD area and the outside.
    pub coverage_borderline: bool,
    /// Metres to the nearest zone edge.
    pub distance_m: f64,
    /// Nearest zone id when outside every zone, else null.
    pub nearest_zone: Option<&'a str>,
}

/// A batch's answers, in input order.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BatchAnswer<'a> {
    /// The date whose zone set answered.
    pub at: NaiveDate,
    /// The zone set that answered.
    pub zone_set: ZoneSetRef,
    /// The borderline distance used, metres.
    pub borderline_m: f64,
    /// How many points.
    pub count: usize,
    /// One answer per input point, in order.
    pub results: Vec<BatchItem<'a>>,
}

/// Reads the points of a batch body: a JSON array of `[lon, lat]` pairs (the fast path, parsed straight
/// into numbers) or a GeoJSON FeatureCollection of Points. Every bad item is named.
fn batch_points(body: &[u8], max: usize) -> Result<Vec<LonLat>, ApiError> {
    if let Some(pairs) = parse_pairs(body) {
        if pairs.len() > max {
            return Err(too_many(pairs.len(), max));
        }
        if let Ok(points) = pairs.iter().map(|&[lon, lat]| LonLat::new(lon, lat)).collect::<Result<Vec<_>, _>>() {
            return Ok(points);
        }
    }
    let value: Value = serde_json::from_slice(body).map_err(|e| ApiError::malformed_json(&e))?;
    batch_points_from_value(&value, max)
}

/// The fast path of [`batch_points`]: exactly `[[lon, lat], ...]` with JSON numbers and whitespace, with
/// no intermediate values; large bodies are split at pair boundaries and parsed on every core. `None` for
/// anything else, and the general path then parses the body or names what is wrong with it.
fn parse_pairs(body: &[u8]) -> Option<Vec<[f64; 2]>> {
    let mut s = Scanner { b: body, i: 0 };
    s.expect(b'[')?;
    let open = s.i;
    let mut end = body.len();
    while end > open && matches!(body[end - 1], b' ' | b'\t' | b'\n' | b'\r') {
        end -= 1;
    }
    if end == open || body[end - 1] != b']' {
        return None;
    }
    let inner = &body[open..end - 1];
    if inner.iter().all(|c| matches!(c, b' ' | b'\t' | b'\n' | b'\r')) {
        return Some(Vec::new());
    }
    let runs = split_runs(inner, worker_threads(inner.len() / 20));
    if runs.len() == 1 {
        return parse_run(inner);
    }
    // The runs joined by commas are `inner`, so all of them parse exactly when `inner` does.
    let parsed = each_on_a_thread(runs, parse_run);
    let mut pairs = Vec::with_capacity(parsed.iter().map(|p| p.as_ref().map_or(0, Vec::len)).sum());
    for run in parsed {
        pairs.extend(run?);
    }
    Some(pairs)
}

/// `f` of every item, each on a scoped thread of its own, answers in item order (a panic in one is
/// raised again here).
fn each_on_a_thread<I: Send, R: Send>(items: impl IntoIterator<Item = I>, f: impl Fn(I) -> R + Sync) -> Vec<R> {
    let f = &f;
    std::thread::scope(|scope| {
        let handles: Vec<_> = items.into_iter().map(|item| scope.spawn(move || f(item))).collect();
        handles.into_iter().map(|h| h.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))).collect()
    })
}

/// How many threads to share `items` of batch work (1 below a couple of thousand items).
fn worker_threads(items: usize) -> usize {
    if items < 2048 { 1 } else { std::thread::available_parallelism().map_or(1, std::num::NonZero::get) }
}

/// Splits the inside of a pairs array into up to `parts` runs of whole pairs, cutting at the comma after
/// a `]` (numbers hold no `]`, so in a well-formed body each one closes a pair; in any other body some
/// run fails to parse).
fn split_runs(inner: &[u8], parts: usize) -> Vec<&[u8]> {
    let mut runs = Vec::with_capacity(parts);
    let mut start = 0;
    for k in 1..parts {
        let from = (inner.len() * k / parts).max(start);
        let Some(close) = inner[from..].iter().position(|&c| c == b']').map(|i| from + i) else { break };
        let Some(comma) = inner[close + 1..]
            .iter()
            .position(|c| !matches!(c, b' ' | b'\t' | b'\n' | b'\r'))
            .map(|i| close + 1 + i)
            .filter(|&i| inner[i] == b',')
        else {
            break;
        };
        runs.push(&inner[start..=close]);
        start = comma + 1;
    }
    runs.push(&inner[start..]);
    runs
}

/// Parses `[lon, lat] (, [lon, lat])*`, whitespace allowed, and nothing else.
fn parse_run(run: &[u8]) -> Option<Vec<[f64; 2]>> {
    let mut s = Scanner { b: run, i: 0 };
    let mut pairs = Vec::with_capacity(run.len() / 24);
    loop {
        s.expect(b'[')?;
        let lon = s.number()?;
        s.expect(b',')?;
        let lat = s.number()?;
        s.expect(b']')?;
        pairs.push([lon, lat]);
        s.skip_ws();
        if s.i == run.len() {
            return Some(pairs);
        }
        s.expect(b',')?;
    }
}

/// A cursor over JSON bytes, for [`parse_pairs`].
struct Scanner<'a> {
    b: &'a [u8],
    i: usize,
}

impl Scanner<'_> {
    fn skip_ws(&mut self) {
        while self.b.get(self.i).is_some_and(|c| matches!(c, b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }

    /// Skips whitespace, then takes `c` if it is next.
    fn eat(&mut self, c: u8) -> bool {
        self.skip_ws();
        let found = self.b.get(self.i) == Some(&c);
        self.i += usize::from(found);
        found
    }

    fn expect(&mut self, c: u8) -> Option<()> {
        self.eat(c).then_some(())
    }

    fn digits(&mut self) -> usize {
        let start = self.i;
        while self.b.get(self.i).is_some_and(u8::is_ascii_digit) {
            self.i += 1;
        }
        self.i - start
    }

    /// A number in JSON's grammar (`-?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?`), correctly rounded.
    fn number(&mut self) -> Option<f64> {
        self.skip_ws();
        let start = self.i;
        self.i += usize::from(self.b.get(self.i) == Some(&b'-'));
        let int_start = self.i;
        let int_digits = self.digits();
        if int_digits == 0 || (int_digits > 1 && self.b[int_start] == b'0') {
            return None;
        }
        if self.b.get(self.i) == Some(&b'.') {
            self.i += 1;
            if self.digits() == 0 {
                return None;
            }
        }
        if matches!(self.b.get(self.i), Some(b'e' | b'E')) {
            self.i += 1;
            self.i += usize::from(matches!(self.b.get(self.i), Some(b'+' | b'-')));
            if self.digits() == 0 {
                return None;
            }
        }
        fast_float2::parse::<f64, _>(&self.b[start..self.i]).ok()
    }
}

fn too_many(n: usize, max: usize) -> ApiError {
    ApiError::new(
        axum::http::StatusCode::PAYLOAD_TOO_LARGE,
        format!("{n} points is more than the limit of {max} per request; split the batch"),
    )
}

/// The slow path of [`batch_points`]: any JSON shape, every bad item named.
fn batch_points_from_value(body: &Value, max: usize) -> Result<Vec<LonLat>, ApiError> {
    let items: Vec<&Value> = match body {
        Value::Array(a) => a.iter().collect(),
        Value::Object(o) if o.get("type").and_then(Value::as_str) == Some("FeatureCollection") => o
            .get("features")
            .and_then(Value::as_array)
            .ok_or_else(|| ApiError::unprocessable("the FeatureCollection has no \"features\" array"))?
            .iter()
            .map(|f| f.pointer("/geometry/coordinates").unwrap_or(&Value::Null))
            .collect(),
        _ => {
            return Err(ApiError::unprocessable(
                "send a JSON array of [lon, lat] pairs or a GeoJSON FeatureCollection of Points",
            ));
        }
    };
    if items.len() > max {
        return Err(too_many(items.len(), max));
    }
    let mut points = Vec::with_capacity(items.len());
    let mut errors = Vec::new();
    for (index, item) in items.iter().enumerate() {
        let parsed = match item.as_array().map(Vec::as_slice) {
            Some([x, y] | [x, y, _]) => match (x.as_f64(), y.as_f64()) {
                (Some(lon), Some(lat)) => LonLat::new(lon, lat).map_err(|e| e.to_string()),
                _ => Err("coordinates must be numbers".to_owned()),
            },
            _ => Err(format!("expected [lon, lat], got {item}")),
        };
        match parsed {
            Ok(p) => points.push(p),
            Err(detail) => errors.push(ItemError { index, detail }),
        }
    }
    if errors.is_empty() {
        Ok(points)
    } else {
        let n = errors.len();
        Err(ApiError::unprocessable(format!("{n} of {} points are not valid; see errors", items.len()))
            .with_items(errors))
    }
}

/// Writes the [`BatchItem`] of `loc` as serializing it would (the batch's hot loop: fixed keys, zone ids
/// escaped beforehand in `ids`, numbers formatted by `serde_json`).
fn write_item(out: &mut Vec<u8>, loc: &Location, ids: &[Vec<u8>]) -> Result<(), serde_json::Error> {
    let zone_or_null = |z: Option<usize>| z.map_or(&b"null"[..], |z| ids[z].as_slice());
    out.extend_from_slice(b"{\"eligible\":");
    out.extend_from_slice(flag(loc.zone.is_some()));
    out.extend_from_slice(b",\"zone\":");
    out.extend_from_slice(zone_or_null(loc.zone));
    out.extend_from_slice(b",\"on_boundary\":");
    out.extend_from_slice(flag(loc.on_boundary));
    out.extend_from_slice(b",\"borderline\":");
    out.extend_from_slice(flag(loc.borderline));
    out.extend_from_slice(b",\"coverage_borderline\":");
    out.extend_from_slice(flag(loc.coverage_borderline));
    out.extend_from_slice(b",\"distance_m\":");
    serde_json::to_writer(&mut *out, &round_cm(loc.distance_m))?;
    out.extend_from_slice(b",\"nearest_zone\":");
    out.extend_from_slice(zone_or_null(loc.zone.is_none().then_some(loc.nearest_zone)));
    out.push(b'}');
    Ok(())
}

/// The JSON of a [`BatchAnswer`] for `points`, byte for byte what serializing one would give. Answering
/// and serializing are split across the CPU cores for large batches (each core renders its own run of
/// `results`; the runs are joined in order).
fn render_batch(index: &ZoneIndex, points: &[LonLat], at: NaiveDate) -> Result<Vec<u8>, serde_json::Error> {
    // Zone ids as JSON strings, escaped once.
    let ids = index.set().zones().iter().map(|z| serde_json::to_vec(z.id.as_str())).collect::<Result<Vec<_>, _>>()?;
    let render = |chunk: &[LonLat]| -> Result<Vec<u8>, serde_json::Error> {
        let mut out = Vec::with_capacity(chunk.len() * 160);
        for (i, p) in chunk.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_item(&mut out, &index.locate(*p), &ids)?;
        }
        Ok(out)
    };
    let threads = worker_threads(points.len());
    let runs = if threads < 2 {
        vec![render(points)?]
    } else {
        let chunk = points.len().div_ceil(threads);
        each_on_a_thread(points.chunks(chunk), render).into_iter().collect::<Result<Vec<_>, _>>()?
    };
    let head = BatchAnswer {
        at,
        zone_set: ZoneSetRef::from(index.set()),
        borderline_m: index.options().borderline_m,
        count: points.len(),
        results: Vec::new(),
    };
    let mut out = serde_json::to_vec(&head)?;
    // `head` ends in `"results":[]}`: open the array again and append the runs.
    out.truncate(out.len() - 2);
    out.reserve(runs.iter().map(|r| r.len() + 1).sum::<usize>() + 2);
    for (i, run) in runs.iter().filter(|r| !r.is_empty()).enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(run);
    }
    out.extend_from_slice(b"]}");
    Ok(out)
}

/// Many points at once (up to the documented limit, 10 000 by default), answers in input order.
#[utoipa::path(
    post,
    path = "/v1/eligibility",
    tag = "eligibility",
    params(("at" = Option<String>, Query, description = "Date whose zone set applies, YYYY-MM-DD; default today")),
    request_body(content = Value, description = "A JSON array of [lon, lat] pairs, or a GeoJSON FeatureCollection of Point features", content_type = "application/json"),
    responses(
        (status = 200, description = "One answer per point, in order", body = BatchAnswer),
        (status = 400, description = "Malformed JSON or query", body = super::error::Problem, content_type = "application/problem+json"),
        (status = 413, description = "Too many points or too large a body", body = super::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Some points are invalid (each named in `errors`)", body = super::error::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = super::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token's role is too low", body = super::error::Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not sent as application/json", body = super::error::Problem, content_type = "application/problem+json"),
        (status = 503, description = "Timed out or over the concurrency limit", body = super::error::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn post_eligibility(
    State(state): State<AppState>,
    AppQuery(q): AppQuery<BTreeMap<String, String>>,
    AppBytes(body): AppBytes,
) -> Result<axum::response::Response, ApiError> {
    only_params(&q, &["at"])?;
    let at = date_param(&q)?;
    let index = index_on(&state, at)?;
    let max = state.limits().max_batch_points;
    // Parsing, answering and serializing 10 000 points is CPU work: keep it off the async workers.
    let json = tokio::task::spawn_blocking(move || -> Result<Vec<u8>, ApiError> {
        let points = batch_points(&body, max)?;
        render_batch(&index, &points, at).map_err(|e| ApiError::internal(e.to_string()))
    })
    .await
    .map_err(|e| ApiError::internal(format!("batch failed: {e}")))??;
    Ok(([(axum::http::header::CONTENT_TYPE, "application/json")], json).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One point's batch answer, as the schema's struct: the reference `write_item` must match.
    fn batch_item(index: &ZoneIndex, p: LonLat) -> BatchItem<'_> {
        let zones = index.set().zones();
        let loc = index.locate(p);
        BatchItem {
            eligible: loc.zone.is_some(),
            zone: loc.zone.map(|z| zones[z].id.as_str()),
            on_boundary: loc.on_boundary,
            borderline: loc.borderline,
            coverage_borderline: loc.coverage_borderline,
            distance_m: round_cm(loc.distance_m),
            nearest_zone: loc.zone.is_none().then(|| zones[loc.nearest_zone].id.as_str()),
        }
    }

    #[test]
    fn rendered_batches_equal_the_serialized_answer() {
        let set = crate::builtin::zone_sets().unwrap().remove(1);
        let index = ZoneIndex::new(set, crate::zones::IndexOptions::default());
        let at = NaiveDate::from_ymd_opt(2019, 1, 1).unwrap();
        for n in [0, 1, 7, 2047, 2048, 5001] {
            #[expect(clippy::cast_precision_loss, reason = "small test counts")]
            let points: Vec<LonLat> = (0..n)
                .map(|i| {
                    let f = i as f64;
                    LonLat::new(-122.70 + 0.06 * (f * 0.618_034).fract(), 45.50 + 0.05 * (f * 0.414_214).fract())
                        .unwrap()
                })
                .collect();
            let expected = serde_json::to_vec(&BatchAnswer {
                at,
                zone_set: ZoneSetRef::from(index.set()),
                borderline_m: index.options().borderline_m,
                count: n,
                results: points.iter().map(|p| batch_item(&index, *p)).collect(),
            })
            .unwrap();
            let rendered = render_batch(&index, &points, at).unwrap();
            assert_eq!(String::from_utf8(rendered).unwrap(), String::from_utf8(expected).unwrap(), "{n} points");
        }
    }

    #[test]
    fn templated_answers_equal_the_serialized_answer() {
        for set in crate::builtin::zone_sets().unwrap() {
            let index = ZoneIndex::new(set, crate::zones::IndexOptions { borderline_m: 30.5 });
            let template = AnswerTemplate::new(&index).unwrap();
            for i in 0..3000 {
                let f = f64::from(i);
                let p = LonLat::new(-122.70 + 0.06 * (f * 0.618_034).fract(), 45.50 + 0.05 * (f * 0.414_214).fract())
                    .unwrap();
                let at = NaiveDate::from_ymd_opt(2017 + i % 4, 1 + (i % 12).cast_unsigned(), 28).unwrap();
                let expected = serde_json::to_string(&PointEligibility::of(&index, p, at)).unwrap();
                let rendered = String::from_utf8(template.render(&index.locate(p), p, at).unwrap()).unwrap();
                assert_eq!(rendered, expected);
            }
        }
    }

    #[test]
    fn the_fast_pair_parser_agrees_with_serde_json_or_declines() {
        let agree = [
            "[]",
            " [ ] ",
            "[[-122.6793,45.5189]]",
            "[[-122.6793, 45.5189], [0,0] ,[ -1e-3 , 4.5E+1 ],[1.7976931348623157e308,-0.0]]\n",
            "[[-122.67930000000000000001,45.518899999999999999999999]]",
            "[[5e-324,2.2250738585072011e-308]]",
        ];
        let big: String = format!(
            "[{}]",
            (0..30_000).map(|i| format!("[{}.{i} , -{i}e-3]", i % 180)).collect::<Vec<_>>().join(", \n")
        );
        for body in agree.iter().copied().chain([big.as_str()]) {
            let fast = parse_pairs(body.as_bytes()).unwrap_or_else(|| panic!("declined {body}"));
            let reference: Vec<[f64; 2]> = serde_json::from_str(body).unwrap();
            let bits = |v: &[[f64; 2]]| v.iter().map(|p| [p[0].to_bits(), p[1].to_bits()]).collect::<Vec<_>>();
            assert_eq!(bits(&fast), bits(&reference), "{body}");
        }
        let decline = [
            "",
            "[",
            "[[1,2]",
            "[[1,2],]",
            "[[1,2,3]]",
            "[[01,2]]",
            "[[1.,2]]",
            "[[.5,2]]",
            "[[+1,2]]",
            "[[NaN,2]]",
            "[[1e,2]]",
            "[[1,2]] x",
            "{\"type\":\"FeatureCollection\"}",
            "[[\"1\",2]]",
            "[[-,2]]",
        ];
        for body in decline {
            assert!(parse_pairs(body.as_bytes()).is_none(), "accepted {body:?}");
        }
        // Runs cut at pair boundaries, whatever the number of cores here.
        let inner = &big.as_bytes()[1..big.len() - 1];
        let runs = split_runs(inner, 5);
        assert_eq!(runs.len(), 5);
        let joined: Vec<[f64; 2]> = runs.iter().flat_map(|r| parse_run(r).unwrap()).collect();
        assert_eq!(joined, parse_run(inner).unwrap());
        // Large bodies are parsed in runs: a flaw anywhere, including at a cut, still declines.
        let cut = big.len() / 2;
        for (at, with) in [(cut, "x"), (big.len() - 3, ",,"), (2, "\"]\","), (big.rfind(']').unwrap(), ",")] {
            let mut bad = big.clone();
            bad.insert_str(at, with);
            assert!(parse_pairs(bad.as_bytes()).is_none(), "accepted a flaw at {at}");
        }
        for at in [cut - 40, cut, cut + 40] {
            // A string holding `]` and a comma right where a cut could fall.
            let bad = format!(
                "{}\"a],[b\",{}",
                &big[..=big[at..].find(',').unwrap() + at],
                &big[big[at..].find(',').unwrap() + at + 1..]
            );
            assert!(parse_pairs(bad.as_bytes()).is_none(), "accepted a string near {at}");
        }
    }
}
