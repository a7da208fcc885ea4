//! Coverage and equity tables. Coverage: per area (each zone an event was placed in, and `outside`) and
//! month, the counts of each kind; the share of contacts inside the zones; the diversion rate
//! (referrals / (referrals + arrests), referrals being diversion and social-contact referrals) inside
//! them. Equity: per area (citywide, inside, each zone, outside) and race/ethnicity group, counts, rates
//! at two decision stages and the relative rate index against the reference group (white by default):
//! `referral` = referrals / (referrals + arrests), and `diversion` = diversion referrals / (diversion
//! referrals + arrests), i.e. of the contacts with probable cause for an arrest, the share diverted.
//! Each stage's denominator is the preceding stage, as the OJJDP RRI matrix defines it. Police offense
//! reports are contacts (they count in the share inside) but no decision stage: they are in no rate.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate};
use serde::Serialize;

use super::geography::{Geography, GeographyNote, NO_PROGRAM};
use super::{Count, Disclosure, rate, round4};
use crate::cells::columns::{EventColumns, EventFilter, month_label, month_number};
use crate::events::EventKind;
use crate::privacy;

/// Counts of each kind and their sum, as published.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct KindRow {
    /// Arrests.
    pub arrest: Count,
    /// Diversion referrals.
    pub diversion_referral: Count,
    /// Social contact referrals.
    pub social_contact_referral: Count,
    /// Police offense reports.
    pub offense_report: Count,
    /// All contacts.
    pub contacts: Count,
}

impl KindRow {
    /// Referrals (both kinds), when published or derivable from published counts.
    #[must_use]
    pub fn referrals(&self) -> Count {
        match (self.diversion_referral.0, self.social_contact_referral.0, self.contacts.0, self.arrest.0) {
            (Some(d), Some(s), _, _) => Count(Some(d + s)),
            // Perturbed counts need not add up: never a negative difference.
            (_, _, Some(c), Some(a)) => Count(self.offense_report.0.and_then(|o| c.checked_sub(a)?.checked_sub(o))),
            _ => Count(None),
        }
    }

    /// referrals / (referrals + arrests): of the contacts the program decided on, the share referred
    /// (offense reports are no decision).
    #[must_use]
    pub fn referral_rate(&self) -> Option<f64> {
        let r = self.referrals().0?;
        rate(Count(Some(r)), Count(Some(r + self.arrest.0?)))
    }

    /// diversion referrals / (diversion referrals + arrests).
    #[must_use]
    pub fn diversion_rate(&self) -> Option<f64> {
        match (self.diversion_referral.0, self.arrest.0) {
            (Some(d), Some(a)) => rate(Count(Some(d)), Count(Some(d + a))),
            _ => None,
        }
    }

    /// Whether any count is withheld.
    #[must_use]
    pub fn suppressed(&self) -> bool {
        [self.arrest, self.diversion_referral, self.social_contact_referral, self.offense_report, self.contacts]
            .iter()
            .any(|c| c.0.is_none())
    }
}

/// Raw counts of each kind (in [`EventKind::ALL`] order) and the cell key of each.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Raw {
    n: [u64; EventKind::COUNT],
    key: [u8; EventKind::COUNT],
}

/// Entries a table row has: contacts, then each kind.
const ROW: usize = EventKind::COUNT + 1;

fn add(a: &mut Raw, b: &Raw) {
    for i in 0..EventKind::COUNT {
        a.n[i] += b.n[i];
        a.key[i] = a.key[i].wrapping_add(b.key[i]);
    }
}

/// Builds a suppression table: each row is [`ROW`] entries (contacts, then each kind) with the row
/// relation; `sum` adds a relation per column (`total` row = Σ `parts` rows, or a total known
/// elsewhere when `None`).
#[derive(Default)]
struct Table {
    values: Vec<u64>,
    keys: Vec<u8>,
    rels: Vec<privacy::Relation>,
}

