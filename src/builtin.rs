//! The built-in Portland zone sets, embedded in the binary so `leadmap` works from any directory:
//! the February 2017 pilot (Downtown, Old Town, Lloyd District) and the May 2018 expansion. Both are
//! approximations the leadmap developers drew from street boundaries (see each file's `description`).

use crate::formats::zonefile::{ZoneFileError, ZoneFileOptions, parse_zone_geojson};
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

#[cfg(test)]
mod tests {
    #[test]
    fn built_in_sets_load_and_are_dated() {
        let sets = super::zone_sets().unwrap();
        assert_eq!(sets[0].meta().name, "portland-lead-2017");
        assert_eq!(sets[1].meta().name, "portland-lead-2018");
        let ids: Vec<&str> = sets[0].zones().iter().map(|z| z.id.as_str()).collect();
        assert_eq!(ids, ["downtown", "lloyd", "old-town"]);
        for z in sets[0].zones() {
            assert!(z.source.as_deref().unwrap_or_default().contains("pproximation"), "{}", z.id);
        }
        assert!(sets[0].meta().effective_to < sets[1].meta().effective_from);
    }
}
