//! `leadmap zones list|show|validate|export`: zone sets as loaded, checked and written out.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use chrono::NaiveDate;
use clap::Subcommand;

use super::{
    ExportFormat, ZoneArgs, file_options, in_force, io_err, load_catalog, load_sets, output, print_json, today,
};
use crate::Error;
use crate::formats::zonefile;
use crate::zones::{ZoneSet, area_m2, date_or_open};

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

pub(super) fn zones(cmd: ZonesCommand) -> Result<ExitCode, Error> {
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
