//! The accept loop: every connection gets a header-read timeout that also closes a keep-alive connection
//! left idle, the number open at once is capped (one over the cap is answered `503` and closed, so the
//! server never runs out of file descriptors for the clients it serves), a failed `accept` is logged
//! and retried, and shutdown lets requests in flight finish.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

/// How connections are kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnLimits {
    /// Connections open at once; more are answered `503` and closed.
    pub max_connections: usize,
    /// Longest wait for a request's headers, milliseconds: from the connection's start, and on a
    /// keep-alive connection from the end of the last answer (so it is also the idle timeout).
    pub header_timeout_ms: u64,
}

/// Default connection cap (lowered at start to fit the process's open-file limit).
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;
/// Default header-read and keep-alive idle timeout.
pub const DEFAULT_HEADER_TIMEOUT_MS: u64 = 20_000;

impl Default for ConnLimits {
    fn default() -> Self {
        Self { max_connections: DEFAULT_MAX_CONNECTIONS, header_timeout_ms: DEFAULT_HEADER_TIMEOUT_MS }
    }
}

/// File descriptors kept free of connections: the store, logs, the listener, files the map page reads.
const RESERVED_FDS: usize = 64;

/// `max` lowered to fit the soft open-file limit (Linux: `/proc/self/limits`), with the reason when it
/// was.
#[must_use]
pub fn fit_to_fd_limit(max: usize) -> (usize, Option<String>) {
    let Some(limit) = soft_open_files() else { return (max, None) };
    let room = limit.saturating_sub(RESERVED_FDS).max(1);
    if max > room {
        (
            room,
            Some(format!(
                "the open-file limit is {limit}: at most {room} connections at once (raise it with ulimit -n)"
            )),
        )
    } else {
        (max, None)
    }
}

fn soft_open_files() -> Option<usize> {
    let text = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = text.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// The answer to a connection over the cap, written before it is closed.
fn over_cap_answer() -> Vec<u8> {
    let body = r#"{"type":"about:blank","title":"Service Unavailable","status":503,"detail":"too many connections are open; retry shortly"}"#;
    format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/problem+json\r\nretry-after: 1\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Serves `router` on `listener` until `shutdown` completes, then waits for the connections' requests
/// in flight.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnLimits,
    shutdown: impl std::future::Future<Output = ()>,
) -> std::io::Result<()> {
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    // HTTP/1.1 only: the automatic HTTP/2 detection waits for a connection's first bytes before any
    // timeout starts, so a socket that never sends one would stay open for ever.
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(Duration::from_millis(limits.header_timeout_ms));
    let builder = Arc::new(builder);
    tokio::pin!(shutdown);
    let mut refused_logged = false;
    loop {
        let (tcp, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors (EMFILE), or the peer gone before accept: say so, wait a
                    // moment so a full table can drain, and go on.
                    tracing::error!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Ok(permit) = Arc::clone(&permits).try_acquire_owned() else {
            if !refused_logged {
                tracing::warn!(max = limits.max_connections, %peer, "connection cap reached: answering 503 and closing");
                refused_logged = true;
            }
            tokio::spawn(async move {
                let mut tcp = tcp;
                let _ = tokio::time::timeout(Duration::from_secs(1), tcp.write_all(&over_cap_answer())).await;
            });
            continue;
        };
        refused_logged = false;
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::warn!(error = %e, "could not set TCP_NODELAY");
        }
        let service = TowerToHyperService::new(router.clone());
        let conn = builder.serve_connection(TokioIo::new(tcp), service);
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            let _permit = permit;
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, %peer, "connection ended with an error");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}