impl Table {
    fn row(&mut self, raw: &Raw) -> usize {
        let at = self.values.len();
        self.values.push(raw.n.iter().sum());
        self.values.extend(raw.n);
        self.keys.push(raw.key.iter().fold(0u8, |a, &k| a.wrapping_add(k)));
        self.keys.extend(raw.key);
        self.rels.push(privacy::Relation { total: Some(at), parts: (at + 1..at + ROW).collect() });
        at
    }

    fn sum(&mut self, total: Option<usize>, parts: &[usize]) {
        for col in 0..ROW {
            self.rels.push(privacy::Relation {
                total: total.map(|t| t + col),
                parts: parts.iter().map(|p| p + col).collect(),
            });
        }
    }

    /// Every entry as `disclosure` publishes it.
    fn published(&self, disclosure: Disclosure) -> Vec<Count> {
        disclosure.each(&self.values, &self.keys).unwrap_or_else(|| {
            let hidden = privacy::suppress(&self.values, &self.rels, disclosure.k());
            self.values.iter().zip(hidden).map(|(&v, h)| Count::new(v, h)).collect()
        })
    }

    fn publish(at: usize, published: &[Count]) -> KindRow {
        let c = |i: usize| published[at + i];
        KindRow {
            contacts: c(0),
            arrest: c(1),
            diversion_referral: c(2),
            social_contact_referral: c(3),
            offense_report: c(4),
        }
    }
}

/// One area in one month (or all months).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CoverageRow {
    /// A zone id, `outside`, `inside` (all zones) or `citywide`.
    pub area: String,
    /// `YYYY-MM`, or `all`.
    pub month: String,
    /// The counts.
    #[serde(flatten)]
    pub counts: KindRow,
    /// referrals / (referrals + arrests).
    pub diversion_rate: Option<f64>,
    /// Whether a count is withheld.
    pub suppressed: bool,
}

/// The coverage table.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Coverage {
    /// Which areas the events were counted in.
    pub geography: GeographyNote,
    /// Share of contacts that happened inside the zones, of those inside or outside (events counted as
    /// `no_program` are left out: no set was in force).
    pub share_inside: Option<f64>,
    /// referrals / (referrals + arrests) inside the zones.
    pub diversion_rate_inside: Option<f64>,
    /// Per area over all months, then `inside` and `citywide`.
    pub totals: Vec<CoverageRow>,
    /// Per area and month.
    pub months: Vec<CoverageRow>,
    /// How the counts are perturbed (planners), or null when exact.
    pub perturbed: Option<super::Perturbation>,
    /// Why the rates are null, when no referral data are loaded.
    pub rates_note: Option<&'static str>,
}

/// What a table says instead of rates when the loaded data hold no referral at all (police open data are
/// offense reports and arrests): a rate of 0 would say "nobody was diverted", which the data cannot tell.
pub const NO_REFERRALS_NOTE: &str = "no referral (diversion or social contact) is loaded: referral and diversion rates need the program's referral data, so they are null rather than 0";

/// Whether any stored event is a referral (a diversion or a social contact referral).
#[must_use]
pub fn has_referrals(cols: &EventColumns) -> bool {
    [EventKind::DiversionReferral, EventKind::SocialContactReferral].into_iter().any(|k| cols.has_kind(k))
}

/// The area name of a zone number (0: outside).
fn area_name(cols: &EventColumns, zone: u32) -> String {
    cols.zone_names().name(zone).map_or_else(|| "outside".to_owned(), str::to_owned)
}

/// Whether an area number is a zone (not outside, not `no_program`).
fn is_zone(cols: &EventColumns, zone: u32) -> bool {
    zone != 0 && cols.zone_names().name(zone) != Some(NO_PROGRAM)
}

