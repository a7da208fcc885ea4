//! `GET /v1/eligibility` (one point) and `POST /v1/eligibility` (a batch, answers in input order).

use std::collections::BTreeMap;

use axum::extract::State;
use chrono::NaiveDate;
use serde::Serialize;
use serde_json::Value;

use axum::response::IntoResponse;

use super::error::{ApiError, AppBytes, AppQuery, ItemError};
use super::state::AppState;
use crate::coord::LonLat;
use crate::eligibility::{PointEligibility, ZoneSetRef};
use crate::zones::ZoneIndex;

/// Parses a required coordinate query value.
fn coordinate(q: &BTreeMap<String, String>, name: &str, example: &str) -> Result<f64, ApiError> {
    let raw = q.get(name).ok_or_else(|| {
        ApiError::bad_request(format!("query parameter {name} is required (WGS84 degrees, e.g. {name}={example})"))
    })?;
    raw.trim().parse::<f64>().map_err(|_| ApiError::bad_request(format!("{name} {raw:?} is not a number of degrees")))
}

/// Parses the optional `at` date (default today).
pub(super) fn date_param(q: &BTreeMap<String, String>) -> Result<NaiveDate, ApiError> {
    match q.get("at") {
        None => Ok(chrono::Local::now().date_naive()),
        Some(raw) => raw.parse().map_err(|_| {
            ApiError::bad_request(format!("at {raw:?} is not a date: use YYYY-MM-DD, e.g. at=2018-06-01"))
        }),
    }
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
pub async fn get_eligibility(
    State(state): State<AppState>,
    AppQuery(q): AppQuery<BTreeMap<String, String>>,
) -> Result<axum::Json<PointEligibility>, ApiError> {
    only_params(&q, &["lon", "lat", "at"])?;
    let lon = coordinate(&q, "lon", "-122.6793")?;
    let lat = coordinate(&q, "lat", "45.5189")?;
    let point = LonLat::new(lon, lat).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let at = date_param(&q)?;
    let index = index_on(&state, at)?;
    Ok(axum::Json(PointEligibility::of(&index, point, at)))
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
    if let Ok(pairs) = serde_json::from_slice::<Vec<[f64; 2]>>(body) {
        if pairs.len() > max {
            return Err(too_many(pairs.len(), max));
        }
        if let Ok(points) = pairs.iter().map(|&[lon, lat]| LonLat::new(lon, lat)).collect::<Result<Vec<_>, _>>() {
            return Ok(points);
        }
    }
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        ApiError::bad_request(format!("the body is not valid JSON: line {}, column {}: {e}", e.line(), e.column()))
    })?;
    batch_points_from_value(&value, max)
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

/// Answers every point; large batches are split across the CPU cores.
fn answer_all<'a>(index: &'a ZoneIndex, points: &[LonLat]) -> Vec<BatchItem<'a>> {
    let zones = index.set().zones();
    let one = |p: &LonLat| {
        let loc = index.locate(*p);
        BatchItem {
            eligible: loc.zone.is_some(),
            zone: loc.zone.map(|z| zones[z].id.as_str()),
            on_boundary: loc.on_boundary,
            borderline: loc.borderline,
            coverage_borderline: loc.coverage_borderline,
            distance_m: (loc.distance_m * 100.0).round() / 100.0,
            nearest_zone: loc.zone.is_none().then(|| zones[loc.nearest_zone].id.as_str()),
        }
    };
    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    if points.len() < 2048 || threads < 2 {
        return points.iter().map(one).collect();
    }
    let chunk = points.len().div_ceil(threads);
    std::thread::scope(|s| {
        let handles: Vec<_> =
            points.chunks(chunk).map(|c| s.spawn(move || c.iter().map(one).collect::<Vec<_>>())).collect();
        handles.into_iter().flat_map(|h| h.join().unwrap_or_default()).collect()
    })
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
        let results = answer_all(&index, &points);
        let answer = BatchAnswer {
            at,
            zone_set: ZoneSetRef::from(index.set()),
            borderline_m: index.options().borderline_m,
            count: results.len(),
            results,
        };
        serde_json::to_vec(&answer)
            .map_err(|e| ApiError::new(axum::http::StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))
    })
    .await
    .map_err(|e| ApiError::new(axum::http::StatusCode::INTERNAL_SERVER_ERROR, format!("batch failed: {e}")))??;
    Ok(([(axum::http::header::CONTENT_TYPE, "application/json")], json).into_response())
}
