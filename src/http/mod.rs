//! The HTTP service: the only module that imports axum and tower. [`router`] composes the routes over an
//! [`AppState`] (tests call it in-process); [`serve`] owns the lifecycle: bind, refuse an open service
//! off loopback, graceful shutdown on SIGTERM/Ctrl-C, reload on SIGHUP. One file per resource, each with
//! its own `routes()` saying which role each route needs (guarded by `auth::Guard`); errors become
//! problem+json in `error.rs` only.

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

pub use auth::{Access, Role, TokenEntry, TokenError, Tokens};
pub use conn::{ConnLimits, DEFAULT_HEADER_TIMEOUT_MS, DEFAULT_MAX_CONNECTIONS, fit_to_fd_limit};
pub use error::{ApiError, Problem};
pub use front::{MAX_HEADER_BYTES, MAX_HEADERS, MAX_URI_BYTES};
pub use openapi::document_json;
pub use state::{AppState, Events, Figures, Limits, Loaded, Program, Served};
pub use tls::{TlsError, TlsFiles};
pub use web::{MapPage, MapPageError};

/// Builds the routes, auth, limits and metrics over `state`: each resource module's `routes()`, guarded
/// as that module says.
pub fn router(state: AppState) -> Router {
    let guard = auth::Guard::new(axum::extract::FromRef::from_ref(&state));
    let routes = Router::new()
        .merge(eligibility::routes(&guard))
        .merge(screenings::routes(&guard))
        .merge(zones::routes(&guard))
        .merge(rules::routes(&guard))
        .merge(events::routes(&guard))
        .merge(figures::routes(&guard))
        .merge(proposals::routes(&guard))
        .merge(ops::routes(&guard))
        .merge(web::routes(axum::extract::FromRef::from_ref(&state)));
    with_layers(routes, state)
}

/// Limits, panic catching, fallbacks, logging and metrics around `routes` (one [`front::Front`] layer).
fn with_layers(routes: Router<AppState>, state: AppState) -> Router {
    let limits = state.limits();
    let front = front::Front::new(front::FrontConfig {
        open: state.tokens().is_open(),
        max_body_bytes: limits.max_body_bytes,
        max_concurrency: limits.max_concurrency,
        request_timeout: Duration::from_millis(limits.request_timeout_ms),
        metrics: axum::extract::FromRef::from_ref(&state),
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
    spawn_store_follower(state.events().clone());
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
fn spawn_store_follower(events: Events) {
    if !events.has_store() {
        return;
    }
    tokio::spawn(async move {
        let mut every = tokio::time::interval(FOLLOW_EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            let events = events.clone();
            let _ = tokio::task::spawn_blocking(move || events.follow_store()).await;
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
                    state.events().reread();
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
