//! The rule sets loaded at once for one jurisdiction (e.g. a pilot's rules and their successor), and
//! the choice of the one in force on a date. Mirrors [`crate::zones::ZoneCatalog`].

use std::sync::Arc;

use chrono::NaiveDate;

use super::{RuleError, RuleSet};
use crate::zones::days_away;

/// Rule sets of one jurisdiction, in the order given. Immutable; share behind an `Arc`.
#[derive(Debug, Clone)]
pub struct RuleCatalog {
    sets: Vec<Arc<RuleSet>>,
}

impl RuleCatalog {
    /// Collects the sets; they must all be for the same jurisdiction (screening Portland zones with
    /// Seattle rules would be meaningless).
    pub fn new(sets: Vec<RuleSet>) -> Result<Self, RuleError> {
        if let Some(first) = sets.first()
            && let Some(other) = sets.iter().find(|s| s.spec().jurisdiction != first.spec().jurisdiction)
        {
            return Err(RuleError::MixedJurisdictions {
                first: first.name().to_owned(),
                first_jurisdiction: first.spec().jurisdiction.clone(),
                second: other.name().to_owned(),
                second_jurisdiction: other.spec().jurisdiction.clone(),
            });
        }
        Ok(Self { sets: sets.into_iter().map(Arc::new).collect() })
    }

    /// All sets.
    #[must_use]
    pub fn sets(&self) -> &[Arc<RuleSet>] {
        &self.sets
    }

    /// The set in force on `date`: of the sets whose dates include it, the one that started last.
    ///
    /// # Examples
    /// ```
    /// use chrono::NaiveDate;
    /// use leadmap::rules::RuleCatalog;
    /// let catalog = RuleCatalog::new(leadmap::builtin::rule_sets().unwrap()).unwrap();
    /// let d = NaiveDate::from_ymd_opt(2017, 6, 1).unwrap();
    /// assert_eq!(catalog.in_force(d).unwrap().name(), "portland-lead-2017");
    /// assert!(catalog.in_force(NaiveDate::from_ymd_opt(2016, 1, 1).unwrap()).is_err());
    /// ```
    pub fn in_force(&self, date: NaiveDate) -> Result<&Arc<RuleSet>, RuleError> {
        let mut best: Option<&Arc<RuleSet>> = None;
        for set in self.sets.iter().filter(|s| s.in_force_on(date)) {
            match best {
                None => best = Some(set),
                Some(b) => {
                    let (bf, f) = (b.spec().effective_from, set.spec().effective_from);
                    if f == bf {
                        return Err(RuleError::Ambiguous(b.name().to_owned(), set.name().to_owned(), date));
                    }
                    if f > bf {
                        best = Some(set);
                    }
                }
            }
        }
        best.ok_or_else(|| RuleError::NoneInForce { date, loaded: self.describe() })
    }

    /// The set in force on `date`, else the one whose dates come closest (by days; of two equally close,
    /// the later). `None` only for an empty catalog; a tie of two sets in force is an error, as in
    /// [`Self::in_force`].
    pub fn in_force_or_nearest(&self, date: NaiveDate) -> Result<Option<&Arc<RuleSet>>, RuleError> {
        match self.in_force(date) {
            Ok(set) => Ok(Some(set)),
            Err(e @ RuleError::Ambiguous(..)) => Err(e),
            Err(_) => Ok(self
                .sets
                .iter()
                .map(|s| (days_away(Some(s.spec().effective_from), s.spec().effective_to, date), s))
                .min_by(|(da, a), (db, b)| {
                    da.cmp(db).then_with(|| b.spec().effective_from.cmp(&a.spec().effective_from))
                })
                .map(|(_, s)| s)),
        }
    }

