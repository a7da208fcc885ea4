//! Counts per H3 cell (each with its relation to the zones in force), Gi* hotspots over the study area,
//! and expansion candidates, exact or with small counts withheld.

use std::collections::HashMap;

use geo::MultiPolygon;
use h3o::{CellIndex, Resolution};

use super::{Count, Disclosure, FigureError, MAX_ANSWER_CELLS};
use crate::cells::area::{Relation, ZoneCover, study_area};
use crate::cells::columns::{EventColumns, EventFilter};
use crate::cells::{CellRes, KindCounts, MIN_RES};
use crate::events::EventKind;
use crate::hotspots;
use crate::privacy;

/// What to count.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CellQuery {
    /// Which events.
    pub filter: EventFilter,
    /// At which resolution.
    pub res: CellRes,
    /// Also every empty cell of the study area, as a zero.
    pub zeros: bool,
}

/// Gi* of one cell as published (planners get the classes only).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Hot {
    /// z-score (exact disclosure only).
    pub z: Option<f64>,
    /// Two-sided p-value (exact disclosure only).
    pub p: Option<f64>,
    /// `Gi_Bin`: ±3/±2/±1 hot/cold at 99/95/90 %, 0 not significant.
    pub bin: i8,
    /// The same with Benjamini–Hochberg FDR control.
    pub bin_fdr: i8,
    /// Neighbours in the study area, the cell itself included.
    pub neighbours: u32,
}

/// One cell as published.
#[derive(Clone, Debug, PartialEq)]
pub struct CellFigure {
    /// The cell.
    pub cell: CellIndex,
    /// Events of every kind.
    pub count: Count,
    /// Arrests.
    pub arrest: Count,
    /// Diversion referrals.
    pub diversion_referral: Count,
    /// Social contact referrals.
    pub social_contact_referral: Count,
    /// Police offense reports.
    pub offense_report: Count,
    /// Whether any of the counts is withheld.
    pub suppressed: bool,
    /// Inside, on the boundary of, or outside the zones in force.
    pub relation: Relation,
    /// Gi*, for hotspot answers.
    pub hotspot: Option<Hot>,
}

/// An expansion candidate as published.
#[derive(Clone, Debug, PartialEq)]
pub struct CandidateFigure {
    /// 1 for the one holding the most contacts.
    pub rank: usize,
    /// Its cells.
    pub cells: Vec<CellIndex>,
    /// Events in them.
    pub contacts: Count,
    /// Its outline (lon, lat).
    pub outline: MultiPolygon<f64>,
}

/// A cell answer.
#[derive(Clone, Debug, PartialEq)]
pub struct CellFigures {
    /// The resolution.
    pub res: CellRes,
    /// One row per cell, in cell order.
    pub rows: Vec<CellFigure>,
    /// Expansion candidates, best first (hotspot answers only).
    pub candidates: Vec<CandidateFigure>,
    /// How exact.
    pub disclosure: Disclosure,
    /// The k-ring of the hotspot statistic (hotspot answers only).
    pub k_ring: Option<u32>,
    /// Whether the rows have counts per kind (not for raw points, which have none).
    pub kinds: bool,
}

