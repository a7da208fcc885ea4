//! The HTTP ceiling for `tools/bench/bench_http.sh`: a bare axum server (no layers, no logging, no metrics)
//! answering `GET /ceiling` with a constant JSON body, the bytes of a real eligibility answer, so that the
//! load test can say what share of the machine's HTTP capacity `GET /v1/eligibility` reaches with every
//! protection and the default logging on (issue 16: at least 90 %).
//!
//! Usage: `cargo run --release --example http_ceiling -- 127.0.0.1:18081`. Prints `listening on
//! http://ADDR` once bound; stops on Ctrl-C or SIGTERM.

use std::io::Write;

use anyhow::{Context, Result};
use axum::routing::get;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> Result<()> {
    let addr: std::net::SocketAddr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:18081".to_owned()).parse()?;
    // A real answer's bytes (471), sent as they are: the ceiling does no work per request.
    let constant = || async {
        (
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            r#"{"eligible":true,"program_in_force":true,"program_note":null,"zone":{"id":"downtown","name":"Downtown"},"on_boundary":false,"borderline":false,"distance_m":457.18,"coverage_borderline":false,"coverage_distance_m":457.18,"nearest_zone":null,"borderline_m":25.0,"point":{"lon":-122.6793,"lat":45.5189},"at":"2019-06-01","zone_set":{"name":"portland-lead-2018","version":"e997f852fd97f59b","status":"approximation","effective_from":"2018-05-16","effective_to":"2021-06-30"}}"#,
        )
    };
    let app = axum::Router::new().route("/ceiling", get(constant));
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| format!("binding {addr}"))?;
        writeln!(std::io::stdout().lock(), "listening on http://{}", listener.local_addr()?)?;
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await?;
        Ok(())
    })
}
