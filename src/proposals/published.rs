//! A planner's impact of a proposal made of whole H3 cells: every figure is a sum of the per-cell values
//! the planner's own cell tables publish for the same window (`GET /v1/cells`, perturbed by cell key),
//! never a fresh count of the proposal's events. A proposal then tells a planner nothing the map does
//! not: the difference between two proposals one cell apart is that cell's published value, the same
//! every time, so there is nothing to average.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Datelike, NaiveDate};
use h3o::CellIndex;
use serde::Serialize;

use super::SetNote;
use crate::cells::CellRes;
use crate::cells::columns::{EventColumns, EventFilter};
use crate::figures::cells::{CellQuery, cell_figures};
use crate::figures::{Disclosure, FigureError, Perturbation};
use crate::zones::ZoneIndex;

/// Published counts of each kind, and their sum as published per cell.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PublishedCounts {
    /// Arrests.
    pub arrest: u64,
    /// Diversion referrals.
    pub diversion_referral: u64,
    /// Social contact referrals.
    pub social_contact_referral: u64,
    /// Police offense reports.
    pub offense_report: u64,
    /// Contacts (the cells' published totals added).
    pub contacts: u64,
}

impl PublishedCounts {
    fn add(&mut self, o: &Self) {
        self.arrest += o.arrest;
        self.diversion_referral += o.diversion_referral;
        self.social_contact_referral += o.social_contact_referral;
        self.offense_report += o.offense_report;
        self.contacts += o.contacts;
    }
}

/// A cell and its published contacts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PublishedCell {
    /// The H3 cell.
    pub cell: String,
    /// Its published contacts over the window.
    pub contacts: u64,
}

/// One month's sums of published monthly cell values.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PublishedMonth {
    /// `YYYY-MM`.
    pub month: String,
    /// Over the current set's cells.
    pub inside_current: u64,
    /// Over the proposal's cells.
    pub inside_proposal: u64,
    /// Over the cells gained.
    pub newly_inside: u64,
    /// Over the cells lost.
    pub newly_outside: u64,
}

/// A planner's impact: sums of published per-cell values.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PublishedImpact {
    /// The proposal.
    pub proposal: SetNote,
    /// The set it is compared with.
    pub current: SetNote,
    /// First day of the window (a whole period; null: all history).
    pub from: Option<NaiveDate>,
    /// Last day.
    pub to: Option<NaiveDate>,
    /// The cells' resolution.
    pub res: u8,
    /// Over the current set's cells (those whose centre it holds).
    pub inside_current: PublishedCounts,
    /// Over the proposal's cells.
    pub inside_proposal: PublishedCounts,
    /// Over the cells the proposal gains.
    pub newly_inside: PublishedCounts,
    /// Over the cells it loses.
    pub newly_outside: PublishedCounts,
    /// newly inside − newly outside, contacts.
    pub net: i64,
    /// The cells gained, with their published contacts.
    pub gained: Vec<PublishedCell>,
    /// The cells lost.
    pub lost: Vec<PublishedCell>,
    /// The proposal's area outside the current set, km².
    pub area_gained_km2: f64,
    /// The current set's area outside the proposal, km².
    pub area_lost_km2: f64,
    /// Per month of the window, from each month's published cell values.
    pub months: Vec<PublishedMonth>,
    /// How the counts are perturbed.
    pub perturbed: Option<Perturbation>,
    /// How the figures are made.
    pub note: String,
}

/// The published counts per cell of the events `filter` selects at `res`.
fn published_cells(
    cols: &EventColumns,
    filter: &EventFilter,
    res: CellRes,
    disclosure: Disclosure,
) -> Result<BTreeMap<CellIndex, PublishedCounts>, FigureError> {
    let q = CellQuery { filter: filter.clone(), res, zeros: false };
    let f = cell_figures(cols, &[], &q, disclosure)?;
    Ok(f.rows
        .iter()
        .map(|r| {
            let v = |c: crate::figures::Count| c.0.unwrap_or(0);
            let counts = PublishedCounts {
                arrest: v(r.arrest),
                diversion_referral: v(r.diversion_referral),
                social_contact_referral: v(r.social_contact_referral),
                offense_report: v(r.offense_report),
                contacts: v(r.count),
            };
            (r.cell, counts)
        })
        .collect())
}

fn sum(values: &BTreeMap<CellIndex, PublishedCounts>, cells: &BTreeSet<CellIndex>) -> PublishedCounts {
    let mut s = PublishedCounts::default();
    for c in cells {
        if let Some(v) = values.get(c) {
            s.add(v);
        }
    }
    s
}

