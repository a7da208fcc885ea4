//! `leadmap whatif`: what one or more proposed zone sets would have changed over the stored events,
//! against the current set, as a table a person reads, CSV or JSON.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use chrono::NaiveDate;
use clap::Args;

use super::output::Protected;
use super::{ZoneArgs, load_service, output_to};
use crate::Error;
use crate::cells::CellRes;
use crate::cells::columns::EventFilter;
use crate::events::filter::FilterText;
use crate::formats::zonefile::{ZoneFileOptions, read_zone_file};
use crate::proposals::{Comparison, DEFAULT_CASELOAD, Impact, ImpactQuery, compare, impacts};
use crate::zones::{IndexOptions, ZoneIndex};

pub(super) const WHATIF_HELP: &str = "\
Each PROPOSAL is a zone file (GeoJSON or FlatGeobuf, lon/lat; zone ids from each feature's id or `id`
property, as `leadmap zones export` writes them), validated exactly as zone files are. Every stored event
of the window is classified against the proposal and against the current set (the set in force on --at,
else on --to, else today; or --against NAME, a loaded set's name), and the answer says:
  - events newly inside and newly outside, and the net, by kind, month, zone and race/ethnicity group
    (with each group's referral and diversion rates and relative rate index, current and proposed);
  - the H3 cells (--res, default 9; a cell counts by its centre) and the area gained and lost;
  - the hotspot clusters outside the current set (hot at 95 % after FDR control) the proposal would cover
    (half their cells or more) and those it would still miss;
  - capacity: contacts a month inside either area over the window's last 12 months, against the rule
    set's capacity and case managers (--caseload people each, default 20), and months until full;
  - monthly counts inside either area, with the zone sets' start dates marked.
With several proposals, one table: a column for the current set and one per proposal, the same rows.

Formats (default: from the -o extension, else table): table (the comparison, for a person), csv (the
comparison), json (every proposal's whole impact and the comparison). Counts are exact: share them
beyond analysts only as figures the planner role may see.

Examples:
  leadmap whatif expansion.geojson --at 2017-06-01 --from 2015-01-01 --to 2018-04-30
  leadmap whatif north.geojson east.geojson --against portland-lead-2018 --from 2019-01-01 --to 2019-12-31
  leadmap whatif proposal.geojson --format json -o impact.json";

/// Output formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum WhatifFormat {
    /// The comparison, aligned for a person.
    Table,
    /// The comparison as CSV.
    Csv,
    /// Every impact in full, and the comparison.
    Json,
}

/// `leadmap whatif`.
#[derive(Debug, Args)]
pub struct WhatifArgs {
    /// Proposed zone sets (zone files).
    #[arg(required = true, value_name = "PROPOSAL")]
    pub proposals: Vec<PathBuf>,
    /// The store.
    #[arg(long, value_name = "FILE", default_value = "leadmap.gpkg")]
    pub data: PathBuf,
    /// Compare with the loaded zone set of this name (e.g. portland-lead-2017).
    #[arg(long, value_name = "SET", conflicts_with = "at")]
    pub against: Option<String>,
    /// Compare with the zone set in force on this day (default: --to, else today).
    #[arg(long, value_name = "DATE", value_parser = crate::events::filter::parse_date)]
    pub at: Option<NaiveDate>,
    /// First day of the window.
    #[arg(long, value_name = "DATE", value_parser = crate::events::filter::parse_date)]
    pub from: Option<NaiveDate>,
    /// Last day of the window.
    #[arg(long, value_name = "DATE", value_parser = crate::events::filter::parse_date)]
    pub to: Option<NaiveDate>,
    /// Only this kind.
    #[arg(long, value_name = "KIND")]
    pub kind: Option<crate::events::EventKind>,
    /// Only this data source.
    #[arg(long, value_name = "SOURCE")]
    pub source: Option<String>,
    /// H3 resolution of the cells gained and lost, 5 to 12.
    #[arg(long, default_value = "9", value_name = "RES")]
    pub res: CellRes,
    /// People per case manager.
    #[arg(long, default_value_t = DEFAULT_CASELOAD, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub caseload: u32,
    /// The group rates are compared with.
    #[arg(long, default_value = "white", value_name = "GROUP")]
    pub reference: String,
    /// Output format.
    #[arg(long, value_enum)]
    pub format: Option<WhatifFormat>,
    /// Output file (default stdout).
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Rule file (JSON) for the capacity; repeat for several dated rule sets. Default: the built-in rules.
    #[arg(long = "rules", value_name = "FILE")]
    pub rules: Vec<PathBuf>,
    /// Zone options (the current sets).
    #[command(flatten)]
    pub zones: ZoneArgs,
}

/// Runs `leadmap whatif`.
pub(super) fn whatif(args: &WhatifArgs) -> Result<ExitCode, Error> {
    let mut protected = vec![Protected { what: "the store", path: &args.data }];
    protected.extend(args.proposals.iter().map(|p| Protected { what: "a proposal", path: p }));
    protected.extend(args.zones.zones.iter().map(|z| Protected { what: "a zone file", path: z }));
    protected.extend(args.rules.iter().map(|r| Protected { what: "a rule file", path: r }));
    if let Some(out) = &args.output {
        super::output::check(out, &protected)?;
        super::output::check_extension(out, &["csv", "json", "txt"])?;
    }
    let filter = EventFilter::parse(FilterText {
        from: args.from,
        to: args.to,
        kind: args.kind,
        source: args.source.as_deref(),
        ..FilterText::default()
    })?;
    let loaded = load_service(&args.zones, &args.rules)?;
    let day = args.at.or(args.to).unwrap_or_else(|| super::today(&loaded.zones));
    let current: Arc<ZoneIndex> = match (&args.against, args.at) {
        (Some(name), _) => {
            loaded.zones.indexes().iter().find(|i| &i.set().meta().name == name).cloned().ok_or_else(|| {
                let names: Vec<&str> = loaded.zones.indexes().iter().map(|i| i.set().meta().name.as_str()).collect();
                Error::Usage(format!(
                    "--against {name:?}: no loaded zone set has that name; loaded: {}",
                    names.join(", ")
                ))
            })?
        }
        (None, Some(at)) => super::in_force(&loaded.zones, at)?,
        (None, None) => loaded
            .zones
            .in_force_or_nearest(day)
            .cloned()
            .ok_or_else(|| Error::Internal("no zone sets loaded".to_owned()))?,
    };
    let proposals = args
        .proposals
        .iter()
        .map(|p| Ok(ZoneIndex::new(read_zone_file(p, &ZoneFileOptions::default())?, IndexOptions::default())))
        .collect::<Result<Vec<_>, Error>>()?;
    let q = ImpactQuery::for_program(
        filter,
        args.res,
        args.caseload,
        crate::events::group_key(&args.reference),
        &loaded.zones,
        &loaded.rules,
        day,
    );
    let cols = super::figures::columns(&args.data)?;
    let refs: Vec<&ZoneIndex> = proposals.iter().collect();
    let impacts: Vec<Impact> = impacts(&cols, &current, &refs, &q);
    let table = compare(&impacts);
    let format = args.format.unwrap_or_else(|| {
        match args.output.as_ref().and_then(|p| p.extension()).and_then(|e| e.to_str()).map(str::to_ascii_lowercase) {
            Some(e) if e == "csv" => WhatifFormat::Csv,
            Some(e) if e == "json" => WhatifFormat::Json,
            _ => WhatifFormat::Table,
        }
    });
    let (name, mut out) = output_to(args.output.as_ref(), &protected)?;
    let io = |source: std::io::Error| Error::Io { path: name.clone(), source };
    match format {
        WhatifFormat::Json => {
            let doc = json_document(&impacts, &table);
            writeln!(out, "{}", serde_json::to_string_pretty(&doc).unwrap_or_default()).map_err(io)?;
        }
        WhatifFormat::Csv => write_csv(&table, &mut out).map_err(io)?,
        WhatifFormat::Table => write_table(&table, &mut out).map_err(io)?,
    }
    out.finish().map_err(io)?;
    for i in &impacts {
        eprintln!(
            "{}: {} newly inside, {} newly outside, net {:+} against {} ({} to {})",
            i.proposal.name,
            i.newly_inside.contacts,
            i.newly_outside.contacts,
            i.net,
            i.current.name,
            i.from.map_or_else(|| "the first event".to_owned(), |d| d.to_string()),
            i.to.map_or_else(|| "the last event".to_owned(), |d| d.to_string()),
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Every impact in full (its cells gained and lost also as GeoJSON hexagons) and the comparison.
fn json_document(impacts: &[Impact], table: &Comparison) -> serde_json::Value {
    let docs: Vec<serde_json::Value> = impacts
        .iter()
        .map(|i| {
            let mut doc = serde_json::to_value(i).unwrap_or_default();
            doc["cells"]["geojson"] = crate::formats::cells::impact_cells_geojson(&i.cells);
            doc
        })
        .collect();
    serde_json::json!({ "current": impacts.first().map(|i| &i.current), "impacts": docs, "comparison": table })
}

fn cell(v: Option<f64>) -> String {
    v.map_or_else(String::new, |x| if x.fract() == 0.0 && x.abs() < 1e15 { format!("{x:.0}") } else { format!("{x}") })
}

/// A CSV field, quoted when it holds a comma, a quote or a line break.
fn field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s.to_owned() }
}

fn write_csv(t: &Comparison, out: &mut impl Write) -> std::io::Result<()> {
    let head: Vec<String> = std::iter::once("measure".to_owned()).chain(t.columns.iter().map(|c| field(c))).collect();
    writeln!(out, "{}", head.join(","))?;
    for r in &t.rows {
        let row: Vec<String> = std::iter::once(field(&r.measure)).chain(r.values.iter().map(|v| cell(*v))).collect();
        writeln!(out, "{}", row.join(","))?;
    }
    Ok(())
}

fn write_table(t: &Comparison, out: &mut impl Write) -> std::io::Result<()> {
    let cells: Vec<Vec<String>> = t.rows.iter().map(|r| r.values.iter().map(|v| cell(*v)).collect()).collect();
    let first = t.rows.iter().map(|r| r.measure.chars().count()).max().unwrap_or(0).max(7);
    let widths: Vec<usize> = t
        .columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            cells.iter().map(|r| r.get(i).map_or(0, |s| s.chars().count())).max().unwrap_or(0).max(c.chars().count())
        })
        .collect();
    write!(out, "{:first$}", "measure")?;
    for (c, w) in t.columns.iter().zip(&widths) {
        write!(out, "  {c:>w$}")?;
    }
    writeln!(out)?;
    for (r, vals) in t.rows.iter().zip(&cells) {
        write!(out, "{:first$}", r.measure)?;
        for (v, w) in vals.iter().zip(&widths) {
            let v = if v.is_empty() { "-" } else { v.as_str() };
            write!(out, "  {v:>w$}")?;
        }
        writeln!(out)?;
    }
    Ok(())
}
