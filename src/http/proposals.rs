//! `/v1/proposals`: proposed zone sets stored in the event store (`POST`, `GET`, `DELETE`), their impact
//! over the stored history against the current set, and several side by side. Analysts and admins
//! submit any zone set and see exact impacts; planners submit only whole H3 cells and see impacts made
//! of the per-cell values their cell tables already publish. Every submission, deletion and evaluation
//! is written to the store's audit table and to the log with the token's name.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use serde_json::{Value, json};

use super::auth::{Caller, CallerRole, Role};
use super::error::{ApiError, AppJson};
use super::query::{DateParams, Query, date, route_query};
use super::state::{Events, Program};
use crate::cells::CellRes;
use crate::cells::columns::EventFilter;
use crate::events::filter::FilterText;
use crate::formats::cells::changed_cells_geojson;
use crate::formats::proposal::{ProposalError, read_submission};
use crate::formats::zonefile::{ZoneFileOptions, parse_zone_geojson, zone_set_to_geojson};
use crate::proposals::{DEFAULT_CASELOAD, ImpactQuery, compare, impact, impacts, published::published_impact};
use crate::store::{AuditRecord, ProposalRecord};
use crate::zones::{IndexOptions, ZoneIndex};
use serde::Deserialize;
use utoipa::IntoParams;

/// The finest cells a planner's proposal may have.
const PLANNER_MAX_RES: u8 = super::figures::PLANNER_MAX_RES;
/// The most proposals one comparison takes.
const MAX_COMPARE: usize = 8;
/// The most proposals the store keeps (each up to the body limit): a careless script cannot fill the
/// disk.
pub const MAX_PROPOSALS: usize = 1000;

fn no_store() -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "this service has no event store to keep proposals in; start it with --data FILE",
    )
}

fn store_failed(e: impl std::fmt::Display) -> ApiError {
    ApiError::internal(format!("the proposals could not be read or written: {e}"))
}

/// Runs `f` on the store on a blocking thread.
async fn on_store<T: Send + 'static>(
    events: &Events,
    f: impl FnOnce(&mut dyn crate::store::EventStore) -> Result<T, crate::store::StoreError> + Send + 'static,
) -> Result<T, ApiError> {
    let events = events.clone();
    tokio::task::spawn_blocking(move || events.with_store(f))
        .await
        .map_err(store_failed)?
        .ok_or_else(no_store)?
        .map_err(store_failed)
}

/// The caller's role and token name (an open service: admin, unnamed).
fn caller(role: Option<&CallerRole>, name: Option<&Caller>) -> (Role, String) {
    (role.map_or(Role::Admin, |r| r.0), name.map_or_else(String::new, |n| n.0.clone()))
}

/// Writes an audit row and the log line; a failed audit write fails the request (no unaudited answer).
async fn audit(events: &Events, row: AuditRecord) -> Result<(), ApiError> {
    tracing::info!(
        who = %row.who, role = %row.role, action = %row.action, proposals = %row.proposals.join(","),
        from = ?row.from, to = ?row.to, "proposal {}", row.action
    );
    on_store(events, move |s| s.audit(&row)).await
}

/// The summary of a record a listing shows.
fn summary(r: &ProposalRecord) -> Value {
    json!({
        "id": r.id, "name": r.name, "author": r.author, "created_at": r.created_at, "version": r.version,
        "cells": r.cells.as_ref().map(Vec::len),
        "links": [{"rel": "impact", "href": format!("/v1/proposals/{}/impact", r.id)}],
    })
}

/// Whether the role may see a proposal: planners see cell proposals only.
fn visible(role: Role, r: &ProposalRecord) -> bool {
    role >= Role::Analyst || r.cells.is_some()
}

