//! The HTTP service: the only module that imports axum and tower. [`router`] composes the routes over an
//! [`AppState`] (tests call it in-process); [`serve`] owns the lifecycle: bind, refuse an open service
//! off loopback, graceful shutdown on SIGTERM/Ctrl-C, reload on SIGHUP. One file per resource; errors
//! become problem+json in `error.rs` only.

mod auth;
mod basemap;
mod cached;
mod conn;
mod eligibility;
mod error;
mod events;
mod figures;
mod front;
mod glyphs;
mod metrics;
mod openapi;
mod ops;
mod proposals;
mod query;
mod rules;
mod screenings;
mod state;
mod tls;
mod web;
mod zones;

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::StatusCode;
use axum::middleware;
use axum::routing::get;

pub use auth::{Access, Role, TokenEntry, TokenError, Tokens};
pub use conn::{ConnLimits, DEFAULT_HEADER_TIMEOUT_MS, DEFAULT_MAX_CONNECTIONS, fit_to_fd_limit};
pub use error::{ApiError, Problem};
pub use front::{MAX_HEADER_BYTES, MAX_HEADERS, MAX_URI_BYTES};
pub use openapi::document_json;
pub use state::{AppState, Limits, Loaded, Program, Served};
pub use tls::{TlsError, TlsFiles};
pub use web::{MapPage, MapPageError};

/// Builds the routes, auth, limits and metrics over `state`.
pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route("/v1/eligibility", get(eligibility::get_eligibility).post(eligibility::post_eligibility))
        .route("/v1/screenings", axum::routing::post(screenings::post_screening))
        .route("/v1/zones", get(zones::get_zones))
        .route("/v1/zones/{id}", get(zones::get_zone))
        .route("/v1/rules", get(rules::get_rules));
    let metrics = Router::new().route("/metrics", get(ops::get_metrics));
    // Removing events: admins only.
    let remove_events = Router::new().route("/v1/events", axum::routing::delete(events::delete_events));
    let ingest = Router::new().route("/v1/events", axum::routing::post(events::post_events));
    let read_events = Router::new().route("/v1/events", get(events::get_events));
    let figures = Router::new()
        .route("/v1/cells", get(figures::get_cells))
        .route("/v1/hotspots", get(figures::get_hotspots))
        .route("/v1/hotspots/candidates", get(figures::get_candidates))
        .route("/v1/coverage", get(figures::get_coverage))
        .route("/v1/equity", get(figures::get_equity))
        .route("/v1/me", get(figures::get_me))
        .route("/v1/proposals", get(proposals::get_proposals).post(proposals::post_proposal))
        .route("/v1/proposals/compare", get(proposals::get_compare))
        .route("/v1/proposals/{id}", get(proposals::get_proposal).delete(proposals::delete_proposal))
        .route("/v1/proposals/{id}/impact", get(proposals::get_impact));
    // Tokens are fixed for the life of the server: an open server (loopback only) has no auth layer.
    let (api, metrics, ingest, read_events, figures, remove_events) = if state.tokens().is_open() {
        (api, metrics, ingest, read_events, figures, remove_events)
    } else {
        let layer = |access| middleware::from_fn_with_state((state.clone(), access), auth::require);
        (
            api.route_layer(layer(Access::AtLeast(Role::Field))),
            // Metrics reveal traffic patterns: with tokens configured they need the admin role.
            metrics.route_layer(layer(Access::AtLeast(Role::Admin))),
            ingest.route_layer(layer(Access::Ingest)),
            // Event-level data, even without personal fields, is for analysts only.
            read_events.route_layer(layer(Access::AtLeast(Role::Analyst))),
            // Aggregates: planners (small counts withheld) and above.
            figures.route_layer(layer(Access::AtLeast(Role::Planner))),
            remove_events.route_layer(layer(Access::AtLeast(Role::Admin))),
        )
    };
    let api = api.merge(ingest.merge(read_events).merge(remove_events)).merge(figures);
    let ops = Router::new()
        .route("/healthz", get(ops::get_healthz))
        .route("/readyz", get(ops::get_readyz))
        .route("/openapi.json", get(ops::get_openapi))
        .merge(metrics);
    // The map page is public (no data in it); what it shows comes from the figure routes, with a token.
    let page = Router::new()
        .route("/", get(web::get_page))
        .route("/map/config.json", get(web::get_config))
        .route("/map/basemap.pmtiles", get(basemap::get_archive))
        .route("/map/glyphs/{fontstack}/{range}", get(glyphs::get_glyphs))
        .route("/map/{*path}", get(web::get_file))
        .route_layer(middleware::from_fn_with_state(
            <std::sync::Arc<MapPage> as axum::extract::FromRef<AppState>>::from_ref(&state),
            web::security_headers,
        ));
    let ops = ops.merge(page);
    with_layers(api.merge(ops), state)
}

