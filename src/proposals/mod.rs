//! What a proposed zone set would have changed over the stored history, against the current set: the
//! events newly inside and newly outside (by kind, month, zone and race/ethnicity group, with each
//! group's rates and relative rate index before and after), the H3 cells and the area gained and lost,
//! the expansion candidates it would cover or still miss, the load it would put on the program's
//! capacity, and the monthly counts inside either area. A pure function of (current set, proposal,
//! events): no I/O. Events are classified against both sets in batches through each set's grid, in one
//! pass over the in-memory columns.

pub mod published;

use std::collections::{BTreeMap, HashSet};

use chrono::{Datelike, NaiveDate};
use geo::{BooleanOps, MultiPolygon};
use h3o::CellIndex;
use serde::Serialize;

use crate::cells::CellRes;
use crate::cells::columns::{AreaRows, EventColumns, EventFilter, month_label, month_number};
use crate::events::EventKind;
use crate::figures::Disclosure;
use crate::figures::cells::{CellQuery, hotspot_figures};
use crate::zones::{ZoneIndex, area_m2};

/// The default caseload: people per case manager (the LEAD Support Bureau's standard).
pub const DEFAULT_CASELOAD: u32 = 20;

/// What an impact is computed over.
#[derive(Clone, Debug)]
pub struct ImpactQuery {
    /// The window (dates) and any other filter; its zone filter is ignored.
    pub filter: EventFilter,
    /// The resolution of the cells gained and lost (and of the hotspot candidates).
    pub res: CellRes,
    /// The program's capacity in people (the rule set's `capacity`), if known.
    pub capacity: Option<u32>,
    /// People per case manager.
    pub caseload: u32,
    /// The group every rate is compared with.
    pub reference: String,
    /// Start dates of the zone sets (name, `effective_from`), marked on the monthly series.
    pub launches: Vec<(String, NaiveDate)>,
}

impl ImpactQuery {
    /// A query over `filter` for the program `zones` and `rules` describe: the capacity of the rule set
    /// in force on `day` (else the nearest), and every zone set's start marked as a launch.
    #[must_use]
    pub fn for_program(
        filter: EventFilter,
        res: CellRes,
        caseload: u32,
        reference: String,
        zones: &crate::zones::ZoneCatalog,
        rules: &crate::rules::RuleCatalog,
        day: NaiveDate,
    ) -> Self {
        Self {
            filter,
            res,
            capacity: rules.in_force_or_nearest(day).ok().flatten().and_then(|r| r.spec().capacity),
            caseload,
            reference,
            launches: zones
                .indexes()
                .iter()
                .filter_map(|i| Some((i.set().meta().name.clone(), i.set().meta().effective_from?)))
                .collect(),
        }
    }
}

/// Counts of each kind and their sum.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Counts {
    /// Arrests.
    pub arrest: u64,
    /// Diversion referrals.
    pub diversion_referral: u64,
    /// Social contact referrals.
    pub social_contact_referral: u64,
    /// Police offense reports.
    pub offense_report: u64,
    /// All contacts.
    pub contacts: u64,
}

impl Counts {
    fn add(&mut self, n: &[u64; EventKind::COUNT]) {
        self.arrest += n[0];
        self.diversion_referral += n[1];
        self.social_contact_referral += n[2];
        self.offense_report += n[3];
        self.contacts += n.iter().sum::<u64>();
    }

    /// referrals / (referrals + arrests): offense reports are no decision, so in no rate.
    #[must_use]
    pub fn referral_rate(&self) -> Option<f64> {
        let referrals = self.diversion_referral + self.social_contact_referral;
        ratio(referrals, referrals + self.arrest)
    }

    /// diversion referrals / (diversion referrals + arrests).
    #[must_use]
    pub fn diversion_rate(&self) -> Option<f64> {
        ratio(self.diversion_referral, self.diversion_referral + self.arrest)
    }
}

fn ratio(a: u64, b: u64) -> Option<f64> {
    (b > 0).then(|| round4(a as f64 / b as f64))
}

pub(crate) fn round4(x: f64) -> f64 {
    (x * 1e4).round() / 1e4
}

/// A zone set as an impact names it.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct SetNote {
    /// Its name.
    pub name: String,
    /// Its version (content hash).
    pub version: String,
    /// Its zone ids.
    pub zones: Vec<String>,
    /// Its area, km².
    pub area_km2: f64,
}

impl SetNote {
    pub(crate) fn of(index: &ZoneIndex) -> Self {
        let set = index.set();
        Self {
            name: set.meta().name.clone(),
            version: set.version().to_string(),
            zones: set.zones().iter().map(|z| z.id.as_str().to_owned()).collect(),
            area_km2: round4(set.zones().iter().map(|z| area_m2(&z.geometry)).sum::<f64>() / 1e6),
        }
    }
}