/// The cells with events, and with `zeros` every other cell of the study area: the cells over the
/// outline (convex hull) of the events selected and the zones' cells. Published with perturbation, the
/// outline is that of every event, so the study area's shape says nothing about where the selected
/// events are. Refused when the answer would hold more than [`MAX_ANSWER_CELLS`] cells.
fn counted(
    cols: &EventColumns,
    cover: &ZoneCover,
    q: &CellQuery,
    zeros: bool,
    disclosure: Disclosure,
) -> Result<Vec<(CellIndex, KindCounts)>, FigureError> {
    let res = u8::from(q.res.resolution());
    let too_many = |cells: u64, hint: &str| FigureError::TooManyCells {
        cells,
        res,
        limit: MAX_ANSWER_CELLS,
        hint: hint.to_owned(),
    };
    let counts = cols.count_cells(&q.filter, q.res);
    if counts.len() as u64 > MAX_ANSWER_CELLS {
        return Err(too_many(counts.len() as u64, ""));
    }
    if !zeros {
        return Ok(counts.into_iter().collect());
    }
    let selected;
    let outline = if matches!(disclosure, Disclosure::Perturbed(_)) {
        cols.hull()
    } else {
        selected = crate::cells::area::hull(counts.iter().map(|(c, _)| {
            let ll = h3o::LatLng::from(*c);
            [ll.lng(), ll.lat()]
        }));
        selected.as_ref()
    };
    if let Some(h) = outline {
        let area_km2 = geo::ChamberlainDuquetteArea::chamberlain_duquette_unsigned_area(h) / 1e6;
        let estimate = (area_km2 / q.res.resolution().area_km2()) as u64 + cover.cells().count() as u64;
        if estimate > MAX_ANSWER_CELLS {
            return Err(too_many(
                estimate,
                &format!(
                    " (the events selected span {area_km2:.0} km²: an event far from the others, e.g. at (0, 0), stretches the study area; find it with GET /v1/events?bbox=…)"
                ),
            ));
        }
    }
    let area = study_area(outline, cover, counts.iter().map(|(c, _)| *c), q.res);
    let by_cell: HashMap<CellIndex, KindCounts> = counts.into_iter().collect();
    Ok(area.into_iter().map(|c| (c, by_cell.get(&c).copied().unwrap_or_default())).collect())
}

/// Counts a published cell has: its total, then each kind in [`EventKind::ALL`] order.
const COLUMNS: usize = EventKind::COUNT + 1;

fn columns(n: &KindCounts) -> [u64; COLUMNS] {
    let [a, d, s, o] = n.as_array();
    [n.total(), a, d, s, o]
}

/// The cell keys of [`columns`].
fn column_keys(n: &KindCounts) -> [u8; COLUMNS] {
    let [a, d, s, o] = n.keys;
    [n.key(), a, d, s, o]
}

/// Each row's counts (count, then each kind) and each of `groups`' contact totals (sets
/// of rows published as one sum, e.g. a candidate's contacts) as `disclosure` publishes them.
fn disclose(
    rows: &[(CellIndex, KindCounts)],
    res: CellRes,
    groups: &[Vec<usize>],
    disclosure: Disclosure,
) -> (Vec<[Count; COLUMNS]>, Vec<Count>) {
    let group_totals: Vec<(u64, u8)> = groups
        .iter()
        .map(|g| g.iter().fold((0, 0u8), |(n, k), &i| (n + rows[i].1.total(), k.wrapping_add(rows[i].1.key()))))
        .collect();
    let values: Vec<u64> = rows.iter().flat_map(|(_, n)| columns(n)).collect();
    let keys: Vec<u8> = rows.iter().flat_map(|(_, n)| column_keys(n)).collect();
    let gv: Vec<u64> = group_totals.iter().map(|g| g.0).collect();
    let gk: Vec<u8> = group_totals.iter().map(|g| g.1).collect();
    let (cells, totals) = if let (Some(c), Some(t)) = (disclosure.each(&values, &keys), disclosure.each(&gv, &gk)) {
        (c, t)
    } else {
        let (hidden, hidden_groups) = suppress_cells(rows, res, groups, disclosure.k());
        let c = values.iter().zip(hidden.iter().flatten()).map(|(&v, &h)| Count::new(v, h)).collect();
        let t = gv.iter().zip(&hidden_groups).map(|(&v, &h)| Count::new(v, h)).collect();
        (c, t)
    };
    (cells.chunks_exact(COLUMNS).map(|c| std::array::from_fn(|i| c[i])).collect(), totals)
}

