//! The `leadmap` command line (clap): `check`, `classify` and `zones`. Parses arguments into plain
//! values, calls the domain, and prints. `main.rs` only runs [`run`].

use std::fs::File;
use std::io::{BufReader, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use chrono::NaiveDate;
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::Error;
use crate::coord::LonLat;
use crate::eligibility::PointEligibility;
use crate::formats::events::FileFormat;
use crate::formats::points::{self, ColumnChoice, Files, Rejected, ZoneChoice};
use crate::formats::zonefile::{self, Selection, ZoneFileOptions};
use crate::zones::{DEFAULT_BORDERLINE_M, IndexOptions, ZoneCatalog, ZoneIndex, ZoneSet, area_m2, date_or_open};

pub mod config;
mod figures;
pub mod output;
mod whatif;

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
    #[command(after_help = SERVE_HELP)]
    Serve(ServeArgs),
    /// Import events (arrests, referrals) from CSV into the store.
    #[command(after_help = IMPORT_HELP)]
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
    #[command(after_help = BACKUP_HELP)]
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
    fn query(&self, bbox: Option<[f64; 4]>) -> crate::store::EventQuery {
        crate::store::EventQuery {
            from: self.from,
            to: self.to,
            kind: self.kind,
            zone: self.zone.as_deref().map(crate::events::filter::zone_filter),
            bbox,
            limit: 50_000,
            after: 0,
        }
    }
}