/// One month.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct MonthImpact {
    /// `YYYY-MM`.
    pub month: String,
    /// Contacts inside the current set's area.
    pub inside_current: u64,
    /// Contacts inside the proposal's area.
    pub inside_proposal: u64,
    /// Contacts inside the proposal and not the current set.
    pub newly_inside: u64,
    /// Contacts inside the current set and not the proposal.
    pub newly_outside: u64,
    /// Zone sets that took effect this month.
    pub launches: Vec<String>,
}

/// One zone of the proposal.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ZoneImpact {
    /// The proposal's zone id.
    pub zone: String,
    /// Contacts inside it.
    pub contacts: Counts,
    /// Of those, contacts outside every current zone.
    pub newly_inside: Counts,
}

/// One current zone: what the proposal takes out of it.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct CurrentZoneImpact {
    /// The current set's zone id.
    pub zone: String,
    /// Contacts inside it.
    pub contacts: Counts,
    /// Of those, contacts outside every zone of the proposal.
    pub newly_outside: Counts,
}

/// One race/ethnicity group.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct GroupImpact {
    /// The group (`unrecorded` when the source gave none).
    pub group: String,
    /// Contacts newly inside.
    pub newly_inside: Counts,
    /// Contacts newly outside.
    pub newly_outside: Counts,
    /// Contacts inside the current set's area.
    pub inside_current: Counts,
    /// Contacts inside the proposal's area.
    pub inside_proposal: Counts,
    /// Referrals / contacts inside, current and proposed.
    pub referral_rate: [Option<f64>; 2],
    /// Diversion referrals / (diversion referrals + arrests) inside, current and proposed.
    pub diversion_rate: [Option<f64>; 2],
    /// `referral_rate` / the reference group's, current and proposed.
    pub rri_referral: [Option<f64>; 2],
    /// `diversion_rate` / the reference group's, current and proposed.
    pub rri_diversion: [Option<f64>; 2],
}

/// A cell gained or lost.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct CellChange {
    /// The H3 cell.
    #[schema(value_type = String)]
    pub cell: String,
    /// Contacts in it over the window.
    pub contacts: u64,
}

/// The cells and area gained and lost.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct CellsImpact {
    /// The H3 resolution.
    pub res: u8,
    /// Cells whose centre is inside the proposal and not inside the current set.
    pub gained: Vec<CellChange>,
    /// Cells whose centre is inside the current set and not inside the proposal.
    pub lost: Vec<CellChange>,
    /// The proposal's area outside the current set, km².
    pub area_gained_km2: f64,
    /// The current set's area outside the proposal, km².
    pub area_lost_km2: f64,
}

/// An expansion candidate (a cluster of cells hot at 95 % after FDR control, outside the current set).
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct HotspotImpact {
    /// Its rank among the candidates (1: most contacts).
    pub rank: usize,
    /// Its cells.
    pub cells: usize,
    /// Contacts in them.
    pub contacts: u64,
    /// The share of its cells whose centre the proposal covers.
    pub share_covered: f64,
}

/// The hotspot clusters outside the current set that the proposal would cover (at least half of
/// their cells) and those it would still miss.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct HotspotsImpact {
    /// Covered.
    pub covered: Vec<HotspotImpact>,
    /// Still missed.
    pub missed: Vec<HotspotImpact>,
}

/// The load on the program.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct CapacityImpact {
    /// The months the expectation is taken over (the window's last 12, or fewer).
    pub from: Option<NaiveDate>,
    /// Last day.
    pub to: Option<NaiveDate>,
    /// Contacts a month inside the current set's area over those months.
    pub per_month_current: f64,
    /// Contacts a month inside the proposal's area over those months.
    pub per_month_proposal: f64,
    /// The program's capacity, people (the rule set's `capacity`), or null when unknown.
    pub capacity: Option<u32>,
    /// People per case manager.
    pub caseload: u32,
    /// Case managers a full program needs (capacity / caseload, rounded up).
    pub case_managers_at_capacity: Option<u32>,
    /// Months until the proposal's contacts would fill the capacity (if each became a participant and
    /// none left), or null.
    pub months_to_fill_proposal: Option<f64>,
    /// The same under the current set.
    pub months_to_fill_current: Option<f64>,
}

/// What a proposal would have changed.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Impact {
    /// The proposal.
    pub proposal: SetNote,
    /// The set it is compared with.
    pub current: SetNote,
    /// First day of the window (null: the first event).
    pub from: Option<NaiveDate>,
    /// Last day (null: the last event).
    pub to: Option<NaiveDate>,
    /// Contacts inside the current set's area.
    pub inside_current: Counts,
    /// Contacts inside the proposal's area.
    pub inside_proposal: Counts,
    /// Contacts inside the proposal and outside the current set.
    pub newly_inside: Counts,
    /// Contacts inside the current set and outside the proposal.
    pub newly_outside: Counts,
    /// Contacts of the window.
    pub citywide: Counts,
    /// newly inside − newly outside, contacts.
    pub net: i64,
    /// Share of the window's contacts inside, current and proposed.
    pub share_inside: [Option<f64>; 2],
    /// Per month.
    pub months: Vec<MonthImpact>,
    /// Per zone of the proposal.
    pub zones: Vec<ZoneImpact>,
    /// Per zone of the current set.
    pub current_zones: Vec<CurrentZoneImpact>,
    /// The group rates are compared with.
    pub reference_group: String,
    /// Per race/ethnicity group.
    pub groups: Vec<GroupImpact>,
    /// Cells and area gained and lost.
    pub cells: CellsImpact,
    /// Hotspot clusters covered and missed.
    pub hotspots: HotspotsImpact,
    /// The load on the program.
    pub capacity: CapacityImpact,
    /// Why the rates are null, when no referral data are loaded.
    pub rates_note: Option<&'static str>,
}

