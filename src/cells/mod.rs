//! Events counted in H3 cells at resolutions 5–12: each event's stored resolution-15 cell is mapped to
//! its ancestor at the asked resolution (H3's hierarchy, as h3-py's `cell_to_parent`), so no coordinate
//! is touched again. Note that H3 cells do not nest: near a cell's edge, a point's res-15 cell can have
//! an ancestor next to the coarse cell the point lies in (about 7 % of points at res 9).

use std::collections::BTreeMap;

use h3o::{CellIndex, LatLng, Resolution};

use crate::events::EventKind;

/// A resolution leadmap aggregates at: 5 (about 250 km²) to 12 (about 300 m²); 9 (about 0.1 km², some
/// 16 Portland blocks) by default.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CellRes(Resolution);

impl CellRes {
    /// The default, 9.
    pub const DEFAULT: Self = Self(Resolution::Nine);

    /// The h3o resolution.
    #[must_use]
    pub fn resolution(self) -> Resolution {
        self.0
    }
}

impl std::str::FromStr for CellRes {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("resolution {s:?}: use a whole number from 5 to 12 (9 is about 16 city blocks)");
        let n: u8 = s.trim().parse().map_err(|_| bad())?;
        if !(5..=12).contains(&n) {
            return Err(bad());
        }
        Resolution::try_from(n).map(Self).map_err(|_| bad())
    }
}

impl std::fmt::Display for CellRes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", u8::from(self.0))
    }
}

/// Events of each kind in one cell.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KindCounts {
    /// Arrests.
    pub arrest: u64,
    /// Post-arrest / pre-booking diversion referrals.
    pub diversion_referral: u64,
    /// Social contact referrals.
    pub social_contact_referral: u64,
}

impl KindCounts {
    /// Adds one event of `kind`.
    pub fn add(&mut self, kind: EventKind) {
        match kind {
            EventKind::Arrest => self.arrest += 1,
            EventKind::DiversionReferral => self.diversion_referral += 1,
            EventKind::SocialContactReferral => self.social_contact_referral += 1,
        }
    }

    /// Events of every kind.
    #[must_use]
    pub fn total(&self) -> u64 {
        self.arrest + self.diversion_referral + self.social_contact_referral
    }
}

/// Counts events, given as (stored res-15 cell, kind), per cell at `res`, in cell order. An event whose
/// stored cell is not a valid res-15 H3 index is returned in the error count instead (a damaged store).
pub fn aggregate(
    events: impl IntoIterator<Item = (u64, EventKind)>,
    res: CellRes,
) -> (BTreeMap<CellIndex, KindCounts>, u64) {
    let mut cells: BTreeMap<CellIndex, KindCounts> = BTreeMap::new();
    let mut bad = 0;
    for (cell, kind) in events {
        match CellIndex::try_from(cell).ok().and_then(|c| c.parent(res.0)) {
            Some(parent) => cells.entry(parent).or_default().add(kind),
            None => bad += 1,
        }
    }
    (cells, bad)
}

/// A cell's outline as a closed GeoJSON ring of `[lon, lat]` positions (h3o gives latitude first).
#[must_use]
pub fn ring(cell: CellIndex) -> Vec<[f64; 2]> {
    let boundary = cell.boundary();
    let mut ring: Vec<[f64; 2]> = boundary.iter().map(|ll: &LatLng| [ll.lng(), ll.lat()]).collect();
    if let Some(&first) = ring.first() {
        ring.push(first);
    }
    ring
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolutions_parse_within_5_to_12() {
        assert_eq!("9".parse::<CellRes>().unwrap(), CellRes::DEFAULT);
        assert_eq!("12".parse::<CellRes>().unwrap().to_string(), "12");
        for bad in ["4", "13", "nine", ""] {
            assert!(bad.parse::<CellRes>().unwrap_err().contains("5 to 12"), "{bad}");
        }
    }

    #[test]
    fn events_count_in_the_ancestor_of_their_cell() {
        let a = LatLng::new(45.5189, -122.6793).unwrap().to_cell(Resolution::Fifteen);
        let b = LatLng::new(45.5245, -122.6765).unwrap().to_cell(Resolution::Fifteen);
        let events = [
            (u64::from(a), EventKind::Arrest),
            (u64::from(a), EventKind::SocialContactReferral),
            (u64::from(b), EventKind::Arrest),
            (7, EventKind::Arrest),
        ];
        let (cells, bad) = aggregate(events, "9".parse().unwrap());
        assert_eq!(bad, 1);
        let pa = a.parent(Resolution::Nine).unwrap();
        assert_eq!(cells[&pa].arrest, 1);
        assert_eq!(cells[&pa].social_contact_referral, 1);
        assert_eq!(cells.values().map(KindCounts::total).sum::<u64>(), 3);
        let r = ring(pa);
        assert_eq!(r.len(), 7);
        assert_eq!(r.first(), r.last());
        assert!(r.iter().all(|p| (p[0] + 122.68).abs() < 0.01 && (p[1] - 45.52).abs() < 0.01));
    }
}