/// Coverage of the events `filter` selects, counted in `geography`'s areas.
#[must_use]
pub fn coverage(
    cols: &EventColumns,
    geography: &Geography<'_>,
    filter: &EventFilter,
    disclosure: Disclosure,
) -> Coverage {
    let referrals = has_referrals(cols);
    let cols = &geography.apply(cols);
    let cells: BTreeMap<(u32, i32), Raw> = cols.fold(
        filter,
        BTreeMap::new,
        |acc, e| add(acc.entry((e.zone, month_number(e.day))).or_default(), &one(e.kind, e.key)),
        merge_maps,
    );
    // A full grid, every area by every month of the window, whatever the events: a row listed only
    // when it had events would say "at least one" where its published count says "0 to k".
    let zones = all_areas(cols);
    let months = window_months(cols, filter);
    let mut t = Table::default();
    let mut month_rows = Vec::new();
    let mut area_rows = Vec::new();
    let mut by_month: BTreeMap<i32, Vec<usize>> = BTreeMap::new();
    let mut inside_raw = Raw::default();
    let mut city_raw = Raw::default();
    for &z in &zones {
        let mut total = Raw::default();
        let mut parts = Vec::new();
        for m in months.clone() {
            let raw = cells.get(&(z, m)).copied().unwrap_or_default();
            let at = t.row(&raw);
            parts.push(at);
            by_month.entry(m).or_default().push(at);
            month_rows.push((z, m, at));
            add(&mut total, &raw);
        }
        let at = t.row(&total);
        t.sum(Some(at), &parts);
        area_rows.push((z, at));
        if is_zone(cols, z) {
            add(&mut inside_raw, &total);
        }
        add(&mut city_raw, &total);
    }
    // Citywide per month can be asked for with a date filter: known to the reader.
    for parts in by_month.values() {
        t.sum(None, parts);
    }
    let inside = t.row(&inside_raw);
    let zone_rows: Vec<usize> = area_rows.iter().filter(|(z, _)| is_zone(cols, *z)).map(|(_, at)| *at).collect();
    t.sum(Some(inside), &zone_rows);
    let city = t.row(&city_raw);
    let all_rows: Vec<usize> = area_rows.iter().map(|(_, at)| *at).collect();
    t.sum(Some(city), &all_rows);
    let others: Vec<usize> = area_rows.iter().filter(|(z, _)| !is_zone(cols, *z)).map(|(_, at)| *at).collect();
    t.sum(Some(city), &[inside].into_iter().chain(others).collect::<Vec<_>>());
    // Outside or inside: the events of days with a set in force.
    let outside_raw = area_rows.iter().find(|(z, _)| *z == 0).map(|(_, at)| *at);
    let published = t.published(disclosure);
    let row = |area: String, month: String, at: usize| {
        let counts = Table::publish(at, &published);
        CoverageRow {
            area,
            month,
            diversion_rate: round4(counts.referral_rate()).filter(|_| referrals),
            suppressed: counts.suppressed(),
            counts,
        }
    };
    let mut totals: Vec<CoverageRow> =
        area_rows.iter().map(|(z, at)| row(area_name(cols, *z), "all".to_owned(), *at)).collect();
    totals.push(row("inside".to_owned(), "all".to_owned(), inside));
    totals.push(row("citywide".to_owned(), "all".to_owned(), city));
    let months = month_rows.iter().map(|(z, m, at)| row(area_name(cols, *z), month_label(*m), *at)).collect();
    let inside_row = Table::publish(inside, &published);
    let outside_row = outside_raw.map(|at| Table::publish(at, &published)).unwrap_or_default();
    let program = match (inside_row.contacts.0, outside_row.contacts.0) {
        (Some(i), Some(o)) => Count(Some(i + o)),
        _ => Count(None),
    };
    Coverage {
        geography: geography.note(),
        share_inside: round4(rate(inside_row.contacts, program)),
        diversion_rate_inside: round4(inside_row.referral_rate()).filter(|_| referrals),
        totals,
        months,
        perturbed: disclosure.perturbation(),
        rates_note: (!referrals).then_some(NO_REFERRALS_NOTE),
    }
}

