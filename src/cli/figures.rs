//! `leadmap cells`, `hotspots`, `coverage` and `equity`: figures from the stored events (loaded into the
//! in-memory columns) or, for `cells --input`, straight from a file of points.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use chrono::NaiveDate;
use clap::Args;

use super::output::{self, Protected};
use super::{EventFilterArgs, ZoneArgs, load_catalog, output_to, store_to_read};
use crate::Error;
use crate::cells::CellRes;
use crate::cells::columns::{EventColumns, EventFilter};
use crate::events::filter::FilterText;
use crate::figures::Disclosure;
use crate::figures::cells::{CandidateOptions, CellFigures, CellQuery, cell_figures, hotspot_figures_with};
use crate::figures::geography::Geography;
use crate::formats::cells::{CellFormat, candidates_geojson, write_cells};

/// Filters every figure command takes.
#[derive(Debug, Args)]
pub struct FigureFilterArgs {
    /// Dates, kind and zone.
    #[command(flatten)]
    pub events: EventFilterArgs,
    /// Only this race/ethnicity group (e.g. black, white, `hispanic_latino`).
    #[arg(long, value_name = "GROUP")]
    pub group: Option<String>,
    /// Only this offense (PCS, SQ, CDO, or the source's own text).
    #[arg(long, value_name = "OFFENSE")]
    pub offense: Option<String>,
    /// Only this data source (e.g. ppb).
    #[arg(long, value_name = "SOURCE")]
    pub source: Option<String>,
    /// Withhold counts from 1 to K as the planner role sees them (with secondary suppression), to share
    /// the output beyond analysts. Default: exact.
    #[arg(long, value_name = "K")]
    pub suppress: Option<u64>,
}

impl FigureFilterArgs {
    /// The column filter.
    ///
    /// # Errors
    /// `--from` is after `--to`.
    pub fn filter(&self) -> Result<EventFilter, Error> {
        let e = &self.events;
        EventFilter::parse(FilterText {
            from: e.from,
            to: e.to,
            kind: e.kind,
            offense: self.offense.as_deref(),
            zone: e.zone.as_deref(),
            group: self.group.as_deref(),
            source: self.source.as_deref(),
        })
        .map_err(Error::from)
    }

    fn disclosure(&self) -> Disclosure {
        self.suppress.map_or(Disclosure::Exact, |k| Disclosure::Suppressed { k })
    }
}

