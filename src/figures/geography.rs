//! Which area each event is counted in: the zone set in force on the event's own date (the default; an
//! event dated when no set was in force counts as [`NO_PROGRAM`], never `outside`), or one fixed set for
//! every event in the window (`--at DATE`, `--zones FILE`, `at=`), so that a period before a launch or an
//! expansion can be counted in the same areas as a period after it. No I/O here.

use serde::Serialize;

use crate::cells::columns::{AreaRows, EventColumns, day_date};
use crate::zones::{ZoneCatalog, ZoneIndex};

/// The area of events dated when no zone set was in force (before a launch, after an end).
pub const NO_PROGRAM: &str = "no_program";

/// A geography: how events are assigned to areas.
#[derive(Clone, Copy, Debug)]
pub enum Geography<'a> {
    /// Each event in the set in force on its own date (as placed when it was stored).
    InForce(&'a ZoneCatalog),
    /// Every event in this set's zones, whatever its date.
    Fixed(&'a ZoneIndex),
}

/// Which geography a table used, as its answer says.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct GeographyNote {
    /// `in_force_on_event_date` or `fixed`.
    pub kind: &'static str,
    /// The fixed set's name, or null.
    pub zone_set: Option<String>,
    /// The fixed set's version, or null.
    pub version: Option<String>,
    /// In words.
    pub description: String,
}

impl Geography<'_> {
    /// The note a table carries.
    #[must_use]
    pub fn note(&self) -> GeographyNote {
        match self {
            Self::InForce(_) => GeographyNote {
                kind: "in_force_on_event_date",
                zone_set: None,
                version: None,
                description: format!(
                    "each event counted in the zone set in force on its own date; events dated when no set was in force are counted as {NO_PROGRAM}"
                ),
            },
            Self::Fixed(index) => {
                let meta = index.set().meta();
                GeographyNote {
                    kind: "fixed",
                    zone_set: Some(meta.name.clone()),
                    version: Some(index.set().version().to_string()),
                    description: format!(
                        "every event counted in the zones of {} (version {}), whatever its date",
                        meta.name,
                        index.set().version()
                    ),
                }
            }
        }
    }

    /// A short key for caches.
    #[must_use]
    pub fn key(&self) -> String {
        match self {
            Self::InForce(_) => "in_force".to_owned(),
            Self::Fixed(index) => format!("fixed:{}", index.set().version()),
        }
    }

    /// The events of a cell table counted in this geography when `filter` names a zone, else as they are
    /// (the areas change nothing else in a cell table, so no time goes into them).
    #[must_use]
    pub fn view(&self, cols: &EventColumns, filter: &crate::cells::columns::EventFilter) -> EventColumns {
        if filter.zone.is_some() { self.apply(cols) } else { cols.clone() }
    }

    /// A view of `cols` counted in this geography (see [`EventColumns::with_areas`]).
    ///
    /// In force: the stored zone, or, for an event stored outside every zone, `outside` when a set was in
    /// force on its date and [`NO_PROGRAM`] when none was. Fixed: the zone of the set that contains the
    /// event's point (lon, lat), classified in batches through the set's grid.
    #[must_use]
    pub fn apply(&self, cols: &EventColumns) -> EventColumns {
        match self {
            Self::InForce(catalog) => in_force(cols, catalog),
            Self::Fixed(index) => fixed(cols, index),
        }
    }
}

fn in_force(cols: &EventColumns, catalog: &ZoneCatalog) -> EventColumns {
    let stored = cols.dicts().zone.names();
    let mut names: Vec<String> = stored.to_vec();
    names.push(NO_PROGRAM.to_owned());
    let no_program = u32::try_from(names.len()).unwrap_or(u32::MAX);
    // Whether a set is in force, per day from the first to the last stored event.
    let (lo, hi) = cols.day_range(&crate::cells::columns::EventFilter::default()).unwrap_or((0, -1));
    let days: Vec<bool> = (lo..=hi).map(|d| day_date(d).is_some_and(|date| catalog.in_force(date).is_ok())).collect();
    cols.with_areas(&names, |rows: AreaRows<'_>| {
        rows.zone
            .iter()
            .zip(rows.day)
            .map(|(&z, &d)| {
                if z != 0 {
                    return z;
                }
                let i = usize::try_from(d - lo).ok();
                if i.and_then(|i| days.get(i)).copied().unwrap_or(false) { 0 } else { no_program }
            })
            .collect()
    })
}

