//! The `leadmap` command line (clap): the command tree, [`run`], and what the commands share (zone and
//! rule loading, "today", output paths, progress bars, rejects files). One module per command beside it;
//! each parses its arguments into plain values, calls the library, and prints. `main.rs` only runs
//! [`run`].

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use chrono::NaiveDate;
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::Error;
use crate::formats::points::Rejected;
use crate::formats::zonefile::{self, Selection, ZoneFileOptions};
use crate::zones::{DEFAULT_BORDERLINE_M, IndexOptions, ZoneCatalog, ZoneIndex, ZoneSet};

mod backup;
mod check;
mod classify;
pub mod config;
mod events;
mod figures;
mod import;
pub mod output;
mod serve;
mod whatif;
mod zones;

pub use backup::BackupArgs;
pub use check::CheckArgs;
pub use classify::ClassifyArgs;
pub use events::{EventFilterArgs, EventsCommand, EventsDeleteArgs, EventsExportArgs, EventsFormat};
pub use import::{ImportArgs, ImportSummary, PlausibleArgs};
pub use serve::ServeArgs;
pub use zones::ZonesCommand;

const ABOUT: &str =
    "LEAD (Law Enforcement Assisted Diversion) eligibility by location: is a contact inside a LEAD area?";

const EXAMPLES: &str = "\
Coordinates are always LON then LAT (WGS84 degrees), as in GeoJSON.

Dates matter: the built-in Portland program ran from 2017-02-27 (areas expanded 2018-05-16) until
Measure 110 (2021-02-01); on a date with no zone set or rule set in force nothing is eligible, and the
answer says why. Ask about a contact's own date with --at.

Examples:
  leadmap check -122.6793 45.5189 --at 2019-06-01 # the areas and rules in force that day
  leadmap check -122.6793 45.5189 --at 2017-06-01 # the 2017 pilot boundaries
  leadmap check -122.6793 45.5189                 # today: no program in force, so not eligible
  leadmap classify contacts.csv --at 2019-06-01 -o contacts-zoned.csv
  leadmap zones list
  leadmap zones export --format fgb -o zones.fgb
  leadmap check -122.6793 45.5189 --at 2019-06-01 \\
      --zones ../shared/data/portland/neighborhoods-regions-2021.geojson --zone-field NAME \\
      --select 'PORTLAND DOWNTOWN=downtown,OLD TOWN COMMUNITY ASSOCIATION=old-town,LLOYD DISTRICT COMMUNITY ASSOCIATION=lloyd'";

/// `leadmap --version`'s first line: the version, the commit and the build date.
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("LEADMAP_COMMIT"),
    ", built ",
    env!("LEADMAP_BUILD_DATE"),
    ")"
);

/// `leadmap --version`: [`VERSION`] and the embedded zone and rule sets, each with its dates and
/// version (a content hash: the same hash, the same boundaries and rules).
#[must_use]
pub fn long_version() -> String {
    use std::fmt::Write as _;
    let mut text = VERSION.to_owned();
    let day = |d: Option<NaiveDate>| d.map_or_else(|| "open".to_owned(), |d| d.to_string());
    match crate::builtin::zone_sets() {
        Ok(sets) => {
            for set in &sets {
                let m = set.meta();
                let _ = write!(
                    text,
                    "\nzone set {} {} ({} to {})",
                    m.name,
                    set.version(),
                    day(m.effective_from),
                    day(m.effective_to)
                );
            }
        }
        Err(e) => {
            let _ = write!(text, "\nzone sets: {e}");
        }
    }
    match crate::builtin::rule_sets() {
        Ok(sets) => {
            for set in &sets {
                let _ = write!(text, "\nrule set {} {}", set.name(), set.version());
            }
        }
        Err(e) => {
            let _ = write!(text, "\nrule sets: {e}");
        }
    }
    text
}

