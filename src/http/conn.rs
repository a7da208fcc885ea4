//! The accept loop: every connection gets a header-read timeout that also closes a keep-alive connection
//! left idle, the number open at once is capped (one over the cap is answered `503` and closed, so the
//! server never runs out of file descriptors for the clients it serves), a failed `accept` is logged
//! and retried, and shutdown lets requests in flight finish. hyper's own answers to requests it cannot
//! parse are rewritten as problem+json on their way out ([`ProblemAnswers`]). With TLS each connection's
//! handshake runs on its own task within the header timeout.

use std::io::IoSlice;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
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
    raw_problem(503, "Service Unavailable", "too many connections are open; retry shortly", "retry-after: 1\r\n")
}

/// A whole HTTP/1.1 problem+json answer that closes the connection, for answers written on the
/// connection itself (no handler runs); `extra` holds further header lines, each ending in CRLF. Like
/// every answer it has a request id (`X-Request-Id`), logged with its status at debug level (a flood of
/// them must not flood the log; the over-cap warning is written once a streak).
fn raw_problem(status: u16, title: &str, detail: &str, extra: &str) -> Vec<u8> {
    let id = super::front::RequestId::next();
    tracing::debug!(request_id = %id, status, detail, "answered on the connection");
    let body = format!(r#"{{"type":"about:blank","title":"{title}","status":{status},"detail":"{detail}"}}"#);
    format!(
        "HTTP/1.1 {status} {title}\r\ncontent-type: application/problem+json\r\n{extra}x-request-id: {id}\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Serves `router` on `listener` (over TLS when `tls` is given) until `shutdown` completes, then waits
/// for the connections' requests in flight.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnLimits,
    tls: Option<super::tls::SharedTls>,
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
            // Over TLS the connection is closed unanswered (an answer would need a handshake first).
            if tls.is_none() {
                tokio::spawn(async move {
                    let mut tcp = tcp;
                    let _ = tokio::time::timeout(Duration::from_secs(1), tcp.write_all(&over_cap_answer())).await;
                });
            }
            continue;
        };
        refused_logged = false;
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::warn!(error = %e, "could not set TCP_NODELAY");
        }
        let service = TowerToHyperService::new(router.clone());
        let (builder, watcher) = (Arc::clone(&builder), graceful.watcher());
        // With TLS, the handshake within the header timeout on the connection's own task; then the
        // same service as plain HTTP.
        let handshake = tls.as_ref().map(|t| tokio_rustls::TlsAcceptor::from(t.load_full()));
        let handshake_timeout = Duration::from_millis(limits.header_timeout_ms);
        tokio::spawn(async move {
            let _permit = permit;
            let Some(acceptor) = handshake else {
                return serve_one(tcp, &builder, service, watcher, peer).await;
            };
            match tokio::time::timeout(handshake_timeout, acceptor.accept(tcp)).await {
                Ok(Ok(stream)) => serve_one(stream, &builder, service, watcher, peer).await,
                Ok(Err(e)) => tracing::debug!(error = %e, %peer, "TLS handshake failed"),
                Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// Serves the requests of one connection (plain TCP or TLS) until it closes, watched by the graceful
/// shutdown, with hyper's own error answers rewritten as problem+json.
async fn serve_one<S>(
    stream: S,
    builder: &hyper::server::conn::http1::Builder,
    service: TowerToHyperService<Router>,
    watcher: hyper_util::server::graceful::Watcher,
    peer: std::net::SocketAddr,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let conn = watcher.watch(builder.serve_connection(TokioIo::new(ProblemAnswers::new(stream)), service));
    if let Err(e) = conn.await {
        tracing::debug!(error = %e, %peer, "connection ended with an error");
    }
}

/// A connection whose writes pass through unchanged, except hyper's own answer to a request it could
/// not parse (a malformed request line or header field, a URL or header block beyond its limits): hyper
/// writes that as a bare status line with no body and closes the connection, before any handler runs.
/// Such a head is recognised (a `400`, `414` or `431` with `content-length: 0` and no content type,
/// which no handler of ours sends: every error of ours is problem+json) and replaced by the same status
/// as problem+json. Checking a write costs a comparison of its first bytes.
struct ProblemAnswers<T> {
    inner: T,
    /// A replacement answer still to be written, and how much of it is written.
    pending: Vec<u8>,
    written: usize,
}

impl<T> ProblemAnswers<T> {
    fn new(inner: T) -> Self {
        Self { inner, pending: Vec::new(), written: 0 }
    }
}

impl<T: AsyncWrite + Unpin> ProblemAnswers<T> {
    /// Writes out what is left of a replacement answer.
    fn poll_pending(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        while self.written < self.pending.len() {
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &self.pending[self.written..]))?;
            if n == 0 {
                return Poll::Ready(Err(std::io::ErrorKind::WriteZero.into()));
            }
            self.written += n;
        }
        self.pending.clear();
        self.written = 0;
        Poll::Ready(Ok(()))
    }

    /// Takes `buf` whole in place of the replacement answer for it, if it is one of hyper's bare answers.
    fn replace(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Option<Poll<std::io::Result<usize>>> {
        let answer = problem_for_bare_answer(buf)?;
        self.pending = answer;
        self.written = 0;
        Some(match self.poll_pending(cx) {
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            // Written, or the rest goes out on the next write, flush or shutdown.
            _ => Poll::Ready(Ok(buf.len())),
        })
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for ProblemAnswers<T> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for ProblemAnswers<T> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        ready!(self.poll_pending(cx))?;
        if let Some(done) = self.replace(cx, buf) {
            return done;
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        ready!(self.poll_pending(cx))?;
        let mut parts = bufs.iter().filter(|b| !b.is_empty());
        if let (Some(only), None) = (parts.next(), parts.next())
            && let Some(done) = self.replace(cx, only)
        {
            return done;
        }
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        ready!(self.poll_pending(cx))?;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        ready!(self.poll_pending(cx))?;
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// The problem+json answer replacing `head` when it is one of hyper's bare answers to an unparsable
/// request: a `400`, `414` or `431` head alone, with `content-length: 0` and no content type.
fn problem_for_bare_answer(head: &[u8]) -> Option<Vec<u8>> {
    if head.len() > 512
        || !(head.starts_with(b"HTTP/1.1 4") || head.starts_with(b"HTTP/1.0 4"))
        || !head.ends_with(b"\r\n\r\n")
    {
        return None;
    }
    let lower = head.to_ascii_lowercase();
    let has = |needle: &[u8]| lower.windows(needle.len()).any(|w| w == needle);
    if has(b"\r\ncontent-type:") || !has(b"\r\ncontent-length: 0\r\n") {
        return None;
    }
    let (status, title, detail) = match &head[9..12] {
        b"400" => (
            400,
            "Bad Request",
            "the request is not valid HTTP/1.1: its request line or a header field could not be read",
        ),
        b"414" => (414, "URI Too Long", "the URL is too long; send many points as a POST batch"),
        b"431" => (431, "Request Header Fields Too Large", "the request's header fields are too many or too large"),
        _ => return None,
    };
    Some(raw_problem(status, title, detail, ""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_hypers_bare_answers_are_replaced() {
        let bare = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\ndate: Sat, 05 Dec 2026 21:00:00 GMT\r\n\r\n";
        let answer = String::from_utf8(problem_for_bare_answer(bare).unwrap()).unwrap();
        assert!(answer.starts_with("HTTP/1.1 400 Bad Request\r\ncontent-type: application/problem+json\r\n"));
        let (_, body) = answer.split_once("\r\n\r\n").unwrap();
        let problem: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(problem["status"], 400);
        assert!(answer.contains(&format!("content-length: {}\r\n", body.len())));
        let id = answer.split("x-request-id: ").nth(1).and_then(|r| r.split("\r\n").next()).unwrap();
        assert!(id.len() == 16 && id.bytes().all(|b| b.is_ascii_hexdigit()), "{answer}");
        for (status, ok) in
            [("414 URI Too Long", true), ("431 Request Header Fields Too Large", true), ("404 Not Found", false)]
        {
            let head = format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\n\r\n");
            assert_eq!(problem_for_bare_answer(head.as_bytes()).is_some(), ok, "{status}");
        }
        // Our own answers (they have a content type, or a body) pass through.
        let ours = b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/problem+json\r\ncontent-length: 0\r\n\r\n";
        assert!(problem_for_bare_answer(ours).is_none());
        let with_body = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 2\r\n\r\n{}";
        assert!(problem_for_bare_answer(with_body).is_none());
        assert!(problem_for_bare_answer(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").is_none());
    }
}
