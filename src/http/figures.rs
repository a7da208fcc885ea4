//! `GET /v1/cells`, `/v1/hotspots`, `/v1/hotspots/candidates`, `/v1/coverage` and `/v1/equity`: figures
//! computed from the in-memory event columns on a blocking thread, cached per (columns generation, zone
//! set, role, query) with a strong `ETag`. Planners get small counts withheld, resolutions 5 to 9 only,
//! and no group, offense or source filter; analysts and admins get exact figures.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use chrono::NaiveDate;

use super::auth::{CallerRole, Role};
use super::cached::{Rendered, strong_etag};
use super::error::ApiError;
use super::query::{DateParams, Query, date, event_filter, kind, route_query, window_dates};
use super::state::Figures;
use crate::cells::CellRes;
use crate::cells::columns::{EventColumns, EventFilter};
use crate::events::filter::FilterText;
use crate::figures::Disclosure;
use crate::figures::cells::{CellQuery, cell_figures, hotspot_figures};
use crate::figures::geography::Geography;
use crate::formats::cells::{CellFormat, candidates_geojson, write_cells};
use serde::Deserialize;
use utoipa::IntoParams;

/// The finest resolution planners see.
pub const PLANNER_MAX_RES: u8 = 9;
/// The largest k-ring a hotspot request may ask for.
pub const MAX_K_RING: u32 = 5;
/// Bytes of rendered answers kept in all (body and gzipped copy).
pub const CACHE_BYTES: usize = 256 << 20;
/// An answer larger than this is sent but not kept.
pub const CACHE_ENTRY_BYTES: usize = 32 << 20;
/// Answers larger than this are also kept gzipped (a resolution-9 city map is megabytes of GeoJSON).
const GZIP_FROM: usize = 8 << 10;

/// Rendered answers by request, within [`CACHE_BYTES`] bytes: the answer used longest ago goes first
/// (answers are cheap to remake, the cache is for the repeated views of a map). Keys are the parsed,
/// canonical parameters, never the raw query text.
#[derive(Debug)]
pub struct FigureCache {
    inner: std::sync::Mutex<Lru>,
}

#[derive(Debug, Default)]
struct Lru {
    /// Answer and the tick it was last used at, by key.
    entries: HashMap<String, (Arc<Rendered>, u64)>,
    /// Keys by the tick they were last used at (oldest first).
    order: std::collections::BTreeMap<u64, String>,
    tick: u64,
    bytes: usize,
    limit: usize,
}

impl Default for FigureCache {
    fn default() -> Self {
        Self::with_limit(CACHE_BYTES)
    }
}

