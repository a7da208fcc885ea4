//! The planner attacker: a real `leadmap serve` (the demo events, and the Police Bureau's 2015-2021 data
//! in a store) with a planner token, asked every question a
//! planner may ask (every fixed period, zone filter and resolution of `/v1/cells`, every period of
//! `/v1/coverage` and `/v1/equity`, the candidates at every resolution and k-ring), then every relation
//! between the true counts behind the answers (kinds add to contacts, the cells of each resolution to the
//! city, months to quarters to years to all history, zones and outside to citywide, groups to their area,
//! a candidate's cells to its contacts) propagated as interval bounds to a fixed point, starting from
//! what each published value can stand for (the table's documented range). It must pin no count from 1
//! to k; and every bound must hold the exact count an analyst sees (the attacker is sound, so a pass
//! means something).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use h3o::CellIndex;
use serde_json::Value;

use crate::support::Server;

const PLANNER: &str = "attack-planner-token-0123456789";
const ANALYST: &str = "attack-analyst-token-0123456789";

/// Where a count's events are.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Region {
    City,
    Cell(u64),
    Cells(Vec<u64>),
    /// Every cell of this resolution no answer listed (unbounded above).
    Elsewhere(u8),
}

/// A set of events: a count the attacker reasons about.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct Set {
    period: String,
    /// 0 all contacts, 1 arrest, 2 diversion referral, 3 social contact referral, 4 offense report.
    kind: u8,
    /// `*` any, a zone id, `inside` or `outside`.
    zone: String,
    /// `*` any, or a group.
    group: String,
    region: Region,
}

/// No upper bound (far below overflow when summed).
const INF: i64 = 1 << 40;

/// The published counts of a row: contacts, then each kind.
const COLS: usize = 5;
const KIND_COLUMNS: [&str; COLS] =
    ["contacts", "arrest", "diversion_referral", "social_contact_referral", "offense_report"];

struct Attacker {
    k: i64,
    d: i64,
    ids: HashMap<Set, usize>,
    sets: Vec<Set>,
    lo: Vec<i64>,
    hi: Vec<i64>,
    published: Vec<Option<u64>>,
    relations: BTreeSet<(usize, Vec<usize>)>,
}

impl Attacker {
    fn var(&mut self, s: &Set) -> usize {
        if let Some(&v) = self.ids.get(s) {
            return v;
        }
        self.ids.insert(s.clone(), self.sets.len());
        self.sets.push(s.clone());
        self.lo.push(0);
        self.hi.push(INF);
        self.published.push(None);
        self.sets.len() - 1
    }

    /// A published value: the same set must always get the same one (no averaging), and it bounds the
    /// count as the table documents.
    fn publish(&mut self, s: &Set, p: u64) -> usize {
        let v = self.var(s);
        if let Some(q) = self.published[v] {
            assert_eq!(q, p, "{s:?} published as {q} and as {p}: the same events must get the same value");
        }
        assert!(p == 0 || p.cast_signed() > self.k, "{s:?} published as {p}, from 1 to k");
        self.published[v] = Some(p);
        let (lo, hi) = if p == 0 {
            (0, self.k + self.d)
        } else {
            ((p.cast_signed() - self.d).max(self.k + 1), p.cast_signed() + self.d)
        };
        self.lo[v] = self.lo[v].max(lo);
        self.hi[v] = self.hi[v].min(hi);
        v
    }

    /// A row of published counts (contacts and each kind) with the kind relation.
    fn publish_row(&mut self, base: &Set, values: [u64; COLS]) {
        let vars: Vec<usize> = (0..COLS as u8)
            .map(|kind| self.publish(&Set { kind, ..base.clone() }, values[usize::from(kind)]))
            .collect();
        self.relate(vars[0], vars[1..].to_vec());
    }

    fn relate(&mut self, total: usize, parts: Vec<usize>) {
        self.relations.insert((total, parts));
    }

