//! The zone sets loaded at once (e.g. the 2017 pilot and the 2018 expansion), each indexed, and the
//! choice of the one in force on a date.

use std::sync::Arc;

use chrono::NaiveDate;

use super::{IndexOptions, ZoneError, ZoneIndex, ZoneSet};

/// Indexed zone sets, in the order given. Immutable; share behind an `Arc`.
#[derive(Debug, Clone)]
pub struct ZoneCatalog {
    indexes: Vec<Arc<ZoneIndex>>,
}

impl ZoneCatalog {
    /// The program's time zone: the first set's that names one.
    #[must_use]
    pub fn time_zone(&self) -> Option<chrono_tz::Tz> {
        self.indexes.iter().find_map(|i| i.set().meta().time_zone)
    }

    /// The program's day at `now` ("today" of every answer that is not given a date, with `now` from the
    /// caller's [`crate::clock::Clock`]): the date in [`ZoneCatalog::time_zone`], else in this machine's
    /// time zone (sets that name no time zone).
    #[must_use]
    pub fn day_at(&self, now: chrono::DateTime<chrono::Utc>) -> chrono::NaiveDate {
        match self.time_zone() {
            Some(tz) => now.with_timezone(&tz).date_naive(),
            None => now.with_timezone(&chrono::Local).date_naive(),
        }
    }

    /// Indexes every set.
    #[must_use]
    pub fn new(sets: Vec<ZoneSet>, options: IndexOptions) -> Self {
        Self { indexes: sets.into_iter().map(|s| Arc::new(ZoneIndex::new(s, options))).collect() }
    }

    /// The bounding box (lon, lat) of every zone of every set, or `None` with no sets.
    #[must_use]
    pub fn bounds(&self) -> Option<geo::Rect<f64>> {
        self.indexes.iter().map(|i| i.set().bounds()).reduce(|a, b| {
            geo::Rect::new(
                geo::Coord { x: a.min().x.min(b.min().x), y: a.min().y.min(b.min().y) },
                geo::Coord { x: a.max().x.max(b.max().x), y: a.max().y.max(b.max().y) },
            )
        })
    }

    /// The checks events must pass to be stored with these zones at `now`: within `km` of every set's
    /// zones (lon, lat), from `first_date` to the day after `now`'s UTC date. See
    /// [`crate::events::checks`].
    #[must_use]
    pub fn event_checks(
        &self,
        km: f64,
        first_date: NaiveDate,
        now: chrono::DateTime<chrono::Utc>,
    ) -> crate::events::checks::EventChecks {
        let checks = crate::events::checks::EventChecks::dated(first_date, now);
        match self.bounds() {
            Some(b) => crate::events::checks::EventChecks::around(b, km, checks),
            None => checks,
        }
    }

    /// All indexed sets.
    #[must_use]
    pub fn indexes(&self) -> &[Arc<ZoneIndex>] {
        &self.indexes
    }

    /// The set in force on `date`: of the sets whose dates include it, the one that started last
    /// (a set without `effective_from` counts as the oldest).
    ///
    /// # Examples
    /// ```
    /// use chrono::NaiveDate;
    /// use leadmap::zones::{IndexOptions, ZoneCatalog};
    /// let catalog = ZoneCatalog::new(leadmap::builtin::zone_sets().unwrap(), IndexOptions::default());
    /// let d = NaiveDate::from_ymd_opt(2017, 6, 1).unwrap();
    /// assert_eq!(catalog.in_force(d).unwrap().set().meta().name, "portland-lead-2017");
    /// ```
    pub fn in_force(&self, date: NaiveDate) -> Result<&Arc<ZoneIndex>, ZoneError> {
        let candidates = || self.indexes.iter().filter(|i| i.set().meta().in_force_on(date));
        // `None` sorts before every date, so an open start counts as the oldest.
        let latest = candidates().map(|i| i.set().meta().effective_from).max();
        let mut starting_latest = candidates().filter(|i| Some(i.set().meta().effective_from) == latest);
        let best = starting_latest.next().ok_or_else(|| ZoneError::NoneInForce { date, loaded: self.describe() })?;
        if let Some(other) = starting_latest.next() {
            return Err(ZoneError::Ambiguous(best.set().meta().name.clone(), other.set().meta().name.clone(), date));
        }
        Ok(best)
    }