/// Per (current zone, proposal zone, month, group): counts by kind.
type Tally = BTreeMap<(u32, u32, i32, u32), [u64; EventKind::COUNT]>;

/// Each event's (current zone, proposal zone) in one area number: `current * (proposal zones + 1) +
/// proposal`, zone numbers from 1 and 0 outside; one batch pass through each set's grid.
fn classify_both(cols: &EventColumns, current: &ZoneIndex, proposal: &ZoneIndex) -> EventColumns {
    let np = u32::try_from(proposal.set().zones().len()).unwrap_or(u32::MAX - 1) + 1;
    let nc = u32::try_from(current.set().zones().len()).unwrap_or(u32::MAX - 1) + 1;
    let names: Vec<String> = (1..nc * np).map(|code| format!("{}>{}", code / np, code % np)).collect();
    cols.with_areas(&names, |rows: AreaRows<'_>| {
        let points: Vec<[f64; 2]> = rows.lon.iter().zip(rows.lat).map(|(&x, &y)| [x, y]).collect();
        let (mut a, mut b) = (Vec::new(), Vec::new());
        current.classify_batch(&points, &mut a);
        proposal.classify_batch(&points, &mut b);
        let no = |z: Option<crate::zones::ZoneNo>| z.map_or(0, |z| u32::try_from(z.index() + 1).unwrap_or(0));
        a.iter().zip(&b).map(|(&c, &p)| no(c) * np + no(p)).collect()
    })
}

/// The proposal's area outside the current set and the current set's outside the proposal, km².
pub(crate) fn area_changes(current: &ZoneIndex, proposal: &ZoneIndex) -> (f64, f64) {
    let (ua, ub) = (union(current), union(proposal));
    (round4(area_m2(&ub.difference(&ua)) / 1e6), round4(area_m2(&ua.difference(&ub)) / 1e6))
}

/// The union of a set's zones (they do not overlap).
pub(crate) fn union(index: &ZoneIndex) -> MultiPolygon<f64> {
    MultiPolygon(index.set().zones().iter().flat_map(|z| z.geometry.0.iter().cloned()).collect())
}

/// What `proposal` would have changed against `current` over the events `q` selects. Exact counts
/// (analysts).
#[must_use]
pub fn impact(cols: &EventColumns, current: &ZoneIndex, proposal: &ZoneIndex, q: &ImpactQuery) -> Impact {
    impact_with(cols, &Baseline::new(cols, current, q), proposal, q)
}

/// What does not depend on the proposal: the current set's cells, the window's counts per cell, its
/// hotspot clusters outside the current set, its months and whether any referral is loaded. Computed
/// once for several proposals.
#[derive(Debug)]
pub struct Baseline<'a> {
    current: &'a ZoneIndex,
    cells: HashSet<CellIndex>,
    counts: BTreeMap<CellIndex, u64>,
    candidates: Vec<crate::figures::cells::CandidateFigure>,
    months: Option<MonthIndex>,
    referrals: bool,
}

/// Each day of the window as a month number from the window's first month, by table (no calendar
/// arithmetic per event).
#[derive(Debug)]
struct MonthIndex {
    first_day: i32,
    first_month: i32,
    of_day: Vec<u16>,
    count: usize,
}

impl MonthIndex {
    /// The days of the window `filter` gives, or of the events it selects where it is open.
    fn new(cols: &EventColumns, filter: &EventFilter) -> Option<Self> {
        let (lo, hi) = if let (Some(a), Some(b)) = (filter.from, filter.to) {
            (crate::cells::columns::day_number(a), crate::cells::columns::day_number(b))
        } else {
            let (a, b) = cols.day_range(filter).unwrap_or((i32::MAX, i32::MIN));
            (
                filter.from.map_or(a, crate::cells::columns::day_number),
                filter.to.map_or(b, crate::cells::columns::day_number),
            )
        };
        if lo > hi {
            return None;
        }
        let first_month = month_number(lo);
        let of_day: Vec<u16> =
            (lo..=hi).map(|d| u16::try_from(month_number(d) - first_month).unwrap_or(u16::MAX)).collect();
        let count = usize::from(of_day.last().copied().unwrap_or(0)) + 1;
        Some(Self { first_day: lo, first_month, of_day, count })
    }
}

/// The most entries of a dense tally (areas × months × groups × kinds); beyond, a map is used.
const DENSE_TALLY_ENTRIES: usize = 1 << 22;