/// Command-line arguments.
#[derive(Debug, Parser)]
#[command(name = "leadmap", version = VERSION, about = ABOUT, after_help = EXAMPLES)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Is a contact location in a LEAD zone? Prints one JSON object.
    #[command(
        allow_negative_numbers = true,
        after_help = "Prints: eligible, program_in_force and program_note (false, and why, on a date no LEAD program ran), \
zone {id,name} or null, on_boundary, borderline, distance_m (to the nearest zone edge; inside a zone, to its boundary), \
nearest_zone (when outside), zone_set {name,version,status (official or approximation),effective_from,effective_to}.\n\
--borderline-m is the phone's GPS accuracy for this one point (the service takes it per request as accuracy_m).\n\
A point exactly on a zone edge is inside it (on_boundary: true); on an edge shared by two zones, the zone whose id sorts first.\n\n\
Examples:\n  leadmap check -122.6793 45.5189 --at 2019-06-01\n  leadmap check -122.6793 45.5189 --at 2017-06-01 --borderline-m 50"
    )]
    Check(CheckArgs),
    /// Add a `zone` column to every row of a CSV (or a `zone` property to GeoJSON points).
    #[command(
        after_help = "Rows whose coordinates are missing or invalid are reported on stderr (file:line: field: reason), \
left out of the output, counted in the summary, and written to --rejects FILE if given.\n\
With a GPS accuracy column (accuracy_m, or --accuracy-col), each row also gets borderline and coverage_borderline: \
whether the point is within its own accuracy of a zone edge, or of the edge of the LEAD areas.\n\
Exit status: 0 all rows classified; 3 some rows rejected; 1 the file could not be processed.\n\n\
Examples:\n  leadmap classify calls.csv --at 2019-06-01 -o calls-zoned.csv\n  leadmap classify history.csv --date-col OccurDate -o history-zoned.csv\n  leadmap classify phone-fixes.csv --at 2019-06-01 --accuracy-col gps_accuracy -o fixes-zoned.csv\n  leadmap classify ppb.csv --lon-col OpenDataLon --lat-col OpenDataLat -o out.csv --rejects bad.csv\n  leadmap classify points.geojson -o zoned.geojson"
    )]
    Classify(ClassifyArgs),
    /// List, show, validate and export zone sets.
    #[command(subcommand)]
    Zones(ZonesCommand),
    /// Run the eligibility service for field apps (HTTP, JSON).
    #[command(after_help = serve::SERVE_HELP)]
    Serve(ServeArgs),
    /// Import events (arrests, referrals) from CSV into the store.
    #[command(after_help = import::IMPORT_HELP)]
    Import(ImportArgs),
    /// Read events back out of the store.
    #[command(subcommand)]
    Events(EventsCommand),
    /// Count events in H3 cells (resolution 5-12), as CSV (a `hex_id` column, as kepler.gl reads it), GeoJSON or FlatGeobuf.
    #[command(after_help = figures::CELLS_HELP)]
    Cells(figures::CellsArgs),
    /// Hotspots: Getis-Ord Gi* over H3 cells, with FDR control, and expansion candidates.
    #[command(after_help = figures::HOTSPOTS_HELP)]
    Hotspots(figures::HotspotsArgs),
    /// Coverage: contacts per zone (and outside) and month, the share inside the zones, the diversion rate.
    #[command(after_help = figures::COVERAGE_HELP)]
    Coverage(figures::TableArgs),
    /// Equity: counts, referral and diversion rates and the relative rate index per race/ethnicity group.
    #[command(after_help = figures::EQUITY_HELP)]
    Equity(figures::TableArgs),
    /// What proposed zone sets would have changed over the stored events, against the current set.
    #[command(after_help = whatif::WHATIF_HELP)]
    Whatif(whatif::WhatifArgs),
    /// Copy the store to a new file, consistently, while a service serves and ingests into it.
    #[command(after_help = backup::BACKUP_HELP)]
    Backup(BackupArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    #[command(after_help = "Examples:\n  leadmap completions bash > /etc/bash_completion.d/leadmap\n  \
leadmap completions zsh > ~/.zfunc/_leadmap\n  leadmap completions fish > ~/.config/fish/completions/leadmap.fish")]
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff), for man(1).
    #[command(after_help = "Examples:\n  leadmap man > /usr/local/share/man/man1/leadmap.1\n  leadmap man | man -l -")]
    Man,
}

/// Opens a store to read from, saying how to make one when there is none.
fn store_to_read(path: &Path) -> Result<crate::store::gpkg::GpkgStore, Error> {
    if !path.exists() {
        return Err(Error::Usage(format!("{}: no such store; import events first (leadmap import)", path.display())));
    }
    Ok(crate::store::gpkg::GpkgStore::open(path)?)
}