    /// Interval propagation over every relation until nothing narrows; the number of rounds.
    fn propagate(&mut self) -> usize {
        let relations: Vec<(usize, Vec<usize>)> = self.relations.iter().cloned().collect();
        for round in 1..=200 {
            let mut changed = false;
            for (t, parts) in &relations {
                let sum_lo: i64 = parts.iter().map(|&p| self.lo[p]).sum();
                let sum_hi: i64 = parts.iter().map(|&p| self.hi[p]).sum();
                if sum_lo > self.lo[*t] {
                    self.lo[*t] = sum_lo;
                    changed = true;
                }
                if sum_hi < self.hi[*t] {
                    self.hi[*t] = sum_hi;
                    changed = true;
                }
                let bad = std::iter::once(*t).chain(parts.iter().copied()).find(|&v| self.lo[v] > self.hi[v]);
                if let Some(v) = bad {
                    let show = |v: usize| {
                        format!("{:?} [{}, {}] published {:?}", self.sets[v], self.lo[v], self.hi[v], self.published[v])
                    };
                    panic!(
                        "round {round}: {} is empty: a relation is wrong. Total {}; parts:\n{}",
                        show(v),
                        show(*t),
                        parts.iter().map(|&p| show(p)).collect::<Vec<_>>().join("\n")
                    );
                }
                for &p in parts {
                    let others_lo = sum_lo - self.lo[p];
                    let others_hi = sum_hi - self.hi[p];
                    let lo = self.lo[*t] - others_hi;
                    let hi = self.hi[*t] - others_lo;
                    if lo > self.lo[p] {
                        self.lo[p] = lo;
                        changed = true;
                    }
                    if hi < self.hi[p] {
                        self.hi[p] = hi;
                        changed = true;
                    }
                }
            }
            if let Some(v) = (0..self.sets.len()).find(|&v| self.lo[v] > self.hi[v]) {
                panic!(
                    "round {round}: {:?} bounded to [{}, {}]: a relation is wrong",
                    self.sets[v], self.lo[v], self.hi[v]
                );
            }
            if !changed {
                return round;
            }
        }
        panic!("no fixed point in 200 rounds");
    }
}

