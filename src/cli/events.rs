//! `leadmap events export` and `leadmap events delete`: stored events read back out, and removed.

use std::path::PathBuf;
use std::process::ExitCode;

use chrono::NaiveDate;
use clap::{Args, Subcommand};

use super::{output, output_to, store_to_read};
use crate::Error;

/// `leadmap events ...`.
#[derive(Debug, Subcommand)]
pub enum EventsCommand {
    /// Write stored events as GeoJSON or CSV, optionally filtered.
    #[command(after_help = "Examples:\n  leadmap events export -o events.geojson\n  \
leadmap events export --format csv --from 2018-05-01 --zone old-town -o old-town.csv\n  \
leadmap events export --zone outside --kind arrest --bbox=-122.70,45.50,-122.64,45.54")]
    Export(EventsExportArgs),
    /// Remove stored events: a wrong import, a retention schedule, sealed or expunged records.
    #[command(after_help = EVENTS_DELETE_HELP)]
    Delete(EventsDeleteArgs),
}

const EVENTS_DELETE_HELP: &str = "\
Without --yes nothing is removed: the command says how many events would be. With --yes they are removed
in one transaction, with an audit row (who: the operating-system user; when; what selector; how many) in
the store's leadmap_deletions table; a load's removal is also recorded on the load (leadmap_loads). A
service serving the store reads it again within seconds. --load N removes every event load N last wrote
or read (a later import of the same events takes them over).

Examples:
  leadmap events delete --load 7                       # how many a wrong import brought
  leadmap events delete --load 7 --yes
  leadmap events delete --source ppb --before 2016-01-01 --yes   # a retention schedule
  leadmap events delete --id ppb:15-000042 --yes       # one sealed record";

/// `leadmap events delete`: exactly one of --load, --source, --id.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("which").required(true).args(["load", "source", "id"])))]
pub struct EventsDeleteArgs {
    /// The store.
    #[arg(long, value_name = "FILE", default_value = "leadmap.gpkg")]
    pub data: PathBuf,
    /// Every event this load (import run) last wrote or read.
    #[arg(long, value_name = "N")]
    pub load: Option<i64>,
    /// Every event of this source (with --before: those that occurred before a day).
    #[arg(long, value_name = "NAME")]
    pub source: Option<String>,
    /// With --source: only events that occurred before this day.
    #[arg(long, value_name = "DATE", value_parser = crate::events::filter::parse_date, requires = "source")]
    pub before: Option<NaiveDate>,
    /// One event, by its source and id, e.g. ppb:15-000042.
    #[arg(long, value_name = "SOURCE:ID")]
    pub id: Option<String>,
    /// Remove them (without it, only say how many would be removed).
    #[arg(long)]
    pub yes: bool,
}

/// `leadmap events export`.
#[derive(Debug, Args)]
pub struct EventsExportArgs {
    /// The store.
    #[arg(long, value_name = "FILE", default_value = "leadmap.gpkg")]
    pub data: PathBuf,
    /// Output format (default: from the -o extension, else geojson).
    #[arg(long, value_enum)]
    pub format: Option<EventsFormat>,
    /// Output file (default stdout).
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Which events.
    #[command(flatten)]
    pub filter: EventFilterArgs,
    /// Only inside min lon,min lat,max lon,max lat.
    #[arg(long, value_name = "BOX", allow_hyphen_values = true)]
    pub bbox: Option<String>,
}

/// The event filters `leadmap events export` and `leadmap cells` share.
#[derive(Debug, Args)]
pub struct EventFilterArgs {
    /// First day included (YYYY-MM-DD).
    #[arg(long, value_name = "DATE", value_parser = crate::events::filter::parse_date)]
    pub from: Option<NaiveDate>,
    /// Last day included.
    #[arg(long, value_name = "DATE", value_parser = crate::events::filter::parse_date)]
    pub to: Option<NaiveDate>,
    /// Only this kind.
    #[arg(long, value_name = "KIND")]
    pub kind: Option<crate::events::EventKind>,
    /// Only this zone id, or `outside`.
    #[arg(long, value_name = "ID")]
    pub zone: Option<String>,
}

