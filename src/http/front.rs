//! The one middleware every route runs behind ([`Front`]): the checks of a request's size and host, the
//! concurrency limit, the request timeout, panic catching, the route's metrics and its log line, in one
//! service with a concrete future, so that a request pays for no boxed future or cloned stack per check.
//!
//! In order, a request is answered at once when:
//! 1. the server is open (no tokens) and `Host` is not a loopback name: `421`, against DNS rebinding;
//! 2. its URL is over [`MAX_URI_BYTES`] (`414`), or its header fields over [`MAX_HEADERS`] or
//!    [`MAX_HEADER_BYTES`] (`431`);
//! 3. its `Content-Length` is over the body limit: `413` before a byte of it is read;
//! 4. `max_concurrency` requests of its route are in flight already: `503`, at once (load shedding,
//!    not queueing; per route, so slow figure requests never take eligibility requests' places).
//!
//! Otherwise it runs, and is answered `503` if it takes longer than the request timeout (the timer is
//! only started when the answer is not ready at the first poll) or `500` if its handler panics. Every
//! answer is counted in the route's metrics and logged in one line: method, route, status, latency, a
//! request id (also sent as `X-Request-Id`), who asked (the token's name, never the token; `open` on a
//! server without tokens) and, for the figure, event, proposal, zone and rule routes, the query (their
//! filters); never the query of an eligibility or screening request (a contact's location) nor of a
//! removal (it may name a sealed record: the store's audit keeps a digest of it). A `500`'s
//! cause is logged under the request id; the client gets a generic detail and the id.

use std::convert::Infallible;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request};
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tokio::time::Sleep;

use super::auth::Caller;
use super::error::{ApiError, INTERNAL_DETAIL, InternalCause};
use super::metrics::Metrics;

/// The longest request target (path and query) answered, bytes; a longer one is a `414` problem.
pub const MAX_URI_BYTES: usize = 8 << 10;
/// The most header fields answered; more is a `431` problem.
pub const MAX_HEADERS: usize = 64;
/// The most header bytes (names and values) answered; more is a `431` problem.
pub const MAX_HEADER_BYTES: usize = 16 << 10;

/// What the front checks against, fixed for the life of the router.
#[derive(Debug)]
pub struct FrontConfig {
    /// No tokens: only loopback `Host` names are answered.
    pub open: bool,
    /// Largest body accepted, bytes.
    pub max_body_bytes: usize,
    /// Requests in flight at once; more are answered `503`.
    pub max_concurrency: usize,
    /// Longest a request may take.
    pub request_timeout: Duration,
    /// The metrics that count the answers.
    pub metrics: Arc<Metrics>,
}

#[derive(Debug)]
struct Shared {
    config: FrontConfig,
    /// Requests in flight on every route (the metrics' gauge).
    in_flight: Arc<std::sync::atomic::AtomicU64>,
}

/// The layer; see the module documentation.
#[derive(Clone, Debug)]
pub struct Front {
    shared: Arc<Shared>,
}

impl Front {
    /// The layer over `config`.
    #[must_use]
    pub fn new(config: FrontConfig) -> Self {
        let in_flight = config.metrics.in_flight();
        Self { shared: Arc::new(Shared { config, in_flight }) }
    }
}

impl<S> tower::Layer<S> for Front {
    type Service = FrontService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        // Each route counts its own requests in flight, so slow figure requests can never take the
        // places of eligibility requests.
        FrontService { inner, shared: Arc::clone(&self.shared), in_flight: Arc::new(AtomicUsize::new(0)) }
    }
}

/// [`Front`] around one route.
#[derive(Clone, Debug)]
pub struct FrontService<S> {
    inner: S,
    shared: Arc<Shared>,
    /// This route's requests in flight.
    in_flight: Arc<AtomicUsize>,
}

/// One request counted in flight (on its route, and in all) until its answer is done (or dropped).
#[derive(Debug)]
struct InFlight(Arc<AtomicUsize>, Arc<std::sync::atomic::AtomicU64>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
        self.1.fetch_sub(1, Ordering::Relaxed);
    }
}

