//! Prometheus metrics without a registry crate: per route, request counts by status class and a latency
//! histogram, in atomics (no lock per request), plus a reload counter. Rendered as text at `/metrics`.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The routes counted separately; anything else is `other`.
pub const ROUTES: &[&str] = &[
    "/v1/eligibility",
    "/v1/screenings",
    "/v1/zones",
    "/v1/zones/{id}",
    "/v1/rules",
    "/openapi.json",
    "/healthz",
    "/readyz",
    "/metrics",
    "other",
];

/// Histogram bucket upper bounds, seconds.
const BUCKETS: &[f64] = &[0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0];

#[derive(Debug, Default)]
struct RouteStats {
    /// Requests by status class 1xx..5xx (index 0..4).
    by_class: [AtomicU64; 5],
    /// Cumulative-later bucket counts (stored per bucket, summed when rendered); last is +Inf.
    buckets: [AtomicU64; 14],
    /// Sum of latencies, nanoseconds.
    sum_ns: AtomicU64,
}

/// The service's counters.
#[derive(Debug)]
pub struct Metrics {
    routes: Vec<RouteStats>,
    reloads_ok: AtomicU64,
    reloads_failed: AtomicU64,
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
            routes: ROUTES.iter().map(|_| RouteStats::default()).collect(),
            reloads_ok: AtomicU64::new(0),
            reloads_failed: AtomicU64::new(0),
        }
    }

    /// Records one request on `route` (a matched path template).
    pub fn record(&self, route: &str, status: u16, latency: Duration) {
        let i = ROUTES.iter().position(|r| *r == route).unwrap_or(ROUTES.len() - 1);
        let r = &self.routes[i];
        let class = usize::from(status / 100).clamp(1, 5) - 1;
        r.by_class[class].fetch_add(1, Ordering::Relaxed);
        let secs = latency.as_secs_f64();
        let b = BUCKETS.iter().position(|&ub| secs <= ub).unwrap_or(BUCKETS.len());
        r.buckets[b].fetch_add(1, Ordering::Relaxed);
        r.sum_ns.fetch_add(u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX), Ordering::Relaxed);
    }

    /// Counts a reload.
    pub fn record_reload(&self, ok: bool) {
        if ok { &self.reloads_ok } else { &self.reloads_failed }.fetch_add(1, Ordering::Relaxed);
    }

    /// Prometheus text exposition format 0.0.4.
    #[must_use]
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(8192);
        let _ = writeln!(out, "# HELP leadmap_http_requests_total HTTP requests by route and status class.");
        let _ = writeln!(out, "# TYPE leadmap_http_requests_total counter");
        for (route, r) in ROUTES.iter().zip(&self.routes) {
            for (c, n) in r.by_class.iter().enumerate() {
                let n = n.load(Ordering::Relaxed);
                if n > 0 {
                    let _ =
                        writeln!(out, "leadmap_http_requests_total{{route=\"{route}\",status=\"{}xx\"}} {n}", c + 1);
                }
            }
        }
        let _ = writeln!(out, "# HELP leadmap_http_request_duration_seconds HTTP request latency by route.");
        let _ = writeln!(out, "# TYPE leadmap_http_request_duration_seconds histogram");
        for (route, r) in ROUTES.iter().zip(&self.routes) {
            let counts: Vec<u64> = r.buckets.iter().map(|b| b.load(Ordering::Relaxed)).collect();
            let total: u64 = counts.iter().sum();
            if total == 0 {
                continue;
            }
            let mut cum = 0;
            for (ub, n) in BUCKETS.iter().zip(&counts) {
                cum += n;
                let _ = writeln!(
                    out,
                    "leadmap_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{ub}\"}} {cum}"
                );
            }
            let _ =
                writeln!(out, "leadmap_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {total}");
            let sum = r.sum_ns.load(Ordering::Relaxed) as f64 / 1e9;
            let _ = writeln!(out, "leadmap_http_request_duration_seconds_sum{{route=\"{route}\"}} {sum}");
            let _ = writeln!(out, "leadmap_http_request_duration_seconds_count{{route=\"{route}\"}} {total}");
        }
        let _ = writeln!(out, "# HELP leadmap_reloads_total Zone and rule reloads (SIGHUP) by result.");
        let _ = writeln!(out, "# TYPE leadmap_reloads_total counter");
        let _ = writeln!(out, "leadmap_reloads_total{{result=\"ok\"}} {}", self.reloads_ok.load(Ordering::Relaxed));
        let _ =
            writeln!(out, "leadmap_reloads_total{{result=\"failed\"}} {}", self.reloads_failed.load(Ordering::Relaxed));
        out
    }
}