/// The impact a planner sees of `cells` (the proposal, one resolution) against `current`, over the
/// window of `filter` (a whole period), every figure a sum of values published by `disclosure`.
///
/// # Errors
/// When a cell table would be too large to publish.
pub fn published_impact(
    cols: &EventColumns,
    current: &ZoneIndex,
    proposal: &ZoneIndex,
    cells: &[CellIndex],
    filter: &EventFilter,
    disclosure: Disclosure,
) -> Result<PublishedImpact, FigureError> {
    let Some(first) = cells.first() else {
        return Err(FigureError::TooManyCells { cells: 0, res: 0, limit: 0, hint: "no cells".to_owned() });
    };
    let res: CellRes = u8::from(first.resolution()).to_string().parse().unwrap_or(CellRes::DEFAULT);
    let current_union = super::union(current);
    let theirs: BTreeSet<CellIndex> = crate::cells::area::centre_cells(&current_union, res).into_iter().collect();
    let ours: BTreeSet<CellIndex> = cells.iter().copied().collect();
    let gained: BTreeSet<CellIndex> = ours.difference(&theirs).copied().collect();
    let lost: BTreeSet<CellIndex> = theirs.difference(&ours).copied().collect();
    let filter = EventFilter { zone: None, ..filter.clone() };
    let values = published_cells(cols, &filter, res, disclosure)?;
    let listed = |set: &BTreeSet<CellIndex>| -> Vec<PublishedCell> {
        let mut v: Vec<PublishedCell> = set
            .iter()
            .map(|c| PublishedCell { cell: c.to_string(), contacts: values.get(c).map_or(0, |v| v.contacts) })
            .collect();
        v.sort_by(|a, b| b.contacts.cmp(&a.contacts).then(a.cell.cmp(&b.cell)));
        v
    };
    let (newly_inside, newly_outside) = (sum(&values, &gained), sum(&values, &lost));
    let (area_gained_km2, area_lost_km2) = super::area_changes(current, proposal);
    Ok(PublishedImpact {
        proposal: SetNote::of(proposal),
        current: SetNote::of(current),
        from: filter.from,
        to: filter.to,
        res: u8::from(res.resolution()),
        inside_current: sum(&values, &theirs),
        inside_proposal: sum(&values, &ours),
        newly_inside,
        newly_outside,
        net: newly_inside.contacts.cast_signed() - newly_outside.contacts.cast_signed(),
        gained: listed(&gained),
        lost: listed(&lost),
        area_gained_km2,
        area_lost_km2,
        months: months(cols, &filter, res, disclosure, [&theirs, &ours, &gained, &lost])?,
        perturbed: disclosure.perturbation(),
        note: format!(
            "Each figure is the sum of the per-cell values GET /v1/cells publishes for the same window at resolution {} (and, per month, for that month): the current set's cells are those whose centre it holds. Sums of perturbed values are not perturbed again and need not equal the table totals.",
            u8::from(res.resolution())
        ),
    })
}

/// Per month of the window (or of the stored events), sums over each cell set of that month's
/// published cell values.
fn months(
    cols: &EventColumns,
    filter: &EventFilter,
    res: CellRes,
    disclosure: Disclosure,
    sets: [&BTreeSet<CellIndex>; 4],
) -> Result<Vec<PublishedMonth>, FigureError> {
    let (lo, hi) = if let (Some(a), Some(b)) = (filter.from, filter.to) {
        (a, b)
    } else {
        let d = crate::cells::columns::day_date;
        match cols.day_range(&EventFilter::default()).map(|(a, b)| (d(a), d(b))) {
            Some((Some(a), Some(b))) => (a, b),
            _ => return Ok(Vec::new()),
        }
    };
    let mut out = Vec::new();
    let mut month = NaiveDate::from_ymd_opt(lo.year(), lo.month(), 1);
    while let Some(m) = month.filter(|m| *m <= hi) {
        let next = m.checked_add_months(chrono::Months::new(1));
        let last = next.and_then(|n| n.pred_opt()).unwrap_or(m);
        let f = EventFilter { from: Some(m), to: Some(last), ..filter.clone() };
        let values = published_cells(cols, &f, res, disclosure)?;
        let [a, b, c, d] = sets.map(|s| sum(&values, s).contacts);
        out.push(PublishedMonth {
            month: m.format("%Y-%m").to_string(),
            inside_current: a,
            inside_proposal: b,
            newly_inside: c,
            newly_outside: d,
        });
        month = next;
    }
    Ok(out)
}