    /// The set in force on `date`, or when none is, the one that started last (for views of the
    /// present, e.g. which cells the zones cover, that must show some boundary).
    #[must_use]
    pub fn in_force_or_newest(&self, date: NaiveDate) -> Option<&Arc<ZoneIndex>> {
        self.in_force(date).ok().or_else(|| self.indexes.iter().max_by_key(|i| i.set().meta().effective_from))
    }

    /// The set in force on `date`, else the one whose dates come closest to it (by days; of two equally
    /// close, the later), so that an answer for a date outside every set can still say where the point
    /// lies and which set it was measured against. `None` only for an empty catalog.
    ///
    /// # Examples
    /// ```
    /// use chrono::NaiveDate;
    /// use leadmap::zones::{IndexOptions, ZoneCatalog};
    /// let catalog = ZoneCatalog::new(leadmap::builtin::zone_sets().unwrap(), IndexOptions::default());
    /// let after = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
    /// assert_eq!(catalog.in_force_or_nearest(after).unwrap().set().meta().name, "portland-lead-2018");
    /// let before = NaiveDate::from_ymd_opt(2010, 1, 1).unwrap();
    /// assert_eq!(catalog.in_force_or_nearest(before).unwrap().set().meta().name, "portland-lead-2017");
    /// ```
    #[must_use]
    pub fn in_force_or_nearest(&self, date: NaiveDate) -> Option<&Arc<ZoneIndex>> {
        if let Ok(index) = self.in_force(date) {
            return Some(index);
        }
        self.indexes
            .iter()
            .map(|i| (days_away(i.set().meta().effective_from, i.set().meta().effective_to, date), i))
            .min_by(|(da, a), (db, b)| {
                da.cmp(db).then_with(|| b.set().meta().effective_from.cmp(&a.set().meta().effective_from))
            })
            .map(|(_, i)| i)
    }

