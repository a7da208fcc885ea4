//! `leadmap check`: the answer for one point, as JSON.

use std::path::PathBuf;
use std::process::ExitCode;

use chrono::NaiveDate;
use clap::Args;

use super::{ZoneArgs, load_service, print_json, today};
use crate::Error;
use crate::coord::LonLat;
use crate::eligibility::PointEligibility;

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

pub(super) fn check(args: &CheckArgs) -> Result<ExitCode, Error> {
    let point = LonLat::new(args.lon, args.lat)?;
    let loaded = load_service(&args.zones, &args.rules)?;
    let at = args.at.unwrap_or_else(|| today(&loaded.zones));
    let program = crate::program::program_on(&loaded.zones, &loaded.rules, at)?;
    print_json(&PointEligibility::of(&program, point, None))?;
    Ok(ExitCode::SUCCESS)
}