/// Which of each row's counts (count, then each kind) to withhold, and which of the
/// `groups`' totals (sets of rows published as one sum, e.g. a candidate's contacts). Relations: each
/// row's count is the sum of its kinds; each column sums to the citywide figure and, per coarser
/// resolution down to 5, to each parent cell's (both assumed known to the reader).
fn suppress_cells(
    rows: &[(CellIndex, KindCounts)],
    res: CellRes,
    groups: &[Vec<usize>],
    k: u64,
) -> (Vec<[bool; COLUMNS]>, Vec<bool>) {
    let mut values: Vec<u64> = rows.iter().flat_map(|(_, n)| columns(n)).collect();
    let mut rels = Vec::new();
    for i in 0..rows.len() {
        let at = COLUMNS * i;
        rels.push(privacy::Relation { total: Some(at), parts: (at + 1..at + COLUMNS).collect() });
    }
    let mut parent_groups: Vec<Vec<usize>> = vec![(0..rows.len()).collect()];
    for r in MIN_RES..u8::from(res.resolution()) {
        let Ok(r) = Resolution::try_from(r) else { continue };
        let mut by_parent: HashMap<CellIndex, Vec<usize>> = HashMap::new();
        for (i, (c, _)) in rows.iter().enumerate() {
            if let Some(p) = c.parent(r) {
                by_parent.entry(p).or_default().push(i);
            }
        }
        parent_groups.extend(by_parent.into_values());
    }
    for g in &parent_groups {
        for col in 0..COLUMNS {
            rels.push(privacy::Relation { total: None, parts: g.iter().map(|i| COLUMNS * i + col).collect() });
        }
    }
    for g in groups {
        values.push(g.iter().map(|&i| rows[i].1.total()).sum());
        rels.push(privacy::Relation { total: Some(values.len() - 1), parts: g.iter().map(|i| COLUMNS * i).collect() });
    }
    let hidden = privacy::suppress(&values, &rels, k);
    let per_row = (0..rows.len()).map(|i| std::array::from_fn(|col| hidden[COLUMNS * i + col])).collect();
    (per_row, hidden[COLUMNS * rows.len()..].to_vec())
}

fn publish(
    rows: &[(CellIndex, KindCounts)],
    published: &[[Count; COLUMNS]],
    cover: &ZoneCover,
    hot: Option<&[Hot]>,
) -> Vec<CellFigure> {
    rows.iter()
        .zip(published)
        .enumerate()
        .map(|(i, ((cell, _), c))| CellFigure {
            cell: *cell,
            count: c[0],
            arrest: c[1],
            diversion_referral: c[2],
            social_contact_referral: c[3],
            offense_report: c[4],
            suppressed: c.iter().any(|x| x.0.is_none()),
            relation: cover.relation(*cell),
            hotspot: hot.and_then(|h| h.get(i).copied()),
        })
        .collect()
}

/// Counts per cell of the events `q` selects, with each cell's relation to `zones` (the set in force).
pub fn cell_figures(
    cols: &EventColumns,
    zones: &[&MultiPolygon<f64>],
    q: &CellQuery,
    disclosure: Disclosure,
) -> Result<CellFigures, FigureError> {
    let cover = ZoneCover::new(zones.iter().copied(), q.res);
    let rows = counted(cols, &cover, q, q.zeros, disclosure)?;
    let (published, _) = disclose(&rows, q.res, &[], disclosure);
    let mut rows = publish(&rows, &published, &cover, None);
    if !q.zeros && matches!(disclosure, Disclosure::Perturbed(_)) {
        // A listed cell has events: one published as all zeros would say "1 to k" where an unlisted one
        // says "0 to k", so it is left out like an empty one.
        rows.retain(|r| {
            [r.count, r.arrest, r.diversion_referral, r.social_contact_referral, r.offense_report]
                .iter()
                .any(|c| c.0 != Some(0))
        });
    }
    Ok(CellFigures { res: q.res, rows, candidates: Vec::new(), disclosure, k_ring: None, kinds: true })
}

/// How expansion candidates are chosen beyond "hot at 95 % after FDR control, outside every zone".
#[derive(Clone, Copy, Debug)]
pub struct CandidateOptions<'a> {
    /// A candidate holds at least this many contacts (as published to the role).
    pub min_contacts: u64,
    /// The study area is limited to the cells whose centre lies in this area (e.g. land without the
    /// river): the statistic, its neighbours and the candidates see no other cell.
    pub mask: Option<&'a MultiPolygon<f64>>,
}

/// The default floor of a candidate's contacts.
pub const DEFAULT_MIN_CONTACTS: u64 = 10;

impl Default for CandidateOptions<'_> {
    fn default() -> Self {
        Self { min_contacts: DEFAULT_MIN_CONTACTS, mask: None }
    }
}

