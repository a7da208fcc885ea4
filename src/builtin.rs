//! The built-in Portland zone sets and rule sets, embedded in the binary so `leadmap` works from any
//! directory: the February 2017 pilot zones (Downtown, Old Town, Lloyd District: the City of Portland's
//! official neighbourhood polygons, derived by `tools/gen/make_portland_zones.py`) and the May 2018
//! expansion (those three plus a Central Eastside area we drew along the street centrelines the County
//! named: an approximation); the Portland/Multnomah LEAD eligibility rules transcribed from the County's
//! published criteria, in force from the launch until Measure 110; and a Seattle example rule file,
//! which is not part of the defaults. Each file says where its dates come from.

use crate::formats::zonefile::{ZoneFileError, ZoneFileOptions, parse_zone_geojson};
use crate::privacy::{PerturbationTable, PerturbationTableError};
use crate::rules::{RuleError, RuleSet};
use crate::zones::ZoneSet;

/// `geodata/portland-2017.geojson`, as embedded.
pub const PORTLAND_2017: &str = include_str!("../geodata/portland-2017.geojson");
/// `geodata/portland-2018.geojson`, as embedded.
pub const PORTLAND_2018: &str = include_str!("../geodata/portland-2018.geojson");

/// The built-in zone sets, oldest first.
pub fn zone_sets() -> Result<Vec<ZoneSet>, ZoneFileError> {
    let opts = ZoneFileOptions::default();
    Ok(vec![
        parse_zone_geojson(PORTLAND_2017, "geodata/portland-2017.geojson", &opts)?,
        parse_zone_geojson(PORTLAND_2018, "geodata/portland-2018.geojson", &opts)?,
    ])
}

/// `geodata/rules/portland.json`, as embedded.
pub const PORTLAND_RULES: &str = include_str!("../geodata/rules/portland.json");
/// `geodata/rules/seattle.json`, as embedded: an example rule file, not official criteria.
pub const SEATTLE_EXAMPLE_RULES: &str = include_str!("../geodata/rules/seattle.json");

/// The default rule sets (Portland/Multnomah), oldest first; they match the built-in zone sets.
pub fn rule_sets() -> Result<Vec<RuleSet>, RuleError> {
    Ok(vec![RuleSet::from_json(PORTLAND_RULES, "geodata/rules/portland.json")?])
}

/// The Seattle example rule set (possession and delivery of 3 g or less). Not in the defaults: it is an
/// illustration of the format for another jurisdiction, and leadmap has no Seattle zones.
pub fn seattle_example_rules() -> Result<RuleSet, RuleError> {
    RuleSet::from_json(SEATTLE_EXAMPLE_RULES, "geodata/rules/seattle.json")
}

/// The synthetic demo events (`geodata/demo/events.csv`, made by `tools/gen/make_demo.py`): made-up contacts
/// clustered where Portland's street drug activity is reported to concentrate. Not real data.
pub const DEMO_EVENTS_CSV: &str = include_str!("../geodata/demo/events.csv");

/// The `source` of every demo event.
pub const DEMO_SOURCE: &str = "synthetic-demo";

/// The built-in perturbation table of the counts planners see (`geodata/privacy/ptable.json`, made by
/// `tools/gen/make_ptable.py`), read and checked once.
pub fn perturbation_table() -> Result<&'static PerturbationTable, PerturbationTableError> {
    static TABLE: std::sync::OnceLock<Result<PerturbationTable, PerturbationTableError>> = std::sync::OnceLock::new();
    TABLE
        .get_or_init(|| PerturbationTable::from_json(include_str!("../geodata/privacy/ptable.json")))
        .as_ref()
        .map_err(Clone::clone)
}

#[cfg(test)]
mod tests {
    #[test]
    fn built_in_sets_load_and_follow_the_documented_history() {
        use crate::zones::BoundaryStatus;
        let day = |y, m, d| chrono::NaiveDate::from_ymd_opt(y, m, d);
        let sets = super::zone_sets().unwrap();
        let (pilot, expanded) = (sets[0].meta(), sets[1].meta());
        assert_eq!(pilot.name, "portland-lead-2017");
        assert_eq!(expanded.name, "portland-lead-2018");
        let ids: Vec<&str> = sets[0].zones().iter().map(|z| z.id.as_str()).collect();
        assert_eq!(ids, ["downtown", "lloyd", "old-town"]);
        for z in sets[0].zones() {
            let source = z.source.as_deref().unwrap_or_default();
            assert!(source.contains("City of Portland, Neighborhoods (Regions)"), "{}: {source}", z.id);
            assert!(source.contains("9f50a605cf4945259b983fa35c993fe9_125"), "{}: the item", z.id);
        }
        assert_eq!(pilot.status, BoundaryStatus::Official);
        assert_eq!(expanded.status, BoundaryStatus::Approximation, "Central Eastside is our drawing");
        let east = sets[1].zone("central-eastside").unwrap();
        assert!(east.source.as_deref().unwrap().contains("Drawn by the leadmap developers"));
        // Launch; the County's announcement of the expansion; the pilot became PATH.
        assert_eq!((pilot.effective_from, pilot.effective_to), (day(2017, 2, 27), day(2018, 5, 15)));
        assert_eq!((expanded.effective_from, expanded.effective_to), (day(2018, 5, 16), day(2021, 6, 30)));
        for m in [pilot, expanded] {
            assert!(m.effective_from_reason.is_some() && m.effective_to_reason.is_some(), "{}", m.name);
        }
        assert!(expanded.effective_to_reason.as_deref().unwrap().contains("PATH"));
    }

    #[test]
    fn built_in_rules_load_and_start_with_the_pilot() {
        let rules = super::rule_sets().unwrap();
        assert_eq!(rules.len(), 1);
        let zones = super::zone_sets().unwrap();
        assert_eq!(Some(rules[0].spec().effective_from), zones[0].meta().effective_from);
        assert!(rules[0].spec().effective_to < zones[1].meta().effective_to, "Measure 110 ends the rules first");
        let seattle = super::seattle_example_rules().unwrap();
        assert_eq!(seattle.spec().status, crate::rules::RuleStatus::Example);
    }
}