pub(super) const CELLS_HELP: &str = "\
Each event counts in the H3 cell its point lies in at --res (as h3-py's latlng_to_cell), computed from
the in-memory copy of the store. Each cell also says how it relates to the zone set in force (--at; by
default the set in force on --to, else today): inside (the whole hexagon is in the zones), boundary, or outside. With --zeros, every empty cell
of the study area (the events' convex hull and the zones) is listed as a zero.

--input FILE counts the points of a CSV (lon/lat columns, --lon-col/--lat-col), GeoJSON or FlatGeobuf
file directly, without a store: hex_id and count only.

Formats (default: from the -o extension, else csv): csv (hex_id, count, a column per kind, suppressed,
relation; kepler.gl reads hex_id as it is), geojson (hexagon Polygons, lon/lat), fgb (FlatGeobuf).

Examples:
  leadmap cells --res 9 -o cells.csv
  leadmap cells --res 8 --from 2018-05-01 --kind arrest -o arrests.geojson
  leadmap cells --zone outside --res 10 --zeros --format fgb -o outside.fgb
  leadmap cells --input contacts.csv --res 9 -o contacts-cells.csv
  leadmap cells --res 9 --suppress 10 -o shareable.csv
  leadmap cells --at 2018-06-01 --zone outside --from 2015-01-01 -o outside-2018-areas.csv";

/// `leadmap cells`.
#[derive(Debug, Args)]
pub struct CellsArgs {
    /// The store.
    #[arg(long, value_name = "FILE", default_value = "leadmap.gpkg")]
    pub data: PathBuf,
    /// Count the points of this file instead of the store (CSV, GeoJSON, FlatGeobuf).
    #[arg(long, value_name = "FILE")]
    pub input: Option<PathBuf>,
    /// Longitude column of an --input CSV (default: lon, longitude, x, ...).
    #[arg(long, value_name = "COLUMN", requires = "input")]
    pub lon_col: Option<String>,
    /// Latitude column of an --input CSV.
    #[arg(long, value_name = "COLUMN", requires = "input")]
    pub lat_col: Option<String>,
    /// H3 resolution, 5 to 12 (9: about 0.1 km², some 16 city blocks).
    #[arg(long, default_value = "9", value_name = "RES")]
    pub res: CellRes,
    /// Output format.
    #[arg(long, value_enum)]
    pub format: Option<CellFormat>,
    /// Output file (default stdout).
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Also list the study area's empty cells, as zeros.
    #[arg(long)]
    pub zeros: bool,
    /// Relate cells to (and filter --zone by) the zone set in force on this day, for every event
    /// (default: cells related to the set in force on --to, else today; --zone by each event's date).
    #[arg(long, value_name = "DATE", value_parser = crate::events::filter::parse_date)]
    pub at: Option<NaiveDate>,
    /// Which events.
    #[command(flatten)]
    pub filter: FigureFilterArgs,
    /// Zone options.
    #[command(flatten)]
    pub zones: ZoneArgs,
}

pub(super) const HOTSPOTS_HELP: &str = "\
Getis-Ord Gi* over every cell of the study area (the events' convex hull and the zones; cells without
events are zeros), with binary k-ring weights, the cell itself included, as ArcGIS's Hot Spot Analysis and
PySAL's esda.G_Local(star=True, transform='B') compute it. Columns: GiZScore, GiPValue (two-sided, normal
approximation), Gi_Bin (+-3/2/1 = hot/cold at 99/95/90 %), Gi_Bin_FDR (the same with Benjamini-Hochberg
false-discovery-rate control), NNeighbors. With --suppress, z and p are left out (classes only).

--candidates writes the expansion candidates instead: clusters of cells hot at 95 % after FDR control
(Gi_Bin_FDR >= 2) outside every zone, ranked by contacts, as GeoJSON outlines; those holding fewer than
--min-contacts (default 10) are left out. --mask FILE limits the study area to the cells whose centre
lies in its polygons (e.g. land without the river, where no contact can happen): cells elsewhere are
neither counted, nor neighbours, nor candidates. Without it, the study area is the events' convex hull
and the zones.

Examples:
  leadmap hotspots --res 9 -o hotspots.geojson
  leadmap hotspots --res 10 --k 2 --from 2019-01-01 --format csv
  leadmap hotspots --res 9 --candidates -o candidates.geojson
  leadmap hotspots --res 9 --candidates --min-contacts 25 --mask land.geojson -o candidates.geojson";

/// `leadmap hotspots`.
#[derive(Debug, Args)]
pub struct HotspotsArgs {
    /// The store.
    #[arg(long, value_name = "FILE", default_value = "leadmap.gpkg")]
    pub data: PathBuf,
    /// H3 resolution, 5 to 12.
    #[arg(long, default_value = "9", value_name = "RES")]
    pub res: CellRes,
    /// Neighbours: the cells within K steps (1: the six around, 2: eighteen).
    #[arg(long, default_value_t = 1, value_name = "K", value_parser = clap::value_parser!(u32).range(1..=10))]
    pub k: u32,
    /// Write the expansion candidates (GeoJSON) instead of the cells.
    #[arg(long)]
    pub candidates: bool,
    /// A candidate holds at least this many contacts (0: every cluster of hot cells).
    #[arg(long, default_value_t = crate::figures::cells::DEFAULT_MIN_CONTACTS, value_name = "N")]
    pub min_contacts: u64,
    /// Limit the study area to the cells whose centre lies in these polygons (GeoJSON or FlatGeobuf,
    /// lon/lat; e.g. land without the river): the statistic, its neighbours and the candidates.
    #[arg(long, value_name = "FILE")]
    pub mask: Option<PathBuf>,
    /// Output format for the cells.
    #[arg(long, value_enum)]
    pub format: Option<CellFormat>,
    /// Output file (default stdout).
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Relate cells to (and filter --zone by) the zone set in force on this day, for every event
    /// (default: cells related to the set in force on --to, else today; --zone by each event's date).
    #[arg(long, value_name = "DATE", value_parser = crate::events::filter::parse_date)]
    pub at: Option<NaiveDate>,
    /// Which events.
    #[command(flatten)]
    pub filter: FigureFilterArgs,
    /// Zone options.
    #[command(flatten)]
    pub zones: ZoneArgs,
}

