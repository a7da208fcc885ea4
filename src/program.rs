//! Whether a LEAD program is in force on a date: a zone set (the areas) and a rule set (the criteria)
//! both in force. Programs start, change and end (Portland's pilot: February 2017 to June 2021), so on a
//! date when either is missing no answer may say "eligible". This module picks the sets to answer with
//! (those in force, else the nearest by date) and, when no program is in force, says why, naming the
//! nearest sets, their dates and the reason each ended or had not begun.

use std::sync::Arc;

use chrono::NaiveDate;

use crate::rules::{RuleCatalog, RuleError, RuleSet};
use crate::zones::{ZoneCatalog, ZoneError, ZoneIndex, date_or_open};

/// The program on one date: the zone and rule sets to answer with and, when no program is in force,
/// why not.
#[derive(Clone, Debug)]
pub struct ProgramOn<'a> {
    /// The date asked about.
    pub at: NaiveDate,
    /// The zone set in force on `at`, else the nearest.
    pub zones: &'a Arc<ZoneIndex>,
    /// The rule set in force on `at`, else the nearest; `None` only when no rule set is loaded.
    pub rules: Option<&'a Arc<RuleSet>>,
    /// `None` when a zone set and a rule set are both in force; otherwise the sentence an answer gives,
    /// e.g. "No LEAD program is in force on 2026-12-04: the nearest zone set, portland-lead-2018, was in
    /// force from 2018-05-16 to 2021-06-30 (...)".
    pub not_in_force: Option<String>,
}

impl ProgramOn<'_> {
    /// Whether a program is in force (both sets are).
    #[must_use]
    pub fn in_force(&self) -> bool {
        self.not_in_force.is_none()
    }
}

/// Why the sets for a date cannot be chosen at all.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ProgramError {
    /// Two zone sets are in force on the date and start the same day.
    #[error(transparent)]
    Zones(#[from] ZoneError),
    /// Two rule sets are in force on the date and start the same day.
    #[error(transparent)]
    Rules(#[from] RuleError),
    /// No zone set is loaded.
    #[error("no zone set is loaded")]
    NoZones,
}

/// The program on `at`.
///
/// # Examples
/// ```
/// use chrono::NaiveDate;
/// use leadmap::rules::RuleCatalog;
/// use leadmap::zones::{IndexOptions, ZoneCatalog};
/// let zones = ZoneCatalog::new(leadmap::builtin::zone_sets().unwrap(), IndexOptions::default());
/// let rules = RuleCatalog::new(leadmap::builtin::rule_sets().unwrap()).unwrap();
/// let day = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
/// assert!(leadmap::program::program_on(&zones, &rules, day(2019, 6, 1)).unwrap().in_force());
/// let later = leadmap::program::program_on(&zones, &rules, day(2026, 12, 4)).unwrap();
/// assert!(!later.in_force());
/// assert!(later.not_in_force.unwrap().starts_with("No LEAD program is in force on 2026-12-04"));
/// ```
pub fn program_on<'a>(
    zones: &'a ZoneCatalog,
    rules: &'a RuleCatalog,
    at: NaiveDate,
) -> Result<ProgramOn<'a>, ProgramError> {
    let zone_in_force = match zones.in_force(at) {
        Ok(index) => Some(index),
        Err(e @ ZoneError::Ambiguous(..)) => return Err(e.into()),
        Err(_) => None,
    };
    let zone_set = zone_in_force.or_else(|| zones.in_force_or_nearest(at)).ok_or(ProgramError::NoZones)?;
    let rules_in_force = match rules.in_force(at) {
        Ok(set) => Some(set),
        Err(e @ RuleError::Ambiguous(..)) => return Err(e.into()),
        Err(_) => None,
    };
    let rule_set = match rules_in_force {
        Some(set) => Some(set),
        None => rules.in_force_or_nearest(at)?,
    };
    let zone_gap = zone_in_force.is_none().then(|| {
        let m = zone_set.set().meta();
        Gap::of(
            &m.name,
            m.effective_from,
            m.effective_to,
            m.effective_from_reason.as_deref(),
            m.effective_to_reason.as_deref(),
            at,
        )
    });
    let rule_gap = match (rules_in_force, rule_set) {
        (Some(_), _) => None,
        (None, Some(r)) => {
            let s = r.spec();
            Some(Gap::of(
                &s.name,
                Some(s.effective_from),
                s.effective_to,
                s.effective_from_reason.as_deref(),
                s.effective_to_reason.as_deref(),
                at,
            ))
        }
        (None, None) => Some(Gap { name: String::new(), when: String::new(), reason: None }),
    };
    let text = match (zone_gap, rule_gap) {
        (None, None) => None,
        (Some(z), None) => Some(format!("no zone set is in force then; the nearest, {}", z.describe())),
        (None, Some(r)) if r.name.is_empty() => Some("no rule set is loaded".to_owned()),
        (None, Some(r)) => Some(format!("no rule set is in force then; the nearest, {}", r.describe())),
        // Both began (or ended) the same day: say it once.
        (Some(z), Some(r)) if z.when == r.when => Some(format!(
            "no zone set or rule set is in force then; the nearest, {} and {}: {}{}",
            z.name,
            r.name,
            z.when,
            z.reason_text()
        )),
        (Some(z), Some(r)) if r.name.is_empty() => {
            Some(format!("no zone set is in force then; the nearest, {}; and no rule set is loaded", z.describe()))
        }
        (Some(z), Some(r)) => Some(format!(
            "no zone set is in force then; the nearest, {}; no rule set is in force either; the nearest, {}",
            z.describe(),
            r.describe()
        )),
    };
    let not_in_force = text.map(|t| format!("No LEAD program is in force on {at}: {t}."));
    Ok(ProgramOn { at, zones: zone_set, rules: rule_set, not_in_force })
}

