//! Dev tool, not installed: times leadmap's Gi* end to end (neighbours found by k-ring in the cell set,
//! binary weights, the statistic, p-values, classes and FDR) on a CSV of `hex_id,value`, for
//! `tools/bench/bench_gistar.sh`. Prints one JSON line: cells, k, runs, best and median milliseconds, and a
//! checksum of z to compare with esda's.
//!
//!     cargo run --release --example gistar_bench -- cells.csv [--k 1] [--runs 5]

use std::time::Instant;

use anyhow::{Context, Result, bail};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(path) = args.first() else { bail!("usage: gistar_bench CELLS.csv [--k 1] [--runs 5]") };
    let flag = |name: &str, default: u32| -> Result<u32> {
        match args.iter().position(|a| a == name) {
            Some(i) => args.get(i + 1).context("a value after the flag")?.parse().context(name.to_owned()),
            None => Ok(default),
        }
    };
    let (k, runs) = (flag("--k", 1)?, flag("--runs", 5)?);
    let mut rdr = csv::Reader::from_path(path).with_context(|| path.clone())?;
    let (mut cells, mut values) = (Vec::new(), Vec::new());
    for rec in rdr.records() {
        let rec = rec?;
        cells.push(rec[0].parse::<h3o::CellIndex>().with_context(|| format!("hex_id {:?}", &rec[0]))?);
        values.push(rec[1].parse::<f64>().with_context(|| format!("value {:?}", &rec[1]))?);
    }
    let mut times = Vec::new();
    let mut checksum = 0.0;
    for _ in 0..runs {
        let t = Instant::now();
        let gi = leadmap::hotspots::gi_star(&cells, &values, k);
        times.push(t.elapsed().as_secs_f64() * 1e3);
        checksum = gi.iter().filter_map(|g| g.z).map(f64::abs).sum();
    }
    times.sort_by(f64::total_cmp);
    let out = serde_json::json!({
        "cells": cells.len(), "k": k, "runs": runs,
        "best_ms": times[0], "median_ms": times[times.len() / 2], "sum_abs_z": checksum,
    });
    let mut stdout = std::io::stdout().lock();
    std::io::Write::write_all(&mut stdout, format!("{out}\n").as_bytes())?;
    Ok(())
}