/// The output (stdout, or a file checked against `protected` and written through a temporary file),
/// and its name for messages. Call `finish` at the end.
fn output_to(output: Option<&PathBuf>, protected: &[output::Protected<'_>]) -> Result<(String, output::Output), Error> {
    let name = output.map_or_else(|| "stdout".to_owned(), |p| p.display().to_string());
    Ok((name, output::Output::to(output.map(PathBuf::as_path), protected)?))
}

/// Where zones come from; the same on every command.
#[derive(Debug, Args, Clone)]
pub struct ZoneArgs {
    /// Zone file (GeoJSON or FlatGeobuf, lon/lat); repeat for several dated sets. Default: the built-in
    /// Portland sets (2017 pilot, 2018 expansion).
    #[arg(long = "zones", value_name = "FILE", global = true, env = "LEADMAP_ZONES", value_delimiter = ',')]
    pub zones: Vec<PathBuf>,
    /// Property that identifies each feature (e.g. NAME). Default: the feature id or `id` property.
    #[arg(long, value_name = "FIELD", global = true, env = "LEADMAP_ZONE_FIELD")]
    pub zone_field: Option<String>,
    /// Property holding the display name. Default: `name`, else the key.
    #[arg(long, value_name = "FIELD", global = true, env = "LEADMAP_NAME_FIELD")]
    pub name_field: Option<String>,
    /// Which features to keep, under which zone ids (see `--help`).
    #[arg(
        long,
        value_name = "KEY=ID,...",
        value_parser = parse_selection,
        global = true,
        env = "LEADMAP_SELECT",
        help = "Keep only these features, as these zone ids: 'KEY=id[:Name],...'. Several keys may map to one id (those features are merged)"
    )]
    pub select: Option<Selection>,
    /// Points within this many metres of a zone edge are `borderline`.
    #[arg(long, value_name = "METRES", default_value_t = DEFAULT_BORDERLINE_M, global = true, env = "LEADMAP_BORDERLINE_M")]
    pub borderline_m: f64,
}

fn parse_selection(s: &str) -> Result<Selection, String> {
    s.parse()
}

/// Zone export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    /// RFC 7946 GeoJSON.
    Geojson,
    /// FlatGeobuf.
    Fgb,
}

/// Runs a parsed command.
pub fn run(cli: Cli) -> Result<ExitCode, Error> {
    match cli.command {
        Command::Check(args) => check::check(&args),
        Command::Classify(args) => classify::classify(&args),
        Command::Zones(cmd) => zones::zones(cmd),
        Command::Serve(args) => serve::serve(&args),
        Command::Import(args) => import::import(&args),
        Command::Events(EventsCommand::Export(args)) => events::events_export(&args),
        Command::Events(EventsCommand::Delete(args)) => events::events_delete(&args),
        Command::Cells(args) => figures::cells(&args),
        Command::Hotspots(args) => figures::hotspots(&args),
        Command::Coverage(args) => figures::coverage(&args),
        Command::Equity(args) => figures::equity(&args),
        Command::Whatif(args) => whatif::whatif(&args),
        Command::Backup(args) => backup::backup(&args),
        Command::Completions { shell } => {
            let mut command = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut command, "leadmap", &mut std::io::stdout().lock());
            Ok(ExitCode::SUCCESS)
        }
        Command::Man => {
            let command = <Cli as clap::CommandFactory>::command();
            let mut out = std::io::stdout().lock();
            clap_mangen::Man::new(command)
                .render(&mut out)
                .map_err(|source| Error::Io { path: "stdout".into(), source })?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io { path: path.display().to_string(), source }
}

fn file_options(args: &ZoneArgs) -> ZoneFileOptions {
    ZoneFileOptions {
        zone_field: args.zone_field.clone(),
        name_field: args.name_field.clone(),
        select: args.select.clone(),
    }
}

/// Loads the zone sets named by the arguments (or the built-in ones).
pub fn load_sets(args: &ZoneArgs) -> Result<Vec<ZoneSet>, Error> {
    if args.zones.is_empty() {
        if args.zone_field.is_some() || args.name_field.is_some() || args.select.is_some() {
            return Err(Error::Usage(
                "--zone-field, --name-field and --select apply to --zones FILE; no file was given".into(),
            ));
        }
        return Ok(crate::builtin::zone_sets()?);
    }
    let opts = file_options(args);
    args.zones.iter().map(|p| zonefile::read_zone_file(p, &opts).map_err(Error::from)).collect()
}

fn load_catalog(args: &ZoneArgs) -> Result<ZoneCatalog, Error> {
    if !(args.borderline_m.is_finite() && args.borderline_m >= 0.0) {
        return Err(Error::Usage(format!(
            "--borderline-m {} must be a distance in metres, 0 or more",
            args.borderline_m
        )));
    }
    let sets = load_sets(args)?;
    for (i, a) in sets.iter().enumerate() {
        if let Some(b) = sets[i + 1..].iter().find(|b| b.meta().name == a.meta().name) {
            return Err(Error::Usage(format!(
                "two zone sets are named {:?} (versions {} and {}); give each file its own \"name\" member",
                a.meta().name,
                a.version(),
                b.version()
            )));
        }
    }
    Ok(ZoneCatalog::new(sets, IndexOptions { borderline_m: args.borderline_m }))
}

/// The instant a command runs at: the one place the CLI reads the clock (the core takes it as an
/// argument).
pub(crate) fn now() -> chrono::DateTime<chrono::Utc> {
    crate::clock::Clock::now(&crate::clock::SystemClock)
}

/// The program's day now in `catalog`'s time zone: the day a command answers for when not given one.
pub(crate) fn today(catalog: &ZoneCatalog) -> NaiveDate {
    catalog.day_at(now())
}

/// The zone set in force on `at`; when none is, a usage error that says how to pick a date.
fn in_force(catalog: &ZoneCatalog, at: NaiveDate) -> Result<Arc<ZoneIndex>, Error> {
    match catalog.in_force(at) {
        Ok(index) => Ok(Arc::clone(index)),
        Err(e @ crate::zones::ZoneError::NoneInForce { .. }) => {
            Err(Error::Usage(format!("{e}. Give --at DATE (a day a zone set was in force, e.g. --at 2019-06-01)")))
        }
        Err(e) => Err(e.into()),
    }
}

fn print_json(value: &impl serde::Serialize) -> Result<(), Error> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, value).map_err(|e| Error::Io { path: "stdout".into(), source: e.into() })?;
    writeln!(out).map_err(io_err(Path::new("stdout")))
}

