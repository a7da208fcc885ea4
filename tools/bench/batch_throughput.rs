//! In-memory batch classification throughput on a points file, for `tools/bench/bench_batch.py`, which runs
//! shapely on the same points in the same run.
//!
//! Usage: `cargo run --release --example batch_throughput -- --points target/bench/points.bin --zones FILE
//! [--zone-field F --select S] [--repeat 5]`. The points file is raw little-endian f64 pairs (lon, lat).
//! Prints one JSON object: points, seconds (best of the repeats), `points_per_sec`, counts per zone.

use std::io::Write;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use leadmap::formats::zonefile::{ZoneFileOptions, read_zone_file};
use leadmap::zones::{IndexOptions, ZoneIndex, ZoneNo};

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let (mut points, mut zones, mut opts, mut repeat) = (None, None, ZoneFileOptions::default(), 5usize);
    while let Some(a) = args.next() {
        let mut value = || args.next().with_context(|| format!("{a} needs a value"));
        match a.as_str() {
            "--points" => points = Some(value()?),
            "--zones" => zones = Some(value()?),
            "--zone-field" => opts.zone_field = Some(value()?),
            "--select" => opts.select = Some(value()?.parse().map_err(anyhow::Error::msg)?),
            "--repeat" => repeat = value()?.parse()?,
            other => bail!("unknown argument {other}; see the file's docs"),
        }
    }
    let points = points.context("--points FILE is required")?;
    let set = match zones {
        Some(z) => read_zone_file(std::path::Path::new(&z), &opts)?,
        None => leadmap::builtin::zone_sets()?.remove(1),
    };
    let bytes = std::fs::read(&points).with_context(|| format!("reading {points}"))?;
    if bytes.len() % 16 != 0 {
        bail!("{points}: {} bytes is not a whole number of (lon, lat) f64 pairs", bytes.len());
    }
    let pts: Vec<[f64; 2]> = bytes
        .chunks_exact(16)
        .map(|c| {
            let f = |b: &[u8]| f64::from_le_bytes(b.try_into().unwrap_or([0; 8]));
            [f(&c[..8]), f(&c[8..])]
        })
        .collect();
    let index = ZoneIndex::new(set, IndexOptions::default());
    let mut out = Vec::with_capacity(pts.len());
    let mut best = f64::INFINITY;
    for _ in 0..repeat.max(1) {
        let t = Instant::now();
        index.classify_batch(&pts, &mut out);
        best = best.min(t.elapsed().as_secs_f64());
    }
    let zones = index.set().zones();
    let mut counts = serde_json::Map::new();
    for (i, z) in zones.iter().enumerate() {
        counts.insert(z.id.to_string(), out.iter().filter(|o| o.map(ZoneNo::index) == Some(i)).count().into());
    }
    counts.insert("outside".into(), out.iter().filter(|o| o.is_none()).count().into());
    let report = serde_json::json!({
        "points": pts.len(), "seconds": best, "points_per_sec": pts.len() as f64 / best, "counts": counts,
        "zone_set": index.set().meta().name, "version": index.set().version(),
    });
    writeln!(std::io::stdout().lock(), "{report}")?;
    Ok(())
}