/// Gi* over every cell of the study area (explicit zeros) with `k`-ring neighbours, and the expansion
/// candidates: clusters of cells hot at 95 % after FDR control and outside every zone, ranked by
/// contacts, those of fewer than [`DEFAULT_MIN_CONTACTS`] left out. Planners get the classes only (the
/// statistic is computed on the exact counts).
pub fn hotspot_figures(
    cols: &EventColumns,
    zones: &[&MultiPolygon<f64>],
    q: &CellQuery,
    k: u32,
    disclosure: Disclosure,
) -> Result<CellFigures, FigureError> {
    hotspot_figures_with(cols, zones, q, k, disclosure, CandidateOptions::default())
}

/// [`hotspot_figures`] with a floor of contacts and a study-area mask.
pub fn hotspot_figures_with(
    cols: &EventColumns,
    zones: &[&MultiPolygon<f64>],
    q: &CellQuery,
    k: u32,
    disclosure: Disclosure,
    options: CandidateOptions<'_>,
) -> Result<CellFigures, FigureError> {
    let cover = ZoneCover::new(zones.iter().copied(), q.res);
    let mut rows = counted(cols, &cover, q, true, disclosure)?;
    if let Some(mask) = options.mask {
        let inside = crate::cells::area::centre_cells(mask, q.res);
        rows.retain(|(c, _)| inside.contains(c));
    }
    let cells: Vec<CellIndex> = rows.iter().map(|(c, _)| *c).collect();
    let values: Vec<f64> = rows.iter().map(|(_, n)| n.total() as f64).collect();
    let gi = hotspots::gi_star(&cells, &values, k);
    let exact = disclosure.is_exact();
    let hot: Vec<Hot> = gi
        .iter()
        .map(|g| Hot {
            z: g.z.filter(|_| exact),
            p: g.p.filter(|_| exact),
            bin: g.bin,
            bin_fdr: g.bin_fdr,
            neighbours: g.neighbours,
        })
        .collect();
    let significant: Vec<(CellIndex, u64)> = rows
        .iter()
        .zip(&gi)
        .filter(|((c, _), g)| g.bin_fdr >= 2 && cover.relation(*c) == Relation::Outside)
        .map(|((c, n), _)| (*c, n.total()))
        .collect();
    let found = hotspots::clusters(&significant);
    let position: HashMap<CellIndex, usize> = cells.iter().enumerate().map(|(i, c)| (*c, i)).collect();
    let groups: Vec<Vec<usize>> =
        found.iter().map(|c| c.cells.iter().filter_map(|x| position.get(x).copied()).collect()).collect();
    let (published, totals) = disclose(&rows, q.res, &groups, disclosure);
    let mut candidates: Vec<CandidateFigure> = found
        .into_iter()
        .zip(totals)
        .map(|(c, contacts)| CandidateFigure { rank: 0, contacts, cells: c.cells, outline: c.outline })
        .collect();
    if !disclosure.is_exact() {
        // Ranked by what is published: an order by exact contacts would tell which of two near-equal
        // published totals is really the larger; ties go by their first cell, not by the exact order.
        candidates.sort_by_key(|c| (std::cmp::Reverse(c.contacts.0.unwrap_or(0)), c.cells.first().copied()));
    }
    // The floor applies to what is published, so whether a candidate is listed says nothing more.
    candidates.retain(|c| c.contacts.0.map_or(options.min_contacts == 0, |n| n >= options.min_contacts));
    for (i, c) in candidates.iter_mut().enumerate() {
        c.rank = i + 1;
    }
    Ok(CellFigures {
        res: q.res,
        rows: publish(&rows, &published, &cover, Some(&hot)),
        candidates,
        disclosure,
        k_ring: Some(k),
        kinds: true,
    })
}

/// Raw points counted per cell (`leadmap cells --input`): exact counts, no kinds, each cell related to
/// `zones`.
#[must_use]
pub fn point_figures(counts: Vec<(CellIndex, u64)>, zones: &[&MultiPolygon<f64>], res: CellRes) -> CellFigures {
    let cover = ZoneCover::new(zones.iter().copied(), res);
    let rows = counts
        .into_iter()
        .map(|(cell, n)| CellFigure {
            cell,
            count: Count(Some(n)),
            arrest: Count(None),
            diversion_referral: Count(None),
            social_contact_referral: Count(None),
            offense_report: Count(None),
            suppressed: false,
            relation: cover.relation(cell),
            hotspot: None,
        })
        .collect();
    CellFigures { res, rows, candidates: Vec::new(), disclosure: Disclosure::Exact, k_ring: None, kinds: false }
}