/// Counts by (current zone, proposal zone, month, group) and kind: in a flat array indexed by area code,
/// month and group when it is small enough (one add an event), else in a map.
fn tally(cols: &EventColumns, both: &EventColumns, filter: &EventFilter, base: &Baseline<'_>, np: u32) -> Tally {
    let nc = base.current.set().zones().len() + 1;
    let areas = nc * usize::try_from(np).unwrap_or(usize::MAX);
    let groups = cols.dicts().group.names().len() + 1;
    let Some(months) =
        base.months.as_ref().filter(|m| areas * m.count * groups * EventKind::COUNT <= DENSE_TALLY_ENTRIES)
    else {
        return both.fold(
            filter,
            BTreeMap::new,
            |acc, e| {
                let key = (e.zone / np, e.zone % np, month_number(e.day), e.group);
                acc.entry(key).or_insert([0; EventKind::COUNT])[e.kind.index()] += 1;
            },
            |mut a, b| {
                for (k, v) in b {
                    let e = a.entry(k).or_insert([0; EventKind::COUNT]);
                    for (x, y) in e.iter_mut().zip(v) {
                        *x += y;
                    }
                }
                a
            },
        );
    };
    let nm = months.count;
    let size = areas * nm * groups * EventKind::COUNT;
    let dense: Vec<u64> = both.fold(
        filter,
        || vec![0u64; size],
        |acc, e| {
            let Some(&m) = usize::try_from(e.day - months.first_day).ok().and_then(|i| months.of_day.get(i)) else {
                return;
            };
            let at = ((e.zone as usize * nm + usize::from(m)) * groups + e.group as usize) * EventKind::COUNT
                + e.kind.index();
            if let Some(n) = acc.get_mut(at) {
                *n += 1;
            }
        },
        |mut a, b| {
            for (x, y) in a.iter_mut().zip(&b) {
                *x += y;
            }
            a
        },
    );
    let mut out = Tally::new();
    for (i, n) in dense.chunks_exact(EventKind::COUNT).enumerate() {
        if n.iter().all(|&v| v == 0) {
            continue;
        }
        let (g, rest) = (i % groups, i / groups);
        let (m, area) = (rest % nm, rest / nm);
        let (Ok(area), Ok(g), Ok(m)) = (u32::try_from(area), u32::try_from(g), i32::try_from(m)) else { continue };
        out.insert((area / np, area % np, months.first_month + m, g), std::array::from_fn(|k| n[k]));
    }
    out
}

impl<'a> Baseline<'a> {
    /// The baseline of `current` over the window of `q`.
    #[must_use]
    pub fn new(cols: &EventColumns, current: &'a ZoneIndex, q: &ImpactQuery) -> Self {
        let filter = EventFilter { zone: None, ..q.filter.clone() };
        let zones: Vec<&MultiPolygon<f64>> = current.set().zones().iter().map(|z| &z.geometry).collect();
        let hq = CellQuery { filter: filter.clone(), res: q.res, zeros: true };
        let candidates =
            hotspot_figures(cols, &zones, &hq, 1, Disclosure::Exact).map(|f| f.candidates).unwrap_or_default();
        Self {
            current,
            cells: centre_cells(current, q.res),
            counts: cols.count_cells(&filter, q.res).iter().map(|(c, n)| (*c, n.total())).collect(),
            candidates,
            months: MonthIndex::new(cols, &filter),
            referrals: crate::figures::coverage::has_referrals(cols),
        }
    }
}

/// Several proposals against one current set over one window (the baseline computed once).
#[must_use]
pub fn impacts(cols: &EventColumns, current: &ZoneIndex, proposals: &[&ZoneIndex], q: &ImpactQuery) -> Vec<Impact> {
    let base = Baseline::new(cols, current, q);
    proposals.iter().map(|p| impact_with(cols, &base, p, q)).collect()
}

