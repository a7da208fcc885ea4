//! Counts at a resolution from groups of (ancestor, fix, kind): what a database's `GROUP BY` over the
//! stored res-15 cell and cell fix code gives with integer operations alone, turned into the counts of
//! each point's own cell, exactly as the in-memory columns count them ([`super::columns`]). A store
//! that can count by itself (SQL) answers with groups; the few events whose own cell is neither the
//! ancestor nor one of its neighbours (fix 7) come back as points.

use std::collections::BTreeMap;

use h3o::{CellIndex, LatLng, Resolution};

use super::columns::ancestor_bits;
use super::{MAX_RES, MIN_RES};
use crate::events::EventKind;

/// Events that share an ancestor at one resolution, a fix at it and a kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct CellGroup {
    /// The ancestor of their res-15 cell at the resolution ([`ancestor_bits`]).
    pub ancestor: u64,
    /// Their fix at the resolution ([`fix_at`]): 0 the ancestor, 1..=6 its neighbour across that edge.
    pub fix: u8,
    /// Their kind.
    pub kind: EventKind,
    /// How many.
    pub count: u64,
}

/// What a store answers for one resolution: the groups, and the events whose fix is 7 (or was never
/// stored), as (lon, lat, kind), whose own cell is computed from the point.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Grouped {
    /// Counts by ancestor, fix and kind.
    pub groups: Vec<CellGroup>,
    /// The events no group can place, lon/lat order.
    pub points: Vec<(f64, f64, EventKind)>,
}

/// The fix at `res` (5..=12) of an event whose cell fix code is `code` (3 bits a resolution, see
/// [`super::columns::fix_code`]).
#[must_use]
pub fn fix_at(code: u32, res: u8) -> u8 {
    let shift = 3 * u32::from(res.clamp(MIN_RES, MAX_RES) - MIN_RES);
    ((code >> shift) & 7) as u8
}

/// The cell a group's events are in: the ancestor (fix 0) or the destination of its `fix`-th edge
/// (1..=6); `None` for fix 7, or bits that are not a cell.
#[must_use]
pub fn group_cell(ancestor: u64, fix: u8) -> Option<CellIndex> {
    let cell = CellIndex::try_from(ancestor).ok()?;
    match fix {
        0 => Some(cell),
        1..=6 => cell.edges().nth(usize::from(fix) - 1).map(h3o::DirectedEdgeIndex::destination),
        _ => None,
    }
}

impl Grouped {
    /// Adds one event with res-15 cell `cell15`, cell fix code `code` (none when not stored) at
    /// (`lon`, `lat`): what a `GROUP BY` does, one row at a time (for a store without one, and for tests).
    pub fn add(&mut self, res: u8, cell15: u64, code: Option<u32>, lon: f64, lat: f64, kind: EventKind) {
        match code.map(|c| fix_at(c, res)) {
            Some(fix) if fix < 7 => {
                let ancestor = ancestor_bits(cell15, res);
                self.groups.push(CellGroup { ancestor, fix, kind, count: 1 });
            }
            _ => self.points.push((lon, lat, kind)),
        }
    }

    /// The count of each cell at `res` by kind ([`EventKind::ALL`] order), cells by index.
    #[must_use]
    pub fn cell_counts(&self, res: u8) -> BTreeMap<u64, [u64; EventKind::COUNT]> {
        let mut out: BTreeMap<u64, [u64; EventKind::COUNT]> = BTreeMap::new();
        for g in &self.groups {
            if let Some(cell) = group_cell(g.ancestor, g.fix) {
                out.entry(u64::from(cell)).or_default()[g.kind.index()] += g.count;
            }
        }
        let Ok(resolution) = Resolution::try_from(res) else { return out };
        for &(lon, lat, kind) in &self.points {
            // h3o takes latitude first.
            if let Ok(ll) = LatLng::new(lat, lon) {
                out.entry(u64::from(ll.to_cell(resolution))).or_default()[kind.index()] += 1;
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_group_is_in_its_ancestor_or_the_neighbour_across_its_fix() {
        // Points near cell edges at every resolution: the grouped counts are the points' own cells.
        let points: Vec<(f64, f64)> =
            (0..400).map(|i| (-122.70 + f64::from(i) * 0.000_37, 45.50 + f64::from(i % 17) * 0.000_91)).collect();
        let mut moved = 0;
        for res in MIN_RES..=MAX_RES {
            let resolution = Resolution::try_from(res).unwrap();
            let mut grouped = Grouped::default();
            let mut own: BTreeMap<u64, [u64; EventKind::COUNT]> = BTreeMap::new();
            for (i, &(lon, lat)) in points.iter().enumerate() {
                let kind = EventKind::ALL[i % EventKind::COUNT];
                let (cell15, code) = super::super::columns::cell15_and_fix(lon, lat);
                own.entry(u64::from(LatLng::new(lat, lon).unwrap().to_cell(resolution))).or_default()[kind.index()] +=
                    1;
                grouped.add(res, cell15, Some(code), lon, lat, kind);
            }
            moved += grouped.groups.iter().filter(|g| g.fix != 0).count();
            assert_eq!(grouped.cell_counts(res), own, "resolution {res}");
        }
        assert!(moved > 0, "some points are not in their res-15 cell's ancestor");
        // A code not stored, or 7: placed from the point.
        let mut far = Grouped::default();
        far.add(9, 0, None, -122.68, 45.52, EventKind::Arrest);
        far.add(9, 0, Some(7 << 12), -122.68, 45.52, EventKind::Arrest);
        assert_eq!(far.points.len(), 2);
        assert_eq!(far.cell_counts(9).values().map(|n| n[0]).sum::<u64>(), 2);
        assert_eq!(group_cell(0, 0), None);
    }
}