/// The `--rejects` CSV: `line,field,reason` then the input's own columns (`import`, which reads several
/// files, puts a `file` column first); the first write error is kept and reported at the end.
struct RejectsFile {
    path: PathBuf,
    writer: csv::Writer<output::AtomicFile>,
    /// Names of the columns written before `line`.
    lead: Vec<String>,
    header_written: bool,
    error: Option<csv::Error>,
}

impl RejectsFile {
    fn create(path: &Path, protected: &[output::Protected<'_>]) -> Result<Self, Error> {
        Self::with_lead(path, &[], protected)
    }

    /// A rejects file whose rows start with the columns `lead` names.
    fn with_lead(path: &Path, lead: &[&str], protected: &[output::Protected<'_>]) -> Result<Self, Error> {
        let file = output::AtomicFile::create(path, protected)?;
        Ok(Self {
            path: path.to_owned(),
            writer: csv::WriterBuilder::new().flexible(true).from_writer(file),
            lead: lead.iter().map(|c| (*c).to_owned()).collect(),
            header_written: false,
            error: None,
        })
    }

    /// Writes `r`, after `lead` (one value per lead column); the first call writes the header row, with
    /// `header` (the input's column names) after the fixed ones.
    fn write(&mut self, lead: &[String], header: &[String], r: Rejected) {
        if self.error.is_some() {
            return;
        }
        let mut result = Ok(());
        if !self.header_written {
            self.header_written = true;
            let head = ["line", "field", "reason"].map(str::to_owned);
            result = self.writer.write_record(self.lead.iter().chain(&head).chain(header));
        }
        let head = [r.line.to_string(), r.field, r.reason];
        result = result.and_then(|()| self.writer.write_record(lead.iter().chain(&head).chain(r.fields.iter())));
        self.error = result.err();
    }

    fn finish(self) -> Result<(), Error> {
        let path = self.path.display().to_string();
        if let Some(e) = self.error {
            return Err(Error::Io { path, source: std::io::Error::other(e.to_string()) });
        }
        let io = |source| Error::Io { path: path.clone(), source };
        let file = self.writer.into_inner().map_err(|e| io(std::io::Error::other(e.to_string())))?;
        file.commit().map_err(io)
    }
}

fn progress_bar(len: Option<u64>, quiet: bool) -> indicatif::ProgressBar {
    if quiet || !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = len.map_or_else(indicatif::ProgressBar::new_spinner, indicatif::ProgressBar::new);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} ({bytes_per_sec}, eta {eta})",
    ) {
        bar.set_style(style);
    }
    bar
}

/// Loads the zone and rule sets the service (and `check`) answers with (also on SIGHUP).
fn load_service(zones: &ZoneArgs, rules: &[PathBuf]) -> Result<crate::http::Loaded, Error> {
    let zones = load_catalog(zones)?;
    let sets = if rules.is_empty() {
        crate::builtin::rule_sets()?
    } else {
        rules
            .iter()
            .map(|p| {
                let text = std::fs::read_to_string(p).map_err(io_err(p))?;
                Ok(crate::rules::RuleSet::from_json(&text, &p.display().to_string())?)
            })
            .collect::<Result<Vec<_>, Error>>()?
    };
    Ok(crate::http::Loaded { zones, rules: crate::rules::RuleCatalog::new(sets)? })
}