impl FigureCache {
    /// A cache holding at most `limit` bytes of answers.
    #[must_use]
    pub fn with_limit(limit: usize) -> Self {
        Self { inner: std::sync::Mutex::new(Lru { limit, ..Lru::default() }) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Lru> {
        self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn get(&self, key: &str) -> Option<Arc<Rendered>> {
        let mut lru = self.lock();
        lru.tick += 1;
        let tick = lru.tick;
        let (value, used) = lru.entries.get_mut(key)?;
        let (value, last) = (Arc::clone(value), std::mem::replace(used, tick));
        if let Some(k) = lru.order.remove(&last) {
            lru.order.insert(tick, k);
        }
        Some(value)
    }

    fn put(&self, key: String, value: Arc<Rendered>) {
        let size = value.size();
        let mut lru = self.lock();
        if size > CACHE_ENTRY_BYTES.min(lru.limit) {
            return;
        }
        lru.tick += 1;
        let tick = lru.tick;
        lru.order.insert(tick, key.clone());
        if let Some((old, used)) = lru.entries.insert(key, (value, tick)) {
            lru.bytes -= old.size();
            lru.order.remove(&used);
        }
        lru.bytes += size;
        while lru.bytes > lru.limit {
            let Some((_, oldest)) = lru.order.pop_first() else { break };
            if let Some((old, _)) = lru.entries.remove(&oldest) {
                lru.bytes -= old.size();
            }
        }
    }

    /// Answers and bytes held.
    #[must_use]
    pub fn held(&self) -> (usize, usize) {
        let lru = self.lock();
        (lru.entries.len(), lru.bytes)
    }
}

/// Query parameters, read and checked once.
#[derive(Debug)]
struct Params {
    filter: EventFilter,
    res: CellRes,
    zeros: bool,
    k: u32,
    format: CellFormat,
    reference: String,
    /// Count every event in the set in force on this day (a fixed geography).
    at: Option<NaiveDate>,
    /// Count every event in this stored proposal's zones (a fixed geography; analysts).
    proposal: Option<String>,
}

/// What a figure route was asked, whichever route: the parameters it does not take are `None`.
struct Asked<'a> {
    window: &'a WindowParams,
    geography: &'a GeographyParams,
    res: Option<&'a str>,
    zeros: Option<&'a str>,
    k: Option<&'a str>,
    f: Option<&'a str>,
    reference: Option<&'a str>,
}

impl<'a> Asked<'a> {
    fn new(window: &'a WindowParams, geography: &'a GeographyParams) -> Self {
        Self { window, geography, res: None, zeros: None, k: None, f: None, reference: None }
    }
}

fn params(q: &Asked<'_>, headers: &HeaderMap, role: Role) -> Result<Params, ApiError> {
    let planner = role < Role::Analyst;
    let w = q.window;
    // The values of ANALYST_FILTERS, in its order.
    let analyst_only: [&Option<String>; ANALYST_FILTERS.len()] =
        [&w.group, &w.offense, &w.source, &q.geography.proposal];
    if planner && let Some((name, _)) = ANALYST_FILTERS.iter().zip(analyst_only).find(|(_, v)| v.is_some()) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            format!("the planner role filters by date, kind and zone only; {name} needs the analyst role"),
        ));
    }
    let res: CellRes = q.res.map_or(Ok(CellRes::DEFAULT), str::parse).map_err(ApiError::bad_request)?;
    if planner && u8::from(res.resolution()) > PLANNER_MAX_RES {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            format!("the planner role sees resolutions 5 to {PLANNER_MAX_RES}; res {res} needs the analyst role"),
        ));
    }
    let k = match q.k {
        None => 1,
        Some(v) => v.parse::<u32>().ok().filter(|k| (1..=MAX_K_RING).contains(k)).ok_or_else(|| {
            ApiError::bad_request(format!("k {v:?} must be a whole number from 1 to {MAX_K_RING} (the k-ring)"))
        })?,
    };
    let zeros = super::query::flag("zeros", q.zeros)?;
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let format = match q.f {
        Some("geojson") => CellFormat::Geojson,
        Some("csv") => CellFormat::Csv,
        Some("fgb") => CellFormat::Fgb,
        Some(other) => return Err(ApiError::bad_request(format!("f {other:?}: use geojson, csv or fgb"))),
        None if accept.contains("text/csv") => CellFormat::Csv,
        None if accept.contains("application/flatgeobuf") => CellFormat::Fgb,
        None => CellFormat::Geojson,
    };
    let (from, to) = window_dates(&w.dates, planner)?;
    let filter = event_filter(FilterText {
        from,
        to,
        kind: kind(w.kind.as_deref())?,
        offense: w.offense.as_deref(),
        zone: w.zone.as_deref(),
        group: w.group.as_deref(),
        source: w.source.as_deref(),
    })?;
    let reference = q.reference.map_or_else(|| "white".to_owned(), crate::events::group_key);
    let at = date("at", q.geography.at.as_deref())?;
    let proposal = q.geography.proposal.clone();
    if proposal.is_some() && at.is_some() {
        return Err(ApiError::bad_request("at and proposal: give one or the other (each fixes the areas)"));
    }
    Ok(Params { filter, res, zeros, k, format, reference, at, proposal })
}

