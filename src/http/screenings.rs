//! `POST /v1/screenings`: the location plus the program's rules (offense, substances and grams, the
//! exclusion facts the officer knows) give `eligible`, `ineligible` or `needs_review`, every criterion
//! with a plain-language reason, and what to ask when a fact is unknown.

use std::collections::BTreeMap;

use axum::extract::State;
use serde::Serialize;
use serde_json::Value;

use super::error::{ApiError, AppJson};
use super::query::{NoParams, Query};
use super::state::Program;
use crate::coord::LonLat;
use crate::eligibility::{AccuracyM, PointEligibility};
use crate::rules::{LocationFact, Screening, ScreeningRequest, screen, screen_without_program};

/// The request body, as the OpenAPI document describes it: the location and the fields of
/// [`ScreeningRequest`] at one level (unknown fields are refused).
#[derive(Debug, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[expect(dead_code, reason = "describes the body for the OpenAPI document; the handler parses it field by field")]
pub struct ScreeningBody {
    /// Longitude, WGS84 degrees east.
    lon: f64,
    /// Latitude, WGS84 degrees north.
    lat: f64,
    /// The phone's reported GPS accuracy in metres (more than 0, at most 1000): the borderline distance
    /// for this point instead of the service default.
    accuracy_m: Option<f64>,
    /// `arrest` or `social_contact`.
    referral_path: crate::rules::ReferralPath,
    /// `PCS`, `SQ`, `CDO`, `other` or free text; absent when not known.
    offense: Option<String>,
    /// Substances with grams.
    #[serde(default)]
    substances: Vec<crate::rules::SubstanceAmount>,
    /// Facts by id (see `GET /v1/rules`): the exclusions and the path's requirements (e.g. `lead_officer`,
    /// `high_risk_of_drug_arrest`): true, false, or null/absent when not known.
    #[serde(default)]
    facts: BTreeMap<String, Option<bool>>,
    /// Date of the arrest or contact, YYYY-MM-DD; default today.
    at: Option<chrono::NaiveDate>,
}

/// The screening and the location answer it used.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ScreeningAnswer {
    /// The screening: decision, criteria, questions, deadline, rule set.
    #[serde(flatten)]
    pub screening: Screening,
    /// The location answer, as `GET /v1/eligibility` gives it.
    pub point: PointEligibility,
}

fn number(body: &serde_json::Map<String, Value>, name: &str, example: &str) -> Result<f64, ApiError> {
    match body.get(name) {
        Some(v) => {
            v.as_f64().ok_or_else(|| ApiError::unprocessable(format!("{name} must be a number of degrees, got {v}")))
        }
        None => Err(ApiError::unprocessable(format!("{name} is required (WGS84 degrees, e.g. \"{name}\": {example})"))),
    }
}

/// Screens one referral.
#[utoipa::path(
    post,
    path = "/v1/screenings",
    tag = "screening",
    request_body(content = ScreeningBody, content_type = "application/json", description = "`lon`, `lat` (WGS84 degrees), optional `accuracy_m` (the phone's GPS accuracy, metres), `referral_path` (`arrest` or `social_contact`), `offense` (a code or alias from GET /v1/rules, e.g. `PCS`, `SQ`, `CDO`, `ORS 475.854`, or other text), `substances` ([{substance, grams}], names from the rule set's closed vocabulary: an unknown name is asked about, never passed), `facts` ({fact id: true/false/null}; the exclusions and the path's requirements, ids as in GET /v1/rules), optional `at` (YYYY-MM-DD). Unknown fields are refused.",
        example = json!({"lon": -122.6765, "lat": 45.5245, "accuracy_m": 12, "referral_path": "arrest", "offense": "PCS", "substances": [{"substance": "heroin", "grams": 1.2}], "facts": {"lead_officer": true, "active_warrant": false}, "at": "2019-06-01"})),
    responses(
        (status = 200, description = "decision (eligible | ineligible | needs_review), summary, criteria [{id, status: passed | failed | unknown, reason, question}], questions, assessment_due (arrest diversions), rule_set {name, version}, location, point. On a date no LEAD program is in force: ineligible, with the one criterion `program` saying why", body = ScreeningAnswer),
        (status = 400, description = "Malformed JSON", body = super::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is missing, unknown or invalid (named in detail)", body = super::error::Problem, content_type = "application/problem+json"),
        (status = 413, description = "Too many points or too large a body", body = super::error::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn post_screening(
    State(state): State<Program>,
    Query(NoParams {}): Query<NoParams>,
    AppJson(body): AppJson<Value>,
) -> Result<axum::Json<ScreeningAnswer>, ApiError> {
    let Value::Object(mut body) = body else {
        return Err(ApiError::unprocessable(
            "send a JSON object with lon, lat, referral_path, offense, substances and facts",
        ));
    };
    let lon = number(&body, "lon", "-122.6765")?;
    let lat = number(&body, "lat", "45.5245")?;
    let accuracy = match body.remove("accuracy_m") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            v.as_f64()
                .ok_or_else(|| ApiError::unprocessable(format!("accuracy_m must be a number of metres, got {v}")))
                .and_then(|m| AccuracyM::new(m).map_err(|e| ApiError::unprocessable(e.to_string())))?,
        ),
    };
    body.remove("lon");
    body.remove("lat");
    let point = LonLat::new(lon, lat).map_err(|e| ApiError::unprocessable(e.to_string()))?;
    let request: ScreeningRequest =
        serde_json::from_value(Value::Object(body)).map_err(|e| ApiError::unprocessable(format!("screening: {e}")))?;
    let served = state.loaded();
    let today = served.zones.day_at(state.now());
    let at = request.at.unwrap_or(today);
    let program = served.program(at).map_err(|e| ApiError::unprocessable(e.to_string()))?;
    let rules = program
        .rules
        .ok_or_else(|| ApiError::unprocessable("no rule set is loaded: start leadmap serve with --rules FILE"))?;
    request.check(rules).map_err(|e| ApiError::unprocessable(e.to_string()))?;
    let location = PointEligibility::of(&program, point, accuracy);
    let fact = LocationFact::from(&location);
    let screening = match &program.not_in_force {
        None => screen(rules, &request, fact, today),
        Some(why) => screen_without_program(rules, &request, fact, today, why),
    };
    Ok(axum::Json(ScreeningAnswer { screening, point: location }))
}

/// `POST /v1/screenings`: field tokens and above.
pub(super) fn routes(guard: &super::auth::Guard) -> axum::Router<super::AppState> {
    use super::auth::{Access, Role};
    let routes = axum::Router::new().route("/v1/screenings", axum::routing::post(post_screening));
    guard.allow(Access::AtLeast(Role::Field), routes)
}