/// Every area an event can be counted in: each zone id the columns know, by name, then outside (0),
/// then `no_program` when the geography has it.
fn all_areas(cols: &EventColumns) -> Vec<u32> {
    let n = u32::try_from(cols.zone_names().names().len()).unwrap_or(u32::MAX);
    let mut z: Vec<u32> = (0..=n).collect();
    z.sort_by_key(|z| (!is_zone(cols, *z), *z != 0, area_name(cols, *z)));
    z
}

/// The months of the filter's window: from its first to its last day, or, where it has no bound, from
/// the first or to the last stored event's month (of every event, not only those selected, so the
/// range says nothing about them).
fn window_months(cols: &EventColumns, filter: &EventFilter) -> std::ops::RangeInclusive<i32> {
    let of = |d: NaiveDate| d.year() * 12 + d.month0().cast_signed();
    let (first, last) = match (filter.from, filter.to) {
        (Some(f), Some(t)) => (of(f), of(t)),
        (f, t) => {
            let Some((lo, hi)) = cols.day_range(&EventFilter::default()) else {
                // No events at all: no months.
                let none = i32::MAX;
                return none..=0;
            };
            (f.map_or(month_number(lo), of), t.map_or(month_number(hi), of))
        }
    };
    first..=last
}

fn one(kind: EventKind, key: u8) -> Raw {
    let mut r = Raw::default();
    r.n[kind.index()] = 1;
    r.key[kind.index()] = key;
    r
}

fn merge_maps<K: Ord>(mut a: BTreeMap<K, Raw>, b: BTreeMap<K, Raw>) -> BTreeMap<K, Raw> {
    for (k, v) in b {
        add(a.entry(k).or_default(), &v);
    }
    a
}

/// One group in one area.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EquityRow {
    /// `citywide`, `inside`, a zone id, or `outside`.
    pub area: String,
    /// The race/ethnicity group (`unrecorded` when the source gave none).
    pub group: String,
    /// The counts.
    #[serde(flatten)]
    pub counts: KindRow,
    /// Referrals / contacts.
    pub referral_rate: Option<f64>,
    /// Diversion referrals / (diversion referrals + arrests).
    pub diversion_rate: Option<f64>,
    /// `referral_rate` / the reference group's.
    pub rri_referral: Option<f64>,
    /// `diversion_rate` / the reference group's.
    pub rri_diversion: Option<f64>,
    /// Whether a count is withheld.
    pub suppressed: bool,
}

/// The equity table.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Equity {
    /// Which areas the events were counted in.
    pub geography: GeographyNote,
    /// The group every rate is compared with.
    pub reference_group: String,
    /// Per area (citywide, inside, each zone, outside), per group.
    pub rows: Vec<EquityRow>,
    /// How the counts are perturbed (planners), or null when exact.
    pub perturbed: Option<super::Perturbation>,
    /// Why the rates are null, when no referral data are loaded.
    pub rates_note: Option<&'static str>,
}