/// Table output formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum TableFormat {
    /// CSV, one row per area and month (or group).
    Csv,
    /// JSON, as the HTTP API answers.
    Json,
}

/// `leadmap coverage` and `leadmap equity`.
#[derive(Debug, Args)]
pub struct TableArgs {
    /// The store.
    #[arg(long, value_name = "FILE", default_value = "leadmap.gpkg")]
    pub data: PathBuf,
    /// Output format (default: from the -o extension, else csv).
    #[arg(long, value_enum)]
    pub format: Option<TableFormat>,
    /// Output file (default stdout).
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// The group rates are compared with (equity).
    #[arg(long, default_value = "white", value_name = "GROUP")]
    pub reference: String,
    /// Count every event in the zone set in force on this day, whatever the event's date (default: each
    /// event in the set in force on its own date; see --help).
    #[arg(long, value_name = "DATE", value_parser = crate::events::filter::parse_date)]
    pub at: Option<NaiveDate>,
    /// Which events.
    #[command(flatten)]
    pub filter: FigureFilterArgs,
    /// Zone options.
    #[command(flatten)]
    pub zones: ZoneArgs,
}

/// The geography paragraph of the table commands' help.
macro_rules! geography_help {
    () => {
        "\
Geography: by default each event is counted in the zone set in force on its own date (as it was placed
when stored), and an event dated when no set was in force (before the 2017 launch, after the pilot
ended) is counted as no_program, its own area, never outside. --at DATE counts every event in the set in
force on that day instead, and one --zones FILE counts every event in that file's zones, so that years
before and after a launch or an expansion are counted in the same areas. Several --zones files without
--at are the sets to choose from by each event's date. The share inside is of the events inside or
outside (no_program left out), and the answer says which geography it used."
    };
}

pub(super) const COVERAGE_HELP: &str = concat!(
    "\
Examples:
  leadmap coverage -o coverage.csv
  leadmap coverage --from 2018-05-01 --format json
  leadmap coverage --at 2017-06-01 --from 2015-01-01 --to 2016-12-31   # the 2017 areas, before the launch
  leadmap coverage --zones proposal.geojson -o proposal-coverage.csv
  leadmap coverage --suppress 10 -o shareable.csv

",
    geography_help!()
);

pub(super) const EQUITY_HELP: &str = concat!(
    "\
Rates: referral = referrals / contacts; diversion = diversion referrals / (diversion referrals + arrests).
The relative rate index divides a group's rate by the reference group's (--reference, default white) in
the same area; 1 is parity.

Examples:
  leadmap equity -o equity.csv
  leadmap equity --zone downtown --from 2018-01-01 --format json
  leadmap equity --at 2018-06-01 --from 2015-01-01

",
    geography_help!()
);

/// The zone sets of a figure command and the geography it counts in.
struct Geo {
    catalog: crate::zones::ZoneCatalog,
    /// The one set every event is counted in, if any.
    fixed: Option<std::sync::Arc<crate::zones::ZoneIndex>>,
}