impl EventFilterArgs {
    /// The store query for these filters (and `bbox`), from the first event on, a page at a time.
    ///
    /// # Errors
    /// `--from` is after `--to`.
    fn query(&self, bbox: Option<[f64; 4]>) -> Result<crate::store::EventQuery, Error> {
        use crate::events::filter::{EventFilter, FilterText};
        let filter = EventFilter::parse(FilterText {
            from: self.from,
            to: self.to,
            kind: self.kind,
            zone: self.zone.as_deref(),
            ..FilterText::default()
        })?;
        Ok(crate::store::EventQuery::listing(filter, bbox, 50_000))
    }
}

/// Calls `f` with each page of the events `query` matches, in id order, so memory stays bounded
/// whatever the store holds.
fn each_page(
    store: &dyn crate::store::EventStore,
    mut query: crate::store::EventQuery,
    mut f: impl FnMut(&[(i64, crate::events::Placed)]) -> Result<(), Error>,
) -> Result<(), Error> {
    loop {
        let rows = store.query(&query)?;
        f(&rows)?;
        match rows.last() {
            Some((id, _)) if rows.len() == query.limit => query.after = *id,
            _ => return Ok(()),
        }
    }
}

/// Event export formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum EventsFormat {
    /// A GeoJSON FeatureCollection of Points.
    Geojson,
    /// CSV with lon and lat columns.
    Csv,
}

pub(super) fn events_delete(args: &EventsDeleteArgs) -> Result<ExitCode, Error> {
    use crate::store::{EventStore, LoadId, Removal};
    let selector = match (&args.load, &args.source, &args.id) {
        (Some(n), _, _) => Removal::Load(LoadId(*n)),
        (_, Some(source), _) => Removal::Source { source: source.clone(), before: args.before },
        (_, _, Some(id)) => Removal::parse_id(id)
            .ok_or_else(|| Error::Usage(format!("--id {id:?}: give SOURCE:ID, e.g. --id ppb:15-000042")))?,
        _ => return Err(Error::Usage("give one of --load N, --source NAME or --id SOURCE:ID".to_owned())),
    };
    let mut store = store_to_read(&args.data)?;
    if !args.yes {
        let n = store.count_removal(&selector)?;
        eprintln!("{n} events match {selector} in {}; nothing removed (add --yes to remove them)", args.data.display());
        return Ok(ExitCode::SUCCESS);
    }
    let who = std::env::var("USER").or_else(|_| std::env::var("LOGNAME")).unwrap_or_else(|_| "unknown".to_owned());
    let removed = store.delete_events(&selector, &format!("{who} (command line)"))?;
    eprintln!("removed {removed} events matching {selector} from {}", args.data.display());
    Ok(ExitCode::SUCCESS)
}

pub(super) fn events_export(args: &EventsExportArgs) -> Result<ExitCode, Error> {
    use crate::formats::events::ExportFormat;
    let protected = [output::Protected { what: "the store", path: &args.data }];
    if let Some(out) = &args.output {
        output::check(out, &protected)?;
        output::check_extension(out, &["geojson", "json", "csv"])?;
    }
    let bbox = match &args.bbox {
        None => None,
        Some(v) => Some(crate::store::EventQuery::parse_bbox(v).ok_or_else(|| {
            Error::Usage(format!(
                "--bbox {v:?}: use min lon,min lat,max lon,max lat, e.g. --bbox=-122.70,45.50,-122.64,45.54"
            ))
        })?),
    };
    let query = args.filter.query(bbox)?;
    let store = store_to_read(&args.data)?;
    let csv = match args.format {
        Some(f) => f == EventsFormat::Csv,
        None => args.output.as_ref().is_some_and(|p| p.extension().is_some_and(|e| e.eq_ignore_ascii_case("csv"))),
    };
    let (out_name, out) = output_to(args.output.as_ref(), &protected)?;
    let io = |source: std::io::Error| Error::Io { path: out_name.clone(), source };
    let format = if csv { ExportFormat::Csv } else { ExportFormat::GeoJson };
    let mut writer = crate::formats::events::EventsWriter::new(out, format).map_err(io)?;
    each_page(&store, query, |rows| writer.write(rows).map_err(io))?;
    let total = writer.written();
    writer.finish(&[]).map_err(io)?.finish().map_err(io)?;
    eprintln!("{total} events written to {out_name}");
    Ok(ExitCode::SUCCESS)
}
