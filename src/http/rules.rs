//! `GET /v1/rules`: the eligibility rule set in force, as data, with its version as a strong `ETag`.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;

use super::cached::conditional;
use super::error::ApiError;
use super::query::{AtParams, Query, at_param};
use super::state::Program;

/// The rule set in force: its dates and why they are what they are, the referral paths and what each
/// requires (facts that must be true), the offenses and their aliases, the closed vocabulary of
/// substances (names, aliases, and each one's quantity rule: a limit or an explicit `no_limit`), the
/// exclusions, deadlines and sources. A substance name not listed is asked about in a screening, never
/// passed.
///
/// The built-in Portland rules are in force from 2017-02-27 to 2021-01-31.
#[utoipa::path(
    get,
    path = "/v1/rules",
    tag = "rules",
    params(AtParams),
    responses(
        (status = 200, description = "The rule set (the rule file plus `version`)", body = crate::rules::RuleSet),
        (status = 304, description = "Not modified"),
        (status = 422, description = "No rule set in force on that date", body = super::error::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn get_rules(
    State(state): State<Program>,
    Query(q): Query<AtParams>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let at = at_param(q.at.as_deref(), state.today())?;
    let loaded = state.loaded();
    let rules = loaded.rules.in_force(at).map_err(|e| ApiError::unprocessable(e.to_string()))?;
    let body = serde_json::to_value(rules.as_ref()).map_err(|e| ApiError::internal(format!("rules: {e}")))?;
    Ok(conditional(&headers, rules.version().as_str(), "application/json", super::zones::CACHE_CONTROL, || body))
}

/// `/v1/rules`: field tokens and above.
pub(super) fn routes(guard: &super::auth::Guard) -> axum::Router<super::AppState> {
    use super::auth::{Access, Role};
    guard.allow(Access::AtLeast(Role::Field), axum::Router::new().route("/v1/rules", axum::routing::get(get_rules)))
}