fn fixed(cols: &EventColumns, index: &ZoneIndex) -> EventColumns {
    let names: Vec<String> = index.set().zones().iter().map(|z| z.id.as_str().to_owned()).collect();
    cols.with_areas(&names, |rows: AreaRows<'_>| {
        let points: Vec<[f64; 2]> = rows.lon.iter().zip(rows.lat).map(|(&x, &y)| [x, y]).collect();
        let mut zones = Vec::new();
        index.classify_batch(&points, &mut zones);
        zones.iter().map(|z| z.map_or(0, |z| u32::try_from(z.index() + 1).unwrap_or(u32::MAX))).collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cells::columns::{ColumnRow, ColumnsBuilder, EventFilter};
    use crate::events::EventKind;
    use crate::zones::IndexOptions;

    fn cols(rows: &[(f64, f64, &str, Option<&str>)]) -> EventColumns {
        let mut b = ColumnsBuilder::default();
        for &(lon, lat, day, zone) in rows {
            let cell = u64::from(h3o::LatLng::new(lat, lon).unwrap().to_cell(h3o::Resolution::Fifteen));
            b.push(&ColumnRow {
                cell,
                lon,
                lat,
                day: day.parse().unwrap(),
                kind: EventKind::Arrest,
                offense: "PCS",
                group: None,
                source: "t",
                zone,
                record_key: 0,
                fix: None,
            });
        }
        b.finish()
    }

    fn tally(cols: &EventColumns) -> std::collections::BTreeMap<String, u64> {
        let by_no = cols.fold(
            &EventFilter::default(),
            std::collections::BTreeMap::<u32, u64>::new,
            |acc, e| *acc.entry(e.zone).or_default() += 1,
            |mut a, b| {
                for (k, v) in b {
                    *a.entry(k).or_default() += v;
                }
                a
            },
        );
        by_no.into_iter().map(|(z, n)| (cols.zone_names().name(z).unwrap_or("outside").to_owned(), n)).collect()
    }

    #[test]
    fn in_force_counts_events_before_any_set_as_no_program_and_a_fixed_set_counts_every_date() {
        let catalog = ZoneCatalog::new(crate::builtin::zone_sets().unwrap(), IndexOptions::default());
        // Old Town (inside the 2017 pilot's areas), and a point far outside them; before the 2017 launch
        // and after it.
        let (ot_lon, ot_lat) = (-122.6745, 45.5246);
        let placed = |d: &str| catalog.in_force(d.parse().unwrap()).ok().and_then(|i| i.classify(ot_lon, ot_lat));
        assert!(placed("2016-06-01").is_none() && placed("2017-06-01").is_some(), "the fixture's premise");
        let c = cols(&[
            (ot_lon, ot_lat, "2016-06-01", None),
            (ot_lon, ot_lat, "2017-06-01", Some("old-town")),
            (-122.60, 45.47, "2016-06-01", None),
            (-122.60, 45.47, "2017-06-01", None),
        ]);
        let dated = tally(&Geography::InForce(&catalog).apply(&c));
        assert_eq!(dated.get(NO_PROGRAM), Some(&2), "{dated:?}");
        assert_eq!(dated.get("outside"), Some(&1), "{dated:?}");
        assert_eq!(dated.get("old-town"), Some(&1), "{dated:?}");
        let set2017 = catalog.in_force("2017-06-01".parse().unwrap()).unwrap();
        let fixed = Geography::Fixed(set2017).apply(&c);
        let t = tally(&fixed);
        assert_eq!(t.get("old-town"), Some(&2), "{t:?}");
        assert_eq!(t.get("outside"), Some(&2), "{t:?}");
        assert!(!t.contains_key(NO_PROGRAM));
        // Zone filters follow the view.
        let only = EventFilter { zone: Some(Some("old-town".into())), ..EventFilter::default() };
        assert_eq!(fixed.fold(&only, || 0u64, |n, _| *n += 1, |a, b| a + b), 2);
        let outside = EventFilter { zone: Some(None), ..EventFilter::default() };
        assert_eq!(Geography::InForce(&catalog).apply(&c).fold(&outside, || 0u64, |n, _| *n += 1, |a, b| a + b), 1);
        // And the stored copy is unchanged.
        assert_eq!(c.fold(&outside, || 0u64, |n, _| *n += 1, |a, b| a + b), 3);
    }
}