impl Geo {
    /// `--at DATE` fixes the set in force that day; one `--zones FILE` (one set) fixes that set.
    fn new(zones: &ZoneArgs, at: Option<NaiveDate>) -> Result<Self, Error> {
        let catalog = load_catalog(zones)?;
        let fixed = match at {
            Some(at) => Some(super::in_force(&catalog, at)?),
            None if !zones.zones.is_empty() && catalog.indexes().len() == 1 => catalog.indexes().first().cloned(),
            None => None,
        };
        Ok(Self { catalog, fixed })
    }

    fn geography(&self) -> Geography<'_> {
        self.fixed.as_deref().map_or(Geography::InForce(&self.catalog), Geography::Fixed)
    }

    /// The zone polygons cells are related to: the fixed set's, else the set in force on `to` (the
    /// window's last day, default today; when none is, the nearest set).
    fn polygons(&self, to: Option<NaiveDate>) -> Result<Vec<geo::MultiPolygon<f64>>, Error> {
        let index = if let Some(f) = &self.fixed {
            f
        } else {
            let day = to.unwrap_or_else(|| super::today(&self.catalog));
            self.catalog.in_force_or_nearest(day).ok_or_else(|| Error::Internal("no zone sets loaded".to_owned()))?
        };
        Ok(index.set().zones().iter().map(|z| z.geometry.clone()).collect())
    }
}

/// Loads the store's events into columns, saying how many on stderr.
pub(super) fn columns(data: &std::path::Path) -> Result<EventColumns, Error> {
    let store = store_to_read(data)?;
    let started = std::time::Instant::now();
    let cols = crate::store::load_columns(&store)?;
    if started.elapsed().as_secs() >= 2 {
        eprintln!("{} events loaded in {:.1} s", cols.len(), started.elapsed().as_secs_f64());
    }
    Ok(cols)
}

/// The files a figure command reads, which its output must not replace.
fn protected<'a>(data: &'a Path, input: Option<&'a PathBuf>, zones: &'a ZoneArgs) -> Vec<Protected<'a>> {
    let mut p = vec![Protected { what: "the store", path: data }];
    p.extend(input.map(|i| Protected { what: "the input", path: i }));
    p.extend(zones.zones.iter().map(|z| Protected { what: "a zone file", path: z }));
    p
}