/// [`impact`] against a baseline.
#[must_use]
pub fn impact_with(cols: &EventColumns, base: &Baseline<'_>, proposal: &ZoneIndex, q: &ImpactQuery) -> Impact {
    let current = base.current;
    let np = u32::try_from(proposal.set().zones().len()).unwrap_or(u32::MAX - 1) + 1;
    let filter = EventFilter { zone: None, ..q.filter.clone() };
    let both = classify_both(cols, current, proposal);
    let tally = tally(cols, &both, &filter, base, np);
    let Sums { totals, months, zones, current_zones, groups } = Sums::of(&tally);
    let month_rows = month_rows(&months, q);
    let referrals = base.referrals;
    let mut group_rows = group_rows(cols, &groups, &q.reference);
    if !referrals {
        for g in &mut group_rows {
            (g.referral_rate, g.diversion_rate, g.rri_referral, g.rri_diversion) = Default::default();
        }
    }
    let zone_id = |index: &ZoneIndex, no: u32| {
        usize::try_from(no)
            .ok()
            .and_then(|n| n.checked_sub(1))
            .and_then(|i| index.set().zones().get(i))
            .map_or_else(|| "?".to_owned(), |z| z.id.as_str().to_owned())
    };
    let zone_rows = (1..np)
        .map(|p| {
            let c = zones.get(&p).copied().unwrap_or_default();
            ZoneImpact { zone: zone_id(proposal, p), contacts: c[0], newly_inside: c[1] }
        })
        .collect();
    let nc = u32::try_from(current.set().zones().len()).unwrap_or(0);
    let current_rows = (1..=nc)
        .map(|z| {
            let c = current_zones.get(&z).copied().unwrap_or_default();
            CurrentZoneImpact { zone: zone_id(current, z), contacts: c[0], newly_outside: c[1] }
        })
        .collect();
    let share = |n: &Counts| ratio(n.contacts, totals[4].contacts);
    Impact {
        proposal: SetNote::of(proposal),
        current: SetNote::of(current),
        from: q.filter.from,
        to: q.filter.to,
        inside_current: totals[0],
        inside_proposal: totals[1],
        newly_inside: totals[2],
        newly_outside: totals[3],
        citywide: totals[4],
        net: i64::try_from(totals[2].contacts).unwrap_or(i64::MAX) - i64::try_from(totals[3].contacts).unwrap_or(0),
        share_inside: [share(&totals[0]), share(&totals[1])],
        capacity: capacity(&month_rows, q),
        months: month_rows,
        zones: zone_rows,
        current_zones: current_rows,
        reference_group: q.reference.clone(),
        groups: group_rows,
        cells: cells(base, proposal, q.res),
        hotspots: hotspots(base, proposal),
        rates_note: (!referrals).then_some(crate::figures::coverage::NO_REFERRALS_NOTE),
    }
}

/// The tally added up: totals (current, proposal, newly inside, newly outside, all); per month contacts
/// (the same four); per proposal zone (contacts, newly inside); per current zone (contacts, newly
/// outside); per group (newly inside, newly outside, inside current, inside proposal).
#[derive(Default)]
struct Sums {
    totals: [Counts; 5],
    months: BTreeMap<i32, [u64; 4]>,
    zones: BTreeMap<u32, [Counts; 2]>,
    current_zones: BTreeMap<u32, [Counts; 2]>,
    groups: BTreeMap<u32, [Counts; 4]>,
}

impl Sums {
    fn of(tally: &Tally) -> Self {
        let mut s = Self::default();
        for (&(c, p, m, g), n) in tally {
            let total = n.iter().sum::<u64>();
            let month = s.months.entry(m).or_default();
            let grp = s.groups.entry(g).or_default();
            s.totals[4].add(n);
            if c != 0 {
                s.totals[0].add(n);
                month[0] += total;
                grp[2].add(n);
                s.current_zones.entry(c).or_default()[0].add(n);
            }
            if p != 0 {
                s.totals[1].add(n);
                month[1] += total;
                grp[3].add(n);
                s.zones.entry(p).or_default()[0].add(n);
            }
            if c == 0 && p != 0 {
                s.totals[2].add(n);
                month[2] += total;
                grp[0].add(n);
                s.zones.entry(p).or_default()[1].add(n);
            }
            if c != 0 && p == 0 {
                s.totals[3].add(n);
                month[3] += total;
                grp[1].add(n);
                s.current_zones.entry(c).or_default()[1].add(n);
            }
        }
        s
    }
}

/// Every month of the window, with or without events.
fn month_rows(months: &BTreeMap<i32, [u64; 4]>, q: &ImpactQuery) -> Vec<MonthImpact> {
    let of = |d: NaiveDate| d.year() * 12 + d.month0().cast_signed();
    let first = q.filter.from.map(of).or_else(|| months.keys().next().copied());
    let last = q.filter.to.map(of).or_else(|| months.keys().next_back().copied());
    let (Some(a), Some(b)) = (first, last) else { return Vec::new() };
    (a..=b)
        .map(|m| {
            let n = months.get(&m).copied().unwrap_or_default();
            MonthImpact {
                month: month_label(m),
                inside_current: n[0],
                inside_proposal: n[1],
                newly_inside: n[2],
                newly_outside: n[3],
                launches: q.launches.iter().filter(|(_, d)| of(*d) == m).map(|(s, _)| s.clone()).collect(),
            }
        })
        .collect()
}

