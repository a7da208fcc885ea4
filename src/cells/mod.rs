//! Events in H3 cells at resolutions 5–12: the resolution type and per-kind counts, cell outlines, the
//! in-memory columns aggregates are counted from ([`columns`]), the zones' cover and the study area
//! ([`area`]), and raw points counted directly ([`points`]). Each event counts in the cell its point lies
//! in (as h3-py's `latlng_to_cell`); H3 cells do not nest, so that is not always the parent of its
//! stored res-15 cell (about 7 % of points at res 9), and the columns keep the difference.

pub mod area;
pub mod columns;
pub mod grouped;
pub mod points;

use h3o::{CellIndex, LatLng, Resolution};

use crate::events::EventKind;

/// The coarsest resolution leadmap aggregates at.
pub const MIN_RES: u8 = 5;
/// The finest resolution leadmap aggregates at.
pub const MAX_RES: u8 = 12;

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

impl Default for CellRes {
    fn default() -> Self {
        Self::DEFAULT
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

/// Events of each kind in one cell, and the cell key of each kind's events.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KindCounts {
    /// Arrests.
    pub arrest: u64,
    /// Post-arrest / pre-booking diversion referrals.
    pub diversion_referral: u64,
    /// Social contact referrals.
    pub social_contact_referral: u64,
    /// Police offense reports.
    pub offense_report: u64,
    /// The cell key of each kind's events, in [`EventKind::ALL`] order: the sum of their record keys
    /// modulo 256 ([`crate::privacy`]).
    pub keys: [u8; EventKind::COUNT],
}

impl KindCounts {
    /// Counts of each kind in [`EventKind::ALL`] order, and their keys.
    #[must_use]
    pub fn from_array(n: [u64; EventKind::COUNT], keys: [u8; EventKind::COUNT]) -> Self {
        let [arrest, diversion_referral, social_contact_referral, offense_report] = n;
        Self { arrest, diversion_referral, social_contact_referral, offense_report, keys }
    }

    /// The counts in [`EventKind::ALL`] order.
    #[must_use]
    pub fn as_array(&self) -> [u64; EventKind::COUNT] {
        [self.arrest, self.diversion_referral, self.social_contact_referral, self.offense_report]
    }

    fn slot(&mut self, kind: EventKind) -> &mut u64 {
        match kind {
            EventKind::Arrest => &mut self.arrest,
            EventKind::DiversionReferral => &mut self.diversion_referral,
            EventKind::SocialContactReferral => &mut self.social_contact_referral,
            EventKind::OffenseReport => &mut self.offense_report,
        }
    }

    /// Adds one event of `kind` with record key `key`.
    pub fn add(&mut self, kind: EventKind, key: u8) {
        *self.slot(kind) += 1;
        let k = &mut self.keys[kind.index()];
        *k = k.wrapping_add(key);
    }

    /// Adds another cell's counts.
    pub fn add_counts(&mut self, o: &Self) {
        for (kind, n) in EventKind::ALL.into_iter().zip(o.as_array()) {
            *self.slot(kind) += n;
        }
        for (k, ok) in self.keys.iter_mut().zip(o.keys) {
            *k = k.wrapping_add(ok);
        }
    }

    /// The cell key of all its events.
    #[must_use]
    pub fn key(&self) -> u8 {
        self.keys.iter().fold(0u8, |a, &k| a.wrapping_add(k))
    }

    /// Events of every kind.
    #[must_use]
    pub fn total(&self) -> u64 {
        self.as_array().iter().sum()
    }
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
    fn rings_are_closed_lon_lat_outlines() {
        let c = LatLng::new(45.5189, -122.6793).unwrap().to_cell(Resolution::Nine);
        let r = ring(c);
        assert_eq!(r.len(), 7);
        assert_eq!(r.first(), r.last());
        assert!(r.iter().all(|p| (p[0] + 122.68).abs() < 0.01 && (p[1] - 45.52).abs() < 0.01), "lon first");
    }
}