/// Checks `-o` before any work: not a file the command reads, an extension it writes.
fn check_output(out: Option<&PathBuf>, protected: &[Protected<'_>], extensions: &[&str]) -> Result<(), Error> {
    let Some(out) = out else { return Ok(()) };
    output::check(out, protected)?;
    output::check_extension(out, extensions)
}

const CELL_EXTENSIONS: &[&str] = &["csv", "geojson", "json", "fgb"];
const TABLE_EXTENSIONS: &[&str] = &["csv", "json"];

fn cell_format(format: Option<CellFormat>, output: Option<&PathBuf>) -> CellFormat {
    format.or_else(|| output.and_then(|p| CellFormat::from_path(p))).unwrap_or(CellFormat::Csv)
}

fn write_figures(
    figures: &CellFigures,
    format: CellFormat,
    output: Option<&PathBuf>,
    protected: &[Protected<'_>],
) -> Result<(), Error> {
    let (name, mut out) = output_to(output, protected)?;
    let io = |source: std::io::Error| Error::Io { path: name.clone(), source };
    write_cells(figures, format, &mut out).map_err(io)?;
    out.finish().map_err(io)?;
    eprintln!("{} cells at resolution {} written to {name}", figures.rows.len(), figures.res);
    Ok(())
}

pub(super) fn cells(args: &CellsArgs) -> Result<ExitCode, Error> {
    let protected = protected(&args.data, args.input.as_ref(), &args.zones);
    check_output(args.output.as_ref(), &protected, CELL_EXTENSIONS)?;
    let format = cell_format(args.format, args.output.as_ref());
    let geo = Geo::new(&args.zones, args.at)?;
    let polygons = geo.polygons(args.filter.events.to)?;
    let refs: Vec<&geo::MultiPolygon<f64>> = polygons.iter().collect();
    if let Some(input) = &args.input {
        let raw = crate::formats::rawpoints::read_points(input, args.lon_col.as_deref(), args.lat_col.as_deref())?;
        for e in &raw.examples {
            eprintln!("{e}");
        }
        let counts = crate::cells::points::count_points(&raw.points(), args.res);
        let figures = crate::figures::cells::point_figures(counts, &refs, args.res);
        write_figures(&figures, format, args.output.as_ref(), &protected)?;
        if raw.rejected > 0 {
            eprintln!("{} of {} rows rejected (no valid coordinates)", raw.rejected, raw.rejected + raw.len() as u64);
            return Ok(ExitCode::from(3));
        }
        return Ok(ExitCode::SUCCESS);
    }
    let q = CellQuery { filter: args.filter.filter()?, res: args.res, zeros: args.zeros };
    let cols = geo.geography().view(&columns(&args.data)?, &q.filter);
    let figures = cell_figures(&cols, &refs, &q, args.filter.disclosure())?;
    write_figures(&figures, format, args.output.as_ref(), &protected)?;
    Ok(ExitCode::SUCCESS)
}

pub(super) fn hotspots(args: &HotspotsArgs) -> Result<ExitCode, Error> {
    let mut protected = protected(&args.data, None, &args.zones);
    protected.extend(args.mask.iter().map(|m| Protected { what: "the mask", path: m }));
    check_output(
        args.output.as_ref(),
        &protected,
        if args.candidates { &["geojson", "json"] } else { CELL_EXTENSIONS },
    )?;
    let mask = args.mask.as_deref().map(crate::formats::zonefile::read_mask).transpose()?;
    let geo = Geo::new(&args.zones, args.at)?;
    let polygons = geo.polygons(args.filter.events.to)?;
    let refs: Vec<&geo::MultiPolygon<f64>> = polygons.iter().collect();
    let q = CellQuery { filter: args.filter.filter()?, res: args.res, zeros: true };
    let cols = geo.geography().view(&columns(&args.data)?, &q.filter);
    let options = CandidateOptions { min_contacts: args.min_contacts, mask: mask.as_ref() };
    let figures = hotspot_figures_with(&cols, &refs, &q, args.k, args.filter.disclosure(), options)?;
    if args.candidates {
        let (name, mut out) = output_to(args.output.as_ref(), &protected)?;
        let io = |source: std::io::Error| Error::Io { path: name.clone(), source };
        writeln!(out, "{}", candidates_geojson(&figures)).map_err(io)?;
        out.finish().map_err(io)?;
        eprintln!("{} expansion candidates written to {name}", figures.candidates.len());
        return Ok(ExitCode::SUCCESS);
    }
    let format = cell_format(args.format, args.output.as_ref());
    write_figures(&figures, format, args.output.as_ref(), &protected)?;
    let hot = figures.rows.iter().filter(|r| r.hotspot.is_some_and(|h| h.bin_fdr >= 2)).count();
    eprintln!("{hot} cells hot at 95 % after FDR control; {} expansion candidates", figures.candidates.len());
    Ok(ExitCode::SUCCESS)
}

fn table_format(args: &TableArgs) -> TableFormat {
    args.format.unwrap_or_else(|| {
        let json = args.output.as_ref().and_then(|p| p.extension()).is_some_and(|e| e.eq_ignore_ascii_case("json"));
        if json { TableFormat::Json } else { TableFormat::Csv }
    })
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map(|x| x.to_string()).unwrap_or_default()
}

/// The count fields of a table row, in the header's order.
fn kind_fields(c: &crate::figures::coverage::KindRow) -> [String; 5] {
    [
        opt(c.arrest.0),
        opt(c.diversion_referral.0),
        opt(c.social_contact_referral.0),
        opt(c.offense_report.0),
        opt(c.contacts.0),
    ]
}

/// Writes a CSV table (the `csv` crate quotes a field that holds a comma, quote or line break: an area
/// or group name may) and flushes it into `out`.
fn write_table(
    out: &mut impl std::io::Write,
    header: &[&str],
    rows: impl Iterator<Item = Vec<String>>,
) -> Result<(), csv::Error> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(header)?;
    for row in rows {
        w.write_record(&row)?;
    }
    w.flush()?;
    Ok(())
}

/// Writes a coverage or equity table where `args` says, as JSON (`value`) or CSV (`header`, `rows`),
/// once the output is checked: nothing is computed for an output that would overwrite an input.
fn write_figure_table<T: serde::Serialize>(
    args: &TableArgs,
    compute: impl FnOnce(&EventColumns, &Geo) -> Result<T, Error>,
    header: &[&str],
    rows: impl FnOnce(&T) -> Vec<Vec<String>>,
) -> Result<T, Error> {
    let protected = protected(&args.data, None, &args.zones);
    check_output(args.output.as_ref(), &protected, TABLE_EXTENSIONS)?;
    let geo = Geo::new(&args.zones, args.at)?;
    let table = compute(&columns(&args.data)?, &geo)?;
    let (name, mut out) = output_to(args.output.as_ref(), &protected)?;
    let io = |source: std::io::Error| Error::Io { path: name.clone(), source };
    match table_format(args) {
        TableFormat::Json => {
            writeln!(out, "{}", serde_json::to_string_pretty(&table).unwrap_or_default()).map_err(io)?;
        }
        TableFormat::Csv => write_table(&mut out, header, rows(&table).into_iter()).map_err(|e| io(e.into()))?,
    }
    out.finish().map_err(io)?;
    Ok(table)
}

pub(super) fn coverage(args: &TableArgs) -> Result<ExitCode, Error> {
    let cov = write_figure_table(
        args,
        |cols, geo| {
            Ok(crate::figures::coverage::coverage(
                cols,
                &geo.geography(),
                &args.filter.filter()?,
                args.filter.disclosure(),
            ))
        },
        &[
            "area",
            "month",
            "arrest",
            "diversion_referral",
            "social_contact_referral",
            "offense_report",
            "contacts",
            "diversion_rate",
            "suppressed",
        ],
        |cov| {
            cov.months
                .iter()
                .chain(&cov.totals)
                .map(|r| {
                    let mut row = vec![r.area.clone(), r.month.clone()];
                    row.extend(kind_fields(&r.counts));
                    row.extend([opt(r.diversion_rate), r.suppressed.to_string()]);
                    row
                })
                .collect()
        },
    )?;
    eprintln!(
        "share of contacts inside the zones: {}; diversion rate inside: {} ({})",
        opt(cov.share_inside),
        opt(cov.diversion_rate_inside),
        cov.geography.description
    );
    Ok(ExitCode::SUCCESS)
}

pub(super) fn equity(args: &TableArgs) -> Result<ExitCode, Error> {
    let reference = crate::events::group_key(&args.reference);
    write_figure_table(
        args,
        |cols, geo| {
            Ok(crate::figures::coverage::equity(
                cols,
                &geo.geography(),
                &args.filter.filter()?,
                &reference,
                args.filter.disclosure(),
            ))
        },
        &[
            "area",
            "group",
            "arrest",
            "diversion_referral",
            "social_contact_referral",
            "offense_report",
            "contacts",
            "referral_rate",
            "diversion_rate",
            "rri_referral",
            "rri_diversion",
            "suppressed",
        ],
        |eq| {
            eq.rows
                .iter()
                .map(|r| {
                    let mut row = vec![r.area.clone(), r.group.clone()];
                    row.extend(kind_fields(&r.counts));
                    row.extend([
                        opt(r.referral_rate),
                        opt(r.diversion_rate),
                        opt(r.rri_referral),
                        opt(r.rri_diversion),
                        r.suppressed.to_string(),
                    ]);
                    row
                })
                .collect()
        },
    )?;
    Ok(ExitCode::SUCCESS)
}
