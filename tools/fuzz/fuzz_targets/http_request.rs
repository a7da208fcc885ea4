#![no_main]
//! Requests through the real router: the first line of the input is a path and query (the figure
//! routes, eligibility, zones, events), the rest a body POSTed to `/v1/eligibility` (the batch pair
//! scanner) when the line starts with `POST `. Any request gets an answer that is not a `500`.

use std::sync::LazyLock;

use axum::body::Body;
use axum::http::Request;
use libfuzzer_sys::fuzz_target;
use tower::ServiceExt;

static APP: LazyLock<axum::Router> = LazyLock::new(|| {
    let zones = leadmap::zones::ZoneCatalog::new(
        leadmap::builtin::zone_sets().expect("built-in zones"),
        leadmap::zones::IndexOptions::default(),
    );
    let rules = leadmap::rules::RuleCatalog::new(leadmap::builtin::rule_sets().expect("built-in rules")).expect("rules");
    leadmap::http::router(leadmap::http::AppState::new(
        leadmap::http::Loaded { zones, rules },
        leadmap::http::Tokens::default(),
        leadmap::http::Limits::default(),
    ))
});

static RUNTIME: LazyLock<tokio::runtime::Runtime> =
    LazyLock::new(|| tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime"));

fuzz_target!(|data: &[u8]| {
    let (line, body) = match data.iter().position(|&b| b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let line = String::from_utf8_lossy(line);
    let (method, target) = match line.strip_prefix("POST ") {
        Some(rest) => ("POST", format!("/v1/eligibility?{rest}")),
        None => ("GET", line.into_owned()),
    };
    let Ok(req) = Request::builder()
        .method(method)
        .uri(if target.starts_with('/') { target } else { format!("/{target}") })
        .header("host", "localhost")
        .header("content-type", "application/json")
        .body(Body::from(body.to_vec()))
    else {
        return; // not a URI at all: hyper would refuse it before the router
    };
    let status = RUNTIME.block_on(APP.clone().oneshot(req)).map(|r| r.status().as_u16()).unwrap_or(0);
    assert!(status != 500 && status != 0, "status {status}");
});