/// Submit a proposed zone set.
#[utoipa::path(
    post,
    path = "/v1/proposals",
    tag = "proposals",
    request_body(content = Value, description = "{\"name\", \"zones\": a GeoJSON zone file} or {\"name\", \"base\": a loaded set's name, \"edits\": [{\"op\": \"add\"|\"replace\", \"feature\"} | {\"op\": \"remove\", \"zone\"}]} (analysts) or {\"name\", \"cells\": [H3 ids, one resolution 5..=9]} (planners too)", content_type = "application/json"),
    responses(
        (status = 201, description = "Stored: id, name, author, created_at, version, and a Location header"),
        (status = 400, description = "Malformed JSON", body = super::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "A planner submitted something other than whole cells", body = super::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "The store keeps 1000 proposals already: delete some first", body = super::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not a valid zone set: the zone file's own messages", body = super::error::Problem, content_type = "application/problem+json"),
        (status = 503, description = "No store (the service runs without --data), timed out, or over the concurrency limit", body = super::error::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn post_proposal(
    State(program): State<Program>,
    State(events): State<Events>,
    role: Option<axum::Extension<CallerRole>>,
    name: Option<axum::Extension<Caller>>,
    AppJson(body): AppJson<Value>,
) -> Result<Response, ApiError> {
    let (role, who) = caller(role.as_deref(), name.as_deref());
    let planner = role < Role::Analyst;
    let served = Arc::clone(&*program.loaded());
    let max_res = if planner { PLANNER_MAX_RES } else { crate::cells::MAX_RES };
    let submitted = read_submission(&body, &served.zones, planner, max_res).map_err(|e| match e {
        ProposalError::Shape(m) if planner && m.contains("planner role") => ApiError::new(StatusCode::FORBIDDEN, m),
        other => ApiError::unprocessable(other.to_string()),
    })?;
    let created_at = program.now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let version = submitted.set.version().to_string();
    let cells: Option<Vec<String>> = submitted.cells.as_ref().map(|c| c.iter().map(ToString::to_string).collect());
    let id = {
        // Two submissions in the same millisecond differ by their number in this process.
        static SUBMITTED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = SUBMITTED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let text = format!("{}\n{who}\n{created_at}\n{version}\n{n}", submitted.name);
        format!("p{}", crate::digest::sha256_hex(text.as_bytes(), 6))
    };
    let record = ProposalRecord {
        id: id.clone(),
        name: submitted.name.clone(),
        author: who.clone(),
        created_at,
        version,
        cells,
        zones_geojson: zone_set_to_geojson(&submitted.set).to_string(),
    };
    let stored = record.clone();
    let full = on_store(&events, move |s| {
        if s.proposals()?.len() >= MAX_PROPOSALS {
            return Ok(true);
        }
        s.put_proposal(&stored).map(|()| false)
    })
    .await?;
    if full {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            format!(
                "the store keeps at most {MAX_PROPOSALS} proposals: DELETE /v1/proposals/{{id}} those no longer needed"
            ),
        ));
    }
    audit(
        &events,
        AuditRecord {
            who,
            role: role.to_string(),
            action: "create".into(),
            proposals: vec![id.clone()],
            from: None,
            to: None,
        },
    )
    .await?;
    let location = format!("/v1/proposals/{id}");
    Ok((StatusCode::CREATED, [(header::LOCATION, location)], axum::Json(summary(&record))).into_response())
}

/// The stored proposals (planners: those made of cells).
#[utoipa::path(
    get,
    path = "/v1/proposals",
    tag = "proposals",
    responses(
        (status = 200, description = "proposals: id, name, author, created_at, version, cells (how many, for a cell proposal), links"),
        (status = 503, description = "No store (the service runs without --data), timed out, or over the concurrency limit", body = super::error::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn get_proposals(
    State(events): State<Events>,
    role: Option<axum::Extension<CallerRole>>,
) -> Result<axum::Json<Value>, ApiError> {
    let (role, _) = caller(role.as_deref(), None);
    let all = on_store(&events, |s| s.proposals()).await?;
    let list: Vec<Value> = all.iter().filter(|r| visible(role, r)).map(summary).collect();
    Ok(axum::Json(json!({ "proposals": list })))
}

pub(super) async fn find(events: &Events, role: Role, id: &str) -> Result<ProposalRecord, ApiError> {
    let key = id.to_owned();
    let found = on_store(events, move |s| s.proposal(&key)).await?;
    found
        .filter(|r| visible(role, r))
        .ok_or_else(|| ApiError::not_found(format!("no proposal {id:?}; GET /v1/proposals lists them")))
}

/// One proposal, with its zone set as GeoJSON.
#[utoipa::path(
    get,
    path = "/v1/proposals/{id}",
    tag = "proposals",
    params(("id" = String, Path, description = "The proposal's id")),
    responses(
        (status = 200, description = "The summary and `zones`, a GeoJSON zone file (lon/lat)"),
        (status = 404, description = "No such proposal (or not one the role may see)", body = super::error::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn get_proposal(
    State(events): State<Events>,
    role: Option<axum::Extension<CallerRole>>,
    Path(id): Path<String>,
) -> Result<axum::Json<Value>, ApiError> {
    let (role, _) = caller(role.as_deref(), None);
    let r = find(&events, role, &id).await?;
    let mut doc = summary(&r);
    doc["zones"] = serde_json::from_str(&r.zones_geojson).map_err(store_failed)?;
    if let Some(cells) = &r.cells {
        doc["cells"] = json!(cells);
    }
    Ok(axum::Json(doc))
}

/// Delete a proposal (its author, analysts and admins).
#[utoipa::path(
    delete,
    path = "/v1/proposals/{id}",
    tag = "proposals",
    params(("id" = String, Path, description = "The proposal's id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, description = "A planner's token that did not submit it", body = super::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such proposal", body = super::error::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn delete_proposal(
    State(events): State<Events>,
    role: Option<axum::Extension<CallerRole>>,
    name: Option<axum::Extension<Caller>>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let (role, who) = caller(role.as_deref(), name.as_deref());
    let r = find(&events, role, &id).await?;
    if role < Role::Analyst && r.author != who {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "a planner deletes only the proposals its own token submitted",
        ));
    }
    let key = id.clone();
    on_store(&events, move |s| s.delete_proposal(&key)).await?;
    audit(
        &events,
        AuditRecord { who, role: role.to_string(), action: "delete".into(), proposals: vec![id], from: None, to: None },
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The query of an impact or a comparison, read and checked.
struct Window {
    filter: EventFilter,
    against: Option<String>,
    at: Option<NaiveDate>,
    res: CellRes,
    caseload: u32,
    reference: String,
}

/// The query of `GET /v1/proposals/{id}/impact` (and of a comparison, beside its `ids`).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct ImpactParams {
    #[serde(flatten)]
    #[param(ignore)]
    dates: DateParams,
    /// Compare with this loaded zone set (by name)
    against: Option<String>,
    /// Compare with the set in force on this day (default: to, else today)
    #[param(format = Date)]
    at: Option<String>,
    /// Resolution of the cells gained and lost (analysts), default 9
    #[param(value_type = Option<u8>)]
    res: Option<String>,
    /// People per case manager, default 20
    #[param(value_type = Option<u32>)]
    caseload: Option<String>,
    /// The group rates are compared with (analysts), default white
    reference: Option<String>,
    /// Only this kind (analysts)
    kind: Option<String>,
}
route_query!(ImpactParams, DateParams);

/// The query of `GET /v1/proposals/compare`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct CompareParams {
    /// Proposal ids, comma-separated (1 to 8)
    #[param(required = true, value_type = String)]
    ids: Option<String>,
    #[serde(flatten)]
    #[param(ignore)]
    impact: ImpactParams,
}
route_query!(CompareParams, DateParams, ImpactParams);

fn window(q: &ImpactParams, planner: bool) -> Result<Window, ApiError> {
    let (from, to) = super::query::window_dates(&q.dates, planner)?;
    let analyst_only = [("reference", &q.reference), ("kind", &q.kind), ("res", &q.res)];
    if planner && let Some((k, _)) = analyst_only.iter().find(|(_, v)| v.is_some()) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            format!(
                "{k}: the planner role's impacts are at the proposal's own cells and every kind; {k} needs the analyst role"
            ),
        ));
    }
    let res: CellRes = q.res.as_deref().map_or(Ok(CellRes::DEFAULT), str::parse).map_err(ApiError::bad_request)?;
    let caseload = match &q.caseload {
        None => DEFAULT_CASELOAD,
        Some(v) => v.parse::<u32>().ok().filter(|n| (1..=1000).contains(n)).ok_or_else(|| {
            ApiError::bad_request(format!("caseload {v:?}: people per case manager, a whole number from 1 to 1000"))
        })?,
    };
    if q.against.is_some() && q.at.is_some() {
        return Err(ApiError::bad_request("against and at: give one or the other"));
    }
    Ok(Window {
        // Dates and kind only: the impact counts every offense, zone and group.
        filter: super::query::event_filter(FilterText {
            from,
            to,
            kind: super::query::kind(q.kind.as_deref())?,
            ..FilterText::default()
        })?,
        against: q.against.clone(),
        at: date("at", q.at.as_deref())?,
        res,
        caseload,
        reference: q.reference.as_deref().map_or_else(|| "white".to_owned(), crate::events::group_key),
    })
}

impl Window {
    /// The impact query over this window for the program `served` holds (capacity on the window's last
    /// day, else `today`).
    fn query(self, served: &super::state::Served, today: NaiveDate) -> ImpactQuery {
        let day = self.filter.to.unwrap_or(today);
        ImpactQuery::for_program(
            self.filter,
            self.res,
            self.caseload,
            self.reference,
            &served.zones,
            &served.rules,
            day,
        )
    }
}

/// The set a proposal is compared with: `against` (a loaded set's name), the set in force on `at`, else
/// on the window's last day (or `today`), else the nearest.
fn current_set(served: &super::state::Served, w: &Window, today: NaiveDate) -> Result<Arc<ZoneIndex>, ApiError> {
    let zones = &served.zones;
    if let Some(name) = &w.against {
        return zones.indexes().iter().find(|i| &i.set().meta().name == name).cloned().ok_or_else(|| {
            let names: Vec<&str> = zones.indexes().iter().map(|i| i.set().meta().name.as_str()).collect();
            ApiError::unprocessable(format!("against {name:?} is not a loaded zone set; loaded: {}", names.join(", ")))
        });
    }
    if let Some(at) = w.at {
        return zones.in_force(at).cloned().map_err(|e| ApiError::unprocessable(format!("at {at}: {e}")));
    }
    let day = w.filter.to.unwrap_or(today);
    zones.in_force_or_nearest(day).cloned().ok_or_else(|| ApiError::internal("no zone sets loaded"))
}

pub(super) fn index_of(r: &ProposalRecord) -> Result<ZoneIndex, ApiError> {
    let set = parse_zone_geojson(&r.zones_geojson, &r.id, &ZoneFileOptions::default()).map_err(store_failed)?;
    Ok(ZoneIndex::new(set, IndexOptions::default()))
}

/// What a proposal would have changed.
#[utoipa::path(
    get,
    path = "/v1/proposals/{id}/impact",
    tag = "proposals",
    params(
        ("id" = String, Path, description = "The proposal's id"),
        DateParams,
        ImpactParams,
    ),
    responses(
        (status = 200, description = "Analysts: newly inside/outside and net by kind, month, zone and group (rates and RRI current and proposed), cells and km² gained and lost, hotspot clusters covered and missed, capacity. Planners: the same totals, cells and months as sums of the per-cell values /v1/cells publishes"),
        (status = 404, description = "No such proposal", body = super::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "No such set to compare with", body = super::error::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn get_impact(
    State(program): State<Program>,
    State(events): State<Events>,
    role: Option<axum::Extension<CallerRole>>,
    name: Option<axum::Extension<Caller>>,
    Path(id): Path<String>,
    Query(q): Query<ImpactParams>,
) -> Result<Response, ApiError> {
    let (role, who) = caller(role.as_deref(), name.as_deref());
    let planner = role < Role::Analyst;
    let w = window(&q, planner)?;
    let r = find(&events, role, &id).await?;
    let proposal = index_of(&r)?;
    let disclosure = super::figures::planner_disclosure(role, program.limits().planner_k)?;
    let (current, q) = audited(&program, &events, w, who, role, "impact", vec![id]).await?;
    from_columns(&events, move |cols| {
        if planner && disclosure != crate::figures::Disclosure::Exact {
            let cells: Vec<h3o::CellIndex> = r.cells.iter().flatten().filter_map(|c| c.parse().ok()).collect();
            let i = published_impact(cols, &current, &proposal, &cells, &q.filter, disclosure)
                .map_err(|e| ApiError::unprocessable(e.to_string()))?;
            let mut doc = serde_json::to_value(&i).map_err(store_failed)?;
            doc["geojson"] = changed_cells_geojson(
                i.gained.iter().map(|c| (c.cell.as_str(), c.contacts)),
                i.lost.iter().map(|c| (c.cell.as_str(), c.contacts)),
            );
            return serde_json::to_vec(&doc).map_err(store_failed);
        }
        serde_json::to_vec(&impact_json(&impact(cols, &current, &proposal, &q))?).map_err(store_failed)
    })
    .await
}

/// Checks the set to compare with, writes the audit row of an impact or comparison (`action`) of
/// `proposals`, and gives that set and the query over the stored events.
async fn audited(
    program: &Program,
    events: &Events,
    w: Window,
    who: String,
    role: Role,
    action: &str,
    proposals: Vec<String>,
) -> Result<(Arc<ZoneIndex>, ImpactQuery), ApiError> {
    let served = Arc::clone(&*program.loaded());
    let today = served.zones.day_at(program.now());
    let current = current_set(&served, &w, today)?;
    let row = AuditRecord {
        who,
        role: role.to_string(),
        action: action.into(),
        proposals,
        from: w.filter.from,
        to: w.filter.to,
    };
    audit(events, row).await?;
    Ok((current, w.query(&served, today)))
}

/// A JSON answer computed from the live columns on a blocking thread, private to the caller (never
/// cached).
async fn from_columns(
    events: &Events,
    answer: impl FnOnce(&crate::cells::columns::EventColumns) -> Result<Vec<u8>, ApiError> + Send + 'static,
) -> Result<Response, ApiError> {
    let events = events.clone();
    let body = tokio::task::spawn_blocking(move || {
        let (cols, _) = events.columns()?;
        answer(&cols)
    })
    .await
    .map_err(store_failed)??;
    Ok(([(header::CONTENT_TYPE, "application/json"), (header::CACHE_CONTROL, "private, no-store")], body)
        .into_response())
}

/// An impact as JSON, its cells gained and lost also as GeoJSON hexagons (`cells.geojson`).
fn impact_json(i: &crate::proposals::Impact) -> Result<Value, ApiError> {
    let mut doc = serde_json::to_value(i).map_err(store_failed)?;
    doc["cells"]["geojson"] = crate::formats::cells::impact_cells_geojson(&i.cells);
    Ok(doc)
}

/// Several proposals side by side (analysts).
#[utoipa::path(
    get,
    path = "/v1/proposals/compare",
    tag = "proposals",
    params(DateParams, ImpactParams, CompareParams),
    responses(
        (status = 200, description = "comparison: columns (the current set, then each proposal) and rows (measure, values); impacts: each in full"),
        (status = 403, description = "Needs the analyst role", body = super::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such proposal", body = super::error::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn get_compare(
    State(program): State<Program>,
    State(events): State<Events>,
    role: Option<axum::Extension<CallerRole>>,
    name: Option<axum::Extension<Caller>>,
    Query(q): Query<CompareParams>,
) -> Result<Response, ApiError> {
    let (role, who) = caller(role.as_deref(), name.as_deref());
    if role < Role::Analyst {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "comparing proposals needs the analyst role; planners ask each cell proposal's impact",
        ));
    }
    let w = window(&q.impact, false)?;
    let ids: Vec<String> = q
        .ids
        .as_deref()
        .map(|v| v.split(',').map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect())
        .unwrap_or_default();
    if !(1..=MAX_COMPARE).contains(&ids.len()) {
        return Err(ApiError::bad_request(format!("ids: give 1 to {MAX_COMPARE} proposal ids, comma-separated")));
    }
    let mut records = Vec::new();
    for id in &ids {
        records.push(find(&events, role, id).await?);
    }
    let proposals = records.iter().map(index_of).collect::<Result<Vec<_>, _>>()?;
    let (current, q) = audited(&program, &events, w, who, role, "compare", ids).await?;
    from_columns(&events, move |cols| {
        let refs: Vec<&ZoneIndex> = proposals.iter().collect();
        let all = impacts(cols, &current, &refs, &q);
        let docs = all.iter().map(impact_json).collect::<Result<Vec<_>, _>>()?;
        serde_json::to_vec(&json!({ "comparison": compare(&all), "impacts": docs })).map_err(store_failed)
    })
    .await
}

/// The proposal routes: planners and above (each handler narrows what a planner may submit and see).
pub(super) fn routes(guard: &super::auth::Guard) -> axum::Router<super::AppState> {
    use super::auth::Access;
    use axum::routing::get;
    let routes = axum::Router::new()
        .route("/v1/proposals", get(get_proposals).post(post_proposal))
        .route("/v1/proposals/compare", get(get_compare))
        .route("/v1/proposals/{id}", get(get_proposal).delete(delete_proposal))
        .route("/v1/proposals/{id}/impact", get(get_impact));
    guard.allow(Access::AtLeast(Role::Planner), routes)
}
