//! `leadmap import`: event files into the store, with a progress bar, a summary and a rejects file (the
//! pipeline itself is [`crate::import`]).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use chrono::NaiveDate;
use clap::Args;

use super::{RejectsFile, ZoneArgs, io_err, load_catalog, now, output, progress_bar};
use crate::Error;
use crate::formats::events::FileFormat;
use crate::zones::ZoneCatalog;

pub(super) const IMPORT_HELP: &str = "\
Each event is identified by its source and id: importing the same file again adds nothing, and a row
whose values changed updates its event. Rows are stored in batches, each all or nothing, so an
interrupted import leaves whole batches and a re-run completes it. Rejected rows (no coordinates, a bad
number, date or kind, coordinates out of range or swapped, an id repeated in the file, a truncated line)
are reported as file:line: field: reason (file: feature N: for GeoJSON and FlatGeobuf), counted, and
written to --rejects FILE if given. Only the mapped fields are read: address and name columns are never
stored.

Formats, by file name unless --format says: CSV; GeoJSON FeatureCollection (.geojson, .json) and
newline-delimited GeoJSON (.geojsonl, .ndjson), whose properties are read as columns and whose Point
geometry gives the coordinates (a feature's id serves as its id); FlatGeobuf (.fgb), in the CRS its
header names. All are read as streams: memory does not grow with the file.

Fields for --map FIELD=COLUMN: external_id, occurred_on, occurred_at, kind, lon, lat, x, y (with --crs),
offense, race_ethnicity, agency.

Kinds: arrest, diversion_referral, social_contact_referral, offense_report. The ppb and ppb-2012 presets
import offense_report: police open data are reported offenses, not arrests, so they count as contacts
(cells, hotspots, share inside) but in no referral or diversion rate.

Exit status: 0 every row stored; 3 some rows rejected; 1 the import failed.

Examples:
  leadmap import ../shared/data/portland/ppb-drug-offenses-2015-2021.csv --preset ppb
  leadmap import incidents-2012.csv --preset ppb-2012 --rejects bad.csv
  leadmap import referrals.csv --source lead-ops --kind diversion_referral --map external_id=ReferralNo
  leadmap import contacts.geojson --source outreach --kind social_contact_referral
  leadmap import --data /var/lib/leadmap/events.gpkg calls.csv --source cad --kind arrest --crs EPSG:2269 --map x=X --map y=Y";

/// `leadmap import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Event files: CSV with a header row, GeoJSON (.geojson, .json), newline-delimited GeoJSON
    /// (.geojsonl, .ndjson) or FlatGeobuf (.fgb).
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// The files' format, when their names do not say.
    #[arg(long, value_enum)]
    pub format: Option<crate::formats::events::FileFormat>,
    /// The store (a GeoPackage file; created if missing).
    #[arg(long, value_name = "FILE", default_value = "leadmap.gpkg")]
    pub data: PathBuf,
    /// A known source format: column names, date format, coordinate system, source name.
    #[arg(long, value_enum)]
    pub preset: Option<crate::formats::events::Preset>,
    /// The kind of every event, when the file has no kind column (presets: offense reports, as police
    /// open data report offenses, not arrests).
    #[arg(long, value_name = "KIND")]
    pub kind: Option<crate::events::EventKind>,
    /// The data source's name (with the id, the event's identity). Presets: ppb, ppb-2012.
    #[arg(long, value_name = "NAME")]
    pub source: Option<String>,
    /// Coordinate system of x/y columns, e.g. EPSG:2913 (Oregon North, ft), EPSG:26910 (UTM 10N).
    #[arg(long, value_name = "EPSG:CODE")]
    pub crs: Option<String>,
    /// Read FIELD from COLUMN (repeatable).
    #[arg(long = "map", value_name = "FIELD=COLUMN")]
    pub map: Vec<String>,
    /// Write rejected rows here as CSV: file, line, field, reason, then the row's fields.
    #[arg(long, value_name = "FILE")]
    pub rejects: Option<PathBuf>,
    /// Print the summary as one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
    /// No progress bar and no per-row reports; the summary is still printed.
    #[arg(short, long)]
    pub quiet: bool,
    /// Rows per transaction.
    #[arg(long, default_value_t = 20_000, value_name = "N")]
    pub batch: usize,
    /// Which events are plausible.
    #[command(flatten)]
    pub plausible: PlausibleArgs,
    /// Zone options (which zone sets place the events).
    #[command(flatten)]
    pub zones: ZoneArgs,
}

