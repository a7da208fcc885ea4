//! `POST /v1/events` (ingest: one event, a JSON array of them, or a GeoJSON FeatureCollection; answered
//! `201` only once the batch is committed) and `GET /v1/events` (event-level reading for analysts, as
//! GeoJSON or CSV, paged by a cursor).

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::IntoParams;

use super::auth::Caller;
use super::error::{ApiError, AppBytes, ItemError};
use super::metrics::Metrics;
use super::query::{Query, date, route_query};
use super::state::{Events, Program};
use crate::coord::LonLat;
use crate::events::checks::EventChecks;
use crate::events::filter::FilterText;
use crate::events::{Event, EventKind, Groups, Offense, Placed, place};
use crate::formats::events::{EventsWriter, ExportFormat};
use crate::store::{EventQuery, IdempotencyKey, Receipt, Submission};

/// One event as sent (in a GeoJSON Feature, `lon`/`lat` come from the Point geometry).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventIn {
    /// `arrest`, `diversion_referral`, `social_contact_referral` or `offense_report`.
    pub kind: EventKind,
    /// Day of the contact, YYYY-MM-DD (from 1990-01-01, or the service's `--first-date`, to tomorrow).
    #[schema(value_type = String, format = Date)]
    pub occurred_on: String,
    /// Time of day, HH:MM or HH:MM:SS.
    pub occurred_at: Option<String>,
    /// Longitude, WGS84 degrees.
    pub lon: f64,
    /// Latitude, WGS84 degrees.
    pub lat: f64,
    /// `PCS`, `SQ`, `CDO`, or the source's own offense text.
    pub offense: String,
    /// One of the configured race/ethnicity groups.
    pub race_ethnicity: Option<String>,
    /// The agency.
    pub agency: Option<String>,
    /// The data source's name; with `external_id`, the identity.
    pub source: String,
    /// The source's own id (case number).
    pub external_id: String,
}

impl EventIn {
    fn into_event(self, groups: &Groups, checks: &EventChecks) -> Result<Event, String> {
        let occurred_on =
            crate::events::filter::parse_date(&self.occurred_on).map_err(|e| format!("occurred_on {e}"))?;
        let occurred_at = self
            .occurred_at
            .map(|t| {
                crate::events::parse_clock_time(&t)
                    .ok_or_else(|| format!("occurred_at {t:?} is not a time (HH:MM or HH:MM:SS)"))
            })
            .transpose()?;
        let point = LonLat::new(self.lon, self.lat).map_err(|e| e.to_string())?;
        let race_ethnicity = self.race_ethnicity.map(|g| groups.parse(&g)).transpose()?;
        let nonempty = |name: &str, v: String| {
            if v.trim().is_empty() { Err(format!("{name} must not be empty")) } else { Ok(v.trim().to_owned()) }
        };
        let event = Event {
            kind: self.kind,
            occurred_on,
            occurred_at,
            point,
            offense: Offense::parse(&self.offense),
            race_ethnicity,
            agency: self.agency,
            source: nonempty("source", self.source)?,
            external_id: nonempty("external_id", self.external_id)?,
        };
        checks.check(&event).map_err(|(field, reason)| format!("{field}: {reason}"))?;
        Ok(event)
    }
}

/// What an ingest did.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct IngestAnswer {
    /// Events in the request.
    pub count: usize,
    /// New events stored.
    pub inserted: u64,
    /// Known events whose values changed.
    pub updated: u64,
    /// Known events sent again unchanged (a retry).
    pub unchanged: u64,
}