fn json(server: &Server, token: &str, path: &str) -> Value {
    let (status, body) = server.get_as(token, path);
    assert_eq!(status, 200, "{path}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// `hex_id` → [count, arrest, diversion, social, offense report] from a cell CSV.
fn cell_rows(server: &Server, token: &str, path: &str) -> BTreeMap<u64, [u64; COLS]> {
    let (status, body) = server.get_as(token, path);
    assert_eq!(status, 200, "{path}: {body}");
    let mut rdr = csv::Reader::from_reader(body.as_bytes());
    let h: Vec<String> = rdr.headers().unwrap().iter().map(str::to_owned).collect();
    let col = |name: &str| h.iter().position(|x| x == name).unwrap();
    let cols =
        [col("count"), col("arrest"), col("diversion_referral"), col("social_contact_referral"), col("offense_report")];
    rdr.records()
        .map(|r| {
            let r = r.unwrap();
            let cell: CellIndex = r[0].parse().unwrap();
            (u64::from(cell), cols.map(|c| r[c].parse().unwrap_or_else(|_| panic!("{path}: {r:?}"))))
        })
        .collect()
}

fn kind_values(row: &Value) -> [u64; COLS] {
    KIND_COLUMNS.map(|k| row[k].as_u64().unwrap_or_else(|| panic!("{k} in {row}")))
}

/// The fixed periods of the data: all, each year, quarter and month from the first month to the last.
fn periods(months: &[String]) -> (Vec<String>, Vec<(String, Vec<String>)>) {
    let mut all = vec!["all".to_owned()];
    let mut children: Vec<(String, Vec<String>)> = Vec::new();
    let years: BTreeSet<&str> = months.iter().map(|m| &m[..4]).collect();
    children.push(("all".to_owned(), years.iter().map(|y| (*y).to_owned()).collect()));
    for y in years {
        all.push(y.to_owned());
        let quarters: Vec<String> = (1..=4).map(|q| format!("{y}-Q{q}")).collect();
        children.push((y.to_owned(), quarters.clone()));
        for (q, name) in quarters.iter().enumerate() {
            all.push(name.clone());
            let ms: Vec<String> = (1..=3).map(|i| format!("{y}-{:02}", 3 * q + i)).collect();
            children.push((name.clone(), ms.clone()));
            all.extend(ms);
        }
    }
    (all, children)
}

/// What a planner may ask, learned from the service: the fixed periods of the data, the zones.
struct Family {
    periods: Vec<String>,
    period_children: Vec<(String, Vec<String>)>,
    /// Zone ids, `outside` and `no_program`.
    zones: Vec<String>,
    /// `*` (no filter) and each zone.
    zone_filters: Vec<String>,
    /// Each fixed geography a planner may ask for (`at=`): the day, and its areas as the attacker names
    /// them (`downtown@2017-06-01`, `outside@2017-06-01`; `inside@...` apart).
    fixed: Vec<(String, Vec<String>)>,
}

/// The days whose zone sets a planner asks every event to be counted in (the built-in 2017 and 2018
/// sets).
const FIXED_AT: [&str; 2] = ["2017-06-01", "2018-06-01"];

/// The attacker's name of an area of a fixed geography: the events of the city are the same in every
/// geography (`*`), an area of one is its own set.
fn fixed_area(name: &str, at: &str) -> String {
    match name {
        "citywide" => "*".to_owned(),
        other => format!("{other}@{at}"),
    }
}

/// The attacker's name of an area in coverage and equity (`citywide` is the unfiltered `*`).
fn area(name: &str) -> String {
    match name {
        "citywide" => "*".to_owned(),
        other => other.to_owned(),
    }
}

fn period_q(p: &str) -> String {
    if p == "all" { String::new() } else { format!("&period={p}") }
}

fn family(server: &Server) -> Family {
    let all_cov = json(server, PLANNER, "/v1/coverage");
    assert!(all_cov["perturbed"]["note"].as_str().unwrap().contains("shown as 0"), "{all_cov}");
    let months: Vec<String> = all_cov["months"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["month"].as_str().unwrap().to_owned())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let (periods, period_children) = periods(&months);
    let zones: Vec<String> = all_cov["totals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["area"].as_str().unwrap().to_owned())
        .filter(|a| a != "inside" && a != "citywide")
        .collect();
    assert!(zones.len() >= 3 && zones.contains(&"outside".to_owned()), "{zones:?}");
    let zone_filters: Vec<String> = std::iter::once("*".to_owned()).chain(zones.iter().cloned()).collect();
    let fixed = FIXED_AT
        .iter()
        .map(|at| {
            let cov = json(server, PLANNER, &format!("/v1/coverage?at={at}"));
            assert_eq!(cov["geography"]["kind"], "fixed", "{cov}");
            let areas: Vec<String> = cov["totals"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["area"].as_str().unwrap())
                .filter(|a| *a != "inside" && *a != "citywide")
                .map(|a| fixed_area(a, at))
                .collect();
            assert!(areas.len() >= 4, "{areas:?}");
            ((*at).to_owned(), areas)
        })
        .collect();
    Family { periods, period_children, zones, zone_filters, fixed }
}

/// `/v1/cells` for every period, zone filter and resolution.
fn ask_cells(server: &Server, a: &mut Attacker, f: &Family) {
    let Family { periods, zone_filters, .. } = f;
    // Cells: every period, zone filter and resolution.
    for p in periods {
        for z in zone_filters {
            let zq = if z == "*" { String::new() } else { format!("&zone={z}") };
            for res in 5u8..=9 {
                let rows = cell_rows(server, PLANNER, &format!("/v1/cells?res={res}&f=csv{}{zq}", period_q(p)));
                for (&cell, values) in &rows {
                    let base = Set {
                        period: p.clone(),
                        kind: 0,
                        zone: z.clone(),
                        group: "*".to_owned(),
                        region: Region::Cell(cell),
                    };
                    assert!(values.iter().any(|&v| v > 0), "a listed cell has something published: {base:?}");
                    a.publish_row(&base, *values);
                }
            }
        }
    }
}

/// Coverage and equity for every period in every fixed geography, with the groups' relation to their
/// area.
fn ask_fixed_tables(server: &Server, a: &mut Attacker, f: &Family) {
    for (at, areas) in &f.fixed {
        let zones: Vec<String> = std::iter::once("*".to_owned()).chain(areas.iter().cloned()).collect();
        ask_tables_in(server, a, &f.periods, Some(at), &zones);
    }
}

/// Coverage and equity for every period, with the groups' relation to their area.
fn ask_tables(server: &Server, a: &mut Attacker, f: &Family) {
    ask_tables_in(server, a, &f.periods, None, &f.zone_filters);
}

/// Coverage and equity for every period, by each event's date's set or in the fixed geography of `at`:
/// areas by month, area totals, inside, citywide; groups, related to their area for `zones` and inside.
fn ask_tables_in(server: &Server, a: &mut Attacker, periods: &[String], at: Option<&str>, zones: &[String]) {
    let name = |n: &str| at.map_or_else(|| area(n), |at| fixed_area(n, at));
    let inside = name("inside");
    for p in periods {
        let q = format!("{}{}", at.map_or_else(String::new, |at| format!("at={at}")), period_q(p));
        let q = q.trim_start_matches('&');
        let cov = json(server, PLANNER, &format!("/v1/coverage?{q}"));
        for (rows, month) in [(&cov["months"], true), (&cov["totals"], false)] {
            for row in rows.as_array().unwrap() {
                let s = Set {
                    period: if month { row["month"].as_str().unwrap().to_owned() } else { p.clone() },
                    kind: 0,
                    zone: name(row["area"].as_str().unwrap()),
                    group: "*".to_owned(),
                    region: Region::City,
                };
                a.publish_row(&s, kind_values(row));
            }
        }
        let eq = json(server, PLANNER, &format!("/v1/equity?{q}"));
        let mut groups = BTreeSet::new();
        for row in eq["rows"].as_array().unwrap() {
            let group = row["group"].as_str().unwrap().to_owned();
            groups.insert(group.clone());
            let s = Set {
                period: p.clone(),
                kind: 0,
                zone: name(row["area"].as_str().unwrap()),
                group,
                region: Region::City,
            };
            a.publish_row(&s, kind_values(row));
        }
        for z in zones.iter().chain([&inside]) {
            for kind in 0..COLS as u8 {
                let s = |group: &str| Set {
                    period: p.clone(),
                    kind,
                    zone: z.clone(),
                    group: group.to_owned(),
                    region: Region::City,
                };
                let t = a.var(&s("*"));
                let parts = groups.iter().map(|g| a.var(&s(g))).collect();
                a.relate(t, parts);
            }
        }
    }
}

/// The zones', periods' and cells' relations over everything asked.
fn relate_everything(a: &mut Attacker, f: &Family) {
    let Family { zones, period_children, fixed, .. } = f;
    // A cell no answer of its (period, zone) listed was published as 0 there (every answer was asked).
    let ensure = |a: &mut Attacker, s: &Set| -> usize {
        if matches!(s.region, Region::Cell(_))
            && a.ids.get(&Set { kind: 0, ..s.clone() }).is_none_or(|&v| a.published[v].is_none())
        {
            a.publish_row(&Set { kind: 0, ..s.clone() }, [0; COLS]);
        }
        a.var(s)
    };
    let bases = |a: &Attacker, blank: &dyn Fn(&Set) -> Option<Set>| -> BTreeSet<Set> {
        a.sets.iter().filter_map(blank).collect()
    };
    // Zones: any = every zone + outside + no_program, inside = the zones; for the city, every cell and every group.
    for base in bases(a, &|s: &Set| {
        (!matches!(s.region, Region::Cells(_) | Region::Elsewhere(_))).then(|| Set { zone: String::new(), ..s.clone() })
    }) {
        let s = |zone: &str| Set { zone: zone.to_owned(), ..base.clone() };
        let t = ensure(a, &s("*"));
        let parts = zones.iter().map(|z| ensure(a, &s(z))).collect();
        a.relate(t, parts);
        if base.region == Region::City {
            // Each fixed geography splits the same events: the city is its areas, inside its zones.
            for (at, areas) in fixed {
                let t = ensure(a, &s("*"));
                let parts = areas.iter().map(|z| ensure(a, &s(z))).collect();
                a.relate(t, parts);
                let t = a.var(&s(&format!("inside@{at}")));
                let outside = format!("outside@{at}");
                let parts = areas.iter().filter(|z| **z != outside).map(|z| a.var(&s(z))).collect();
                a.relate(t, parts);
            }
            let t = a.var(&s("inside"));
            // `no_program` (events dated when no zone set was in force) is neither inside nor outside.
            let parts = zones.iter().filter(|z| *z != "outside" && *z != "no_program").map(|z| a.var(&s(z))).collect();
            a.relate(t, parts);
        }
    }
    // Periods: all = years, a year = its quarters, a quarter = its months; for every set in them.
    for base in bases(a, &|s: &Set| {
        (!matches!(s.region, Region::Cells(_) | Region::Elsewhere(_)))
            .then(|| Set { period: String::new(), ..s.clone() })
    }) {
        for (parent, kids) in period_children {
            let t = ensure(a, &Set { period: parent.clone(), ..base.clone() });
            let parts = kids.iter().map(|c| ensure(a, &Set { period: c.clone(), ..base.clone() })).collect();
            a.relate(t, parts);
        }
    }
    // Cells: at each resolution, the city is the sum of its cells and of the rest of the world (each
    // event is in one cell of each resolution; a cell is not exactly the sum of its children, since a
    // point's own cell at a coarser resolution need not be its finer cell's H3 parent); per period,
    // zone and kind.
    let mut by_answer: BTreeMap<(Set, u8), BTreeSet<u64>> = BTreeMap::new();
    for s in &a.sets {
        if let Region::Cell(c) = s.region {
            let res = u8::from(CellIndex::try_from(c).unwrap().resolution());
            by_answer.entry((Set { region: Region::City, kind: 0, ..s.clone() }, res)).or_default().insert(c);
        }
    }
    for ((city, res), cells) in by_answer {
        for kind in 0..COLS as u8 {
            let t = a.var(&Set { kind, ..city.clone() });
            let mut parts: Vec<usize> =
                cells.iter().map(|&c| a.var(&Set { kind, region: Region::Cell(c), ..city.clone() })).collect();
            parts.push(a.var(&Set { kind, region: Region::Elsewhere(res), ..city.clone() }));
            a.relate(t, parts);
        }
    }
}

/// The candidates and their relation to their cells: every period at the map's resolution and k-ring;
/// all history and each year at every one.
fn ask_candidates(server: &Server, a: &mut Attacker, f: &Family) {
    let d = a.d;
    // Candidates: every period, resolution and k-ring; a candidate's contacts are its cells'.
    let mut candidates = 0;
    // (Every period at the map's resolution and k-ring; all history and each year at every one.)
    for p in &f.periods {
        for res in 5u8..=9 {
            for ring in 1..=5 {
                if p.len() > 4 && (res, ring) != (9, 1) {
                    continue;
                }
                let fc = json(server, PLANNER, &format!("/v1/hotspots/candidates?res={res}&k={ring}{}", period_q(p)));
                assert!(fc["perturbed"]["max_noise"].as_i64() == Some(d), "{fc}");
                for f in fc["features"].as_array().unwrap() {
                    let hexes: Vec<u64> = f["properties"]["hex_ids"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|h| u64::from(h.as_str().unwrap().parse::<CellIndex>().unwrap()))
                        .collect();
                    let base = |region| Set {
                        period: p.clone(),
                        kind: 0,
                        zone: "*".to_owned(),
                        group: "*".to_owned(),
                        region,
                    };
                    let t =
                        a.publish(&base(Region::Cells(hexes.clone())), f["properties"]["contacts"].as_u64().unwrap());
                    let parts = hexes.iter().map(|&h| a.var(&base(Region::Cell(h)))).collect();
                    a.relate(t, parts);
                    candidates += 1;
                }
            }
        }
    }
    assert!(candidates > 0, "the demo data has expansion candidates");
}

/// Impacts of planner proposals: the first five candidates of all history as a cell proposal, and the same less
/// one cell (the differencing attack), each asked three times (the averaging attack). Each figure is a
/// sum of cell values the attacker already holds (a cell no answer listed was published as 0), so an
/// impact gives the attacker no new relation: the one-cell difference is that cell's published value.
fn ask_impacts(server: &Server, a: &Attacker) {
    let fc = json(server, PLANNER, "/v1/hotspots/candidates?res=9&k=1");
    let published = |cell: u64, kind: u8| -> u64 {
        let s = Set {
            period: "all".to_owned(),
            kind,
            zone: "*".to_owned(),
            group: "*".to_owned(),
            region: Region::Cell(cell),
        };
        a.ids.get(&s).and_then(|&v| a.published[v]).unwrap_or(0)
    };
    let impact = |cells: &[String]| -> Value {
        let body = serde_json::json!({"name": "attack", "cells": cells}).to_string();
        let (status, created) = server.request_as(PLANNER, "POST", "/v1/proposals", Some(&body));
        assert_eq!(status, 201, "{created}");
        let id = serde_json::from_str::<Value>(&created).unwrap()["id"].as_str().unwrap().to_owned();
        let first = json(server, PLANNER, &format!("/v1/proposals/{id}/impact"));
        for _ in 0..2 {
            assert_eq!(json(server, PLANNER, &format!("/v1/proposals/{id}/impact")), first, "the same every time");
        }
        first
    };
    let mut asked = 0;
    for f in fc["features"].as_array().unwrap().iter().take(5) {
        let hexes: Vec<String> =
            f["properties"]["hex_ids"].as_array().unwrap().iter().map(|h| h.as_str().unwrap().to_owned()).collect();
        let ids: Vec<u64> = hexes.iter().map(|h| u64::from(h.parse::<CellIndex>().unwrap())).collect();
        let whole = impact(&hexes);
        for (kind, field) in KIND_COLUMNS.iter().enumerate() {
            let sum: u64 = ids.iter().map(|&c| published(c, kind as u8)).sum();
            assert_eq!(whole["inside_proposal"][field].as_u64(), Some(sum), "{field}: a sum of published cell values");
        }
        if hexes.len() > 1 {
            let less = impact(&hexes[1..]);
            let diff = whole["inside_proposal"]["contacts"].as_u64().unwrap()
                - less["inside_proposal"]["contacts"].as_u64().unwrap();
            assert_eq!(diff, published(ids[0], 0), "the one-cell difference is the cell's published value");
            assert!(diff == 0 || diff > u64::try_from(a.k).unwrap(), "never 1 to k: {diff}");
        }
        asked += 1;
    }
    assert!(asked > 0, "the demo data has candidates to propose");
}

/// Every bound holds the exact count (analyst), for the cells of every year and all history, and every
/// coverage row.
fn check_sound(server: &Server, a: &Attacker, f: &Family) {
    let (k, d) = (a.k, a.d);
    // Sound: every bound holds the exact count (analyst), for the cells of every year and all history,
    // and every coverage row.
    let mut checked = 0;
    for p in f.periods.iter().filter(|p| p.len() <= 4) {
        for res in 5u8..=9 {
            for (cell, values) in cell_rows(server, ANALYST, &format!("/v1/cells?res={res}&f=csv{}", period_q(p))) {
                for kind in 0..COLS as u8 {
                    let s = Set {
                        period: p.clone(),
                        kind,
                        zone: "*".to_owned(),
                        group: "*".to_owned(),
                        region: Region::Cell(cell),
                    };
                    // Not listed to the planner: published as 0.
                    let (lo, hi) = a.ids.get(&s).map_or((0, k + d), |&v| (a.lo[v], a.hi[v]));
                    let exact = values[usize::from(kind)].cast_signed();
                    assert!(lo <= exact && exact <= hi, "{s:?}: exact {exact} outside [{lo}, {hi}]");
                    checked += 1;
                }
            }
        }
    }
    let geographies = std::iter::once(None).chain(f.fixed.iter().map(|(at, _)| Some(at.as_str())));
    for at in geographies {
        let q = at.map_or_else(String::new, |at| format!("?at={at}"));
        let cov = json(server, ANALYST, &format!("/v1/coverage{q}"));
        for row in cov["months"].as_array().unwrap() {
            for (kind, exact) in kind_values(row).into_iter().enumerate() {
                let name = row["area"].as_str().unwrap();
                let s = Set {
                    period: row["month"].as_str().unwrap().to_owned(),
                    kind: kind as u8,
                    zone: at.map_or_else(|| area(name), |at| fixed_area(name, at)),
                    group: "*".to_owned(),
                    region: Region::City,
                };
                let v = a.ids[&s];
                assert!(
                    a.lo[v] <= exact.cast_signed() && exact.cast_signed() <= a.hi[v],
                    "{s:?}: exact {exact} outside [{}, {}]",
                    a.lo[v],
                    a.hi[v]
                );
                checked += 1;
            }
        }
    }
    assert!(checked > 10_000, "{checked}");
}

#[test]
fn a_planner_who_asks_everything_and_chains_every_relation_pins_no_small_count() {
    if !crate::support::have_shared() {
        return;
    }
    let tokens = format!("p:planner:{PLANNER},a:analyst:{ANALYST}");
    let server = Server::start_with(&["--demo"], &[("LEADMAP_TOKENS", tokens.as_str())]);
    attack(&server, "demo");
}

/// The same attacker on the Police Bureau's drug-offense data, 2015-2021 (`../shared/`), imported into a
/// store and served.
#[test]
fn the_attacker_pins_no_small_count_on_the_police_bureaus_data_either() {
    if !crate::support::have_shared() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let store = crate::support::ppb_store(dir.path());
    let tokens = format!("p:planner:{PLANNER},a:analyst:{ANALYST}");
    let server = Server::start_with(&["--data", store.to_str().unwrap()], &[("LEADMAP_TOKENS", tokens.as_str())]);
    attack(&server, "ppb");
}

/// Asks everything, relates everything, propagates; asserts nothing from 1 to k is pinned and every
/// bound is sound.
fn attack(server: &Server, data: &str) {
    let started = std::time::Instant::now();
    let me = json(server, PLANNER, "/v1/me");
    let (k, d) = (me["perturbed"]["zero_up_to"].as_i64().unwrap(), me["perturbed"]["max_noise"].as_i64().unwrap());
    assert_eq!((k, d, me["fixed_periods"].as_bool()), (10, 2, Some(true)), "{me}");
    let mut a = Attacker {
        k,
        d,
        ids: HashMap::new(),
        sets: Vec::new(),
        lo: Vec::new(),
        hi: Vec::new(),
        published: Vec::new(),
        relations: BTreeSet::new(),
    };
    let f = family(server);
    ask_cells(server, &mut a, &f);
    eprintln!("attacker: cells asked, {:?}", started.elapsed());
    ask_tables(server, &mut a, &f);
    ask_fixed_tables(server, &mut a, &f);
    relate_everything(&mut a, &f);
    eprintln!("attacker: coverage and equity asked, relations built, {:?}", started.elapsed());
    ask_candidates(server, &mut a, &f);
    eprintln!("attacker: candidates asked, {:?}", started.elapsed());
    ask_impacts(server, &a);
    eprintln!("attacker: impacts of candidate proposals asked, {:?}", started.elapsed());
    // Propagate, then: no count from 1 to k pinned.
    let rounds = a.propagate();
    let pinned: Vec<(&Set, i64)> = (0..a.sets.len())
        .filter(|&v| a.lo[v] == a.hi[v] && (1..=k).contains(&a.lo[v]))
        .map(|v| (&a.sets[v], a.lo[v]))
        .collect();
    let narrowest =
        (0..a.sets.len()).filter(|&v| a.lo[v] <= k && a.hi[v] >= 1).map(|v| a.hi[v] - a.lo[v].max(1)).min().unwrap();
    eprintln!(
        "attacker ({data}): {} counts, {} relations, {rounds} rounds; the narrowest range left around a count from 1 to k spans {narrowest}",
        a.sets.len(),
        a.relations.len()
    );
    assert!(pinned.is_empty(), "{} counts from 1 to k pinned, e.g. {:?}", pinned.len(), &pinned[..pinned.len().min(5)]);

    check_sound(server, &a, &f);
}

#[test]
fn planners_ask_for_fixed_periods_and_the_same_events_always_get_the_same_value() {
    let tokens = format!("p:planner:{PLANNER},a:analyst:{ANALYST}");
    let server = Server::start_with(&["--demo"], &[("LEADMAP_TOKENS", tokens.as_str())]);
    // One-day, overlapping and open windows are refused to planners with the forms they may use.
    for q in [
        "from=2019-09-30&to=2019-10-01",
        "from=2019-10-01&to=2019-10-01",
        "from=2019-01-01",
        "to=2019-06-30",
        "from=2019-01-01&to=2019-06-30",
    ] {
        for route in ["/v1/cells", "/v1/coverage", "/v1/equity", "/v1/hotspots", "/v1/hotspots/candidates"] {
            let (status, body) = server.get_as(PLANNER, &format!("{route}?{q}"));
            assert_eq!(status, 400, "{route}?{q}: {body}");
            assert!(body.contains("fixed periods") && body.contains("2019-Q2"), "{body}");
            // Analysts keep any window.
            assert_eq!(server.get_as(ANALYST, &format!("{route}?{q}")).0, 200, "{route}?{q}");
        }
    }
    for bad in ["2019-13", "2019-Q5", "19", "last-year"] {
        let (status, body) = server.get_as(PLANNER, &format!("/v1/cells?period={bad}"));
        assert_eq!(status, 400, "{body}");
        assert!(body.contains("application/problem+json") || body.contains("a quarter (2019-Q2)"), "{body}");
    }
    assert_eq!(server.get_as(PLANNER, "/v1/cells?period=2019&from=2019-01-01&to=2019-12-31").0, 400);
    // A period and its first and last day are one question, with one answer.
    let a = server.get_as(PLANNER, "/v1/cells?res=7&period=2019-Q3&f=csv");
    let b = server.get_as(PLANNER, "/v1/cells?res=7&from=2019-07-01&to=2019-09-30&f=csv");
    assert_eq!((a.0, &a.1), (200, &b.1));
    // The averaging attack: the same events, asked through every route and filter that shows them and
    // over and over, always get the same published value, so nothing averages away.
    let city = |v: &Value, area: &str, month: &str| -> [u64; COLS] {
        let row = v["months"].as_array().unwrap().iter().find(|r| r["area"] == area && r["month"] == month).unwrap();
        kind_values(row)
    };
    let cov = json(&server, PLANNER, "/v1/coverage");
    let month = "2019-03";
    let by_period = json(&server, PLANNER, &format!("/v1/coverage?period={month}"));
    let by_quarter = json(&server, PLANNER, "/v1/coverage?period=2019-Q1");
    let by_zone = json(&server, PLANNER, &format!("/v1/coverage?period={month}&zone=outside"));
    for _ in 0..3 {
        assert_eq!(city(&json(&server, PLANNER, "/v1/coverage"), "outside", month), city(&cov, "outside", month));
    }
    assert_eq!(city(&by_period, "outside", month), city(&cov, "outside", month));
    assert_eq!(city(&by_quarter, "outside", month), city(&cov, "outside", month));
    assert_eq!(city(&by_zone, "outside", month), city(&cov, "outside", month));
    // The kind filter shows the kind column of the unfiltered answer, cell by cell.
    let all = cell_rows(&server, PLANNER, "/v1/cells?res=8&period=2020&f=csv");
    let arrests = cell_rows(&server, PLANNER, "/v1/cells?res=8&period=2020&kind=arrest&f=csv");
    for (cell, v) in &arrests {
        assert_eq!(v[0], all[cell][1], "{cell:x}");
    }
    assert_eq!(arrests.len(), all.values().filter(|v| v[1] > 0).count());
}