/// Limits, panic catching, fallbacks, logging and metrics around `routes` (one [`front::Front`] layer).
fn with_layers(routes: Router<AppState>, state: AppState) -> Router {
    let limits = state.limits();
    let front = front::Front::new(front::FrontConfig {
        open: state.tokens().is_open(),
        max_body_bytes: limits.max_body_bytes,
        max_concurrency: limits.max_concurrency,
        request_timeout: Duration::from_millis(limits.request_timeout_ms),
        state: state.clone(),
    });
    routes
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(limits.max_body_bytes))
        .layer(front)
        .with_state(state)
}

async fn not_found(req: Request) -> ApiError {
    ApiError::not_found(format!("no route {}; see /openapi.json for the API", req.uri().path()))
}

async fn method_not_allowed(req: Request) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("{} is not allowed on {}; see /openapi.json", req.method(), req.uri().path()),
    )
}

/// How to run the service.
#[derive(Debug)]
pub struct ServeConfig {
    /// Where to listen.
    pub addr: SocketAddr,
    /// API tokens (empty: open, loopback only).
    pub tokens: Tokens,
    /// Request limits.
    pub limits: Limits,
    /// The event store, if any (`--data FILE`).
    pub store: Option<Box<dyn crate::store::EventStore>>,
    /// The map page's base map and landmarks.
    pub map: MapPage,
    /// Connection cap and timeouts.
    pub conn: ConnLimits,
    /// Serve TLS with these files (`--tls-cert`, `--tls-key`); plain HTTP when none.
    pub tls: Option<TlsFiles>,
}

/// Why the service could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// Asked to listen beyond loopback with no tokens.
    #[error(
        "refusing to serve {0} without API tokens: anyone on the network could query it. Configure tokens (--tokens FILE or LEADMAP_TOKENS) or listen on 127.0.0.1"
    )]
    OpenOffLoopback(SocketAddr),
    /// The TLS certificate or key cannot be used.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// The address cannot be bound or the server failed.
    #[error("{addr}: {source}")]
    Io {
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
}

/// Why a reload (SIGHUP) could not load the zones and rules: the caller's own error, which names the
/// file at fault.
pub type ReloadError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Serves until SIGTERM or Ctrl-C, finishing requests in flight. `reload` is called on SIGHUP and, when
/// it succeeds, its catalogs replace the served ones whole (requests in flight keep their snapshot) and
/// the stored events are read again; they are also read again when another process writes to the
/// store.
pub async fn serve(
    config: ServeConfig,
    loaded: Loaded,
    reload: impl Fn() -> Result<Loaded, ReloadError> + Send + Sync + 'static,
    on_ready: impl FnOnce(SocketAddr),
) -> Result<(), ServeError> {
    if config.tokens.is_open() && !config.addr.ip().is_loopback() {
        return Err(ServeError::OpenOffLoopback(config.addr));
    }
    let tls = match &config.tls {
        Some(files) => Some(std::sync::Arc::new(arc_swap::ArcSwap::new(files.load()?))),
        None => None,
    };
    let state = AppState::with_store(loaded, config.tokens, config.limits, config.store)
        .map_err(|source| ServeError::Io { addr: config.addr, source })?
        .with_map_page(config.map);
    tokio::task::spawn_blocking(web::prepare);
    let listener = tokio::net::TcpListener::bind(config.addr)
        .await
        .map_err(|source| ServeError::Io { addr: config.addr, source })?;
    let addr = listener.local_addr().map_err(|source| ServeError::Io { addr: config.addr, source })?;
    spawn_reloader(state.clone(), reload);
    if let (Some(files), Some(shared)) = (config.tls.clone(), tls.clone()) {
        spawn_tls_reloader(files, shared);
    }
    spawn_store_follower(state.clone());
    on_ready(addr);
    log_program_today(&state.loaded(), state.now());
    // No Nagle (set per connection there): a large answer's last partial segment would otherwise wait
    // for the client's delayed ACK.
    conn::serve(listener, router(state), config.conn, tls, shutdown_signal())
        .await
        .map_err(|source| ServeError::Io { addr, source })
}