/// The items of a body: one event object, a GeoJSON Feature, an array, or a FeatureCollection; each
/// turned into a plain event object (Feature geometry to `lon`/`lat`).
fn items(body: &Value) -> Result<Vec<Result<Value, String>>, ApiError> {
    let flatten = |v: &Value| -> Result<Value, String> {
        if v.get("type").and_then(Value::as_str) != Some("Feature") {
            return Ok(v.clone());
        }
        let mut props = v.get("properties").and_then(Value::as_object).cloned().ok_or("a Feature needs properties")?;
        let (lon, lat) = crate::formats::geometry::feature_xy(v).map_err(|e| e.to_string())?;
        props.insert("lon".into(), lon.into());
        props.insert("lat".into(), lat.into());
        Ok(Value::Object(props))
    };
    match body {
        Value::Array(a) => Ok(a.iter().map(flatten).collect()),
        Value::Object(o) if o.get("type").and_then(Value::as_str) == Some("FeatureCollection") => Ok(o
            .get("features")
            .and_then(Value::as_array)
            .ok_or_else(|| ApiError::unprocessable("the FeatureCollection has no \"features\" array"))?
            .iter()
            .map(flatten)
            .collect()),
        Value::Object(_) => Ok(vec![flatten(body)]),
        _ => {
            Err(ApiError::unprocessable("send an event object, a JSON array of events, or a GeoJSON FeatureCollection"))
        }
    }
}

fn too_many_events(n: usize, max: usize) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("{n} events is more than the limit of {max} per request; split the batch"),
    )
}

fn no_store() -> ApiError {
    ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "this service has no event store; start it with --data FILE")
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError::internal(format!("the events could not be stored: {e}"))
}