type Compute = fn(
    &EventColumns,
    &Geography<'_>,
    &[&geo::MultiPolygon<f64>],
    &Params,
    Disclosure,
) -> Result<(Vec<u8>, &'static str), ApiError>;

/// What `role` is shown: planners (below analyst) see counts perturbed by cell key through the built-in
/// table, unless `planner_k` is 0 (off); analysts and admins see exact counts.
pub(super) fn planner_disclosure(role: Role, planner_k: u64) -> Result<Disclosure, ApiError> {
    if role >= Role::Analyst || planner_k == 0 {
        return Ok(Disclosure::Exact);
    }
    crate::builtin::perturbation_table().map(Disclosure::Perturbed).map_err(|e| ApiError::internal(e.to_string()))
}

/// Answers a figure request: from the cache when the same role asked the same of the same columns and
/// zones, else computed on a blocking thread; `304` when `If-None-Match` names the answer.
async fn answer(
    state: Figures,
    role: Option<axum::Extension<CallerRole>>,
    headers: HeaderMap,
    route: &'static str,
    q: Asked<'_>,
    compute: Compute,
) -> Result<Response, ApiError> {
    let role = role.map_or(Role::Admin, |r| r.0.0);
    let p = params(&q, &headers, role)?;
    let disclosure = planner_disclosure(role, state.program.limits().planner_k)?;
    let served = Arc::clone(&*state.program.loaded());
    // `at`: one set for every event (and the cells' relation); else each event's own date's set, and
    // cells related to the set in force on the window's last day (or today).
    let (index, fixed) = if let Some(id) = &p.proposal {
        let record = super::proposals::find(&state.events, role, id).await?;
        (Arc::new(super::proposals::index_of(&record)?), true)
    } else if let Some(at) = p.at {
        let index = served.zones.in_force(at).map_err(|e| {
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, format!("at {at}: {e}; give a day a zone set was in force"))
        })?;
        (Arc::clone(index), true)
    } else {
        let day = p.filter.to.unwrap_or_else(|| served.zones.day_at(state.program.now()));
        let index =
            served.zones.in_force_or_nearest(day).cloned().ok_or_else(|| ApiError::internal("no zone sets loaded"))?;
        (index, false)
    };
    let (columns, generation) = {
        let events = state.events.clone();
        tokio::task::spawn_blocking(move || events.columns()).await.map_err(|e| ApiError::internal(e.to_string()))??
    };
    // The parsed parameters, not the query text: `reference=black%26to%3D2019-12-31` is one value, not
    // `reference=black&to=2019-12-31`, and spellings of one question share an answer.
    let sets: Vec<String> = served.zones.indexes().iter().map(|i| i.set().version().to_string()).collect();
    let key = format!(
        "{generation}|{}|{}|{fixed}|{}|{route}|{p:?}",
        sets.join(","),
        index.set().version(),
        disclosure.label()
    );
    let rendered = if let Some(r) = state.cache.get(&key) {
        r
    } else {
        let etag = strong_etag(key.as_bytes());
        {
            // Waiting here is cancelled with the request (its timeout drops this future); once started,
            // the work runs to its end on a blocking thread, but never more at once than permits.
            let permit = Arc::clone(&state.permits)
                .acquire_owned()
                .await
                .map_err(|_| ApiError::internal("the service is stopping"))?;
            let (body, content_type) = tokio::task::spawn_blocking(move || {
                let _permit = permit;
                let zones: Vec<&geo::MultiPolygon<f64>> = index.set().zones().iter().map(|z| &z.geometry).collect();
                let geography = if fixed { Geography::Fixed(&index) } else { Geography::InForce(&served.zones) };
                compute(&columns, &geography, &zones, &p, disclosure)
            })
            .await
            .map_err(|e| ApiError::internal(e.to_string()))??;
            let r = Arc::new(Rendered::new(Bytes::from(body), content_type, etag, GZIP_FROM));
            state.cache.put(key, Arc::clone(&r));
            r
        }
    };
    // Answers depend on the token's role, and on data that changes with every ingest.
    Ok(rendered.respond(&headers, "private, no-cache", "Authorization, Accept, Accept-Encoding"))
}

/// The filters every figure role may use, and those only analysts and admins may use.
const PLANNER_FILTERS: &[&str] = &["period", "from", "to", "kind", "zone", "at"];
const ANALYST_FILTERS: [&str; 4] = ["group", "offense", "source", "proposal"];

/// The events a figure counts: the query parameters every figure route takes.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct WindowParams {
    #[serde(flatten)]
    #[param(ignore)]
    dates: DateParams,
    /// `arrest`, `diversion_referral`, `social_contact_referral` or `offense_report`
    kind: Option<String>,
    /// A zone id, `outside` or `no_program`
    zone: Option<String>,
    /// PCS, SQ, CDO or the source's text (analysts)
    offense: Option<String>,
    /// Race/ethnicity group (analysts)
    group: Option<String>,
    /// Data source (analysts)
    source: Option<String>,
}

