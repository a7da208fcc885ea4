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
use crate::eligibility::{AccuracyM, PointEligibility, ZoneRef, ZoneSetRef, round_cm};
use crate::zones::{Location, ZoneIndex};

/// Parses the optional `at` date (default: the program's day today, in its time zone).
pub(super) fn date_param(q: &BTreeMap<String, String>, state: &AppState) -> Result<NaiveDate, ApiError> {
    match q.get("at") {
        None => Ok(state.today()),
        Some(raw) => parse_date(raw),
    }
}

fn parse_date(raw: &str) -> Result<NaiveDate, ApiError> {
    crate::events::filter::parse_date(raw).map_err(|e| ApiError::bad_request(format!("at {e}")))
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

/// Parses the optional `accuracy_m` query value (400 naming it when it is not an accuracy).
pub(super) fn accuracy_param(raw: Option<&str>) -> Result<Option<AccuracyM>, ApiError> {
    raw.map(AccuracyM::parse).transpose().map_err(ApiError::bad_request)
}

/// Is this contact location in a LEAD area?
#[utoipa::path(
    get,
    path = "/v1/eligibility",
    tag = "eligibility",
    params(
        ("lon" = f64, Query, description = "Longitude, WGS84 degrees east (x), e.g. -122.6793"),
        ("lat" = f64, Query, description = "Latitude, WGS84 degrees north (y), e.g. 45.5189"),
        ("at" = Option<String>, Query, description = "Date of the contact, YYYY-MM-DD; default today. On a date no LEAD program is in force the answer says so (`program_in_force: false`, `program_note`) and is never eligible"),
        ("accuracy_m" = Option<f64>, Query, description = "The phone's reported GPS accuracy in metres (more than 0, at most 1000): the borderline distance for this point instead of the service default"),
    ),
    responses(
        (status = 200, description = "The answer (also on a date with no program in force: then `eligible` is false and `program_note` says why)", body = PointEligibility),
        (status = 422, description = "No zone set is in force on that date", body = super::error::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn get_eligibility(State(state): State<AppState>, RawQuery(query): RawQuery) -> Result<Response, ApiError> {
    let q = PointQuery::parse(query.as_deref().unwrap_or(""))?;
    let lon = PointQuery::coordinate(q.lon.as_deref(), "lon", "-122.6793")?;
    let lat = PointQuery::coordinate(q.lat.as_deref(), "lat", "45.5189")?;
    let point = LonLat::new(lon, lat).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let at = match q.at.as_deref() {
        None => state.today(),
        Some(raw) => parse_date(raw)?,
    };
    let accuracy = accuracy_param(q.accuracy_m.as_deref())?;
    let served = state.loaded();
    let program = served.program(at).map_err(|e| ApiError::unprocessable(e.to_string()))?;
    // The template renders answers with a program in force; any other answer is serialized whole.
    match served.template(program.zones).filter(|_| program.in_force()) {
        Some(template) => {
            let index = program.zones;
            let borderline_m = accuracy.map_or(index.options().borderline_m, AccuracyM::metres);
            let json = template
                .render(&index.locate_within(point, borderline_m), point, at, borderline_m)
                .map_err(|e| ApiError::internal(e.to_string()))?;
            Ok(([(axum::http::header::CONTENT_TYPE, "application/json")], json).into_response())
        }
        None => Ok(axum::Json(PointEligibility::of(&program, point, accuracy)).into_response()),
    }
}

/// A JSON boolean.
fn flag(b: bool) -> &'static [u8] {
    if b { b"true" } else { b"false" }
}

/// The constant parts of one zone set's [`PointEligibility`] answers on dates its program is in force,
/// rendered once when the set is loaded, so that answering a point writes only what varies.
/// [`AnswerTemplate::render`] gives the bytes serializing a [`PointEligibility`] would.
#[derive(Debug)]
pub struct AnswerTemplate {
    /// `{"id":..,"name":..}` of each zone.
    zones: Vec<Vec<u8>>,
    /// `,"zone_set":{..}}`
    tail: Vec<u8>,
}

impl AnswerTemplate {
    /// Renders the constant parts for `index` (serializing plain structs into memory does not fail in
    /// practice; if it did, answers would be serialized whole instead).
    pub fn new(index: &ZoneIndex) -> Result<Self, serde_json::Error> {
        let zones =
            index.set().zones().iter().map(|z| serde_json::to_vec(&ZoneRef::from(z))).collect::<Result<_, _>>()?;
        let mut tail = b",\"zone_set\":".to_vec();
        serde_json::to_writer(&mut tail, &ZoneSetRef::from(index.set()))?;
        tail.push(b'}');
        Ok(Self { zones, tail })
    }

    /// The answer for `point` located as `loc` (with `borderline_m`) on `at`, a date a program is in force.
    fn render(
        &self,
        loc: &Location,
        point: LonLat,
        at: NaiveDate,
        borderline_m: f64,
    ) -> Result<Vec<u8>, serde_json::Error> {
        let zone_or_null = |z: Option<usize>| z.map_or(&b"null"[..], |z| self.zones[z].as_slice());
        let mut out = Vec::with_capacity(512);
        out.extend_from_slice(b"{\"eligible\":");
        out.extend_from_slice(flag(loc.zone.is_some()));
        out.extend_from_slice(b",\"program_in_force\":true,\"program_note\":null,\"zone\":");
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
        out.extend_from_slice(b",\"borderline_m\":");
        serde_json::to_writer(&mut out, &borderline_m)?;
        out.extend_from_slice(b",\"point\":{\"lon\":");
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
    accuracy_m: Option<std::borrow::Cow<'a, str>>,
}

impl<'a> PointQuery<'a> {
    fn parse(raw: &'a str) -> Result<Self, ApiError> {
        let mut q = Self { lon: None, lat: None, at: None, accuracy_m: None };
        for (key, value) in form_urlencoded::parse(raw.as_bytes()) {
            let slot = match key.as_ref() {
                "lon" => &mut q.lon,
                "lat" => &mut q.lat,
                "at" => &mut q.at,
                "accuracy_m" => &mut q.accuracy_m,
                other => {
                    return Err(ApiError::bad_request(format!(
                        "unknown query parameter {other:?}; this endpoint takes lon, lat, at, accuracy_m"
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
    /// A program is in force and the point is in a LEAD zone (edges included).
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
    /// The borderline distance used for this point, when its feature gave its own `accuracy_m`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub borderline_m: Option<f64>,
}

/// A batch's answers, in input order.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BatchAnswer<'a> {
    /// The date asked about.
    pub at: NaiveDate,
    /// A zone set and a rule set are both in force on `at`; when not, no point is eligible.
    pub program_in_force: bool,
    /// Why no program is in force on `at`, or null.
    pub program_note: Option<String>,
    /// The zone set that answered: the one in force on `at`, else the nearest.
    pub zone_set: ZoneSetRef,
    /// The borderline distance used, metres (the `accuracy_m` query value, else the service default),
    /// except for points whose feature gives its own `accuracy_m`.
    pub borderline_m: f64,
    /// How many points.
    pub count: usize,
    /// One answer per input point, in order.
    pub results: Vec<BatchItem<'a>>,
}

/// A batch's points and, when any feature of a GeoJSON batch gave its own `accuracy_m`, each point's
/// accuracy (in the same order).
#[derive(Debug, Default, PartialEq)]
struct BatchPoints {
    points: Vec<LonLat>,
    accuracies: Option<Vec<Option<AccuracyM>>>,
}

/// Reads the points of a batch body: a JSON array of `[lon, lat]` pairs (the fast path, parsed straight
/// into numbers) or a GeoJSON FeatureCollection of Points (each may give `properties.accuracy_m`). Every
/// bad item is named.
fn batch_points(body: &[u8], max: usize) -> Result<BatchPoints, ApiError> {
    if let Some(pairs) = parse_pairs(body) {
        if pairs.len() > max {
            return Err(too_many(pairs.len(), max));
        }
        if let Ok(points) = pairs.iter().map(|&[lon, lat]| LonLat::new(lon, lat)).collect::<Result<Vec<_>, _>>() {
            return Ok(BatchPoints { points, accuracies: None });
        }
    }
    // Counted before anything is parsed: a body of a million tiny items costs no memory to refuse.
    let n = super::error::count_items(body);
    if n > max {
        return Err(too_many(n, max));
    }
    super::error::unique_keys(body)?;
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
    let parsed = in_parallel(runs, parse_run);
    let mut pairs = Vec::with_capacity(parsed.iter().map(|p| p.as_ref().map_or(0, Vec::len)).sum());
    for run in parsed {
        pairs.extend(run?);
    }
    Some(pairs)
}

/// `f` of every item on rayon's threads, answers in item order (a panic in one is raised again here).
fn in_parallel<I: Send, R: Send>(items: Vec<I>, f: impl Fn(I) -> R + Sync + Send) -> Vec<R> {
    use rayon::prelude::*;
    items.into_par_iter().map(f).collect()
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
fn batch_points_from_value(body: &Value, max: usize) -> Result<BatchPoints, ApiError> {
    // Each item: its coordinates (or why it has none), and its feature's `accuracy_m` (null when absent).
    let pair = |v: &Value| match v.as_array().map(Vec::as_slice) {
        Some([x, y] | [x, y, _]) => match (x.as_f64(), y.as_f64()) {
            (Some(lon), Some(lat)) => LonLat::new(lon, lat).map_err(|e| e.to_string()),
            _ => Err("coordinates must be numbers".to_owned()),
        },
        _ => Err(format!("expected [lon, lat], got {v}")),
    };
    let items: Vec<(Result<LonLat, String>, &Value)> = match body {
        Value::Array(a) => a.iter().map(|v| (pair(v), &Value::Null)).collect(),
        Value::Object(o) if o.get("type").and_then(Value::as_str) == Some("FeatureCollection") => o
            .get("features")
            .and_then(Value::as_array)
            .ok_or_else(|| ApiError::unprocessable("the FeatureCollection has no \"features\" array"))?
            .iter()
            .map(|f| {
                let point = crate::formats::geometry::feature_xy(f)
                    .map_err(|e| e.to_string())
                    .and_then(|(lon, lat)| LonLat::new(lon, lat).map_err(|e| e.to_string()));
                (point, f.pointer("/properties/accuracy_m").unwrap_or(&Value::Null))
            })
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
    let mut accuracies = Vec::with_capacity(items.len());
    let mut errors = Vec::new();
    for (index, (item, accuracy)) in items.iter().enumerate() {
        let point = item.clone();
        let accuracy = match accuracy {
            Value::Null => Ok(None),
            v => v
                .as_f64()
                .ok_or_else(|| format!("properties.accuracy_m must be a number of metres, got {v}"))
                .and_then(|m| AccuracyM::new(m).map(Some).map_err(|e| format!("properties.{e}"))),
        };
        match (point, accuracy) {
            (Ok(p), Ok(a)) => {
                points.push(p);
                accuracies.push(a);
            }
            (Err(detail), _) | (_, Err(detail)) => errors.push(ItemError { index, detail }),
        }
    }
    if errors.is_empty() {
        let any = accuracies.iter().any(Option::is_some);
        Ok(BatchPoints { points, accuracies: any.then_some(accuracies) })
    } else {
        let n = errors.len();
        Err(ApiError::unprocessable(format!("{n} of {} points are not valid; see errors", items.len()))
            .with_items(errors))
    }
}

/// Writes the [`BatchItem`] of `loc` as serializing it would (the batch's hot loop: fixed keys, zone ids
/// escaped beforehand in `ids`, numbers formatted by `serde_json`). `own_borderline_m` is the point's
/// own accuracy, when its feature gave one.
fn write_item(
    out: &mut Vec<u8>,
    loc: &Location,
    ids: &[Vec<u8>],
    in_force: bool,
    own_borderline_m: Option<f64>,
) -> Result<(), serde_json::Error> {
    let zone_or_null = |z: Option<usize>| z.map_or(&b"null"[..], |z| ids[z].as_slice());
    out.extend_from_slice(b"{\"eligible\":");
    out.extend_from_slice(flag(in_force && loc.zone.is_some()));
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
    if let Some(m) = own_borderline_m {
        out.extend_from_slice(b",\"borderline_m\":");
        serde_json::to_writer(&mut *out, &m)?;
    }
    out.push(b'}');
    Ok(())
}

/// What a batch is answered with: the zone set (in force, else the nearest), the date, whether a
/// program is in force (and why not), and the batch's borderline distance.
struct BatchContext {
    index: std::sync::Arc<ZoneIndex>,
    at: NaiveDate,
    program_note: Option<String>,
    borderline_m: f64,
}

/// The JSON of a [`BatchAnswer`] for `points`, byte for byte what serializing one would give. Answering
/// and serializing are split across the CPU cores for large batches (each core renders its own run of
/// `results`; the runs are joined in order).
fn render_batch(batch: &BatchContext, input: &BatchPoints) -> Result<Vec<u8>, serde_json::Error> {
    let index = &batch.index;
    let in_force = batch.program_note.is_none();
    // Zone ids as JSON strings, escaped once.
    let ids = index.set().zones().iter().map(|z| serde_json::to_vec(z.id.as_str())).collect::<Result<Vec<_>, _>>()?;
    let points = &input.points;
    let render = |(start, chunk): (usize, &[LonLat])| -> Result<Vec<u8>, serde_json::Error> {
        let mut out = Vec::with_capacity(chunk.len() * 160);
        for (i, p) in chunk.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            let own = input.accuracies.as_ref().and_then(|a| a[start + i]).map(AccuracyM::metres);
            let loc = index.locate_within(*p, own.unwrap_or(batch.borderline_m));
            write_item(&mut out, &loc, &ids, in_force, own)?;
        }
        Ok(out)
    };
    let threads = worker_threads(points.len());
    let runs = if threads < 2 {
        vec![render((0, points))?]
    } else {
        let chunk = points.len().div_ceil(threads);
        let chunks = points.chunks(chunk).enumerate().map(|(k, c)| (k * chunk, c)).collect();
        in_parallel(chunks, render).into_iter().collect::<Result<Vec<_>, _>>()?
    };
    let head = BatchAnswer {
        at: batch.at,
        program_in_force: in_force,
        program_note: batch.program_note.clone(),
        zone_set: ZoneSetRef::from(index.set()),
        borderline_m: batch.borderline_m,
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
    params(
        ("at" = Option<String>, Query, description = "Date of the contacts, YYYY-MM-DD; default today. On a date no LEAD program is in force no point is eligible (`program_in_force: false`, `program_note`)"),
        ("accuracy_m" = Option<f64>, Query, description = "GPS accuracy in metres (more than 0, at most 1000) for every point: the borderline distance instead of the service default. A GeoJSON feature's own `properties.accuracy_m` wins for that point"),
    ),
    request_body(content = Value, description = "A JSON array of [lon, lat] pairs, or a GeoJSON FeatureCollection of Point features (each may give `properties.accuracy_m`, metres)", content_type = "application/json"),
    responses(
        (status = 200, description = "One answer per point, in order", body = BatchAnswer),
        (status = 400, description = "Malformed JSON or query", body = super::error::Problem, content_type = "application/problem+json"),
        (status = 413, description = "Too many points or too large a body", body = super::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Some points are invalid (each named in `errors`)", body = super::error::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn post_eligibility(
    State(state): State<AppState>,
    AppQuery(q): AppQuery<BTreeMap<String, String>>,
    AppBytes(body): AppBytes,
) -> Result<axum::response::Response, ApiError> {
    only_params(&q, &["at", "accuracy_m"])?;
    let at = date_param(&q, &state)?;
    let accuracy = accuracy_param(q.get("accuracy_m").map(String::as_str))?;
    let batch = {
        let served = state.loaded();
        let program = served.program(at).map_err(|e| ApiError::unprocessable(e.to_string()))?;
        let index = std::sync::Arc::clone(program.zones);
        let borderline_m = accuracy.map_or(index.options().borderline_m, AccuracyM::metres);
        BatchContext { index, at, program_note: program.not_in_force, borderline_m }
    };
    let max = state.limits().max_batch_points;
    // Parsing, answering and serializing 10 000 points is CPU work: keep it off the async workers.
    let json = tokio::task::spawn_blocking(move || -> Result<Vec<u8>, ApiError> {
        let points = batch_points(&body, max)?;
        render_batch(&batch, &points).map_err(|e| ApiError::internal(e.to_string()))
    })
    .await
    .map_err(|e| ApiError::internal(format!("batch failed: {e}")))??;
    Ok(([(axum::http::header::CONTENT_TYPE, "application/json")], json).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One point's batch answer, as the schema's struct: the reference `write_item` must match.
    fn batch_item(index: &ZoneIndex, p: LonLat, in_force: bool, own: Option<f64>, batch_m: f64) -> BatchItem<'_> {
        let zones = index.set().zones();
        let loc = index.locate_within(p, own.unwrap_or(batch_m));
        BatchItem {
            eligible: in_force && loc.zone.is_some(),
            zone: loc.zone.map(|z| zones[z].id.as_str()),
            on_boundary: loc.on_boundary,
            borderline: loc.borderline,
            coverage_borderline: loc.coverage_borderline,
            distance_m: round_cm(loc.distance_m),
            nearest_zone: loc.zone.is_none().then(|| zones[loc.nearest_zone].id.as_str()),
            borderline_m: own,
        }
    }

    fn catalogs() -> (crate::zones::ZoneCatalog, crate::rules::RuleCatalog) {
        (
            crate::zones::ZoneCatalog::new(
                crate::builtin::zone_sets().unwrap(),
                crate::zones::IndexOptions { borderline_m: 30.5 },
            ),
            crate::rules::RuleCatalog::new(crate::builtin::rule_sets().unwrap()).unwrap(),
        )
    }

    #[expect(clippy::cast_precision_loss, reason = "small test counts")]
    fn spread(n: usize) -> Vec<LonLat> {
        (0..n)
            .map(|i| {
                let f = i as f64;
                LonLat::new(-122.70 + 0.06 * (f * 0.618_034).fract(), 45.50 + 0.05 * (f * 0.414_214).fract()).unwrap()
            })
            .collect()
    }

    #[test]
    fn rendered_batches_equal_the_serialized_answer() {
        let (zones, rules) = catalogs();
        // In force; and on a date with no program (nothing eligible, the note given).
        for at in [NaiveDate::from_ymd_opt(2019, 1, 1).unwrap(), NaiveDate::from_ymd_opt(2026, 12, 4).unwrap()] {
            let program = crate::program::program_on(&zones, &rules, at).unwrap();
            let index = std::sync::Arc::clone(program.zones);
            for n in [0, 1, 7, 2047, 2048, 5001] {
                let points = spread(n);
                // Without and with per-point accuracies (every third point has its own).
                #[expect(clippy::cast_precision_loss, reason = "small test counts")]
                let own: Vec<Option<AccuracyM>> =
                    (0..n).map(|i| (i % 3 == 0).then(|| AccuracyM::new(5.0 + (i % 50) as f64).unwrap())).collect();
                for (accuracies, batch_m) in [(None, 30.5), (Some(own.clone()), 12.0)] {
                    let batch = BatchContext {
                        index: std::sync::Arc::clone(&index),
                        at,
                        program_note: program.not_in_force.clone(),
                        borderline_m: batch_m,
                    };
                    let input = BatchPoints { points: points.clone(), accuracies: accuracies.clone() };
                    let own_m = |i: usize| {
                        accuracies.as_ref().and_then(|a: &Vec<Option<AccuracyM>>| a[i]).map(AccuracyM::metres)
                    };
                    let expected = serde_json::to_vec(&BatchAnswer {
                        at,
                        program_in_force: program.in_force(),
                        program_note: program.not_in_force.clone(),
                        zone_set: ZoneSetRef::from(index.set()),
                        borderline_m: batch_m,
                        count: n,
                        results: points
                            .iter()
                            .enumerate()
                            .map(|(i, p)| batch_item(&index, *p, program.in_force(), own_m(i), batch_m))
                            .collect(),
                    })
                    .unwrap();
                    let rendered = render_batch(&batch, &input).unwrap();
                    assert_eq!(
                        String::from_utf8(rendered).unwrap(),
                        String::from_utf8(expected).unwrap(),
                        "{n} points on {at}"
                    );
                }
            }
        }
    }

    #[test]
    fn templated_answers_equal_the_serialized_answer() {
        let (zones, rules) = catalogs();
        let mut checked = 0;
        for i in 0..3000 {
            let p = spread(i as usize + 1)[i as usize];
            let at = NaiveDate::from_ymd_opt(2017 + i % 4, 1 + (i % 12).cast_unsigned(), 28).unwrap();
            let program = crate::program::program_on(&zones, &rules, at).unwrap();
            if !program.in_force() {
                continue; // answered by serializing; the template is for dates a program is in force
            }
            let accuracy = (i % 2 == 0).then(|| AccuracyM::new(f64::from(1 + i % 80)).unwrap());
            let template = AnswerTemplate::new(program.zones).unwrap();
            let expected = serde_json::to_string(&PointEligibility::of(&program, p, accuracy)).unwrap();
            let m = accuracy.map_or(30.5, AccuracyM::metres);
            let rendered =
                String::from_utf8(template.render(&program.zones.locate_within(p, m), p, at, m).unwrap()).unwrap();
            assert_eq!(rendered, expected);
            checked += 1;
        }
        assert!(checked > 2000, "{checked}");
    }

    #[test]
    fn geojson_batches_carry_each_points_accuracy_and_name_bad_ones() {
        let body = br#"{"type":"FeatureCollection","features":[
            {"type":"Feature","properties":{"accuracy_m":8},"geometry":{"type":"Point","coordinates":[-122.68,45.52]}},
            {"type":"Feature","properties":{},"geometry":{"type":"Point","coordinates":[-122.67,45.52]}}]}"#;
        let got = batch_points(body, 10).unwrap();
        assert_eq!(got.accuracies, Some(vec![Some(AccuracyM::new(8.0).unwrap()), None]));
        let pairs = batch_points(b"[[-122.68,45.52]]", 10).unwrap();
        assert_eq!(pairs.accuracies, None, "pairs carry no accuracy");
        let bad = br#"{"type":"FeatureCollection","features":[
            {"type":"Feature","properties":{"accuracy_m":0},"geometry":{"type":"Point","coordinates":[-122.68,45.52]}},
            {"type":"Feature","properties":{"accuracy_m":"5"},"geometry":{"type":"Point","coordinates":[-122.68,45.52]}},
            {"type":"Feature","properties":{"accuracy_m":2000},"geometry":{"type":"Point","coordinates":[-122.68,45.52]}},
            {"type":"Feature","properties":{"accuracy_m":null},"geometry":{"type":"Point","coordinates":[-122.68,45.52]}}]}"#;
        let e = batch_points(bad, 10).unwrap_err();
        let items: Vec<(usize, String)> = e.errors.iter().map(|i| (i.index, i.detail.clone())).collect();
        assert_eq!(items.len(), 3, "{items:?}");
        assert!(
            items[0].0 == 0 && items[0].1.starts_with("properties.accuracy_m 0 is not a GPS accuracy"),
            "{items:?}"
        );
        assert!(items[1].0 == 1 && items[1].1.contains("must be a number of metres"), "{items:?}");
        assert!(items[2].0 == 2 && items[2].1.contains("accuracy_m 2000 is not a GPS accuracy"), "{items:?}");
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
