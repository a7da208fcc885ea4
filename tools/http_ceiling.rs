//! The HTTP ceiling for `tools/bench_http.sh`: leadmap's own axum stack (the same layers: limits, panic
//! catching, logging, metrics) answering `GET /ceiling` with a constant JSON body, so that the load test
//! can say what share of the machine's HTTP capacity `GET /v1/eligibility` reaches.
//!
//! Usage: `cargo run --release --example http_ceiling -- 127.0.0.1:18081`. Prints `listening on
//! http://ADDR` once bound; stops on Ctrl-C or SIGTERM.

use std::io::Write;

use anyhow::{Context, Result};
use leadmap::http::{AppState, Limits, Loaded, Tokens};
use leadmap::rules::RuleCatalog;
use leadmap::zones::{IndexOptions, ZoneCatalog};

/// The same allocator as the `leadmap` binary, so the ceiling is the same stack.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> Result<()> {
    let addr: std::net::SocketAddr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:18081".to_owned()).parse()?;
    let zones = ZoneCatalog::new(leadmap::builtin::zone_sets()?, IndexOptions::default());
    let rules = RuleCatalog::new(leadmap::builtin::rule_sets()?)?;
    let state = AppState::new(Loaded { zones, rules }, Tokens::default(), Limits::default());
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| format!("binding {addr}"))?;
        writeln!(std::io::stdout().lock(), "listening on http://{}", listener.local_addr()?)?;
        axum::serve(listener, leadmap::http::ceiling_router(state))
            .with_graceful_shutdown(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await?;
        Ok(())
    })
}
