//! Bulk classification, the use case behind `leadmap classify`: which zone set answers each point (one
//! set, or the set in force on the point's own date), what each point is told (its zone, or with a GPS
//! accuracy also whether it is borderline), and the counts of a run. Reading and writing the point files
//! is [`crate::formats::points`]'s; this module sees points, dates and accuracies only.

use std::collections::BTreeMap;

use chrono::NaiveDate;

use crate::coord::LonLat;
use crate::eligibility::AccuracyM;
use crate::zones::{ZoneCatalog, ZoneError, ZoneIndex};

/// Which zone set classifies each point.
#[derive(Clone, Copy, Debug)]
pub enum SetChoice<'a> {
    /// Every point against this set.
    Fixed(&'a ZoneIndex),
    /// Each point against the set in force on its own date.
    ByDate(&'a ZoneCatalog),
}

/// How much of the answer a point is given.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Detail {
    /// Its zone only (the fast path: no distances are measured).
    Zone,
    /// Its zone and whether it is borderline, within its own GPS accuracy (`None`: the index's
    /// borderline distance).
    Borderline(Option<AccuracyM>),
}

/// One point's answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Classified<'a> {
    /// The zone's id, or `None` outside every zone.
    pub zone: Option<&'a str>,
    /// The name of the zone set that answered.
    pub set: &'a str,
    /// With [`Detail::Borderline`]: (near a zone edge, near a zone's edge with the outside).
    pub borderline: Option<(bool, bool)>,
}

/// Counts at the end of a run.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct ClassifySummary {
    /// Data rows read.
    pub read: u64,
    /// Rows written with a zone column.
    pub classified: u64,
    /// Rows rejected (not written).
    pub rejected: u64,
    /// Classified rows outside every zone.
    pub outside: u64,
    /// Classified rows per zone id (across zone sets when rows are classified by date).
    pub per_zone: BTreeMap<String, u64>,
    /// Answers written under another name because the input already had a column (or property) of the
    /// usual one: `(usual, written)`, e.g. `("zone", "leadmap_zone")`. The input's own is kept unchanged.
    pub renamed: Vec<(String, String)>,
}

impl ClassifySummary {
    /// Counts one classified row in `zone` (or outside).
    fn count(&mut self, zone: Option<&str>) {
        self.classified += 1;
        match zone {
            None => self.outside += 1,
            Some(id) => match self.per_zone.get_mut(id) {
                Some(n) => *n += 1,
                None => {
                    self.per_zone.insert(id.to_owned(), 1);
                }
            },
        }
    }
}

/// Classifies a run of points and counts them.
///
/// # Examples
/// ```
/// use leadmap::classify::{Classifier, Detail, SetChoice};
/// use leadmap::coord::LonLat;
/// use leadmap::zones::{IndexOptions, ZoneCatalog};
/// let catalog = ZoneCatalog::new(leadmap::builtin::zone_sets().unwrap(), IndexOptions::default());
/// let mut run = Classifier::new(SetChoice::ByDate(&catalog));
/// let pioneer_square = LonLat::new(-122.6793, 45.5189).unwrap();
/// let day = "2019-06-01".parse().unwrap();
/// let answer = run.classify(pioneer_square, Some(day), Detail::Zone).unwrap();
/// assert_eq!(answer.zone, Some("downtown"));
/// assert!(run.classify(pioneer_square, None, Detail::Zone).is_err(), "by date, a point needs its date");
/// assert_eq!(run.summary().classified, 1);
/// ```
#[derive(Debug)]
pub struct Classifier<'a> {
    sets: SetChoice<'a>,
    /// The set for the last date seen: rows usually come in date runs.
    last: Option<(NaiveDate, &'a ZoneIndex)>,
    summary: ClassifySummary,
}

/// Why a point could not be classified.
#[derive(Debug, thiserror::Error)]
pub enum ClassifyError {
    /// Classifying by date, and the point has none.
    #[error("no date: each point is classified against the zone set in force on its own date")]
    NoDate,
    /// No single zone set is in force on the point's date.
    #[error(transparent)]
    Zones(#[from] ZoneError),
}

impl<'a> Classifier<'a> {
    /// A run classifying against `sets`.
    #[must_use]
    pub fn new(sets: SetChoice<'a>) -> Self {
        Self { sets, last: None, summary: ClassifySummary::default() }
    }

    /// Whether each point is classified against the set in force on its own date.
    #[must_use]
    pub fn by_date(&self) -> bool {
        matches!(self.sets, SetChoice::ByDate(_))
    }