/// Per group, with rates inside and the relative rate index against `reference`, current and proposed.
fn group_rows(cols: &EventColumns, groups: &BTreeMap<u32, [Counts; 4]>, reference: &str) -> Vec<GroupImpact> {
    let group_name = |g: u32| cols.dicts().group.name(g).map_or_else(|| "unrecorded".to_owned(), str::to_owned);
    let base = cols.dicts().group.get(reference).and_then(|r| groups.get(&r)).copied().unwrap_or_default();
    let rri = |x: Option<f64>, y: Option<f64>| match (x, y) {
        (Some(x), Some(y)) if y > 0.0 => Some(round4(x / y)),
        _ => None,
    };
    let mut rows: Vec<GroupImpact> = groups
        .iter()
        .map(|(&g, c)| GroupImpact {
            group: group_name(g),
            newly_inside: c[0],
            newly_outside: c[1],
            inside_current: c[2],
            inside_proposal: c[3],
            referral_rate: [c[2].referral_rate(), c[3].referral_rate()],
            diversion_rate: [c[2].diversion_rate(), c[3].diversion_rate()],
            rri_referral: [
                rri(c[2].referral_rate(), base[2].referral_rate()),
                rri(c[3].referral_rate(), base[3].referral_rate()),
            ],
            rri_diversion: [
                rri(c[2].diversion_rate(), base[2].diversion_rate()),
                rri(c[3].diversion_rate(), base[3].diversion_rate()),
            ],
        })
        .collect();
    rows.sort_by(|a, b| (a.group == "unrecorded", &a.group).cmp(&(b.group == "unrecorded", &b.group)));
    rows
}

/// Contacts a month over the window's last 12 months (or all of them when fewer), and what that does
/// to the capacity.
fn capacity(months: &[MonthImpact], q: &ImpactQuery) -> CapacityImpact {
    let last: &[MonthImpact] = &months[months.len().saturating_sub(12)..];
    let n = last.len().max(1) as f64;
    let per = |f: fn(&MonthImpact) -> u64| round4(last.iter().map(f).sum::<u64>() as f64 / n);
    let (current, proposal) = (per(|m| m.inside_current), per(|m| m.inside_proposal));
    let day = |m: &MonthImpact| format!("{}-01", m.month).parse::<NaiveDate>().ok();
    let fill = |per_month: f64| q.capacity.filter(|_| per_month > 0.0).map(|c| round4(f64::from(c) / per_month));
    CapacityImpact {
        from: last.first().and_then(day),
        to: last
            .last()
            .and_then(day)
            .and_then(|d| d.checked_add_months(chrono::Months::new(1)))
            .and_then(|d| d.pred_opt()),
        per_month_current: current,
        per_month_proposal: proposal,
        capacity: q.capacity,
        caseload: q.caseload,
        case_managers_at_capacity: q.capacity.filter(|_| q.caseload > 0).map(|c| c.div_ceil(q.caseload)),
        months_to_fill_proposal: fill(proposal),
        months_to_fill_current: fill(current),
    }
}

/// The cells (centre inside) of a set at `res`.
fn centre_cells(index: &ZoneIndex, res: CellRes) -> HashSet<CellIndex> {
    crate::cells::area::centre_cells(&union(index), res)
}

fn cells(base: &Baseline<'_>, proposal: &ZoneIndex, res: CellRes) -> CellsImpact {
    let (a, b) = (&base.cells, centre_cells(proposal, res));
    let change = |set: &HashSet<CellIndex>, minus: &HashSet<CellIndex>| {
        let mut v: Vec<CellChange> = set
            .difference(minus)
            .map(|c| CellChange { cell: c.to_string(), contacts: base.counts.get(c).copied().unwrap_or(0) })
            .collect();
        v.sort_by(|x, y| y.contacts.cmp(&x.contacts).then(x.cell.cmp(&y.cell)));
        v
    };
    let (area_gained_km2, area_lost_km2) = area_changes(base.current, proposal);
    CellsImpact {
        res: u8::from(res.resolution()),
        gained: change(&b, a),
        lost: change(a, &b),
        area_gained_km2,
        area_lost_km2,
    }
}

fn hotspots(base: &Baseline<'_>, proposal: &ZoneIndex) -> HotspotsImpact {
    let mut out = HotspotsImpact { covered: Vec::new(), missed: Vec::new() };
    for c in &base.candidates {
        let inside = c
            .cells
            .iter()
            .filter(|cell| {
                let ll = h3o::LatLng::from(**cell);
                proposal.classify(ll.lng(), ll.lat()).is_some()
            })
            .count();
        let share = if c.cells.is_empty() { 0.0 } else { round4(inside as f64 / c.cells.len() as f64) };
        let h = HotspotImpact {
            rank: c.rank,
            cells: c.cells.len(),
            contacts: c.contacts.0.unwrap_or(0),
            share_covered: share,
        };
        if share >= 0.5 { out.covered.push(h) } else { out.missed.push(h) }
    }
    out
}

/// One row of a comparison: a measure, for the current set then each proposal.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct CompareRow {
    /// What is measured.
    pub measure: String,
    /// Its value for the current set, then each proposal in order (null: not applicable or unknown).
    pub values: Vec<Option<f64>>,
}

/// Several proposals side by side, against one current set: the same rows for each.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Comparison {
    /// Column names: the current set's, then each proposal's.
    pub columns: Vec<String>,
    /// The rows.
    pub rows: Vec<CompareRow>,
}