/// Opens a store to read from, saying how to make one when there is none.
fn store_to_read(path: &Path) -> Result<crate::store::gpkg::GpkgStore, Error> {
    if !path.exists() {
        return Err(Error::Usage(format!("{}: no such store; import events first (leadmap import)", path.display())));
    }
    Ok(crate::store::gpkg::GpkgStore::open(path)?)
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

/// The output (stdout, or a file checked against `protected` and written through a temporary file),
/// and its name for messages. Call `finish` at the end.
fn output_to(output: Option<&PathBuf>, protected: &[output::Protected<'_>]) -> Result<(String, output::Output), Error> {
    let name = output.map_or_else(|| "stdout".to_owned(), |p| p.display().to_string());
    Ok((name, output::Output::to(output.map(PathBuf::as_path), protected)?))
}

/// Event export formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum EventsFormat {
    /// A GeoJSON FeatureCollection of Points.
    Geojson,
    /// CSV with lon and lat columns.
    Csv,
}

const IMPORT_HELP: &str = "\
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

const SERVE_HELP: &str = "\
Routes: GET/POST /v1/eligibility, POST /v1/screenings, GET /v1/zones, GET /v1/zones/{id}, GET /v1/rules,
POST /v1/events (ingest or admin), GET /v1/events (analyst or above; needs --data FILE),
GET /v1/cells, /v1/hotspots, /v1/hotspots/candidates, /v1/coverage, /v1/equity, /v1/me (planner or above),
GET /healthz, /readyz, /metrics, /openapi.json. Errors are application/problem+json.

The planners' map: open http://HOST:PORT/ in a browser (it asks for a token when the service has them).

Access: API tokens with roles field < planner < analyst < admin (and ingest, which may only POST events), from --tokens FILE (a JSON array of
{\"name\", \"role\", \"token\"}) or the environment variable LEADMAP_TOKENS (name:role:token,...).
Eligibility, screening, zones and rules need the field role or above. With no tokens the service is
open and refuses to listen anywhere but loopback.

Signals: SIGTERM or Ctrl-C stop after finishing requests in flight; SIGHUP reloads the zone and rule
files (a failed reload keeps serving the previous ones).

Examples:
  leadmap serve
  leadmap serve --demo                      # then open http://127.0.0.1:8080/ for the map
  leadmap serve --demo --basemap portland.pmtiles   # a PMTiles archive on this machine, offline
  leadmap serve --demo --basemap 'https://tiles.example.org/{z}/{x}/{y}.png' --basemap-attribution 'Tiles: Example County GIS'
  leadmap serve --demo --context ../shared/data/portland/neighborhoods-regions-2021.geojson --context-name MAPLABEL
  leadmap serve --addr 127.0.0.1:9000 --zones official.geojson --zone-field NAME --select 'A=downtown'
  LEADMAP_TOKENS='patrol:field:$(openssl rand -hex 16)' leadmap serve --addr 0.0.0.0:8080";

/// `leadmap serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// A TOML file of serve options (keys are the long option names, `max-batch = 5000`, `zones = [...]`);
    /// options on the command line and environment variables win over it.
    #[arg(long, value_name = "FILE", env = "LEADMAP_CONFIG")]
    pub config: Option<PathBuf>,
    /// Address to listen on.
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:8080", env = "LEADMAP_ADDR")]
    pub addr: std::net::SocketAddr,
    /// Rule file (JSON); repeat for several dated rule sets. Default: the built-in Portland rules.
    #[arg(long = "rules", value_name = "FILE", env = "LEADMAP_RULES", value_delimiter = ',')]
    pub rules: Vec<PathBuf>,
    /// API tokens file (JSON array of {name, role, token}). Default: the `LEADMAP_TOKENS` variable, else none.
    #[arg(long, value_name = "FILE", env = "LEADMAP_TOKENS_FILE")]
    pub tokens: Option<PathBuf>,
    /// The event store (a GeoPackage file, created if missing): enables POST and GET /v1/events.
    #[arg(long, value_name = "FILE", env = "LEADMAP_DATA")]
    pub data: Option<PathBuf>,
    /// Serve a synthetic demo data set (12 000 made-up events, source `synthetic-demo`) from memory, so
    /// the maps and figures have something to show. Not real data.
    #[arg(long, conflicts_with = "data", env = "LEADMAP_DEMO")]
    pub demo: bool,
    /// A street map behind the map page at `/`: a PMTiles archive on this machine (`portland.pmtiles`,
    /// vector or raster; served by leadmap itself, works offline), or where the network allows a raster
    /// tile URL template (`https://tiles.example.org/{z}/{x}/{y}.png`) or a `MapLibre` style URL
    /// (`...style.json`). Without it the page draws zones and hexagons on a plain background with
    /// labelled landmarks.
    #[arg(long, value_name = "FILE|URL", env = "LEADMAP_BASEMAP")]
    pub basemap: Option<String>,
    /// The base map's credit shown on the map (plain text). Default: an archive's own attribution, or
    /// "© OpenStreetMap contributors" for one built from OpenStreetMap.
    #[arg(long, value_name = "TEXT", env = "LEADMAP_BASEMAP_ATTRIBUTION")]
    pub basemap_attribution: Option<String>,
    /// Landmarks the map page labels: GeoJSON points with a `name` (default: a few Portland landmarks).
    #[arg(long, value_name = "FILE", env = "LEADMAP_LANDMARKS")]
    pub landmarks: Option<PathBuf>,
    /// Named areas the map draws under the hexagons, outlined and labelled, and names candidates and
    /// hexagons by: GeoJSON or FlatGeobuf polygons (e.g. the City's neighbourhoods); may overlap.
    #[arg(long, value_name = "FILE", env = "LEADMAP_CONTEXT")]
    pub context: Option<PathBuf>,
    /// The property of --context features holding their name.
    #[arg(long, value_name = "FIELD", default_value = "name", requires = "context", env = "LEADMAP_CONTEXT_NAME")]
    pub context_name: String,
    /// Most points in one POST /v1/eligibility.
    #[arg(long, value_name = "N", default_value_t = crate::http::Limits::default().max_batch_points, env = "LEADMAP_MAX_BATCH")]
    pub max_batch: usize,
    /// Planners see counts perturbed by cell key (geodata/privacy/ptable.json): a count from 1 to K is
    /// shown as 0, a larger one within ±2. K is the table's (10); 0 turns it off (planners see exact
    /// counts).
    #[arg(long, value_name = "K", default_value_t = crate::privacy::DEFAULT_K, env = "LEADMAP_PLANNER_K")]
    pub planner_k: u64,
    /// Largest request body, bytes.
    #[arg(long, value_name = "BYTES", default_value_t = crate::http::Limits::default().max_body_bytes, env = "LEADMAP_MAX_BODY_BYTES")]
    pub max_body_bytes: usize,
    /// Longest a request may run, milliseconds; slower ones get 503.
    #[arg(long, value_name = "MS", default_value_t = crate::http::Limits::default().request_timeout_ms, env = "LEADMAP_REQUEST_TIMEOUT_MS")]
    pub request_timeout_ms: u64,
    /// Most requests in flight on one route; more get 503 at once.
    #[arg(long, value_name = "N", default_value_t = crate::http::Limits::default().max_concurrency, env = "LEADMAP_MAX_CONCURRENCY")]
    pub max_concurrency: usize,
    /// Most connections open at once; more are answered 503 and closed (lowered to fit the open-file
    /// limit).
    #[arg(long, value_name = "N", default_value_t = crate::http::DEFAULT_MAX_CONNECTIONS, env = "LEADMAP_MAX_CONNECTIONS")]
    pub max_connections: usize,
    /// Longest wait for a request's headers, milliseconds; also how long a keep-alive connection may sit
    /// idle between requests.
    #[arg(long, value_name = "MS", default_value_t = crate::http::DEFAULT_HEADER_TIMEOUT_MS, env = "LEADMAP_HEADER_TIMEOUT_MS")]
    pub header_timeout_ms: u64,
    /// Serve HTTPS with this PEM certificate chain (server certificate first); needs --tls-key. Read
    /// again on SIGHUP (a renewed certificate). Without it, serve plain HTTP behind a TLS proxy.
    #[arg(long, value_name = "FILE", requires = "tls_key", env = "LEADMAP_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key (PKCS#8, PKCS#1 or SEC1) of --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert", env = "LEADMAP_TLS_KEY")]
    pub tls_key: Option<PathBuf>,
    /// Which ingested events are plausible.
    #[command(flatten)]
    pub plausible: PlausibleArgs,
    /// Zone options.
    #[command(flatten)]
    pub zones: ZoneArgs,
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

/// `leadmap check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Longitude, degrees east (e.g. -122.6793).
    pub lon: f64,
    /// Latitude, degrees north (e.g. 45.5189).
    pub lat: f64,
    /// Date of the contact (YYYY-MM-DD): its zone set and rule set apply. Default: today.
    #[arg(long, value_name = "DATE", value_parser = crate::events::filter::parse_date)]
    pub at: Option<NaiveDate>,
    /// Rule file (JSON); repeat for several dated rule sets. Default: the built-in Portland rules. A date
    /// with no rule set in force has no program: the answer is not eligible.
    #[arg(long = "rules", value_name = "FILE")]
    pub rules: Vec<PathBuf>,
    /// Zone options.
    #[command(flatten)]
    pub zones: ZoneArgs,
}

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

/// `leadmap zones ...`.
#[derive(Debug, Subcommand)]
pub enum ZonesCommand {
    /// List the zone sets and their zones (dates, version, area).
    #[command(
        after_help = "Examples:\n  leadmap zones list\n  leadmap zones list --zones proposal.geojson --zones portland-2018.geojson"
    )]
    List {
        /// Zone options.
        #[command(flatten)]
        zones: ZoneArgs,
    },
    /// Print one zone of the set in force as a GeoJSON Feature (the same as GET /v1/zones/{id}).
    #[command(
        after_help = "Examples:\n  leadmap zones show old-town --at 2019-06-01\n  leadmap zones show lloyd --at 2018-06-01"
    )]
    Show {
        /// Zone id, e.g. old-town.
        id: String,
        /// Date whose zone set applies. Default: today.
        #[arg(long, value_name = "DATE", value_parser = crate::events::filter::parse_date)]
        at: Option<NaiveDate>,
        /// Zone options.
        #[command(flatten)]
        zones: ZoneArgs,
    },
    /// Check zone files and report every problem (file, feature, reason). Default: the loaded sets.
    #[command(
        after_help = "Examples:\n  leadmap zones validate                      # the built-in sets\n  leadmap zones validate proposal.geojson boundaries.fgb"
    )]
    Validate {
        /// Files to check (GeoJSON or FlatGeobuf).
        files: Vec<PathBuf>,
        /// Zone options.
        #[command(flatten)]
        zones: ZoneArgs,
    },
    /// Write the zone set in force as GeoJSON or FlatGeobuf.
    #[command(
        after_help = "Examples:\n  leadmap zones export -o zones.geojson\n  leadmap zones export --format fgb -o zones.fgb --at 2017-06-01"
    )]
    Export {
        /// Output format. Default: from the -o extension, else geojson.
        #[arg(long, value_enum)]
        format: Option<ExportFormat>,
        /// Output file. Default: stdout (GeoJSON only).
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
        /// Date whose zone set applies. Default: today.
        #[arg(long, value_name = "DATE", value_parser = crate::events::filter::parse_date)]
        at: Option<NaiveDate>,
        /// Zone options.
        #[command(flatten)]
        zones: ZoneArgs,
    },
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
        Command::Check(args) => check(&args),
        Command::Classify(args) => classify(&args),
        Command::Zones(cmd) => zones(cmd),
        Command::Serve(args) => serve(&args),
        Command::Import(args) => import(&args),
        Command::Events(EventsCommand::Export(args)) => events_export(&args),
        Command::Events(EventsCommand::Delete(args)) => events_delete(&args),
        Command::Cells(args) => figures::cells(&args),
        Command::Hotspots(args) => figures::hotspots(&args),
        Command::Coverage(args) => figures::coverage(&args),
        Command::Equity(args) => figures::equity(&args),
        Command::Whatif(args) => whatif::whatif(&args),
        Command::Backup(args) => backup(&args),
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