/// Logs which zone and rule sets are in force today and how official the zones are; warns when no LEAD
/// program is in force today (every answer for today then says so, and none is eligible) and when the
/// zones answering today are not the official boundaries.
fn log_program_today(loaded: &Loaded, now: chrono::DateTime<chrono::Utc>) {
    let today = loaded.zones.day_at(now);
    let program = match crate::program::program_on(&loaded.zones, &loaded.rules, today) {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!(%today, error = %e, "cannot tell which LEAD program is in force today");
            return;
        }
    };
    let zones = program.zones.set().meta();
    let rules = program.rules.map(|r| r.name().to_owned()).unwrap_or_default();
    match &program.not_in_force {
        None => {
            tracing::info!(%today, zone_set = zones.name, zone_set_status = %zones.status, rule_set = rules, "LEAD program in force today");
        }
        Some(note) => tracing::warn!(
            %today,
            "{note} No answer for today is eligible (each says program_in_force: false and why); ask with at=DATE for a day the program ran"
        ),
    }
    if zones.status != crate::zones::BoundaryStatus::Official {
        tracing::warn!(
            zone_set = zones.name,
            status = %zones.status,
            "the zone set answering today is not the official boundaries (status {}); every answer says so in zone_set.status",
            zones.status
        );
    }
}

/// How often the service looks whether another process wrote to its store.
const FOLLOW_EVERY: Duration = Duration::from_secs(2);

/// Every [`FOLLOW_EVERY`], reads the stored events again if another process (`leadmap import`) wrote to
/// the store, so the figures follow it.
fn spawn_store_follower(state: AppState) {
    if !state.has_store() {
        return;
    }
    tokio::spawn(async move {
        let mut every = tokio::time::interval(FOLLOW_EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            let state = state.clone();
            let _ = tokio::task::spawn_blocking(move || state.follow_store()).await;
        }
    });
}

#[cfg(unix)]
fn spawn_reloader(state: AppState, reload: impl Fn() -> Result<Loaded, ReloadError> + Send + Sync + 'static) {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut hup) = signal(SignalKind::hangup()) else {
        tracing::warn!("cannot listen for SIGHUP; reload is off");
        return;
    };
    let reload = std::sync::Arc::new(reload);
    tokio::spawn(async move {
        while hup.recv().await.is_some() {
            let reload = std::sync::Arc::clone(&reload);
            match tokio::task::spawn_blocking(move || reload()).await {
                Ok(Ok(loaded)) => {
                    let summary = loaded.zones.describe();
                    state.replace(loaded);
                    // And the stored events, beside ingest (the previous copy answers meanwhile).
                    state.reread_events();
                    state.metrics().record_reload(true);
                    tracing::info!(zone_sets = summary, "reloaded zones and rules");
                    log_program_today(&state.loaded(), state.now());
                }
                Ok(Err(e)) => {
                    state.metrics().record_reload(false);
                    tracing::error!(error = %e, "reload failed; still serving the previous zones and rules");
                }
                Err(e) => {
                    state.metrics().record_reload(false);
                    tracing::error!(error = %e, "reload task failed");
                }
            }
        }
    });
}

/// On SIGHUP, reads the TLS certificate and key again (a renewed certificate), keeping the previous ones
/// when they cannot be used.
#[cfg(unix)]
fn spawn_tls_reloader(files: TlsFiles, shared: tls::SharedTls) {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut hup) = signal(SignalKind::hangup()) else { return };
    tokio::spawn(async move {
        while hup.recv().await.is_some() {
            let (files, shared) = (files.clone(), std::sync::Arc::clone(&shared));
            match tokio::task::spawn_blocking(move || tls::reload(&files, &shared)).await {
                Ok(Ok(())) => tracing::info!("reloaded the TLS certificate and key"),
                Ok(Err(e)) => tracing::error!(error = %e, "TLS reload failed; still serving the previous certificate"),
                Err(e) => tracing::error!(error = %e, "TLS reload task failed"),
            }
        }
    });
}

#[cfg(not(unix))]
fn spawn_tls_reloader(_: TlsFiles, _: tls::SharedTls) {}

#[cfg(not(unix))]
fn spawn_reloader(_: AppState, _: impl Fn() -> Result<Loaded, ReloadError> + Send + Sync + 'static) {}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        } else {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}