/// Store events. All or nothing: if any item is invalid, none is stored and every bad item is named.
#[utoipa::path(
    post,
    path = "/v1/events",
    tag = "events",
    request_body(content = Vec<EventIn>, description = "One event, a JSON array of events, or a GeoJSON FeatureCollection of Point features whose properties are events without lon/lat", content_type = "application/json"),
    params(
        ("Idempotency-Key" = Option<String>, Header, description = "1 to 255 visible ASCII characters (e.g. a UUID), optionally quoted. Kept 24 hours per token: a retry with the same key and body gets the first answer again (with `Idempotent-Replayed: true`); the same key with another body gets 422."),
    ),
    responses(
        (status = 201, description = "Committed durably (or, with `Idempotent-Replayed: true`, the answer to the first request with this Idempotency-Key)", body = IngestAnswer,
            headers(("Idempotent-Replayed" = String, description = "`true` when this is the stored answer to an earlier request with the same Idempotency-Key"))),
        (status = 400, description = "Malformed JSON or Idempotency-Key", body = super::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "Needs an ingest or admin token", body = super::error::Problem, content_type = "application/problem+json"),
        (status = 413, description = "Too many events or too large a body", body = super::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Some events are invalid (each named in `errors`), or the Idempotency-Key was used with another body; none was stored", body = super::error::Problem, content_type = "application/problem+json"),
        (status = 503, description = "No store, timed out, or over the concurrency limit", body = super::error::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn post_events(
    State(program): State<Program>,
    State(stored): State<Events>,
    State(metrics): State<Arc<Metrics>>,
    caller: Option<axum::Extension<Caller>>,
    headers: HeaderMap,
    AppBytes(body): AppBytes,
) -> Result<Response, ApiError> {
    let key = idempotency_key(&headers, caller.map(|c| c.0.0).unwrap_or_default(), &body)?;
    let max = program.limits().max_batch_points;
    // Counted before anything is parsed: a body of a million tiny items costs no memory to refuse.
    let n = super::error::count_items(&body);
    if n > max {
        return Err(too_many_events(n, max));
    }
    // The common body, an array of plain events, is read straight into events; anything else (Features,
    // a FeatureCollection, a bad item) goes through `Value` so every bad item can be named.
    let typed = if body.first() == Some(&b'[') { serde_json::from_slice::<Vec<EventIn>>(&body).ok() } else { None };
    let items: Vec<Result<EventIn, String>> = if let Some(events) = typed {
        events.into_iter().map(Ok).collect()
    } else {
        super::error::unique_keys(&body)?;
        let value: Value = serde_json::from_slice(&body).map_err(|e| ApiError::malformed_json(&e))?;
        items(&value)?
            .into_iter()
            .map(|item| item.and_then(|v| serde_json::from_value::<EventIn>(v).map_err(|e| e.to_string())))
            .collect()
    };
    if items.len() > max {
        return Err(too_many_events(items.len(), max));
    }
    let groups = Groups::default();
    let checks = program.limits().event_checks(&program.loaded().zones, program.now());
    let mut events = Vec::with_capacity(items.len());
    let mut errors = Vec::new();
    let mut seen: HashMap<(String, String), usize> = HashMap::new();
    for (index, item) in items.into_iter().enumerate() {
        let parsed = item.and_then(|e| e.into_event(&groups, &checks));
        match parsed {
            Ok(e) => {
                let key = (e.source.clone(), e.external_id.clone());
                if let Some(first) = seen.get(&key) {
                    errors.push(ItemError { index, detail: format!("{} {} is also item {first}", key.0, key.1) });
                } else {
                    seen.insert(key, index);
                    events.push(e);
                }
            }
            Err(detail) => errors.push(ItemError { index, detail }),
        }
    }
    if !errors.is_empty() {
        let n = errors.len();
        return Err(ApiError::unprocessable(format!("{n} events are not valid; none was stored; see errors"))
            .with_items(errors));
    }
    let count = events.len();
    let writer = stored.writer().ok_or_else(no_store)?;
    let placed: Vec<Placed> = {
        let loaded = program.loaded();
        events.into_iter().map(|e| place(e, &loaded.zones)).collect()
    };
    // The writer tells the in-memory columns what it stored before it answers (see `Events::open`).
    let (outcome, replayed) = match writer.submit(Submission { events: placed, key }).await.map_err(internal)? {
        Receipt::Stored(outcome) => (outcome, false),
        Receipt::Replayed(outcome) => (outcome, true),
        Receipt::KeyReused => {
            return Err(ApiError::unprocessable(
                "this Idempotency-Key was used with a different request; use a new key for new events",
            ));
        }
    };
    if !replayed {
        metrics.record_ingest(outcome.inserted, outcome.updated, outcome.unchanged);
    }
    let answer =
        IngestAnswer { count, inserted: outcome.inserted, updated: outcome.updated, unchanged: outcome.unchanged };
    let mut response = (StatusCode::CREATED, axum::Json(answer)).into_response();
    if replayed {
        response.headers_mut().insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    Ok(response)
}

/// The request's `Idempotency-Key` (a token of 1 to 255 visible ASCII characters, or such a string in
/// quotes), kept under the caller's name with the body's SHA-256.
fn idempotency_key(headers: &HeaderMap, scope: String, body: &[u8]) -> Result<Option<IdempotencyKey>, ApiError> {
    use sha2::{Digest, Sha256};
    let Some(raw) = headers.get("idempotency-key") else { return Ok(None) };
    let bad = || {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "Idempotency-Key must be 1 to 255 visible ASCII characters (e.g. a UUID), optionally in double quotes",
        )
    };
    let text = raw.to_str().map_err(|_| bad())?.trim();
    let text = text.strip_prefix('"').and_then(|t| t.strip_suffix('"')).unwrap_or(text);
    if text.is_empty() || text.len() > 255 || !text.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(bad());
    }
    Ok(Some(IdempotencyKey { scope, key: text.to_owned(), fingerprint: Sha256::digest(body).into() }))
}

/// The most events one `GET /v1/events` page holds.
pub const MAX_PAGE: usize = 10_000;

/// The query of `GET /v1/events`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct ListParams {
    /// First day, YYYY-MM-DD
    #[param(format = Date)]
    from: Option<String>,
    /// Last day, YYYY-MM-DD
    #[param(format = Date)]
    to: Option<String>,
    /// `arrest`, `diversion_referral`, `social_contact_referral` or `offense_report`
    kind: Option<String>,
    /// A zone id, or `outside`
    zone: Option<String>,
    /// min lon,min lat,max lon,max lat (WGS84)
    bbox: Option<String>,
    /// Events per page, 1..=10000, default 100
    #[param(value_type = Option<usize>)]
    limit: Option<String>,
    /// Cursor: the `next` link gives it
    #[param(value_type = Option<i64>)]
    after: Option<String>,
    /// geojson (default) or csv
    f: Option<String>,
}
route_query!(ListParams);

/// The query of `DELETE /v1/events`: exactly one of `load`, `source` (with `before`) and `id`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct DeleteParams {
    /// Every event this load (import run) last wrote or read
    #[param(value_type = Option<i64>)]
    load: Option<String>,
    /// Every event of this source
    source: Option<String>,
    /// With `source`: only events that occurred before this day (YYYY-MM-DD)
    #[param(format = Date)]
    before: Option<String>,
    /// One event: `SOURCE:EXTERNAL_ID`
    id: Option<String>,
    /// `true`: remove nothing, answer how many events match (`would_remove`), as the command does
    /// without `--yes`
    #[param(value_type = Option<bool>)]
    dry_run: Option<String>,
}
route_query!(DeleteParams);

