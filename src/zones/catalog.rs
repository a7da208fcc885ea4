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
