//! Prometheus metrics without a registry crate: per route, request counts by status class and a latency
//! histogram, in atomics (no lock per request), plus a reload counter. Rendered as text at `/metrics`.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The routes counted separately (their matched path templates); anything else is `other`.
pub const ROUTES: &[&str] = &[
    "/v1/eligibility",
    "/v1/screenings",
    "/v1/zones",
    "/v1/zones/{id}",
    "/v1/rules",
    "/v1/events",
    "/v1/cells",
    "/v1/hotspots",
    "/v1/hotspots/candidates",
    "/v1/coverage",
    "/v1/equity",
    "/v1/me",
    "/v1/proposals",
    "/v1/proposals/compare",
    "/v1/proposals/{id}",
    "/v1/proposals/{id}/impact",
    "/openapi.json",
    "/healthz",
    "/readyz",
    "/metrics",
    "/",
    "/map/config.json",
    "/map/basemap.pmtiles",
    "/map/glyphs/{fontstack}/{range}",
    "/map/{*path}",
    "other",
];

/// The methods counted separately; anything else is `other`.
const METHODS: &[&str] = &["GET", "POST", "DELETE", "other"];

/// The statuses counted exactly; anything else is `other`.
const STATUSES: &[u16] = &[
    200, 201, 204, 206, 304, 400, 401, 403, 404, 405, 406, 408, 409, 411, 412, 413, 414, 415, 416, 421, 422, 429, 431,
    500, 501, 502, 503, 504,
];

/// Histogram bucket upper bounds, seconds.
const BUCKETS: &[f64] = &[0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0];

/// One route and method's counters.
#[derive(Debug, Default)]
struct RouteStats {
    /// Requests by status ([`STATUSES`] order; last: any other).
    by_status: [AtomicU64; 29],
    /// Cumulative-later bucket counts (stored per bucket, summed when rendered); last is +Inf.
    buckets: [AtomicU64; 14],
    /// Sum of latencies, nanoseconds.
    sum_ns: AtomicU64,
}

/// The service's counters.
#[derive(Debug)]
pub struct Metrics {
    /// By route, then method.
    routes: Vec<RouteStats>,
    reloads_ok: AtomicU64,
    reloads_failed: AtomicU64,
    /// Requests running now (counted by the front, dropped when their answer is done or abandoned).
    in_flight: std::sync::Arc<AtomicU64>,
    /// Events ingested over HTTP: inserted, updated, unchanged.
    ingested: [AtomicU64; 3],
    /// Whole reads of the store into memory: ok, failed.
    store_reads: [AtomicU64; 2],
    /// Events removed.
    removed: AtomicU64,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// All counters at zero.
    #[must_use]
    pub fn new() -> Self {
        Self {
            routes: (0..ROUTES.len() * METHODS.len()).map(|_| RouteStats::default()).collect(),
            reloads_ok: AtomicU64::new(0),
            reloads_failed: AtomicU64::new(0),
            in_flight: std::sync::Arc::new(AtomicU64::new(0)),
            ingested: Default::default(),
            store_reads: Default::default(),
            removed: AtomicU64::new(0),
        }
    }