/// Read stored events (analysts and admins only).
#[utoipa::path(
    get,
    path = "/v1/events",
    tag = "events",
    params(ListParams),
    responses(
        (status = 200, description = "A GeoJSON FeatureCollection (application/geo+json) with a `next` link when more remain, or CSV"),
        (status = 403, description = "Needs the analyst role", body = super::error::Problem, content_type = "application/problem+json"),
        (status = 503, description = "No store (the service runs without --data), timed out, or over the concurrency limit", body = super::error::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn get_events(
    State(stored): State<Events>,
    Query(q): Query<ListParams>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let limit =
        match &q.limit {
            None => 100,
            Some(v) => v.parse::<usize>().ok().filter(|n| (1..=MAX_PAGE).contains(n)).ok_or_else(|| {
                ApiError::bad_request(format!("limit {v:?} must be a whole number from 1 to {MAX_PAGE}"))
            })?,
        };
    let bbox = q
        .bbox
        .as_ref()
        .map(|v| {
            EventQuery::parse_bbox(v)
                .ok_or_else(|| ApiError::bad_request(format!("bbox {v:?} must be min lon,min lat,max lon,max lat")))
        })
        .transpose()?;
    let csv = match q.f.as_deref() {
        None | Some("geojson") => false,
        Some("csv") => true,
        Some(other) => return Err(ApiError::bad_request(format!("f {other:?}: use geojson or csv"))),
    };
    // The filter the figures read (dates, kind and zone: a listing takes no offense, group or source).
    let filter = super::query::event_filter(FilterText {
        from: date("from", q.from.as_deref())?,
        to: date("to", q.to.as_deref())?,
        kind: super::query::kind(q.kind.as_deref())?,
        zone: q.zone.as_deref(),
        ..FilterText::default()
    })?;
    let query = EventQuery {
        after: match &q.after {
            None => 0,
            Some(v) => {
                v.parse().map_err(|_| ApiError::bad_request(format!("after {v:?} is not a cursor from a next link")))?
            }
        },
        ..EventQuery::listing(filter, bbox, limit)
    };
    let q2 = query.clone();
    let rows = tokio::task::spawn_blocking(move || stored.with_store(|s| s.query(&q2)))
        .await
        .map_err(internal)?
        .ok_or_else(no_store)?
        .map_err(internal)?;
    if csv {
        return render_csv(&rows);
    }
    let next = (rows.len() == limit).then(|| {
        let mut params: Vec<String> = form_urlencoded::parse(raw.as_deref().unwrap_or_default().as_bytes())
            .filter(|(k, _)| k != "after")
            .map(|(k, v)| format!("{}={}", urlencode(&k), urlencode(&v)))
            .collect();
        params.push(format!("after={}", rows.last().map_or(0, |r| r.0)));
        json!({"rel": "next", "type": "application/geo+json", "href": format!("/v1/events?{}", params.join("&"))})
    });
    let mut writer = EventsWriter::new(Vec::new(), ExportFormat::GeoJson).map_err(internal)?;
    writer.write(&rows).map_err(internal)?;
    let links = Value::Array(next.into_iter().collect());
    let body = writer.finish(&[("numberReturned", rows.len().into()), ("links", links)]).map_err(internal)?;
    Ok(([(header::CONTENT_TYPE, "application/geo+json")], body).into_response())
}

fn urlencode(v: &str) -> String {
    form_urlencoded::byte_serialize(v.as_bytes()).collect()
}

fn render_csv(rows: &[(i64, Placed)]) -> Result<Response, ApiError> {
    let mut writer = EventsWriter::new(Vec::new(), ExportFormat::Csv).map_err(internal)?;
    writer.write(rows).map_err(internal)?;
    let bytes = writer.finish(&[]).map_err(internal)?;
    Ok(([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], bytes).into_response())
}

/// The answer of `DELETE /v1/events`.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct DeletionAnswer {
    /// What was asked for, as audited (`load 3`, `source ppb before 2016-01-01`, `id ppb:15-000042`).
    pub selector: String,
    /// How many events were removed (0 on a dry run).
    pub removed: u64,
    /// On a dry run (`dry_run=true`) only: how many events match, none removed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub would_remove: Option<u64>,
}

/// Removes stored events (a wrong import, a retention schedule, sealed or expunged records): admins
/// only; one transaction with an audit row naming the token; the figures reflect it when it answers.
#[utoipa::path(delete, path = "/v1/events", tag = "events",
    params(DeleteParams),
    responses(
        (status = 200, description = "Removed (and audited); the figures already reflect it. With dry_run=true: removed 0 and would_remove, how many match (nothing removed or audited)", body = DeletionAnswer),
        (status = 400, description = "Not exactly one of load, source, id; or a bad value", body = super::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "Needs the admin role", body = super::error::Problem, content_type = "application/problem+json"),
        (status = 503, description = "No store (the service runs without --data), timed out, or over the concurrency limit", body = super::error::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn delete_events(
    State(stored): State<Events>,
    caller: Option<axum::Extension<super::auth::Caller>>,
    Query(q): Query<DeleteParams>,
) -> Result<Response, ApiError> {
    use crate::store::{LoadId, Removal};
    let picked = [&q.load, &q.source, &q.id].iter().filter(|v| v.is_some()).count();
    if picked != 1 {
        return Err(ApiError::bad_request(
            "give exactly one of load=N, source=NAME (with before=DATE) or id=SOURCE:ID",
        ));
    }
    if q.before.is_some() && q.source.is_none() {
        return Err(ApiError::bad_request("before goes with source=NAME"));
    }
    let selector = if let Some(v) = &q.load {
        Removal::Load(LoadId(v.parse().map_err(|_| ApiError::bad_request(format!("load {v:?} is not a load number")))?))
    } else if let Some(source) = q.source.as_ref().filter(|s| !s.is_empty()) {
        let before = date("before", q.before.as_deref())?;
        Removal::Source { source: source.clone(), before }
    } else if let Some(one) = q.id.as_deref().and_then(Removal::parse_id) {
        one
    } else {
        return Err(ApiError::bad_request("source must not be empty; id is SOURCE:ID, e.g. id=ppb:15-000042"));
    };
    let selector_text = selector.to_string();
    if super::query::flag("dry_run", q.dry_run.as_deref())? {
        // Counted, not removed: no audit row, nothing read again.
        let n = tokio::task::spawn_blocking(move || stored.with_store(|s| s.count_removal(&selector)))
            .await
            .map_err(internal)?
            .ok_or_else(no_store)?
            .map_err(internal)?;
        return Ok(
            axum::Json(DeletionAnswer { selector: selector_text, removed: 0, would_remove: Some(n) }).into_response()
        );
    }
    let who = caller.map_or_else(|| "open".to_owned(), |c| c.0.0.clone());
    let removed = tokio::task::spawn_blocking(move || -> Result<u64, ApiError> {
        let removed =
            stored.with_store(|s| s.delete_events(&selector, &who)).ok_or_else(no_store)?.map_err(internal)?;
        // The figures reflect it before the answer: the store is read again (beside ingest).
        if removed > 0 {
            stored.reread_now().map_err(internal)?;
        }
        Ok(removed)
    })
    .await
    .map_err(internal)??;
    Ok(axum::Json(DeletionAnswer { selector: selector_text, removed, would_remove: None }).into_response())
}

/// `/v1/events`: sending events takes an ingest or admin token; reading them (event-level data, even
/// without personal fields) an analyst's; removing them an admin's.
pub(super) fn routes(guard: &super::auth::Guard) -> axum::Router<super::AppState> {
    use super::auth::{Access, Role};
    use axum::routing::{delete, get, post};
    let route = |method| axum::Router::new().route("/v1/events", method);
    guard
        .allow(Access::Ingest, route(post(post_events)))
        .merge(guard.allow(Access::AtLeast(Role::Analyst), route(get(get_events))))
        .merge(guard.allow(Access::AtLeast(Role::Admin), route(delete(delete_events))))
}
