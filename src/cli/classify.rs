//! `leadmap classify`: a point file with a zone column (or property) added, rejects reported by line
//! (the use case itself is [`crate::classify`]).

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::PathBuf;
use std::process::ExitCode;

use chrono::NaiveDate;
use clap::Args;

use super::{RejectsFile, ZoneArgs, in_force, io_err, load_catalog, output, progress_bar, today};
use crate::Error;
use crate::formats::points;
use crate::formats::points::{ColumnChoice, Files, Rejected, ZoneChoice};

/// `leadmap classify`.
#[derive(Debug, Args)]
pub struct ClassifyArgs {
    /// CSV (with a header) or GeoJSON FeatureCollection of points; `-` reads CSV from stdin.
    pub input: PathBuf,
    /// Output file (same format as the input). Default: stdout.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Longitude column. Default: the first of lon, lng, long, longitude, x, OpenDataLon.
    #[arg(long, value_name = "COLUMN")]
    pub lon_col: Option<String>,
    /// Latitude column. Default: the first of lat, latitude, y, OpenDataLat.
    #[arg(long, value_name = "COLUMN")]
    pub lat_col: Option<String>,
    /// Column with each point's GPS accuracy in metres (more than 0, at most 1000; empty: --borderline-m).
    /// Default: `accuracy_m` when the file has it. With one, `borderline` and `coverage_borderline`
    /// columns say whether the point is within its own accuracy of a zone edge (CSV only).
    #[arg(long, value_name = "COLUMN")]
    pub accuracy_col: Option<String>,
    /// Write rejected rows here as CSV: line, field, reason, then the row's fields.
    #[arg(long, value_name = "FILE")]
    pub rejects: Option<PathBuf>,
    /// Date whose zone set applies to every row (YYYY-MM-DD). Default: today.
    #[arg(long, value_name = "DATE", value_parser = crate::events::filter::parse_date, conflicts_with = "date_col")]
    pub at: Option<NaiveDate>,
    /// Classify each row with the zone set in force on its own date, read from this column
    /// (YYYY-MM-DD, optionally with a time, or MM/DD/YYYY); adds a `zone_set` column. For history that
    /// spans a boundary change.
    #[arg(long, value_name = "COLUMN")]
    pub date_col: Option<String>,
    /// No progress bar and no per-row reports; the summary is still printed.
    #[arg(short, long)]
    pub quiet: bool,
    /// Zone options.
    #[command(flatten)]
    pub zones: ZoneArgs,
}

pub(super) fn classify(args: &ClassifyArgs) -> Result<ExitCode, Error> {
    let is_geojson =
        args.input.extension().is_some_and(|e| e.eq_ignore_ascii_case("geojson") || e.eq_ignore_ascii_case("json"));
    // Usage checks first: nothing is created or truncated before they pass.
    if is_geojson && args.date_col.is_some() {
        return Err(Error::Usage("--date-col applies to CSV input; GeoJSON points use --at".into()));
    }
    if is_geojson && args.accuracy_col.is_some() {
        return Err(Error::Usage("--accuracy-col applies to CSV input".into()));
    }
    let mut protected = vec![output::Protected { what: "the input", path: &args.input }];
    protected.extend(args.zones.zones.iter().map(|z| output::Protected { what: "a zone file", path: z }));
    if let Some(out) = &args.output {
        output::check(out, &protected)?;
        output::check_extension(out, if is_geojson { &["geojson", "json"] } else { &["csv"] })?;
    }
    if let Some(r) = &args.rejects {
        let mut with_output = protected.clone();
        with_output.extend(args.output.as_deref().map(|o| output::Protected { what: "the output (-o)", path: o }));
        output::check(r, &with_output)?;
        output::check_extension(r, &["csv"])?;
    }
    let catalog = load_catalog(&args.zones)?;
    // With --date-col each row picks its set; otherwise every row uses the set in force --at.
    let fixed = match &args.date_col {
        Some(_) => None,
        None => Some(in_force(&catalog, args.at.unwrap_or_else(|| today(&catalog)))?),
    };
    let zones = match (&fixed, &args.date_col) {
        (Some(index), _) => ZoneChoice::Fixed(index),
        (None, Some(column)) => ZoneChoice::ByDate { catalog: &catalog, column },
        (None, None) => return Err(Error::Internal("no zone set chosen".into())),
    };
    let name = args.input.display().to_string();
    let out_name = args.output.as_ref().map_or_else(|| "stdout".to_owned(), |p| p.display().to_string());
    let (input, len): (Box<dyn Read>, Option<u64>) = if args.input.as_os_str() == "-" {
        (Box::new(std::io::stdin().lock()), None)
    } else {
        let f = File::open(&args.input).map_err(io_err(&args.input))?;
        let len = f.metadata().ok().map(|m| m.len());
        (Box::new(BufReader::with_capacity(1 << 20, f)), len)
    };
    let mut output = output::Output::to(args.output.as_deref(), &protected)?;
    let mut rejects = match &args.rejects {
        Some(p) => Some(RejectsFile::create(p, &protected)?),
        None => None,
    };
    let quiet = args.quiet;
    let mut shown = 0u64;
    let on_reject = |header: &[String], r: Rejected| {
        if !quiet && shown < 20 {
            let what = if is_geojson { "feature " } else { "" };
            eprintln!("{name}:{what}{}: {}: {}", r.line, r.field, r.reason);
        }
        shown += 1;
        if let Some(w) = rejects.as_mut() {
            w.write(&[], header, r);
        }
    };
    let files = Files { input: &name, output: &out_name };
    let bar = progress_bar(len, quiet);
    let summary = if is_geojson {
        let Some(index) = &fixed else { return Err(Error::Internal("no zone set chosen".into())) };
        points::classify_geojson(input, &mut output, files, index, on_reject)?
    } else {
        let columns =
            ColumnChoice { lon: args.lon_col.clone(), lat: args.lat_col.clone(), accuracy: args.accuracy_col.clone() };
        points::classify_csv(input, &mut output, files, zones, &columns, on_reject, |b| bar.set_position(b))?
    };
    bar.finish_and_clear();
    output.finish().map_err(|source| Error::Io { path: out_name.clone(), source })?;
    if let Some(w) = rejects {
        w.finish()?;
    }
    if !quiet && summary.rejected > 20 {
        eprintln!(
            "{name}: ... and {} more rejected rows{}",
            summary.rejected - 20,
            if args.rejects.is_some() { "" } else { " (use --rejects FILE to keep them all)" }
        );
    }
    for (usual, written) in &summary.renamed {
        eprintln!(
            "{name}: the input already has {usual:?}, kept as it was; leadmap's answer is in {written:?} (rename or drop the input's {usual:?} to get it there)"
        );
    }
    let per_zone: Vec<String> = summary.per_zone.iter().map(|(id, n)| format!("{id} {n}")).collect();
    let sets = match &fixed {
        Some(index) => format!("zone set {} {}", index.set().meta().name, index.set().version()),
        None => format!("zone sets by row date: {}", catalog.describe()),
    };
    eprintln!(
        "{name}: read {}, classified {} ({}; outside {}), rejected {} [{sets}]",
        summary.read,
        summary.classified,
        per_zone.join(", "),
        summary.outside,
        summary.rejected,
    );
    Ok(if summary.rejected > 0 { ExitCode::from(3) } else { ExitCode::SUCCESS })
}
