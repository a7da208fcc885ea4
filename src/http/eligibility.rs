//! `GET /v1/eligibility` (one point) and `POST /v1/eligibility` (a batch, answers in input order).

use axum::extract::{RawQuery, State};
use chrono::NaiveDate;
use serde::Serialize;

use axum::response::{IntoResponse, Response};

use super::error::{ApiError, AppBytes};
use super::state::Program;
use crate::coord::LonLat;
use crate::eligibility::{AccuracyM, PointEligibility, ZoneRef, ZoneSetRef, round_cm};
use crate::zones::ZoneIndex;

mod scanner;
mod template;

use scanner::batch_points;
pub(super) use template::AnswerTemplate;
use template::{BatchContext, render_batch};

use super::query::{Query, at_param, repeated_param, route_query, unknown_param};

/// The index of the zone set in force on `at`.
pub(super) fn index_on(state: &Program, at: NaiveDate) -> Result<std::sync::Arc<ZoneIndex>, ApiError> {
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
        ("at" = Option<String>, Query, format = Date, description = "Date of the contact, YYYY-MM-DD; default today. On a date no LEAD program is in force the answer says so (`program_in_force: false`, `program_note`) and is never eligible"),
        ("accuracy_m" = Option<f64>, Query, description = "The phone's reported GPS accuracy in metres (more than 0, at most 1000): the borderline distance for this point instead of the service default"),
    ),
    responses(
        (status = 200, description = "The answer (also on a date with no program in force: then `eligible` is false and `program_note` says why)", body = PointEligibility),
        (status = 422, description = "No zone set is in force on that date", body = super::error::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn get_eligibility(State(state): State<Program>, RawQuery(query): RawQuery) -> Result<Response, ApiError> {
    let q = PointQuery::parse(query.as_deref().unwrap_or(""))?;
    let lon = PointQuery::coordinate(q.lon.as_deref(), "lon", "-122.6793")?;
    let lat = PointQuery::coordinate(q.lat.as_deref(), "lat", "45.5189")?;
    let point = LonLat::new(lon, lat).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let at = at_param(q.at.as_deref(), state.today())?;
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
                other => return Err(unknown_param(other, &["lon", "lat", "at", "accuracy_m"])),
            };
            if slot.replace(value).is_some() {
                return Err(repeated_param(&key));
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

/// The query of `POST /v1/eligibility`.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct BatchParams {
    /// Date of the contacts, YYYY-MM-DD; default today. On a date no LEAD program is in force no point
    /// is eligible (`program_in_force: false`, `program_note`)
    #[param(format = Date)]
    at: Option<String>,
    /// GPS accuracy in metres (more than 0, at most 1000) for every point: the borderline distance
    /// instead of the service default. A GeoJSON feature's own `properties.accuracy_m` wins for that
    /// point
    #[param(value_type = Option<f64>)]
    accuracy_m: Option<String>,
}
route_query!(BatchParams);

/// Many points at once (up to the documented limit, 10 000 by default), answers in input order.
#[utoipa::path(
    post,
    path = "/v1/eligibility",
    tag = "eligibility",
    params(BatchParams),
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
    State(state): State<Program>,
    Query(q): Query<BatchParams>,
    AppBytes(body): AppBytes,
) -> Result<axum::response::Response, ApiError> {
    let at = at_param(q.at.as_deref(), state.today())?;
    let accuracy = accuracy_param(q.accuracy_m.as_deref())?;
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

/// `/v1/eligibility` (GET one point, POST a batch): field tokens and above.
pub(super) fn routes(guard: &super::auth::Guard) -> axum::Router<super::AppState> {
    use super::auth::{Access, Role};
    let routes =
        axum::Router::new().route("/v1/eligibility", axum::routing::get(get_eligibility).post(post_eligibility));
    guard.allow(Access::AtLeast(Role::Field), routes)
}

#[cfg(test)]
mod tests {
    use super::scanner::BatchPoints;
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
}