    /// The answer for `point` (on `date`, when classifying by date; else the date is not read), counted.
    ///
    /// # Errors
    /// Classifying by date and `date` is `None`, or no single set is in force on it. Nothing is counted
    /// (see [`Self::reject`]).
    pub fn classify(
        &mut self,
        point: LonLat,
        date: Option<NaiveDate>,
        detail: Detail,
    ) -> Result<Classified<'a>, ClassifyError> {
        let index = self.index(date)?;
        let (zone, borderline) = match detail {
            Detail::Zone => (index.classify(point.lon(), point.lat()), None),
            Detail::Borderline(accuracy) => {
                let l = accuracy.map_or_else(|| index.locate(point), |a| index.locate_within(point, a.metres()));
                (l.zone, Some((l.borderline, l.coverage_borderline)))
            }
        };
        let zone = zone.map(|z| index.set().zones()[z].id.as_str());
        self.summary.read += 1;
        self.summary.count(zone);
        Ok(Classified { zone, set: &index.set().meta().name, borderline })
    }

    /// Counts a row that was read and not classified.
    pub fn reject(&mut self) {
        self.summary.read += 1;
        self.summary.rejected += 1;
    }

    /// Notes an answer written under another name than the usual one (once each).
    pub fn renamed(&mut self, usual: &str, written: &str) {
        let pair = (usual.to_owned(), written.to_owned());
        if !self.summary.renamed.contains(&pair) {
            self.summary.renamed.push(pair);
        }
    }

    /// The counts so far.
    #[must_use]
    pub fn summary(&self) -> &ClassifySummary {
        &self.summary
    }

    /// The counts of the whole run.
    #[must_use]
    pub fn finish(self) -> ClassifySummary {
        self.summary
    }

    fn index(&mut self, date: Option<NaiveDate>) -> Result<&'a ZoneIndex, ClassifyError> {
        match self.sets {
            SetChoice::Fixed(index) => Ok(index),
            SetChoice::ByDate(catalog) => {
                let date = date.ok_or(ClassifyError::NoDate)?;
                match self.last {
                    Some((d, index)) if d == date => Ok(index),
                    _ => {
                        let index = catalog.in_force(date)?;
                        self.last = Some((date, index));
                        Ok(index)
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog() -> ZoneCatalog {
        ZoneCatalog::new(crate::builtin::zone_sets().unwrap(), crate::zones::IndexOptions::default())
    }

    #[test]
    fn each_point_is_classified_against_the_set_in_force_on_its_date() {
        let catalog = catalog();
        let mut run = Classifier::new(SetChoice::ByDate(&catalog));
        assert!(run.by_date());
        // In the Central Eastside: outside the first pilot's areas, inside after the May 2018 expansion.
        let east = LonLat::new(-122.6600, 45.5150).unwrap();
        let before = run.classify(east, Some("2018-01-10".parse().unwrap()), Detail::Zone).unwrap();
        let after = run.classify(east, Some("2019-01-10".parse().unwrap()), Detail::Zone).unwrap();
        assert_ne!(before.set, after.set, "{before:?} {after:?}");
        assert_eq!(before.zone, None);
        assert_eq!(after.zone, Some("central-eastside"));
        let out = run.classify(east, Some("1990-01-01".parse().unwrap()), Detail::Zone);
        assert!(matches!(out, Err(ClassifyError::Zones(ZoneError::NoneInForce { .. }))), "{out:?}");
        run.reject();
        let summary = run.finish();
        assert_eq!((summary.read, summary.classified, summary.rejected, summary.outside), (3, 2, 1, 1));
        assert_eq!(summary.per_zone, BTreeMap::from([("central-eastside".to_owned(), 1)]));
    }

    #[test]
    fn the_borderline_detail_agrees_with_the_index_and_the_zone_alone_with_the_fast_path() {
        let catalog = catalog();
        let index = catalog.in_force("2019-06-01".parse().unwrap()).unwrap();
        let mut run = Classifier::new(SetChoice::Fixed(index));
        assert!(!run.by_date());
        for i in 0..400 {
            let p = LonLat::new(-122.70 + f64::from(i % 20) * 2e-3, 45.50 + f64::from(i / 20) * 2e-3).unwrap();
            let fast = run.classify(p, None, Detail::Zone).unwrap();
            let near = run.classify(p, None, Detail::Borderline(None)).unwrap();
            let tight = AccuracyM::new(5.0).unwrap();
            let within = run.classify(p, None, Detail::Borderline(Some(tight))).unwrap();
            let l = index.locate(p);
            let w = index.locate_within(p, 5.0);
            assert_eq!(fast.zone, near.zone);
            assert_eq!(near.zone, within.zone);
            assert_eq!(near.borderline, Some((l.borderline, l.coverage_borderline)));
            assert_eq!(within.borderline, Some((w.borderline, w.coverage_borderline)));
            assert_eq!(fast.borderline, None);
        }
        assert_eq!(run.summary().read, 1200);
        run.renamed("zone", "leadmap_zone");
        run.renamed("zone", "leadmap_zone");
        assert_eq!(run.summary().renamed.len(), 1);
    }
}