/// A set that is not in force on a date: its name, when it starts or was in force, and why.
struct Gap {
    name: String,
    /// "it starts on D" or "it was in force from A to B".
    when: String,
    reason: Option<String>,
}

impl Gap {
    fn of(
        name: &str,
        from: Option<NaiveDate>,
        to: Option<NaiveDate>,
        from_reason: Option<&str>,
        to_reason: Option<&str>,
        at: NaiveDate,
    ) -> Self {
        let (when, reason) = if from.is_some_and(|f| at < f) {
            (format!("it starts on {}", date_or_open(from)), from_reason)
        } else {
            (format!("it was in force from {} to {}", date_or_open(from), date_or_open(to)), to_reason)
        };
        Self { name: name.to_owned(), when, reason: reason.map(|r| r.trim().trim_end_matches('.').to_owned()) }
    }

    fn reason_text(&self) -> String {
        self.reason.as_ref().map(|r| format!(" ({r})")).unwrap_or_default()
    }

    /// "NAME: it was in force from A to B (why it ended)".
    fn describe(&self) -> String {
        format!("{}: {}{}", self.name, self.when, self.reason_text())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::zones::IndexOptions;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn builtin() -> (ZoneCatalog, RuleCatalog) {
        (
            ZoneCatalog::new(crate::builtin::zone_sets().unwrap(), IndexOptions::default()),
            RuleCatalog::new(crate::builtin::rule_sets().unwrap()).unwrap(),
        )
    }

    #[test]
    fn the_built_in_program_runs_from_launch_to_measure_110() {
        let (zones, rules) = builtin();
        let on = |y, m, d| program_on(&zones, &rules, day(y, m, d)).unwrap();
        // Each boundary of the documented history, the day before and the day itself.
        assert!(!on(2017, 2, 26).in_force(), "the day before the launch");
        assert!(on(2017, 2, 27).in_force(), "launch");
        assert_eq!(on(2018, 5, 15).zones.set().meta().name, "portland-lead-2017");
        assert_eq!(on(2018, 5, 16).zones.set().meta().name, "portland-lead-2018", "the County's announcement");
        assert!(on(2021, 1, 31).in_force(), "the day before Measure 110");
        assert!(!on(2021, 2, 1).in_force(), "Measure 110: no PCS arrest to divert");
        assert_eq!(on(2021, 2, 1).zones.set().meta().name, "portland-lead-2018", "the areas were still in use");
        assert!(!on(2021, 7, 1).in_force(), "PATH");

        let before = on(2017, 2, 26).not_in_force.unwrap();
        assert!(before.starts_with("No LEAD program is in force on 2017-02-26: no zone set or rule set is in force then; the nearest, portland-lead-2017 and portland-lead-2017: it starts on 2017-02-27 (The pilot launched"), "{before}");
        assert_eq!(before.matches("The pilot launched").count(), 1, "said once: {before}");
        let m110 = on(2021, 3, 1).not_in_force.unwrap();
        assert!(!m110.contains("no zone set"), "the 2018 areas are in force: {m110}");
        assert!(m110.contains("no rule set is in force then; the nearest, portland-lead-2017: it was in force from 2017-02-27 to 2021-01-31 (Measure 110"), "{m110}");
        let today = on(2026, 12, 4).not_in_force.unwrap();
        assert!(
            today.contains(
                "the nearest, portland-lead-2018: it was in force from 2018-05-16 to 2021-06-30 (The pilot became PATH"
            ),
            "{today}"
        );
        assert!(today.ends_with(")."), "{today}");
    }

    #[test]
    fn undated_zones_with_dated_rules_follow_the_rules() {
        let (_, rules) = builtin();
        let undated = crate::builtin::zone_sets().unwrap().remove(0);
        let meta = crate::zones::ZoneSetMeta { name: "city".into(), ..crate::zones::ZoneSetMeta::default() };
        let set = crate::zones::ZoneSet::new(meta, undated.zones().to_vec()).unwrap();
        let zones = ZoneCatalog::new(vec![set], IndexOptions::default());
        assert!(program_on(&zones, &rules, day(2019, 1, 1)).unwrap().in_force());
        let p = program_on(&zones, &rules, day(2026, 1, 1)).unwrap();
        assert_eq!(p.zones.set().meta().name, "city");
        assert!(!p.not_in_force.unwrap().contains("zone set"));
        let none = RuleCatalog::new(vec![]).unwrap();
        let p = program_on(&zones, &none, day(2019, 1, 1)).unwrap();
        assert!(p.rules.is_none());
        assert_eq!(p.not_in_force.unwrap(), "No LEAD program is in force on 2019-01-01: no rule set is loaded.");
        let empty = ZoneCatalog::new(vec![], IndexOptions::default());
        assert_eq!(program_on(&empty, &rules, day(2019, 1, 1)).unwrap_err(), ProgramError::NoZones);
    }
}