impl<S> tower::Service<Request> for FrontService<S>
where
    S: tower::Service<Request, Response = Response, Error = Infallible> + Clone,
{
    type Response = Response;
    type Error = Infallible;
    type Future = FrontFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        let start = Instant::now();
        let shared = &self.shared;
        let route = req.extensions().get::<MatchedPath>().cloned();
        let query = route
            .as_ref()
            .filter(|r| logs_query(r.as_str()) && req.method() != Method::DELETE)
            .and_then(|_| req.uri().query())
            .map(|q| q.chars().take(MAX_LOGGED_QUERY).collect());
        let log = LogFields {
            method: req.method().clone(),
            route,
            query,
            id: RequestId::next(),
            start,
            shared: Arc::clone(shared),
        };
        if let Some(refusal) = refuse(&shared.config, &req) {
            return FrontFuture::early(refusal.into_response(), log);
        }
        let before = self.in_flight.fetch_add(1, Ordering::Relaxed);
        shared.in_flight.fetch_add(1, Ordering::Relaxed);
        let in_flight = InFlight(Arc::clone(&self.in_flight), Arc::clone(&shared.in_flight));
        if before >= shared.config.max_concurrency {
            let busy = ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "the service is at its concurrency limit; retry shortly",
            );
            return FrontFuture::early(busy.into_response(), log);
        }
        // The route was ready (`poll_ready`); the clone left behind is ready for the next request the
        // same way axum's own routes are.
        let mut inner = self.inner.clone();
        std::mem::swap(&mut inner, &mut self.inner);
        match std::panic::catch_unwind(AssertUnwindSafe(|| inner.call(req))) {
            Ok(future) => FrontFuture {
                state: State::Running {
                    future,
                    sleep: None,
                    deadline: start + shared.config.request_timeout,
                    _in_flight: in_flight,
                },
                log: Some(log),
            },
            Err(_) => FrontFuture::early(panicked(), log),
        }
    }
}

/// The answer refusing `req` before it runs, if any (checks 1 to 3 of the module documentation).
fn refuse(config: &FrontConfig, req: &Request) -> Option<ApiError> {
    let headers = req.headers();
    if config.open {
        match headers.get(header::HOST).map(|h| h.to_str().map(is_loopback_host)) {
            // HTTP/1.0 clients may send none: they are on this machine already (the server is loopback only).
            None | Some(Ok(true)) => {}
            Some(_) => {
                return Some(ApiError::new(
                    StatusCode::MISDIRECTED_REQUEST,
                    "this open server (no API tokens) answers requests for localhost, 127.0.0.1 or [::1] only; use one of those in the URL",
                ));
            }
        }
    }
    let uri = req.uri().path_and_query().map_or(0, |p| p.as_str().len());
    if uri > MAX_URI_BYTES {
        return Some(ApiError::new(
            StatusCode::URI_TOO_LONG,
            format!("the URL is {uri} bytes, more than {MAX_URI_BYTES}; send many points as a POST batch"),
        ));
    }
    let bytes: usize = headers.iter().map(|(k, v)| k.as_str().len() + v.len()).sum();
    if headers.len() > MAX_HEADERS || bytes > MAX_HEADER_BYTES {
        return Some(ApiError::new(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            format!(
                "{} header fields of {bytes} bytes: the limits are {MAX_HEADERS} fields and {MAX_HEADER_BYTES} bytes",
                headers.len()
            ),
        ));
    }
    let declared =
        headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse::<u64>().ok());
    match declared {
        Some(n) if n > config.max_body_bytes as u64 => Some(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "the body is {n} bytes, more than the limit of {}; send fewer items per request",
                config.max_body_bytes
            ),
        )),
        _ => None,
    }
}

/// Whether `host` (a Host header: name and optional port) names this machine's loopback interface.
pub(super) fn is_loopback_host(host: &str) -> bool {
    let name = if let Some(rest) = host.strip_prefix('[') {
        match rest.split_once(']') {
            Some((inside, port)) if port.is_empty() || port.strip_prefix(':').is_some_and(is_port) => inside,
            _ => return false,
        }
    } else {
        match host.rsplit_once(':') {
            Some((name, port)) if is_port(port) => name,
            Some(_) => return false,
            None => host,
        }
    };
    name.eq_ignore_ascii_case("localhost") || name == "127.0.0.1" || name == "::1"
}

