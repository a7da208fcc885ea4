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
    /// Indexes every set.
    #[must_use]
    pub fn new(sets: Vec<ZoneSet>, options: IndexOptions) -> Self {
        Self { indexes: sets.into_iter().map(|s| Arc::new(ZoneIndex::new(s, options))).collect() }
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
        let mut best: Option<&Arc<ZoneIndex>> = None;
        for idx in self.indexes.iter().filter(|i| i.set().meta().in_force_on(date)) {
            match best {
                None => best = Some(idx),
                Some(b) => {
                    let (bf, f) = (b.set().meta().effective_from, idx.set().meta().effective_from);
                    if f == bf {
                        return Err(ZoneError::Ambiguous(
                            b.set().meta().name.clone(),
                            idx.set().meta().name.clone(),
                            date,
                        ));
                    }
                    if f > bf {
                        best = Some(idx);
                    }
                }
            }
        }
        best.ok_or_else(|| ZoneError::NoneInForce { date, loaded: self.describe() })
    }

    /// "name (from .. to)" for every set, for messages.
    #[must_use]
    pub fn describe(&self) -> String {
        let show = |d: Option<NaiveDate>| d.map_or_else(|| "open".to_owned(), |d| d.to_string());
        self.indexes
            .iter()
            .map(|i| {
                let m = i.set().meta();
                format!("{} ({} to {})", m.name, show(m.effective_from), show(m.effective_to))
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
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
    fn says_when_nothing_or_two_sets_are_in_force() {
        let c = ZoneCatalog::new(vec![set("pilot", Some((2017, 2, 27)), Some((2018, 4, 30)))], IndexOptions::default());
        let e = c.in_force(on(2010, 1, 1)).unwrap_err().to_string();
        assert!(
            e.contains("no zone set is in force on 2010-01-01") && e.contains("pilot (2017-02-27 to 2018-04-30)"),
            "{e}"
        );
        let c = ZoneCatalog::new(
            vec![set("a", Some((2017, 1, 1)), None), set("b", Some((2017, 1, 1)), None)],
            IndexOptions::default(),
        );
        assert!(matches!(c.in_force(on(2018, 1, 1)), Err(ZoneError::Ambiguous(..))));
    }
}