    /// "name (from to to)" for every set, for messages.
    #[must_use]
    pub fn describe(&self) -> String {
        if self.sets.is_empty() {
            return "none".to_owned();
        }
        self.sets
            .iter()
            .map(|s| {
                let m = s.spec();
                let to = m.effective_to.map_or_else(|| "open".to_owned(), |d| d.to_string());
                format!("{} ({} to {to})", m.name, m.effective_from)
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::tests::portland_spec;

    fn set(name: &str, from: (i32, u32, u32), to: Option<(i32, u32, u32)>) -> RuleSet {
        let mut spec = portland_spec();
        spec.name = name.to_owned();
        spec.effective_from = on(from.0, from.1, from.2);
        spec.effective_to = to.map(|(y, m, d)| on(y, m, d));
        spec.effective_to_reason = None;
        RuleSet::new(spec, name).unwrap()
    }

    fn on(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn picks_the_latest_set_in_force() {
        let c = RuleCatalog::new(vec![
            set("pilot", (2017, 2, 27), Some((2021, 6, 30))),
            set("successor", (2021, 7, 1), None),
            set("amended", (2019, 1, 1), Some((2019, 12, 31))),
        ])
        .unwrap();
        assert_eq!(c.in_force(on(2017, 2, 27)).unwrap().name(), "pilot");
        assert_eq!(c.in_force(on(2019, 1, 1)).unwrap().name(), "amended", "the later start wins");
        assert_eq!(c.in_force(on(2020, 1, 1)).unwrap().name(), "pilot");
        assert_eq!(c.in_force(on(2021, 6, 30)).unwrap().name(), "pilot");
        assert_eq!(c.in_force(on(2021, 7, 1)).unwrap().name(), "successor");
    }

    #[test]
    fn says_when_nothing_or_two_sets_are_in_force() {
        let c = RuleCatalog::new(vec![set("pilot", (2017, 2, 27), Some((2021, 6, 30)))]).unwrap();
        let e = c.in_force(on(2016, 1, 1)).unwrap_err().to_string();
        assert!(
            e.contains("no rule set is in force on 2016-01-01") && e.contains("pilot (2017-02-27 to 2021-06-30)"),
            "{e}"
        );
        let c = RuleCatalog::new(vec![set("a", (2017, 1, 1), None), set("b", (2017, 1, 1), None)]).unwrap();
        assert!(matches!(c.in_force(on(2018, 1, 1)), Err(RuleError::Ambiguous(..))));
        let empty = RuleCatalog::new(vec![]).unwrap();
        assert!(empty.in_force(on(2018, 1, 1)).unwrap_err().to_string().contains("loaded: none"));
    }

    #[test]
    fn the_nearest_set_answers_outside_every_period() {
        let c = RuleCatalog::new(vec![
            set("pilot", (2017, 2, 27), Some((2021, 1, 31))),
            set("after-measure-110", (2021, 2, 1), Some((2021, 6, 30))),
        ])
        .unwrap();
        let name = |y, m, d| c.in_force_or_nearest(on(y, m, d)).unwrap().unwrap().name().to_owned();
        assert_eq!(name(2010, 1, 1), "pilot");
        assert_eq!(name(2021, 1, 31), "pilot");
        assert_eq!(name(2021, 2, 1), "after-measure-110");
        assert_eq!(name(2026, 12, 4), "after-measure-110");
        assert_eq!(RuleCatalog::new(vec![]).unwrap().in_force_or_nearest(on(2020, 1, 1)), Ok(None));
        let tie = RuleCatalog::new(vec![set("a", (2017, 1, 1), None), set("b", (2017, 1, 1), None)]).unwrap();
        assert!(matches!(tie.in_force_or_nearest(on(2018, 1, 1)), Err(RuleError::Ambiguous(..))));
    }

    #[test]
    fn refuses_two_jurisdictions() {
        let seattle = crate::builtin::seattle_example_rules().unwrap();
        let e = RuleCatalog::new(vec![set("pilot", (2017, 2, 27), None), seattle]).unwrap_err();
        assert!(matches!(e, RuleError::MixedJurisdictions { .. }), "{e}");
        assert!(e.to_string().contains("seattle-lead-example"), "{e}");
    }
}