    /// "name (from to to, status)" for every set, for messages.
    #[must_use]
    pub fn describe(&self) -> String {
        self.indexes
            .iter()
            .map(|i| {
                let m = i.set().meta();
                format!(
                    "{} ({} to {}, {})",
                    m.name,
                    date_or_open(m.effective_from),
                    date_or_open(m.effective_to),
                    m.status
                )
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// How many days `date` lies outside `from..=to` (0 inside; an open end is never passed).
#[must_use]
pub fn days_away(from: Option<NaiveDate>, to: Option<NaiveDate>, date: NaiveDate) -> i64 {
    match (from, to) {
        (Some(f), _) if date < f => (f - date).num_days(),
        (_, Some(t)) if date > t => (date - t).num_days(),
        _ => 0,
    }
}

/// A date, or `open` for an unbounded end.
#[must_use]
pub fn date_or_open(date: Option<NaiveDate>) -> String {
    date.map_or_else(|| "open".to_owned(), |d| d.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::zones::{Zone, ZoneSetMeta};
    use geo::{MultiPolygon, polygon};

    fn set(name: &str, from: Option<(i32, u32, u32)>, to: Option<(i32, u32, u32)>) -> ZoneSet {
        let date = |d: Option<(i32, u32, u32)>| d.and_then(|(y, m, d)| NaiveDate::from_ymd_opt(y, m, d));
        let zone = Zone {
            id: "z".parse().unwrap(),
            name: "Z".into(),
            geometry: MultiPolygon(vec![polygon![(x: 0.0, y: 0.0), (x: 1.0, y: 0.0), (x: 1.0, y: 1.0)]]),
            source: None,
        };
        let meta = ZoneSetMeta {
            name: name.into(),
            effective_from: date(from),
            effective_to: date(to),
            ..ZoneSetMeta::default()
        };
        ZoneSet::new(meta, vec![zone]).unwrap()
    }

    fn on(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn today_is_the_programs_day_in_its_time_zone_not_the_servers() {
        let built_in = ZoneCatalog::new(crate::builtin::zone_sets().unwrap(), crate::zones::IndexOptions::default());
        assert_eq!(built_in.time_zone(), Some(chrono_tz::America::Los_Angeles));
        // 17:00 in Portland on 2019-06-01 (PDT, UTC-7) is midnight UTC on 2019-06-02: still the 1st there.
        let at = |s: &str| s.parse::<chrono::DateTime<chrono::Utc>>().unwrap();
        assert_eq!(built_in.day_at(at("2019-06-02T00:00:00Z")), on(2019, 6, 1));
        assert_eq!(built_in.day_at(at("2019-06-02T06:59:59Z")), on(2019, 6, 1));
        assert_eq!(built_in.day_at(at("2019-06-02T07:00:00Z")), on(2019, 6, 2));
        // In winter (PST, UTC-8) the day turns at 08:00 UTC.
        assert_eq!(built_in.day_at(at("2019-12-02T07:59:59Z")), on(2019, 12, 1));
        // Sets that name no time zone: the machine's clock, as before.
        let plain = ZoneCatalog::new(vec![set("always", None, None)], crate::zones::IndexOptions::default());
        assert_eq!(plain.time_zone(), None);
        let now = at("2019-06-02T00:00:00Z");
        assert_eq!(plain.day_at(now), now.with_timezone(&chrono::Local).date_naive());
    }

    #[test]
    fn picks_the_latest_set_in_force() {
        let c = ZoneCatalog::new(
            vec![
                set("always", None, None),
                set("pilot", Some((2017, 2, 27)), Some((2018, 4, 30))),
                set("expanded", Some((2018, 5, 1)), None),
            ],
            IndexOptions::default(),
        );
        assert_eq!(c.in_force(on(2016, 1, 1)).unwrap().set().meta().name, "always");
        assert_eq!(c.in_force(on(2017, 2, 27)).unwrap().set().meta().name, "pilot");
        assert_eq!(c.in_force(on(2018, 4, 30)).unwrap().set().meta().name, "pilot");
        assert_eq!(c.in_force(on(2018, 5, 1)).unwrap().set().meta().name, "expanded");
    }

    #[test]
    fn the_nearest_set_answers_outside_every_period() {
        let c = ZoneCatalog::new(
            vec![
                set("pilot", Some((2017, 2, 27)), Some((2018, 5, 15))),
                set("expanded", Some((2018, 5, 16)), Some((2021, 6, 30))),
                set("later", Some((2024, 1, 2)), Some((2024, 12, 31))),
            ],
            IndexOptions::default(),
        );
        let name = |y, m, d| c.in_force_or_nearest(on(y, m, d)).unwrap().set().meta().name.clone();
        assert_eq!(name(2017, 2, 26), "pilot", "before everything: the first");
        assert_eq!(name(2018, 5, 15), "pilot", "in force");
        assert_eq!(name(2018, 5, 16), "expanded", "in force");
        assert_eq!(name(2021, 7, 1), "expanded", "one day after its end");
        assert_eq!(name(2022, 9, 30), "expanded", "457 days after, 459 before the next");
        assert_eq!(name(2022, 10, 1), "later", "equally close (458 days each way): the later set");
        assert_eq!(name(2030, 1, 1), "later");
        assert!(ZoneCatalog::new(vec![], IndexOptions::default()).in_force_or_nearest(on(2020, 1, 1)).is_none());
        assert_eq!(days_away(None, None, on(2020, 1, 1)), 0);
        assert_eq!(days_away(Some(on(2020, 1, 2)), None, on(2020, 1, 1)), 1);
        assert_eq!(days_away(None, Some(on(2019, 12, 30)), on(2020, 1, 1)), 2);
    }

    #[test]
    fn says_when_nothing_or_two_sets_are_in_force() {
        let c = ZoneCatalog::new(vec![set("pilot", Some((2017, 2, 27)), Some((2018, 4, 30)))], IndexOptions::default());
        let e = c.in_force(on(2010, 1, 1)).unwrap_err().to_string();
        assert!(
            e.contains("no zone set is in force on 2010-01-01")
                && e.contains("pilot (2017-02-27 to 2018-04-30, unknown)"),
            "{e}"
        );
        let c = ZoneCatalog::new(
            vec![set("a", Some((2017, 1, 1)), None), set("b", Some((2017, 1, 1)), None)],
            IndexOptions::default(),
        );
        assert!(matches!(c.in_force(on(2018, 1, 1)), Err(ZoneError::Ambiguous(..))));
        // A tie among older sets does not matter when a newer one is in force, whatever the order.
        for order in [["a", "c", "b"], ["a", "b", "c"], ["b", "a", "c"]] {
            let sets = order
                .iter()
                .map(|n| if *n == "b" { set("b", Some((2018, 1, 1)), None) } else { set(n, Some((2017, 1, 1)), None) })
                .collect();
            let c = ZoneCatalog::new(sets, IndexOptions::default());
            assert_eq!(c.in_force(on(2019, 1, 1)).unwrap().set().meta().name, "b", "{order:?}");
        }
    }
}