    /// Records one request on `route` (a matched path template).
    pub fn record(&self, route: &str, method: &str, status: u16, latency: Duration) {
        let i = ROUTES.iter().position(|r| *r == route).unwrap_or(ROUTES.len() - 1);
        let m = METHODS.iter().position(|x| *x == method).unwrap_or(METHODS.len() - 1);
        let r = &self.routes[i * METHODS.len() + m];
        let s = STATUSES.iter().position(|x| *x == status).unwrap_or(STATUSES.len());
        r.by_status[s].fetch_add(1, Ordering::Relaxed);
        let secs = latency.as_secs_f64();
        let b = BUCKETS.iter().position(|&ub| secs <= ub).unwrap_or(BUCKETS.len());
        r.buckets[b].fetch_add(1, Ordering::Relaxed);
        r.sum_ns.fetch_add(u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX), Ordering::Relaxed);
    }

    /// The counter of requests in flight (the front adds and takes away).
    #[must_use]
    pub fn in_flight(&self) -> std::sync::Arc<AtomicU64> {
        std::sync::Arc::clone(&self.in_flight)
    }

    /// Counts a reload.
    pub fn record_reload(&self, ok: bool) {
        if ok { &self.reloads_ok } else { &self.reloads_failed }.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts the events of an ingest request.
    pub fn record_ingest(&self, inserted: u64, updated: u64, unchanged: u64) {
        for (c, n) in self.ingested.iter().zip([inserted, updated, unchanged]) {
            c.fetch_add(n, Ordering::Relaxed);
        }
    }

    /// Counts a whole read of the store into memory.
    pub fn record_store_read(&self, ok: bool) {
        self.store_reads[usize::from(!ok)].fetch_add(1, Ordering::Relaxed);
    }

    /// Counts removed events.
    pub fn record_removed(&self, n: u64) {
        self.removed.fetch_add(n, Ordering::Relaxed);
    }

    /// Prometheus text exposition format 0.0.4.
    #[must_use]
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(16384);
        let pairs =
            || ROUTES.iter().flat_map(|route| METHODS.iter().map(move |method| (*route, *method))).zip(&self.routes);
        let _ = writeln!(out, "# HELP leadmap_http_requests_total HTTP requests by route, method and status.");
        let _ = writeln!(out, "# TYPE leadmap_http_requests_total counter");
        for ((route, method), r) in pairs() {
            for (i, n) in r.by_status.iter().enumerate() {
                let n = n.load(Ordering::Relaxed);
                if n > 0 {
                    let status = STATUSES.get(i).map_or_else(|| "other".to_owned(), u16::to_string);
                    let _ = writeln!(
                        out,
                        "leadmap_http_requests_total{{route=\"{route}\",method=\"{method}\",status=\"{status}\"}} {n}"
                    );
                }
            }
        }
        let _ = writeln!(out, "# HELP leadmap_http_request_duration_seconds HTTP request latency by route and method.");
        let _ = writeln!(out, "# TYPE leadmap_http_request_duration_seconds histogram");
        for ((route, method), r) in pairs() {
            let counts: Vec<u64> = r.buckets.iter().map(|b| b.load(Ordering::Relaxed)).collect();
            let total: u64 = counts.iter().sum();
            if total == 0 {
                continue;
            }
            let labels = format!("route=\"{route}\",method=\"{method}\"");
            let mut cum = 0;
            for (ub, n) in BUCKETS.iter().zip(&counts) {
                cum += n;
                let _ = writeln!(out, "leadmap_http_request_duration_seconds_bucket{{{labels},le=\"{ub}\"}} {cum}");
            }
            let _ = writeln!(out, "leadmap_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {total}");
            let sum = r.sum_ns.load(Ordering::Relaxed) as f64 / 1e9;
            let _ = writeln!(out, "leadmap_http_request_duration_seconds_sum{{{labels}}} {sum}");
            let _ = writeln!(out, "leadmap_http_request_duration_seconds_count{{{labels}}} {total}");
        }
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let _ = writeln!(out, "# HELP leadmap_http_requests_in_flight HTTP requests being answered now.");
        let _ = writeln!(out, "# TYPE leadmap_http_requests_in_flight gauge");
        let _ = writeln!(out, "leadmap_http_requests_in_flight {}", load(&self.in_flight));
        let _ = writeln!(out, "# HELP leadmap_reloads_total Zone and rule reloads (SIGHUP) by result.");
        let _ = writeln!(out, "# TYPE leadmap_reloads_total counter");
        let _ = writeln!(out, "leadmap_reloads_total{{result=\"ok\"}} {}", load(&self.reloads_ok));
        let _ = writeln!(out, "leadmap_reloads_total{{result=\"failed\"}} {}", load(&self.reloads_failed));
        let _ =
            writeln!(out, "# HELP leadmap_ingested_events_total Events posted to /v1/events, by what became of them.");
        let _ = writeln!(out, "# TYPE leadmap_ingested_events_total counter");
        for (result, n) in ["inserted", "updated", "unchanged"].iter().zip(&self.ingested) {
            let _ = writeln!(out, "leadmap_ingested_events_total{{result=\"{result}\"}} {}", load(n));
        }
        let _ = writeln!(
            out,
            "# HELP leadmap_store_reads_total Whole reads of the store into memory (start, changes, imports), by result."
        );
        let _ = writeln!(out, "# TYPE leadmap_store_reads_total counter");
        for (result, n) in ["ok", "failed"].iter().zip(&self.store_reads) {
            let _ = writeln!(out, "leadmap_store_reads_total{{result=\"{result}\"}} {}", load(n));
        }
        let _ = writeln!(out, "# HELP leadmap_removed_events_total Stored events removed (DELETE /v1/events).");
        let _ = writeln!(out, "# TYPE leadmap_removed_events_total counter");
        let _ = writeln!(out, "leadmap_removed_events_total {}", load(&self.removed));
        out
    }
}