/// The areas a figure counts events in (one of the two, or neither).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct GeographyParams {
    /// YYYY-MM-DD: count every event in the zone set in force that day, whatever its date (a fixed
    /// geography; also the set cells are related to). Default: each event in the set in force on its own
    /// date (events dated when none was: `no_program`), cells related to the set in force on `to` or today
    #[param(format = Date)]
    at: Option<String>,
    /// A stored proposal's id: count every event in its zones instead (analysts)
    proposal: Option<String>,
}

/// The H3 resolution of a figure's cells.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct ResParams {
    /// H3 resolution 5..=12 (planners: up to 9); default 9
    #[param(value_type = Option<u8>)]
    res: Option<String>,
}

/// The neighbours a hotspot statistic weighs.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct RingParams {
    /// k-ring of neighbours, 1..=5; default 1
    #[param(value_type = Option<u32>)]
    k: Option<String>,
}

/// A figure route's query: the window and the geography every figure route takes, the sets listed
/// (each flattened, so its fields are top-level parameters) and the route's own fields.
macro_rules! figure_query {
    ($(#[$meta:meta])* $name:ident [$($set:ident: $set_ty:ty),*] { $($(#[$fmeta:meta])* $field:ident),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Deserialize, IntoParams)]
        #[into_params(parameter_in = Query)]
        pub(super) struct $name {
            #[serde(flatten)]
            #[param(ignore)]
            window: WindowParams,
            #[serde(flatten)]
            #[param(ignore)]
            geography: GeographyParams,
            $(
                #[serde(flatten)]
                #[param(ignore)]
                $set: $set_ty,
            )*
            $( $(#[$fmeta])* $field: Option<String>, )*
        }
        route_query!($name, DateParams, WindowParams, GeographyParams $(, $set_ty)*);
    };
}

figure_query!(
    /// `GET /v1/cells`.
    CellParams [grid: ResParams] {
        /// Also the study area's empty cells, as zeros
        #[param(value_type = Option<bool>)]
        zeros,
        /// geojson (default), csv or fgb; or by Accept
        f,
    }
);
figure_query!(
    /// `GET /v1/hotspots`.
    HotspotParams [grid: ResParams, ring: RingParams] {
        /// geojson (default), csv or fgb; or by Accept
        f,
    }
);
figure_query!(
    /// `GET /v1/hotspots/candidates`: GeoJSON only, no `f`.
    CandidateParams [grid: ResParams, ring: RingParams] {}
);
figure_query!(
    /// `GET /v1/coverage`.
    CoverageParams [] {}
);
figure_query!(
    /// `GET /v1/equity`.
    EquityParams [] {
        /// The group rates are compared with; default white
        reference,
    }
);

fn render_cells(
    f: &crate::figures::cells::CellFigures,
    format: CellFormat,
) -> Result<(Vec<u8>, &'static str), ApiError> {
    let mut out = Vec::new();
    write_cells(f, format, &mut out).map_err(|e| ApiError::internal(e.to_string()))?;
    Ok((out, format.media_type()))
}

/// Events counted per H3 cell.
#[utoipa::path(
    get,
    path = "/v1/cells",
    tag = "figures",
    params(
        DateParams,
        WindowParams,
        GeographyParams,
        ResParams,
        CellParams,
    ),
    responses(
        (status = 200, description = "Cells: hex_id, count, a count per kind (null when withheld, with suppressed: true), relation (inside, boundary, outside)"),
        (status = 304, description = "Unchanged since the ETag given in If-None-Match"),
        (status = 403, description = "Beyond the role (planners: res <= 9, no group/offense/source)", body = super::error::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn get_cells(
    State(state): State<Figures>,
    role: Option<axum::Extension<CallerRole>>,
    headers: HeaderMap,
    Query(q): Query<CellParams>,
) -> Result<Response, ApiError> {
    let asked = Asked {
        res: q.grid.res.as_deref(),
        zeros: q.zeros.as_deref(),
        f: q.f.as_deref(),
        ..Asked::new(&q.window, &q.geography)
    };
    answer(state, role, headers, "cells", asked, |cols, g, zones, p, d| {
        let q = CellQuery { filter: p.filter.clone(), res: p.res, zeros: p.zeros };
        render_cells(&cell_figures(&g.view(cols, &q.filter), zones, &q, d)?, p.format)
    })
    .await
}

/// Gi* hotspots over the study area's cells.
#[utoipa::path(
    get,
    path = "/v1/hotspots",
    tag = "figures",
    params(
        DateParams,
        WindowParams,
        GeographyParams,
        ResParams,
        RingParams,
        HotspotParams,
    ),
    responses(
        (status = 200, description = "Cells with GiZScore, GiPValue (two-sided; analysts), Gi_Bin, Gi_Bin_FDR, NNeighbors"),
    ),
    security(("bearer" = []))
)]
pub async fn get_hotspots(
    State(state): State<Figures>,
    role: Option<axum::Extension<CallerRole>>,
    headers: HeaderMap,
    Query(q): Query<HotspotParams>,
) -> Result<Response, ApiError> {
    let asked = Asked {
        res: q.grid.res.as_deref(),
        k: q.ring.k.as_deref(),
        f: q.f.as_deref(),
        ..Asked::new(&q.window, &q.geography)
    };
    answer(state, role, headers, "hotspots", asked, |cols, g, zones, p, d| {
        let q = CellQuery { filter: p.filter.clone(), res: p.res, zeros: true };
        render_cells(&hotspot_figures(&g.view(cols, &q.filter), zones, &q, p.k, d)?, p.format)
    })
    .await
}

/// Expansion candidates: clusters of significant hot cells outside every zone.
#[utoipa::path(
    get,
    path = "/v1/hotspots/candidates",
    tag = "figures",
    params(
        DateParams,
        WindowParams,
        GeographyParams,
        ResParams,
        RingParams,
        CandidateParams,
    ),
    responses(
        (status = 200, description = "GeoJSON outlines with rank, contacts, cells, hex_ids"),
    ),
    security(("bearer" = []))
)]
pub async fn get_candidates(
    State(state): State<Figures>,
    role: Option<axum::Extension<CallerRole>>,
    headers: HeaderMap,
    Query(q): Query<CandidateParams>,
) -> Result<Response, ApiError> {
    let asked = Asked { res: q.grid.res.as_deref(), k: q.ring.k.as_deref(), ..Asked::new(&q.window, &q.geography) };
    answer(state, role, headers, "candidates", asked, |cols, g, zones, p, d| {
        let q = CellQuery { filter: p.filter.clone(), res: p.res, zeros: true };
        let f = hotspot_figures(&g.view(cols, &q.filter), zones, &q, p.k, d)?;
        Ok((candidates_geojson(&f).to_string().into_bytes(), "application/geo+json"))
    })
    .await
}

/// Coverage: counts per zone (and outside) and month, the share inside the zones, the diversion rate.
#[utoipa::path(
    get,
    path = "/v1/coverage",
    tag = "figures",
    params(
        DateParams,
        WindowParams,
        GeographyParams,
        CoverageParams,
    ),
    responses(
        (status = 200, description = "geography (which areas events were counted in), share_inside (of the events inside or outside; `no_program` left out), diversion_rate_inside, diversion_rate_inside, totals (per area), months (per area and month)"),
        (status = 422, description = "No zone set was in force on `at`", body = super::error::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn get_coverage(
    State(state): State<Figures>,
    role: Option<axum::Extension<CallerRole>>,
    headers: HeaderMap,
    Query(q): Query<CoverageParams>,
) -> Result<Response, ApiError> {
    let asked = Asked::new(&q.window, &q.geography);
    answer(state, role, headers, "coverage", asked, |cols, g, _, p, d| {
        let c = crate::figures::coverage::coverage(cols, g, &p.filter, d);
        serde_json::to_vec(&c).map(|b| (b, "application/json")).map_err(|e| ApiError::internal(e.to_string()))
    })
    .await
}

/// Equity: per area and race/ethnicity group, counts, rates and the relative rate index.
#[utoipa::path(
    get,
    path = "/v1/equity",
    tag = "figures",
    params(
        DateParams,
        WindowParams,
        GeographyParams,
        EquityParams,
    ),
    responses(
        (status = 200, description = "geography, reference_group and rows: area, group, counts, referral_rate, diversion_rate, rri_referral, rri_diversion"),
        (status = 422, description = "No zone set was in force on `at`", body = super::error::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn get_equity(
    State(state): State<Figures>,
    role: Option<axum::Extension<CallerRole>>,
    headers: HeaderMap,
    Query(q): Query<EquityParams>,
) -> Result<Response, ApiError> {
    let asked = Asked { reference: q.reference.as_deref(), ..Asked::new(&q.window, &q.geography) };
    answer(state, role, headers, "equity", asked, |cols, g, _, p, d| {
        let e = crate::figures::coverage::equity(cols, g, &p.filter, &p.reference, d);
        serde_json::to_vec(&e).map(|b| (b, "application/json")).map_err(|e| ApiError::internal(e.to_string()))
    })
    .await
}

/// `GET /v1/me`: what the caller's role may ask of the figure routes, so a page shows only the controls
/// that work for it.
#[utoipa::path(
    get,
    path = "/v1/me",
    tag = "figures",
    responses(
        (status = 200, description = "The caller's role; `perturbed`: how counts are perturbed (planners: `zero_up_to`, `max_noise`, `note`), null when exact; `fixed_periods`: whether windows must be a whole month, quarter or year (`period=`), or all history; `max_res`: the finest resolution; `filters`: the query parameters the figure routes take from this role", body = serde_json::Value),
        (status = 403, description = "The token's role is below planner", body = super::error::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn get_me(
    State(program): State<super::state::Program>,
    role: Option<axum::Extension<CallerRole>>,
) -> axum::Json<serde_json::Value> {
    let role = role.map_or(Role::Admin, |r| r.0.0);
    let planner = role < Role::Analyst;
    let perturbed = planner_disclosure(role, program.limits().planner_k).ok().and_then(Disclosure::perturbation);
    let filters: Vec<&str> =
        PLANNER_FILTERS.iter().chain(if planner { &[][..] } else { &ANALYST_FILTERS }).copied().collect();
    axum::Json(serde_json::json!({
        "role": role.to_string(),
        "perturbed": perturbed,
        "fixed_periods": planner,
        "max_res": if planner { PLANNER_MAX_RES } else { crate::cells::MAX_RES },
        "filters": filters,
    }))
}

/// The figure routes (aggregates): planners (small counts withheld) and above.
pub(super) fn routes(guard: &super::auth::Guard) -> axum::Router<super::AppState> {
    use super::auth::Access;
    use axum::routing::get;
    let routes = axum::Router::new()
        .route("/v1/cells", get(get_cells))
        .route("/v1/hotspots", get(get_hotspots))
        .route("/v1/hotspots/candidates", get(get_candidates))
        .route("/v1/coverage", get(get_coverage))
        .route("/v1/equity", get(get_equity))
        .route("/v1/me", get(get_me));
    guard.allow(Access::AtLeast(Role::Planner), routes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(bytes: usize) -> Arc<Rendered> {
        // Not gzipped: the size is the body's.
        Arc::new(Rendered::new(Bytes::from(vec![b'x'; bytes]), "text/csv", "\"t\"".to_owned(), usize::MAX))
    }

    #[test]
    fn the_cache_keeps_what_was_used_last_within_its_bytes() {
        let cache = FigureCache::with_limit(1000);
        for k in ["a", "b", "c"] {
            cache.put(k.to_owned(), answer(300));
        }
        assert_eq!(cache.held(), (3, 900));
        // "a" used again: "b" is now the oldest, and goes when "d" comes.
        assert!(cache.get("a").is_some());
        cache.put("d".to_owned(), answer(300));
        assert_eq!(cache.held(), (3, 900));
        assert!(cache.get("b").is_none());
        assert!(["a", "c", "d"].iter().all(|k| cache.get(k).is_some()));
        // A bigger answer pushes out as many of the oldest as it needs; one over the limit is not kept.
        cache.put("e".to_owned(), answer(700));
        assert_eq!(cache.held(), (2, 1000));
        assert!(cache.get("e").is_some() && cache.get("d").is_some());
        cache.put("huge".to_owned(), answer(1001));
        assert!(cache.get("huge").is_none());
        assert_eq!(cache.held(), (2, 1000));
        // The same key again replaces its answer.
        cache.put("e".to_owned(), answer(100));
        assert_eq!(cache.held(), (2, 400));
    }
}
