//! Operations endpoints: liveness, readiness (what is loaded), Prometheus metrics and the OpenAPI
//! document.

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use std::sync::Arc;

use super::figures::FigureCache;
use super::metrics::Metrics;
use super::state::{Events, Program};

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, description = "Alive", body = Value)))]
pub async fn get_healthz() -> axum::Json<Value> {
    axum::Json(json!({"status": "ok"}))
}

/// Readiness: zones and rules are loaded; says which, which are in force today, and whether a LEAD
/// program is (a service whose program has ended is still ready: it answers, and says so).
#[utoipa::path(get, path = "/readyz", tag = "operations", responses((status = 200, description = "Ready, with the loaded zone and rule sets (each with `in_force_today`), `program_in_force_today`, `store` (`open` or `none`) and `events` (the stored events in memory: `ready`, `loading` with `read` of `total`, or `failed`; figures answer 503 until `ready`)", body = Value)))]
pub async fn get_readyz(State(program): State<Program>, State(events): State<Events>) -> axum::Json<Value> {
    let loaded = program.loaded();
    let today = loaded.zones.day_at(program.now());
    let zones: Vec<Value> = loaded
        .zones
        .indexes()
        .iter()
        .map(|i| {
            let m = i.set().meta();
            json!({"name": m.name, "version": i.set().version(), "status": m.status, "effective_from": m.effective_from, "effective_to": m.effective_to, "in_force_today": m.in_force_on(today)})
        })
        .collect();
    let rules: Vec<Value> = loaded
        .rules
        .sets()
        .iter()
        .map(|r| json!({"name": r.name(), "version": r.version(), "effective_from": r.spec().effective_from, "effective_to": r.spec().effective_to, "in_force_today": r.in_force_on(today)}))
        .collect();
    let program = crate::program::program_on(&loaded.zones, &loaded.rules, today).ok();
    let in_force = program.as_ref().is_some_and(crate::program::ProgramOn::in_force);
    let note = program.and_then(|p| p.not_in_force);
    // Eligibility needs only the zones and rules (ready from the start); figures need every stored
    // event in memory, read in the background at start.
    let in_memory = match events.columns_state() {
        crate::events::live::ColumnsState::Loading { read, total } => {
            json!({"state": "loading", "read": read, "total": total})
        }
        other => json!({"state": other.name()}),
    };
    let store = if events.has_store() { "open" } else { "none" };
    axum::Json(
        json!({"status": "ready", "today": today, "program_in_force_today": in_force, "program_note": note, "zone_sets": zones, "rule_sets": rules, "store": store, "events": in_memory}),
    )
}

/// Prometheus text: request counts and latency histograms per route. Needs the admin role when tokens
/// are configured.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses(
        (status = 200, description = "Prometheus text format 0.0.4", content_type = "text/plain", body = String),
        (status = 403, description = "Not an admin token", body = super::error::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn get_metrics(
    State(metrics): State<Arc<Metrics>>,
    State(cache): State<Arc<FigureCache>>,
    State(program): State<Program>,
    State(stored): State<Events>,
) -> Response {
    let mut text = metrics.render();
    let (answers, bytes) = cache.held();
    let (events, read) = stored.in_memory();
    let read = read.name();
    let loaded = program.loaded();
    // Label values escaped as the text format says (a zone file's name is anyone's text).
    let sets = |v: Vec<String>| v.join(",").replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n");
    let zone_sets =
        sets(loaded.zones.indexes().iter().map(|i| format!("{}@{}", i.set().meta().name, i.set().version())).collect());
    let rule_sets = sets(loaded.rules.sets().iter().map(|r| format!("{}@{}", r.name(), r.version())).collect());
    let _ = std::fmt::Write::write_fmt(
        &mut text,
        format_args!(
            "# HELP leadmap_build_info The build and the zone and rule sets served (name@version).\n# TYPE leadmap_build_info gauge\n\
             leadmap_build_info{{version=\"{}\",commit=\"{}\",zone_sets=\"{zone_sets}\",rule_sets=\"{rule_sets}\"}} 1\n\
             # HELP leadmap_events_in_memory Stored events in memory (the figures' columns).\n# TYPE leadmap_events_in_memory gauge\n\
             leadmap_events_in_memory{{state=\"{read}\"}} {events}\n",
            env!("CARGO_PKG_VERSION"),
            env!("LEADMAP_COMMIT"),
        ),
    );
    let _ = std::fmt::Write::write_fmt(
        &mut text,
        format_args!(
            "# HELP leadmap_figure_cache_answers Rendered figure answers cached.\n# TYPE leadmap_figure_cache_answers gauge\nleadmap_figure_cache_answers {answers}\n\
         # HELP leadmap_figure_cache_bytes Bytes of cached figure answers (bounded by the cache's budget).\n# TYPE leadmap_figure_cache_bytes gauge\nleadmap_figure_cache_bytes {bytes}\n"
        ),
    );
    let mut res = text.into_response();
    res.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"));
    res
}

/// This API's OpenAPI 3.1 document.
#[utoipa::path(get, path = "/openapi.json", tag = "operations", responses((status = 200, description = "OpenAPI 3.1", body = Value)))]
pub async fn get_openapi() -> Response {
    let mut res = super::openapi::document_json().into_response();
    res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    res
}

/// `/healthz`, `/readyz` and `/openapi.json`, open to all (probes and clients read them before they
/// have a token); `/metrics` (traffic patterns): admins.
pub(super) fn routes(guard: &super::auth::Guard) -> axum::Router<super::AppState> {
    use super::auth::{Access, Role};
    use axum::routing::get;
    axum::Router::new()
        .route("/healthz", get(get_healthz))
        .route("/readyz", get(get_readyz))
        .route("/openapi.json", get(get_openapi))
        .merge(guard.allow(Access::AtLeast(Role::Admin), axum::Router::new().route("/metrics", get(get_metrics))))
}
