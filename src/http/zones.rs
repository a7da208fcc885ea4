//! `GET /v1/zones` and `GET /v1/zones/{id}`: the zone set in force as GeoJSON, with a strong `ETag` from
//! the zone set version and `304 Not Modified` on `If-None-Match`.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;

use super::cached::conditional;
use super::eligibility::index_on;
use super::error::ApiError;
use super::query::{AtParams, Query, at_param};
use super::state::Program;
use crate::formats::zonefile::{zone_feature, zone_set_to_geojson};

/// How long clients may reuse a zones or rules answer before revalidating: in the client's own cache
/// only, as the routes need a token (a shared cache would hand the answer to anyone).
pub(super) const CACHE_CONTROL: &str = "private, max-age=300, must-revalidate";

/// The zones in force as a GeoJSON FeatureCollection.
#[utoipa::path(
    get,
    path = "/v1/zones",
    tag = "zones",
    params(AtParams),
    responses(
        (status = 200, description = "GeoJSON FeatureCollection (lon/lat), with the zone-set members name, dates and version", content_type = "application/geo+json", body = Value,
            headers(("ETag" = String, description = "The zone set version, quoted"))),
        (status = 304, description = "Not modified (If-None-Match matched)"),
        (status = 422, description = "No zone or rule set is in force on that date", body = super::error::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn get_zones(
    State(state): State<Program>,
    Query(q): Query<AtParams>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let index = index_on(&state, at_param(q.at.as_deref(), state.today())?)?;
    let set = index.set();
    Ok(conditional(&headers, set.version().as_str(), "application/geo+json", CACHE_CONTROL, || {
        zone_set_to_geojson(set)
    }))
}

/// One zone as a GeoJSON Feature.
#[utoipa::path(
    get,
    path = "/v1/zones/{id}",
    tag = "zones",
    params(
        ("id" = String, Path, description = "Zone id, e.g. old-town"),
        AtParams,
    ),
    responses(
        (status = 200, description = "GeoJSON Feature", content_type = "application/geo+json", body = Value),
        (status = 304, description = "Not modified"),
        (status = 404, description = "No such zone in the set in force", body = super::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "No zone or rule set is in force on that date", body = super::error::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn get_zone(
    State(state): State<Program>,
    Path(id): Path<String>,
    Query(q): Query<AtParams>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let index = index_on(&state, at_param(q.at.as_deref(), state.today())?)?;
    let set = index.set();
    let zone = set.zone(&id).ok_or_else(|| {
        let ids: Vec<&str> = set.zones().iter().map(|z| z.id.as_str()).collect();
        ApiError::not_found(format!("zone set {} has no zone {id:?}; it has {}", set.meta().name, ids.join(", ")))
    })?;
    let etag = format!("{}-{}", set.version(), zone.id);
    Ok(conditional(&headers, &etag, "application/geo+json", CACHE_CONTROL, || zone_feature(set, zone)))
}

/// `/v1/zones` and `/v1/zones/{id}`: field tokens and above.
pub(super) fn routes(guard: &super::auth::Guard) -> axum::Router<super::AppState> {
    use super::auth::{Access, Role};
    let routes = axum::Router::new()
        .route("/v1/zones", axum::routing::get(get_zones))
        .route("/v1/zones/{id}", axum::routing::get(get_zone));
    guard.allow(Access::AtLeast(Role::Field), routes)
}