fn is_port(p: &str) -> bool {
    !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit())
}

fn panicked() -> Response {
    tracing::error!("a request handler panicked");
    ApiError::internal("internal error; the request was not completed").into_response()
}

/// The longest query logged, characters.
const MAX_LOGGED_QUERY: usize = 512;

/// Whether a route's query string is logged: the routes whose queries are filters, not the field
/// apps' routes (an eligibility query is a contact's location).
fn logs_query(route: &str) -> bool {
    ["/v1/cells", "/v1/hotspots", "/v1/coverage", "/v1/equity", "/v1/events", "/v1/proposals", "/v1/zones", "/v1/rules"]
        .iter()
        .any(|p| route.starts_with(p))
}

/// A request's id: 16 hex digits, the process's start time and a counter, so ids differ across
/// restarts too.
#[derive(Clone, Copy, Debug)]
pub(super) struct RequestId(u64);

impl RequestId {
    /// A new id (also for answers written on the connection itself, before any request is read).
    pub(super) fn next() -> Self {
        static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        static EPOCH: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
        let epoch = *EPOCH.get_or_init(|| {
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs()) << 32
        });
        Self(epoch.wrapping_add(COUNTER.fetch_add(1, Ordering::Relaxed)))
    }
}

impl std::fmt::Display for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

/// What the log line and the metrics need.
#[derive(Clone, Debug)]
struct LogFields {
    method: Method,
    route: Option<MatchedPath>,
    /// The query, for routes whose queries are filters.
    query: Option<String>,
    id: RequestId,
    start: Instant,
    shared: Arc<Shared>,
}

impl LogFields {
    fn record(self, res: &mut Response) {
        let latency = self.start.elapsed();
        let route = self.route.as_ref().map_or("other", MatchedPath::as_str);
        let status = res.status().as_u16();
        self.shared.config.metrics.record(route, self.method.as_str(), status, latency);
        let id = self.id.to_string();
        if let Some(InternalCause(cause)) = res.extensions_mut().remove::<InternalCause>() {
            tracing::error!(request_id = id, method = %self.method, route, cause, "request failed");
            // The body says only that, and under which id (the answer's other headers stay).
            let problem = super::error::Problem {
                kind: "about:blank".to_owned(),
                title: "Internal Server Error".to_owned(),
                status: 500,
                detail: format!("{INTERNAL_DETAIL}, under request id {id}"),
                errors: Vec::new(),
            };
            if let Ok(body) = serde_json::to_vec(&problem) {
                *res.body_mut() = axum::body::Body::from(body);
                res.headers_mut().remove(header::CONTENT_LENGTH);
            }
        }
        let who = match res.extensions().get::<Caller>() {
            Some(Caller(name)) => name.as_str(),
            None if self.shared.config.open => "open",
            None => "-",
        };
        tracing::info!(
            request_id = id,
            who,
            method = %self.method,
            route,
            query = self.query.as_deref(),
            status,
            latency_us = latency.as_micros() as u64,
            "request"
        );
        if let Ok(v) = axum::http::HeaderValue::from_str(&id) {
            res.headers_mut().insert("x-request-id", v);
        }
    }
}

pin_project_lite::pin_project! {
    #[project = StateProj]
    enum State<F> {
        Running {
            #[pin]
            future: F,
            #[pin]
            sleep: Option<Sleep>,
            deadline: Instant,
            _in_flight: InFlight,
        },
        Done {
            answer: Option<Response>,
        },
    }
}

pin_project_lite::pin_project! {
    /// The answer of [`FrontService`].
    pub struct FrontFuture<F> {
        #[pin]
        state: State<F>,
        log: Option<LogFields>,
    }
}

impl<F> FrontFuture<F> {
    fn early(answer: Response, log: LogFields) -> Self {
        Self { state: State::Done { answer: Some(answer) }, log: Some(log) }
    }
}