/// Which events are plausible enough to store (`import` and `POST /v1/events` alike).
#[derive(Debug, Clone, clap::Args)]
pub struct PlausibleArgs {
    /// Refuse events farther than this from the zones' bounding box (of every zone set), km; (0, 0) is
    /// always refused.
    #[arg(long, value_name = "KM", default_value_t = crate::events::checks::DEFAULT_PLAUSIBLE_KM, env = "LEADMAP_PLAUSIBLE_KM")]
    pub plausible_km: f64,
    /// Refuse events dated before this day (and after tomorrow).
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = crate::events::filter::parse_date, default_value_t = crate::events::checks::DEFAULT_FIRST_DATE, env = "LEADMAP_FIRST_DATE")]
    pub first_date: NaiveDate,
}

impl PlausibleArgs {
    /// The checks for events placed in `catalog`'s zones.
    pub fn checks(&self, catalog: &ZoneCatalog) -> Result<crate::events::checks::EventChecks, Error> {
        if !(self.plausible_km.is_finite() && self.plausible_km > 0.0) {
            return Err(Error::Usage(format!("--plausible-km {} must be a positive number of km", self.plausible_km)));
        }
        Ok(catalog.event_checks(self.plausible_km, self.first_date, now()))
    }
}

/// The end-of-import counts.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct ImportSummary {
    /// Data rows read.
    pub read: u64,
    /// New events stored.
    pub imported: u64,
    /// Stored events updated.
    pub updated: u64,
    /// Rows already stored exactly so.
    pub unchanged: u64,
    /// Rows rejected.
    pub rejected: u64,
    /// Events in the store afterwards.
    pub stored: u64,
    /// The load number of each file imported, in order (`leadmap events delete --load N` removes one).
    pub loads: Vec<i64>,
}

/// `leadmap import`; a failed import into a store it created, with nothing stored, leaves no store.
pub(super) fn import(args: &ImportArgs) -> Result<ExitCode, Error> {
    use crate::store::EventStore;
    let existed = args.data.exists();
    let result = import_into_store(args);
    if result.is_err()
        && !existed
        && args.data.exists()
        && crate::store::gpkg::GpkgStore::open(&args.data).and_then(|s| s.count()).is_ok_and(|n| n == 0)
    {
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let mut p = args.data.as_os_str().to_owned();
            p.push(suffix);
            let _ = std::fs::remove_file(PathBuf::from(p));
        }
    }
    result
}

/// The files an import must not write over (the store, its inputs, the zone files), after checking
/// that the store is no input and the rejects file none of them: usage checks, before anything opens.
fn import_protected(args: &ImportArgs) -> Result<Vec<output::Protected<'_>>, Error> {
    let mut protected = vec![output::Protected { what: "the store", path: &args.data }];
    for f in &args.files {
        if output::same_file(f, &args.data) {
            return Err(Error::Usage(format!(
                "{} is both an input and the store (--data): give the store another file",
                f.display()
            )));
        }
        protected.push(output::Protected { what: "an input", path: f });
    }
    protected.extend(args.zones.zones.iter().map(|z| output::Protected { what: "a zone file", path: z }));
    if let Some(r) = &args.rejects {
        output::check(r, &protected)?;
        output::check_extension(r, &["csv"])?;
    }
    Ok(protected)
}