/// The comparison table of impacts computed against one current set over one window.
#[must_use]
pub fn compare(impacts: &[Impact]) -> Comparison {
    let Some(first) = impacts.first() else { return Comparison { columns: Vec::new(), rows: Vec::new() } };
    let mut columns = vec![format!("{} (current)", first.current.name)];
    columns.extend(impacts.iter().map(|i| i.proposal.name.clone()));
    let f = |v: u64| Some(v as f64);
    let mut rows = Vec::new();
    let mut row = |measure: &str, current: Option<f64>, each: &dyn Fn(&Impact) -> Option<f64>| {
        let mut values = vec![current];
        values.extend(impacts.iter().map(each));
        rows.push(CompareRow { measure: measure.to_owned(), values });
    };
    row("area_km2", Some(first.current.area_km2), &|i| Some(i.proposal.area_km2));
    row("zones", f(first.current.zones.len() as u64), &|i| f(i.proposal.zones.len() as u64));
    row("contacts_inside", f(first.inside_current.contacts), &|i| f(i.inside_proposal.contacts));
    row("arrests_inside", f(first.inside_current.arrest), &|i| f(i.inside_proposal.arrest));
    row("diversion_referrals_inside", f(first.inside_current.diversion_referral), &|i| {
        f(i.inside_proposal.diversion_referral)
    });
    row("social_contact_referrals_inside", f(first.inside_current.social_contact_referral), &|i| {
        f(i.inside_proposal.social_contact_referral)
    });
    row("offense_reports_inside", f(first.inside_current.offense_report), &|i| f(i.inside_proposal.offense_report));
    row("share_inside", first.share_inside[0], &|i| i.share_inside[1]);
    row("newly_inside", Some(0.0), &|i| f(i.newly_inside.contacts));
    row("newly_outside", Some(0.0), &|i| f(i.newly_outside.contacts));
    row("net", Some(0.0), &|i| Some(i.net as f64));
    row("cells_gained", Some(0.0), &|i| f(i.cells.gained.len() as u64));
    row("cells_lost", Some(0.0), &|i| f(i.cells.lost.len() as u64));
    row("area_gained_km2", Some(0.0), &|i| Some(i.cells.area_gained_km2));
    row("area_lost_km2", Some(0.0), &|i| Some(i.cells.area_lost_km2));
    let hot = first.hotspots.covered.len() + first.hotspots.missed.len();
    row("hotspot_clusters_outside_current", f(hot as u64), &|i| {
        f((i.hotspots.covered.len() + i.hotspots.missed.len()) as u64)
    });
    row("hotspot_clusters_covered", Some(0.0), &|i| f(i.hotspots.covered.len() as u64));
    row("contacts_per_month_last_12", Some(first.capacity.per_month_current), &|i| Some(i.capacity.per_month_proposal));
    row("months_to_fill_capacity", first.capacity.months_to_fill_current, &|i| i.capacity.months_to_fill_proposal);
    for (gi, g) in first.groups.iter().enumerate() {
        let at = |i: &Impact| i.groups.get(gi).filter(|x| x.group == g.group).cloned();
        row(&format!("contacts_inside[{}]", g.group), f(g.inside_current.contacts), &|i| {
            at(i).map(|x| x.inside_proposal.contacts as f64)
        });
        row(&format!("diversion_rate_inside[{}]", g.group), g.diversion_rate[0], &|i| {
            at(i).and_then(|x| x.diversion_rate[1])
        });
        row(&format!("rri_diversion_inside[{}]", g.group), g.rri_diversion[0], &|i| {
            at(i).and_then(|x| x.rri_diversion[1])
        });
    }
    Comparison { columns, rows }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cells::columns::{ColumnRow, ColumnsBuilder};
    use crate::events::EventKind;
    use crate::zones::{IndexOptions, Zone, ZoneSet, ZoneSetMeta};

    fn square(id: &str, x0: f64, y0: f64, x1: f64, y1: f64) -> Zone {
        let ring = vec![(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)];
        Zone {
            id: id.parse().unwrap(),
            name: id.to_owned(),
            geometry: geo::MultiPolygon(vec![geo::Polygon::new(geo::LineString::from(ring), vec![])]),
            source: None,
        }
    }

    fn set(name: &str, zones: Vec<Zone>) -> ZoneIndex {
        let meta = ZoneSetMeta { name: name.to_owned(), ..ZoneSetMeta::default() };
        ZoneIndex::new(ZoneSet::new(meta, zones).unwrap(), IndexOptions::default())
    }

    /// Points on a 0.001° grid over [-122.70, -122.64] × [45.50, 45.54], months and groups by position.
    /// (lon, lat, day, kind, group).
    type Row = (f64, f64, NaiveDate, EventKind, &'static str);

    fn grid() -> (EventColumns, Vec<Row>) {
        let mut rows = Vec::new();
        for i in 0..60 {
            for j in 0..40 {
                let (lon, lat) = (-122.70 + f64::from(i) * 0.001 + 0.0004, 45.50 + f64::from(j) * 0.001 + 0.0004);
                let day = NaiveDate::from_ymd_opt(2019, 1 + (i + j) as u32 % 12, 1 + j as u32 % 28).unwrap();
                let kind = EventKind::ALL[(i * 7 + j) as usize % EventKind::COUNT];
                let group = ["black", "white", "hispanic_latino"][(i + 2 * j) as usize % 3];
                rows.push((lon, lat, day, kind, group));
            }
        }
        let mut b = ColumnsBuilder::default();
        for &(lon, lat, day, kind, group) in &rows {
            let cell = u64::from(h3o::LatLng::new(lat, lon).unwrap().to_cell(h3o::Resolution::Fifteen));
            b.push(&ColumnRow {
                cell,
                lon,
                lat,
                day,
                kind,
                offense: "PCS",
                group: Some(group),
                source: "t",
                zone: None,
                record_key: 0,
                fix: None,
            });
        }
        (b.finish(), rows)
    }

    fn query() -> ImpactQuery {
        ImpactQuery {
            filter: EventFilter::default(),
            res: CellRes::DEFAULT,
            capacity: Some(300),
            caseload: DEFAULT_CASELOAD,
            reference: "white".to_owned(),
            launches: Vec::new(),
        }
    }

    #[test]
    fn a_proposal_equal_to_the_current_set_changes_nothing() {
        let (cols, _) = grid();
        let current = set("now", vec![square("a", -122.69, 45.51, -122.67, 45.52)]);
        let same = set("same", vec![square("a", -122.69, 45.51, -122.67, 45.52)]);
        let i = impact(&cols, &current, &same, &query());
        assert_eq!((i.newly_inside.contacts, i.newly_outside.contacts, i.net), (0, 0, 0));
        assert_eq!(i.inside_current, i.inside_proposal);
        assert!(i.inside_current.contacts > 100);
        assert!(i.cells.gained.is_empty() && i.cells.lost.is_empty());
        assert_eq!((i.cells.area_gained_km2, i.cells.area_lost_km2), (0.0, 0.0));
        assert!(
            i.groups
                .iter()
                .all(|g| g.referral_rate[0] == g.referral_rate[1] && g.rri_diversion[0] == g.rri_diversion[1])
        );
        assert_eq!(i.capacity.months_to_fill_current, i.capacity.months_to_fill_proposal);
    }

    #[test]
    fn moving_one_edge_reassigns_exactly_the_points_between_the_old_and_new_edge() {
        let (cols, rows) = grid();
        let current = set("now", vec![square("a", -122.69, 45.51, -122.67, 45.52)]);
        // East edge moved from -122.67 to -122.66; south edge from 45.51 to 45.515.
        let moved = set("moved", vec![square("a", -122.69, 45.515, -122.66, 45.52)]);
        let i = impact(&cols, &current, &moved, &query());
        let inside = |x: f64, y: f64, (x0, y0, x1, y1): (f64, f64, f64, f64)| x > x0 && x < x1 && y > y0 && y < y1;
        let (old, new) = ((-122.69, 45.51, -122.67, 45.52), (-122.69, 45.515, -122.66, 45.52));
        let mut want = [Counts::default(); 2];
        let mut by_month: BTreeMap<String, [u64; 2]> = BTreeMap::new();
        for &(x, y, day, kind, _) in &rows {
            let mut n = [0u64; EventKind::COUNT];
            n[kind.index()] = 1;
            let m = by_month.entry(day.format("%Y-%m").to_string()).or_default();
            if inside(x, y, new) && !inside(x, y, old) {
                want[0].add(&n);
                m[0] += 1;
            }
            if inside(x, y, old) && !inside(x, y, new) {
                want[1].add(&n);
                m[1] += 1;
            }
        }
        assert!(want[0].contacts >= 50 && want[1].contacts >= 50, "{want:?}");
        assert_eq!((i.newly_inside, i.newly_outside), (want[0], want[1]));
        assert_eq!(i.net, want[0].contacts.cast_signed() - want[1].contacts.cast_signed());
        for m in &i.months {
            assert_eq!([m.newly_inside, m.newly_outside], by_month[&m.month], "{}", m.month);
        }
        let g: u64 = i.groups.iter().map(|g| g.newly_inside.contacts).sum();
        assert_eq!(g, want[0].contacts);
        assert_eq!(i.zones[0].newly_inside, want[0]);
        assert_eq!(i.current_zones[0].newly_outside, want[1]);
        // Area: 0.01° × 0.005° gained, 0.02° × 0.005° lost; at 45.5° N a 0.01° of longitude is 0.780 km
        // and 0.005° of latitude 0.556 km.
        assert!((i.cells.area_gained_km2 - 0.434).abs() < 0.005, "{}", i.cells.area_gained_km2);
        assert!((i.cells.area_lost_km2 - 0.868).abs() < 0.01, "{}", i.cells.area_lost_km2);
        assert!(!i.cells.gained.is_empty() && !i.cells.lost.is_empty());
        // The comparison's columns: the current set, then the proposal.
        let c = compare(&[i]);
        assert_eq!(c.columns, ["now (current)", "moved"]);
        let net = c.rows.iter().find(|r| r.measure == "net").unwrap();
        assert_eq!(net.values, [Some(0.0), Some(want[0].contacts as f64 - want[1].contacts as f64)]);
    }
}