/// Equity figures of the events `filter` selects, counted in `geography`'s areas, against `reference`
/// (e.g. `white`).
#[must_use]
pub fn equity(
    cols: &EventColumns,
    geography: &Geography<'_>,
    filter: &EventFilter,
    reference: &str,
    disclosure: Disclosure,
) -> Equity {
    let referrals = has_referrals(cols);
    let cols = &geography.apply(cols);
    let counts: BTreeMap<(u32, u32), Raw> = cols.fold(
        filter,
        BTreeMap::new,
        |acc, e| add(acc.entry((e.zone, e.group)).or_default(), &one(e.kind, e.key)),
        merge_maps,
    );
    let group_name = |g: u32| cols.dicts().group.name(g).map_or_else(|| "unrecorded".to_owned(), str::to_owned);
    // Every group and area the columns know, whatever the filter selects (see `coverage`).
    let mut groups: Vec<u32> = (0..=u32::try_from(cols.dicts().group.names().len()).unwrap_or(u32::MAX)).collect();
    groups.sort_by_key(|g| (*g == 0, group_name(*g)));
    let zones = all_areas(cols);
    let mut t = Table::default();
    // Rows: (area name, group, entry).
    let mut rows: Vec<(String, u32, usize)> = Vec::new();
    let mut per_area: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for &g in &groups {
        let get = |z: u32| counts.get(&(z, g)).copied().unwrap_or_default();
        let mut inside_raw = Raw::default();
        let mut city_raw = Raw::default();
        let mut zone_at = Vec::new();
        let mut others_at = Vec::new();
        for &z in &zones {
            let raw = get(z);
            let at = t.row(&raw);
            rows.push((area_name(cols, z), g, at));
            per_area.entry(area_name(cols, z)).or_default().push(at);
            if is_zone(cols, z) {
                add(&mut inside_raw, &raw);
                zone_at.push(at);
            } else {
                others_at.push(at);
            }
            add(&mut city_raw, &raw);
        }
        let inside = t.row(&inside_raw);
        t.sum(Some(inside), &zone_at);
        let city = t.row(&city_raw);
        t.sum(Some(city), &[inside].into_iter().chain(others_at).collect::<Vec<_>>());
        rows.push(("inside".to_owned(), g, inside));
        rows.push(("citywide".to_owned(), g, city));
        per_area.entry("inside".to_owned()).or_default().push(inside);
        per_area.entry("citywide".to_owned()).or_default().push(city);
    }
    // An area's total over groups is in the coverage table: known to the reader.
    for parts in per_area.values() {
        t.sum(None, parts);
    }
    let published_counts = t.published(disclosure);
    let area_order = |a: &str| match a {
        "citywide" => (0, String::new()),
        "inside" => (1, String::new()),
        "outside" => (3, String::new()),
        NO_PROGRAM => (4, String::new()),
        z => (2, z.to_owned()),
    };
    rows.sort_by(|a, b| {
        area_order(&a.0).cmp(&area_order(&b.0)).then((a.1 == 0, group_name(a.1)).cmp(&(b.1 == 0, group_name(b.1))))
    });
    let reference_id = cols.dicts().group.get(reference);
    let published: Vec<(String, u32, KindRow)> =
        rows.into_iter().map(|(a, g, at)| (a, g, Table::publish(at, &published_counts))).collect();
    let out = published
        .iter()
        .map(|(area, g, counts)| {
            let base = published.iter().find(|(a, rg, _)| a == area && Some(*rg) == reference_id).map(|(_, _, c)| c);
            let ratio = |x: Option<f64>, y: Option<f64>| match (x, y) {
                (Some(x), Some(y)) if y > 0.0 => Some(x / y),
                _ => None,
            };
            EquityRow {
                area: area.clone(),
                group: group_name(*g),
                referral_rate: round4(counts.referral_rate()).filter(|_| referrals),
                diversion_rate: round4(counts.diversion_rate()).filter(|_| referrals),
                rri_referral: round4(ratio(counts.referral_rate(), base.and_then(KindRow::referral_rate)))
                    .filter(|_| referrals),
                rri_diversion: round4(ratio(counts.diversion_rate(), base.and_then(KindRow::diversion_rate)))
                    .filter(|_| referrals),
                suppressed: counts.suppressed(),
                counts: *counts,
            }
        })
        .collect();
    Equity {
        geography: geography.note(),
        reference_group: reference.to_owned(),
        rows: out,
        perturbed: disclosure.perturbation(),
        rates_note: (!referrals).then_some(NO_REFERRALS_NOTE),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cells::columns::{ColumnRow, ColumnsBuilder};

    /// (zone, group, day, kind, how many).
    type Rows<'a> = &'a [(Option<&'a str>, Option<&'a str>, &'a str, EventKind, usize)];

    /// The built-in sets: the data's days (2018-01, 2018-02) have the 2017 set in force.
    fn catalog() -> crate::zones::ZoneCatalog {
        crate::zones::ZoneCatalog::new(crate::builtin::zone_sets().unwrap(), crate::zones::IndexOptions::default())
    }

    /// A hand-checked data set.
    const DATA: Rows<'static> = &[
        (Some("downtown"), Some("white"), "2018-01-10", EventKind::Arrest, 20),
        (Some("downtown"), Some("white"), "2018-01-11", EventKind::DiversionReferral, 20),
        (Some("downtown"), Some("black"), "2018-02-03", EventKind::Arrest, 30),
        (Some("downtown"), Some("black"), "2018-02-04", EventKind::DiversionReferral, 10),
        (Some("downtown"), Some("black"), "2018-02-05", EventKind::SocialContactReferral, 20),
        (None, Some("white"), "2018-01-20", EventKind::Arrest, 40),
        (None, Some("black"), "2018-02-20", EventKind::Arrest, 60),
        (None, None, "2018-02-21", EventKind::Arrest, 3),
    ];

    fn data() -> EventColumns {
        columns_of(DATA)
    }

    fn columns_of(rows: Rows<'_>) -> EventColumns {
        let mut b = ColumnsBuilder::default();
        let cell = u64::from(h3o::LatLng::new(45.52, -122.68).unwrap().to_cell(h3o::Resolution::Fifteen));
        for &(zone, group, day, kind, n) in rows {
            for i in 0..n {
                b.push(&ColumnRow {
                    cell,
                    lon: -122.68,
                    lat: 45.52,
                    day: day.parse().unwrap(),
                    kind,
                    offense: "PCS",
                    group,
                    source: "t",
                    zone,
                    // Any fixed keys will do: the n-th event of each row gets n * 37.
                    record_key: (i as u8).wrapping_mul(37),
                    fix: None,
                });
            }
        }
        b.finish()
    }

    #[test]
    fn perturbed_tables_are_the_exact_counts_through_the_table_by_their_cell_keys() {
        let catalog = catalog();
        let g = Geography::InForce(&catalog);
        let t = crate::builtin::perturbation_table().unwrap();
        let cols = data();
        let exact = coverage(&cols, &g, &EventFilter::default(), Disclosure::Exact);
        let p = coverage(&cols, &g, &EventFilter::default(), Disclosure::Perturbed(t));
        assert_eq!(p, coverage(&cols, &g, &EventFilter::default(), Disclosure::Perturbed(t)), "the same every time");
        let mut moved = 0;
        for (e, p) in exact.totals.iter().chain(&exact.months).zip(p.totals.iter().chain(&p.months)) {
            assert_eq!((&e.area, &e.month), (&p.area, &p.month));
            for (x, y) in [
                (e.counts.contacts, p.counts.contacts),
                (e.counts.arrest, p.counts.arrest),
                (e.counts.diversion_referral, p.counts.diversion_referral),
                (e.counts.social_contact_referral, p.counts.social_contact_referral),
            ] {
                let (x, y) = (x.0.unwrap(), y.0.expect("nothing is withheld, small counts are published as 0"));
                assert!(y == 0 || y > 10, "never 1..=10: {x} -> {y}");
                assert!(t.possible(y).contains(&x), "{x} -> {y}");
                moved += usize::from(x != y);
            }
        }
        assert!(moved > 0, "some counts moved");
        // The 40 white arrests outside in January: their cell key is the sum of their record keys.
        let key = (0..40u8).fold(0u8, |k, i| k.wrapping_add(i.wrapping_mul(37)));
        let outside_jan = p.months.iter().find(|r| r.area == "outside" && r.month == "2018-01").unwrap();
        assert_eq!(outside_jan.counts.arrest.0, Some(t.publish(40, key)));
        // Rates come from the published counts.
        let dt = p.totals.iter().find(|r| r.area == "downtown").unwrap();
        assert_eq!(dt.diversion_rate, round4(dt.counts.referral_rate()));
    }

    #[test]
    fn coverage_counts_shares_and_rates_as_worked_by_hand() {
        let catalog = catalog();
        let g = Geography::InForce(&catalog);
        let c = coverage(&data(), &g, &EventFilter::default(), Disclosure::Exact);
        let total = |area: &str| c.totals.iter().find(|r| r.area == area).unwrap();
        // Downtown: 50 arrests, 30 diversion, 20 social = 100 contacts; outside 103; citywide 203.
        assert_eq!(total("downtown").counts.contacts.0, Some(100));
        assert_eq!(total("outside").counts.contacts.0, Some(103));
        assert_eq!(total("citywide").counts.contacts.0, Some(203));
        assert_eq!(c.share_inside, Some(0.4926)); // 100 / 203
        assert_eq!(c.diversion_rate_inside, Some(0.5)); // (30 + 20) / (50 + 50)
        let jan: Vec<_> = c.months.iter().filter(|r| r.month == "2018-01").collect();
        // Every area every month: the zone, outside, and no_program (no event here is dated when no set was
        // in force).
        assert_eq!(jan.iter().map(|r| r.area.as_str()).collect::<Vec<_>>(), ["downtown", "outside", NO_PROGRAM]);
        assert_eq!(jan[2].counts.contacts.0, Some(0));
        assert_eq!(c.geography.kind, "in_force_on_event_date");
        assert_eq!((jan[0].counts.arrest.0, jan[0].counts.diversion_referral.0), (Some(20), Some(20)));
        // Planners: the 3 unrecorded arrests outside in February hide with another outside count.
        let p = coverage(&data(), &g, &EventFilter::default(), Disclosure::Suppressed { k: 10 });
        assert!(p.months.iter().all(|r| r.counts.contacts.0.is_none_or(|v| v == 0 || v > 10)));
    }

    #[test]
    fn with_no_referral_loaded_rates_are_null_with_a_note_never_0() {
        let catalog = catalog();
        let g = Geography::InForce(&catalog);
        let mut b = ColumnsBuilder::default();
        let cell = u64::from(h3o::LatLng::new(45.52, -122.68).unwrap().to_cell(h3o::Resolution::Fifteen));
        for i in 0..30u8 {
            b.push(&ColumnRow {
                cell,
                lon: -122.68,
                lat: 45.52,
                day: "2018-01-10".parse().unwrap(),
                kind: EventKind::Arrest,
                offense: "PCS",
                group: Some(if i % 2 == 0 { "white" } else { "black" }),
                source: "ppb",
                zone: Some("downtown"),
                record_key: i,
                fix: None,
            });
        }
        let cols = b.finish();
        let c = coverage(&cols, &g, &EventFilter::default(), Disclosure::Exact);
        assert_eq!(c.rates_note, Some(NO_REFERRALS_NOTE));
        assert!(c.diversion_rate_inside.is_none() && c.totals.iter().all(|r| r.diversion_rate.is_none()));
        let e = equity(&cols, &g, &EventFilter::default(), "white", Disclosure::Exact);
        assert_eq!(e.rates_note, Some(NO_REFERRALS_NOTE));
        assert!(e.rows.iter().all(|r| r.diversion_rate.is_none() && r.rri_diversion.is_none()));
        // With referrals loaded, rates come back and the note goes.
        let d = coverage(&data(), &g, &EventFilter::default(), Disclosure::Exact);
        assert!(d.rates_note.is_none() && d.diversion_rate_inside.is_some());
    }

    #[test]
    fn offense_reports_are_contacts_but_in_no_rate() {
        let catalog = catalog();
        let g = Geography::InForce(&catalog);
        // The hand-checked data plus police offense reports: 100 downtown (black), 97 outside.
        let mut rows = DATA.to_vec();
        rows.push((Some("downtown"), Some("black"), "2018-02-06", EventKind::OffenseReport, 100));
        rows.push((None, Some("white"), "2018-01-21", EventKind::OffenseReport, 97));
        let cols = columns_of(&rows);
        let c = coverage(&cols, &g, &EventFilter::default(), Disclosure::Exact);
        let total = |area: &str| c.totals.iter().find(|r| r.area == area).unwrap();
        assert_eq!(total("downtown").counts.offense_report.0, Some(100));
        assert_eq!(total("downtown").counts.contacts.0, Some(200));
        assert_eq!(total("citywide").counts.contacts.0, Some(400));
        assert_eq!(c.share_inside, Some(0.5)); // 200 / 400: reports are contacts
        // The rates are those without the reports: (30 + 20) / (50 + 50).
        assert_eq!(c.diversion_rate_inside, Some(0.5));
        assert_eq!(total("downtown").diversion_rate, Some(0.5));
        let e = equity(&cols, &g, &EventFilter::default(), "white", Disclosure::Exact);
        let without = equity(&data(), &g, &EventFilter::default(), "white", Disclosure::Exact);
        for (r, w) in e.rows.iter().zip(&without.rows) {
            assert_eq!((&r.area, &r.group), (&w.area, &w.group));
            assert_eq!(
                (r.referral_rate, r.diversion_rate, r.rri_referral, r.rri_diversion),
                (w.referral_rate, w.diversion_rate, w.rri_referral, w.rri_diversion),
                "{} {}",
                r.area,
                r.group
            );
        }
        // Perturbed for planners, a report column is one more published count with the row relation.
        let t = crate::builtin::perturbation_table().unwrap();
        let p = coverage(&cols, &g, &EventFilter::default(), Disclosure::Perturbed(t));
        assert!(p.totals.iter().all(|r| r.counts.offense_report.0.is_some()));
        // Offense reports alone (police open data): no rate at all.
        let only = columns_of(&[(Some("downtown"), Some("black"), "2018-02-06", EventKind::OffenseReport, 40)]);
        let c = coverage(&only, &g, &EventFilter::default(), Disclosure::Exact);
        assert_eq!(c.rates_note, Some(NO_REFERRALS_NOTE));
        assert!(c.totals.iter().all(|r| r.diversion_rate.is_none()));
    }

    #[test]
    fn equity_rates_and_relative_rate_index_as_worked_by_hand() {
        let catalog = catalog();
        let g = Geography::InForce(&catalog);
        let e = equity(&data(), &g, &EventFilter::default(), "white", Disclosure::Exact);
        let row = |area: &str, g: &str| e.rows.iter().find(|r| r.area == area && r.group == g).unwrap();
        // Downtown white: referral rate 20/40 = 0.5, diversion 20/(20+20) = 0.5.
        // Downtown black: referral rate (10+20)/60 = 0.5, diversion 10/(10+30) = 0.25 → RRI 0.5.
        let b = row("downtown", "black");
        assert_eq!((b.referral_rate, b.diversion_rate), (Some(0.5), Some(0.25)));
        assert_eq!((b.rri_referral, b.rri_diversion), (Some(1.0), Some(0.5)));
        // Citywide white: 60 arrests, 20 diversion → diversion 0.25; black: 90 arrests, 10 diversion →
        // 0.1; RRI 0.4. Referral: white 20/80 = 0.25, black 30/120 = 0.25 → 1.
        let c = row("citywide", "black");
        assert_eq!((c.diversion_rate, c.rri_diversion, c.rri_referral), (Some(0.1), Some(0.4), Some(1.0)));
        assert_eq!(row("citywide", "white").rri_diversion, Some(1.0));
        assert_eq!(e.rows[0].area, "citywide");
        assert_eq!(row("outside", "unrecorded").counts.arrest.0, Some(3));
        let p = equity(&data(), &g, &EventFilter::default(), "white", Disclosure::Suppressed { k: 10 });
        let u = p.rows.iter().find(|r| r.area == "outside" && r.group == "unrecorded").unwrap();
        assert!(u.suppressed && u.counts.arrest.0.is_none() && u.rri_diversion.is_none());
    }
}