fn import_into_store(args: &ImportArgs) -> Result<ExitCode, Error> {
    use crate::store::EventStore;
    let protected = import_protected(args)?;
    if args.batch == 0 {
        return Err(Error::Usage("--batch must be at least 1".into()));
    }
    let mut map = std::collections::BTreeMap::new();
    for m in &args.map {
        let (field, col) = m
            .split_once('=')
            .ok_or_else(|| Error::Usage(format!("--map {m:?}: use FIELD=COLUMN, e.g. --map external_id=CaseNo")))?;
        map.insert(field.trim().to_owned(), col.trim().to_owned());
    }
    let crs = match &args.crs {
        Some(c) => crate::projection::Crs::parse(c)?,
        None => None,
    };
    let catalog = load_catalog(&args.zones)?;
    let opts = crate::formats::events::ImportOptions {
        preset: args.preset,
        kind: args.kind,
        source: args.source.clone(),
        crs,
        map,
        groups: crate::events::Groups::default(),
        keep_rows: args.rejects.is_some(),
        checks: args.plausible.checks(&catalog)?,
    };
    let mut store = crate::store::gpkg::GpkgStore::open(&args.data)?;
    let mut rejects_out =
        args.rejects.as_deref().map(|p| RejectsFile::with_lead(p, &["file"], &protected)).transpose()?;
    let mut summary = ImportSummary::default();
    let mut shown = 0u64;
    for path in &args.files {
        let name = path.display().to_string();
        let file = std::fs::File::open(path).map_err(io_err(path))?;
        let len = file.metadata().ok().map(|m| m.len());
        let bar = progress_bar(len, args.quiet || args.json);
        bar.set_message(name.clone());
        let input = bar.wrap_read(std::io::BufReader::with_capacity(1 << 20, file));
        let format = args.format.unwrap_or_else(|| FileFormat::from_path(path));
        // Where a reject is: a line of a CSV or GeoJSON-lines file, a feature of a collection.
        let place = match format {
            FileFormat::GeoJson | FileFormat::FlatGeobuf => format!("{name}: feature "),
            FileFormat::Csv | FileFormat::GeoJsonSeq => format!("{name}:"),
        };
        let base = summary.read;
        let file = crate::import::ImportFile { name: &name, format, options: &opts, batch: args.batch };
        let done = crate::import::import_file(&mut store, &catalog, input, file, &mut |b| -> Result<(), Error> {
            summary.read = base + b.read;
            summary.imported += b.outcome.inserted;
            summary.updated += b.outcome.updated;
            summary.unchanged += b.outcome.unchanged;
            summary.rejected += b.rejects.len() as u64;
            for r in b.rejects {
                if !args.quiet && shown < 20 {
                    bar.suspend(|| eprintln!("{place}{}: {}: {}", r.line, r.field, r.reason));
                    shown += 1;
                }
                if let Some(w) = rejects_out.as_mut() {
                    w.write(std::slice::from_ref(&name), &[], r);
                }
            }
            Ok(())
        })?;
        summary.loads.push(done.load.0);
        bar.finish_and_clear();
    }
    if let Some(w) = rejects_out {
        w.finish()?;
    }
    summary.stored = store.count()?;
    report_import(args, &summary, shown)?;
    Ok(if summary.rejected > 0 { ExitCode::from(3) } else { ExitCode::SUCCESS })
}

/// Prints the end-of-import summary: JSON on stdout with `--json`, a line on stderr otherwise.
fn report_import(args: &ImportArgs, summary: &ImportSummary, shown: u64) -> Result<(), Error> {
    if args.json {
        let json = serde_json::to_string(summary).map_err(|e| Error::Internal(e.to_string()))?;
        writeln!(std::io::stdout().lock(), "{json}").map_err(|source| Error::Io { path: "stdout".into(), source })?;
    } else {
        let hidden = summary.rejected.saturating_sub(shown);
        if hidden > 0 && !args.quiet {
            eprintln!(
                "... and {hidden} more rejected rows{}",
                if args.rejects.is_some() { "" } else { " (use --rejects FILE to keep them all)" }
            );
        }
        let loads: Vec<String> = summary.loads.iter().map(i64::to_string).collect();
        eprintln!(
            "{}: read {}, imported {}, updated {}, unchanged {}, rejected {}; {} events in the store (load {})",
            args.data.display(),
            summary.read,
            summary.imported,
            summary.updated,
            summary.unchanged,
            summary.rejected,
            summary.stored,
            loads.join(", ")
        );
    }
    Ok(())
}