const BACKUP_HELP: &str = "\
The copy is one consistent snapshot of the store (SQLite's online backup API, all pages in one step; a
running `leadmap serve` goes on answering and ingesting meanwhile), written beside DEST and renamed to
DEST only once SQLite's integrity check passes on it. DEST must not exist: a backup never replaces a
file. The copy is readable by its owner only (mode 0600). Restore by stopping the service and putting
the copy in the store's place.

Examples:
  leadmap backup /var/backups/leadmap/leadmap-$(date +%F).gpkg
  leadmap backup --data /var/lib/leadmap/leadmap.gpkg /mnt/backup/leadmap.gpkg";

/// `leadmap backup`.
#[derive(Debug, Args)]
pub struct BackupArgs {
    /// Where to write the copy (a new file).
    #[arg(value_name = "DEST")]
    pub dest: PathBuf,
    /// The store to copy.
    #[arg(long, value_name = "FILE", default_value = "leadmap.gpkg")]
    pub data: PathBuf,
}

fn backup(args: &BackupArgs) -> Result<ExitCode, Error> {
    let protected = [output::Protected { what: "the store", path: &args.data }];
    output::check(&args.dest, &protected)?;
    if !args.data.exists() {
        return Err(Error::Usage(format!("--data {}: no such store", args.data.display())));
    }
    if args.dest.exists() {
        return Err(Error::Usage(format!(
            "{} exists: a backup never replaces a file. Choose a new name (e.g. with the date in it)",
            args.dest.display()
        )));
    }
    let mut tmp = args.dest.as_os_str().to_owned();
    tmp.push(format!(".partial-{}", std::process::id()));
    let tmp = PathBuf::from(tmp);
    // The copy is made new (never through a file or link already there) and readable by its owner only:
    // it holds every stored event.
    {
        let mut new = std::fs::OpenOptions::new();
        new.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut new, 0o600);
        new.open(&tmp).map_err(|source| Error::Io { path: tmp.display().to_string(), source })?;
    }
    let report = crate::store::gpkg::backup(&args.data, &tmp).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })?;
    // A hard link is made only if DEST is still free: a file made there meanwhile is never replaced.
    let placed = std::fs::hard_link(&tmp, &args.dest);
    let _ = std::fs::remove_file(&tmp);
    placed.map_err(|source| Error::Io { path: args.dest.display().to_string(), source })?;
    eprintln!(
        "backed up {} events ({:.1} MB) from {} to {}",
        report.events,
        report.bytes as f64 / 1e6,
        args.data.display(),
        args.dest.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn events_delete(args: &EventsDeleteArgs) -> Result<ExitCode, Error> {
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

fn events_export(args: &EventsExportArgs) -> Result<ExitCode, Error> {
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
    let store = store_to_read(&args.data)?;
    let csv = match args.format {
        Some(f) => f == EventsFormat::Csv,
        None => args.output.as_ref().is_some_and(|p| p.extension().is_some_and(|e| e.eq_ignore_ascii_case("csv"))),
    };
    let (out_name, out) = output_to(args.output.as_ref(), &protected)?;
    let io = |source: std::io::Error| Error::Io { path: out_name.clone(), source };
    let format = if csv { ExportFormat::Csv } else { ExportFormat::GeoJson };
    let mut writer = crate::formats::events::EventsWriter::new(out, format).map_err(io)?;
    each_page(&store, args.filter.query(bbox), |rows| writer.write(rows).map_err(io))?;
    let total = writer.written();
    writer.finish(&[]).map_err(io)?.finish().map_err(io)?;
    eprintln!("{total} events written to {out_name}");
    Ok(ExitCode::SUCCESS)
}

/// An in-memory store holding the synthetic demo events.
fn demo_store(zones: &ZoneCatalog) -> Result<crate::store::gpkg::GpkgStore, Error> {
    use crate::store::EventStore;
    let mut store = crate::store::gpkg::GpkgStore::open_in_memory()?;
    let opts = crate::formats::events::ImportOptions {
        source: Some(crate::builtin::DEMO_SOURCE.to_owned()),
        ..crate::formats::events::ImportOptions::new(crate::events::checks::EventChecks::dated(
            crate::events::checks::DEFAULT_FIRST_DATE,
            now(),
        ))
    };
    let mut stored = 0;
    crate::formats::events::read_events_csv(
        crate::builtin::DEMO_EVENTS_CSV.as_bytes(),
        "built-in demo events",
        &opts,
        20_000,
        |batch| -> Result<(), Error> {
            if let Some(r) = batch.rejects.first() {
                return Err(Error::Internal(format!(
                    "built-in demo events: line {}: {}: {}",
                    r.line, r.field, r.reason
                )));
            }
            let placed: Vec<_> = batch.events.into_iter().map(|e| crate::events::place(e, zones)).collect();
            stored += store.upsert(&placed)?.inserted;
            Ok(())
        },
    )?;
    tracing::warn!(
        events = stored,
        source = crate::builtin::DEMO_SOURCE,
        "DEMO MODE: serving synthetic, made-up events, not real data"
    );
    Ok(store)
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
fn import(args: &ImportArgs) -> Result<ExitCode, Error> {
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

fn check(args: &CheckArgs) -> Result<ExitCode, Error> {
    let point = LonLat::new(args.lon, args.lat)?;
    let loaded = load_service(&args.zones, &args.rules)?;
    let at = args.at.unwrap_or_else(|| today(&loaded.zones));
    let program = crate::program::program_on(&loaded.zones, &loaded.rules, at)?;
    print_json(&PointEligibility::of(&program, point, None))?;
    Ok(ExitCode::SUCCESS)
}

fn classify(args: &ClassifyArgs) -> Result<ExitCode, Error> {
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

fn zones(cmd: ZonesCommand) -> Result<ExitCode, Error> {
    match cmd {
        ZonesCommand::List { zones } => zones_list(&zones),
        ZonesCommand::Show { id, at, zones } => zones_show(&id, at, &zones),
        ZonesCommand::Validate { files, zones } => Ok(zones_validate(&files, &zones)),
        ZonesCommand::Export { format, output, at, zones } => zones_export(format, output.as_deref(), at, &zones),
    }
}

fn zones_list(zones: &ZoneArgs) -> Result<ExitCode, Error> {
    let catalog = load_catalog(zones)?;
    let day = today(&catalog);
    let now = catalog.in_force(day).ok().map(|i| i.set().version().clone());
    let mut out = std::io::stdout().lock();
    let w = |out: &mut std::io::StdoutLock<'_>, s: String| writeln!(out, "{s}").map_err(io_err(Path::new("stdout")));
    if now.is_none() {
        w(&mut out, format!("No zone set is in force today ({day}); answers for today are not eligible.\n"))?;
    }
    for idx in catalog.indexes() {
        let set = idx.set();
        let m = set.meta();
        let mark = if now.as_ref() == Some(set.version()) { "  (in force today)" } else { "" };
        w(
            &mut out,
            format!(
                "{}  version {}  {} to {}, {}{mark}",
                m.name,
                set.version(),
                date_or_open(m.effective_from),
                date_or_open(m.effective_to),
                m.status
            ),
        )?;
        if let Some(t) = &m.title {
            w(&mut out, format!("  {t}"))?;
        }
        for (label, reason) in [("from", &m.effective_from_reason), ("to", &m.effective_to_reason)] {
            if let Some(r) = reason {
                w(&mut out, format!("  {label}: {r}"))?;
            }
        }
        for z in set.zones() {
            let vertices: usize = z
                .geometry
                .0
                .iter()
                .map(|p| p.exterior().0.len() + p.interiors().iter().map(|r| r.0.len()).sum::<usize>())
                .sum();
            w(
                &mut out,
                format!(
                    "  {:<20} {:<28} {} polygon(s), {vertices} vertices, {:.3} km²",
                    z.id.as_str(),
                    z.name,
                    z.geometry.0.len(),
                    area_m2(&z.geometry) / 1e6
                ),
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn zones_show(id: &str, at: Option<NaiveDate>, zones: &ZoneArgs) -> Result<ExitCode, Error> {
    let catalog = load_catalog(zones)?;
    let index = in_force(&catalog, at.unwrap_or_else(|| today(&catalog)))?;
    let set = index.set();
    let zone = set.zone(id).ok_or_else(|| {
        let ids: Vec<&str> = set.zones().iter().map(|z| z.id.as_str()).collect();
        Error::Usage(format!("zone set {} has no zone {id:?}; it has: {}", set.meta().name, ids.join(", ")))
    })?;
    print_json(&zonefile::zone_feature(set, zone))?;
    Ok(ExitCode::SUCCESS)
}

fn zones_validate(files: &[PathBuf], zones: &ZoneArgs) -> ExitCode {
    let opts = file_options(zones);
    let mut failed = false;
    let mut report = |name: String, result: Result<ZoneSet, Error>| match result {
        Ok(set) => eprintln!(
            "ok: {name}: zone set {} ({} zones), version {}",
            set.meta().name,
            set.zones().len(),
            set.version()
        ),
        Err(e) => {
            failed = true;
            eprintln!("error: {e}");
        }
    };
    if files.is_empty() {
        match load_sets(zones) {
            Ok(sets) => sets.into_iter().for_each(|s| report(s.meta().name.clone(), Ok(s))),
            Err(e) => report(String::new(), Err(e)),
        }
    } else {
        for f in files {
            report(f.display().to_string(), zonefile::read_zone_file(f, &opts).map_err(Error::from));
        }
    }
    if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS }
}

fn zones_export(
    format: Option<ExportFormat>,
    output: Option<&Path>,
    at: Option<NaiveDate>,
    zones: &ZoneArgs,
) -> Result<ExitCode, Error> {
    let protected: Vec<output::Protected<'_>> =
        zones.zones.iter().map(|z| output::Protected { what: "a zone file", path: z }).collect();
    if let Some(out) = output {
        output::check(out, &protected)?;
        output::check_extension(out, &["geojson", "json", "fgb"])?;
    }
    let catalog = load_catalog(zones)?;
    let index = in_force(&catalog, at.unwrap_or_else(|| today(&catalog)))?;
    let by_ext = output.and_then(Path::extension).is_some_and(|e| e.eq_ignore_ascii_case("fgb"));
    let format = format.unwrap_or(if by_ext { ExportFormat::Fgb } else { ExportFormat::Geojson });
    if output.is_none() && format == ExportFormat::Fgb && std::io::stdout().is_terminal() {
        return Err(Error::Usage("FlatGeobuf is binary: give -o FILE.fgb".into()));
    }
    let mut out = output::Output::to(output, &protected)?;
    let target = output.map_or_else(|| "stdout".to_owned(), |p| p.display().to_string());
    match format {
        ExportFormat::Geojson => {
            serde_json::to_writer(&mut out, &zonefile::zone_set_to_geojson(index.set()))
                .map_err(|e| Error::Io { path: target.clone(), source: e.into() })?;
            writeln!(out).map_err(|source| Error::Io { path: target.clone(), source })?;
        }
        ExportFormat::Fgb => {
            zonefile::write_zone_set_fgb(index.set(), &mut out, &target)?;
        }
    }
    out.finish().map_err(|source| Error::Io { path: target, source })?;
    Ok(ExitCode::SUCCESS)
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

fn load_tokens(args: &ServeArgs) -> Result<crate::http::Tokens, Error> {
    if let Some(path) = &args.tokens {
        let text = std::fs::read_to_string(path).map_err(io_err(path))?;
        return Ok(crate::http::Tokens::parse_file(&text, &path.display().to_string())?);
    }
    match std::env::var("LEADMAP_TOKENS") {
        Ok(text) => Ok(crate::http::Tokens::parse_env(&text)?),
        Err(_) => Ok(crate::http::Tokens::default()),
    }
}

/// The map page's settings from `--basemap` and `--landmarks`, checked before the server starts.
fn map_page(args: &ServeArgs) -> Result<crate::http::MapPage, Error> {
    // An archive on this machine (a `.pmtiles` name, or any file that exists) is checked now; anything
    // else is a URL the browser fetches, checked for its form (a URL without its scheme is refused).
    let local = |b: &&String| {
        !b.contains("://")
            && (b.to_ascii_lowercase().ends_with(".pmtiles") || std::path::Path::new(b.as_str()).is_file())
    };
    let remote = args.basemap.as_ref().filter(|b| !local(b));
    if let Some(url) = remote {
        crate::http::MapPage::check_basemap(url)?;
    }
    let archive = match args.basemap.as_ref().filter(local) {
        Some(file) => {
            let path = PathBuf::from(file);
            let info = crate::formats::pmtiles::read_info(&path)?;
            Some((path, info))
        }
        None => None,
    };
    let landmarks = match &args.landmarks {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(io_err(path))?;
            crate::http::MapPage::check_landmarks(&text, &path.display().to_string())?;
            Some(text)
        }
        None => None,
    };
    let mut page = crate::http::MapPage::new(remote.cloned(), landmarks, args.demo)
        .with_attribution(args.basemap_attribution.clone());
    if let Some((path, info)) = archive {
        page = page.with_archive(path, info);
    }
    Ok(match &args.context {
        Some(path) => page
            .with_context(&crate::formats::zonefile::read_context(path, &args.context_name).map_err(Error::Context)?),
        None => page,
    })
}

fn serve(args: &ServeArgs) -> Result<ExitCode, Error> {
    let started = std::time::Instant::now();
    let loaded = load_service(&args.zones, &args.rules)?;
    args.plausible.checks(&loaded.zones)?;
    let table = crate::builtin::perturbation_table()?;
    if args.planner_k != 0 && args.planner_k != table.zero_up_to() {
        return Err(Error::Usage(format!(
            "--planner-k {}: the perturbation table ({}) shows counts from 1 to {} as 0; use --planner-k {} \
             (the default) or 0 (planners see exact counts)",
            args.planner_k,
            table.name(),
            table.zero_up_to(),
            table.zero_up_to()
        )));
    }
    let tokens = load_tokens(args)?;
    let limits = crate::http::Limits {
        max_body_bytes: args.max_body_bytes,
        max_batch_points: args.max_batch,
        request_timeout_ms: args.request_timeout_ms,
        max_concurrency: args.max_concurrency,
        planner_k: args.planner_k,
        plausible_m: (args.plausible.plausible_km * 1000.0).round() as u64,
        first_date: args.plausible.first_date,
    };
    let auth = if tokens.is_open() {
        "OPEN: no API tokens configured, so only loopback clients can reach it".to_owned()
    } else {
        format!("{} API token(s)", tokens.len())
    };
    let zones_text = loaded.zones.describe();
    let rules_text = loaded.rules.describe();
    let store: Option<Box<dyn crate::store::EventStore>> = match &args.data {
        Some(path) => Some(Box::new(crate::store::gpkg::GpkgStore::open(path)?)),
        None if args.demo => Some(Box::new(demo_store(&loaded.zones)?)),
        None => None,
    };
    let map = map_page(args)?;
    let (max_connections, lowered) = crate::http::fit_to_fd_limit(args.max_connections);
    if let Some(why) = lowered {
        tracing::warn!("--max-connections {}: {why}", args.max_connections);
    }
    let conn = crate::http::ConnLimits { max_connections, header_timeout_ms: args.header_timeout_ms };
    let tls = args.tls_cert.clone().zip(args.tls_key.clone()).map(|(cert, key)| crate::http::TlsFiles { cert, key });
    let scheme = if tls.is_some() { "https" } else { "http" };
    let config = crate::http::ServeConfig { addr: args.addr, tokens, limits, store, map, conn, tls };
    let (zone_args, rule_files) = (args.zones.clone(), args.rules.clone());
    let reload = move || load_service(&zone_args, &rule_files).map_err(crate::http::ReloadError::from);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|source| Error::Io { path: "tokio runtime".into(), source })?;
    runtime.block_on(crate::http::serve(config, loaded, reload, |addr| {
        tracing::info!(
            url = format!("{scheme}://{addr}"),
            zone_sets = zones_text,
            rule_sets = rules_text,
            auth,
            startup_ms = started.elapsed().as_millis() as u64,
            "leadmap serving"
        );
    }))?;
    Ok(ExitCode::SUCCESS)
}