impl<F> Future for FrontFuture<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let answer = match this.state.project() {
            StateProj::Done { answer } => answer.take().unwrap_or_else(panicked),
            StateProj::Running { future, mut sleep, deadline, .. } => {
                match std::panic::catch_unwind(AssertUnwindSafe(|| future.poll(cx))) {
                    Ok(Poll::Ready(Ok(res))) => res,
                    Ok(Poll::Ready(Err(never))) => match never {},
                    Err(_) => panicked(),
                    Ok(Poll::Pending) => {
                        if sleep.as_mut().as_pin_mut().is_none() {
                            sleep.set(Some(tokio::time::sleep_until((*deadline).into())));
                        }
                        match sleep.as_pin_mut().map(|s| s.poll(cx)) {
                            Some(Poll::Ready(())) => ApiError::new(
                                StatusCode::SERVICE_UNAVAILABLE,
                                "the request took too long and was stopped; try again",
                            )
                            .into_response(),
                            _ => return Poll::Pending,
                        }
                    }
                }
            }
        };
        let mut answer = answer;
        if let Some(log) = this.log.take() {
            log.record(&mut answer);
        }
        Poll::Ready(Ok(answer))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicBool;

    use axum::body::Body;
    use tower::{Layer, Service, ServiceExt};

    use super::*;

    fn front(open: bool, max_concurrency: usize, timeout_ms: u64) -> (Front, Arc<Metrics>) {
        let metrics = Arc::new(Metrics::new());
        let config = FrontConfig {
            open,
            max_body_bytes: 1000,
            max_concurrency,
            request_timeout: Duration::from_millis(timeout_ms),
            metrics: Arc::clone(&metrics),
        };
        (Front::new(config), metrics)
    }

    fn get(uri: &str, headers: &[(&str, &str)]) -> Request {
        let mut req = Request::builder().uri(uri);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        req.body(Body::empty()).unwrap()
    }

    fn ok() -> Response {
        StatusCode::OK.into_response()
    }

    async fn body(res: Response) -> String {
        String::from_utf8(axum::body::to_bytes(res.into_body(), 1 << 20).await.unwrap().to_vec()).unwrap()
    }

    #[tokio::test]
    async fn refusals_come_before_the_route_runs() {
        let (layer, metrics) = front(true, 8, 10_000);
        let ran = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&ran);
        let svc = layer.layer(tower::service_fn(move |_req: Request| {
            flag.store(true, Ordering::Relaxed);
            async { Ok::<_, Infallible>(ok()) }
        }));
        let long = format!("/x?{}", "a".repeat(MAX_URI_BYTES));
        let many: Vec<(String, String)> = (0..=MAX_HEADERS).map(|i| (format!("x-pad-{i}"), "1".into())).collect();
        let many: Vec<(&str, &str)> = many.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let big = "b".repeat(MAX_HEADER_BYTES);
        for (req, status, says) in [
            (get("/x", &[("host", "evil.example")]), 421, "localhost"),
            (get("/x", &[("host", "127.0.0.1.evil.example:80")]), 421, "localhost"),
            (get(&long, &[]), 414, "8192"),
            (get("/x", &many), 431, "64"),
            (get("/x", &[("x-big", &big)]), 431, "16384"),
            (get("/x", &[("content-length", "1001")]), 413, "1000"),
        ] {
            let res = svc.clone().oneshot(req).await.unwrap();
            assert_eq!(res.status().as_u16(), status);
            assert!(body(res).await.contains(says));
        }
        assert!(!ran.load(Ordering::Relaxed), "no refused request reached the route");
        for host in ["localhost:8080", "[::1]:80", "127.0.0.1", "LOCALHOST"] {
            assert_eq!(svc.clone().oneshot(get("/x", &[("host", host)])).await.unwrap().status(), 200, "{host}");
        }
        assert_eq!(svc.clone().oneshot(get("/x", &[("content-length", "1000")])).await.unwrap().status(), 200);
        // Every answer, refused or not, is counted.
        let metrics = metrics.render();
        for (status, n) in [(421, 2), (414, 1), (431, 2), (413, 1), (200, 5)] {
            let line = format!(r#"leadmap_http_requests_total{{route="other",method="GET",status="{status}"}} {n}"#);
            assert!(metrics.contains(&line), "{line}: {metrics}");
        }
        assert!(metrics.contains("leadmap_http_requests_in_flight 0"), "{metrics}");
    }

    #[tokio::test]
    async fn a_server_with_tokens_answers_any_host() {
        let (layer, _) = front(false, 8, 10_000);
        let svc = layer.layer(tower::service_fn(|_req: Request| async { Ok::<_, Infallible>(ok()) }));
        assert_eq!(svc.oneshot(get("/x", &[("host", "leadmap.example.org")])).await.unwrap().status(), 200);
    }

    #[tokio::test]
    async fn over_the_concurrency_limit_is_a_503_at_once_and_a_finished_request_frees_its_place() {
        let (layer, _) = front(false, 2, 10_000);
        let gate = Arc::new(tokio::sync::Semaphore::new(0));
        let g = Arc::clone(&gate);
        let mut svc = layer.layer(tower::service_fn(move |_req: Request| {
            let g = Arc::clone(&g);
            async move {
                let _ = g.acquire().await;
                Ok::<_, Infallible>(ok())
            }
        }));
        let first = tokio::spawn(svc.ready().await.unwrap().call(get("/x", &[])));
        let second = svc.ready().await.unwrap().call(get("/x", &[]));
        tokio::task::yield_now().await;
        let third = svc.ready().await.unwrap().call(get("/x", &[])).await.unwrap();
        assert_eq!(third.status(), 503);
        assert!(body(third).await.contains("concurrency limit"));
        // Another route behind the same front has places of its own.
        let other = layer.layer(tower::service_fn(|_req: Request| async { Ok::<_, Infallible>(ok()) }));
        assert_eq!(other.oneshot(get("/y", &[])).await.unwrap().status(), 200);
        // A request dropped before its answer frees its place too.
        drop(second);
        gate.add_permits(1);
        assert_eq!(first.await.unwrap().unwrap().status(), 200);
        gate.add_permits(2);
        let (a, b) = tokio::join!(svc.clone().oneshot(get("/x", &[])), svc.clone().oneshot(get("/x", &[])));
        assert_eq!((a.unwrap().status(), b.unwrap().status()), (StatusCode::OK, StatusCode::OK));
    }

    #[tokio::test]
    async fn a_request_over_its_time_is_a_503_and_a_panic_a_500() {
        let (layer, metrics) = front(false, 1, 50);
        let slow = layer.layer(tower::service_fn(|_req: Request| async {
            std::future::pending::<()>().await;
            Ok::<_, Infallible>(ok())
        }));
        let started = Instant::now();
        let res = slow.oneshot(get("/x", &[])).await.unwrap();
        assert_eq!(res.status(), 503);
        assert!(started.elapsed() >= Duration::from_millis(50));
        assert!(body(res).await.contains("took too long"));
        // Panics in the call and in the answer's future; the place in flight is given back each time
        // (the limit is 1).
        let in_call = layer.layer(tower::service_fn(|req: Request| {
            assert!(req.uri().path() != "/boom", "boom in call");
            async { Ok::<_, Infallible>(ok()) }
        }));
        let in_poll = layer.layer(tower::service_fn(|_req: Request| async {
            tokio::task::yield_now().await;
            panic!("boom in poll");
            #[allow(unreachable_code, reason = "gives the closure its return type after the panic")]
            Ok::<_, Infallible>(ok())
        }));
        for _ in 0..2 {
            assert_eq!(in_call.clone().oneshot(get("/boom", &[])).await.unwrap().status(), 500);
            assert_eq!(in_poll.clone().oneshot(get("/x", &[])).await.unwrap().status(), 500);
        }
        assert_eq!(in_call.oneshot(get("/fine", &[])).await.unwrap().status(), 200);
        assert!(metrics.render().contains(r#"leadmap_http_requests_total{route="other",method="GET",status="500"} 4"#));
    }
}
