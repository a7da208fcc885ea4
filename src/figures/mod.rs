//! What planners and analysts are shown, computed from the in-memory event columns: counts per H3 cell
//! with each cell's relation to the zones, hotspots and expansion candidates ([`cells`]), and coverage
//! and equity tables ([`coverage`]). Each comes exact (analysts, admins) or with small counts withheld
//! ([`Disclosure::Suppressed`], planners) by [`crate::privacy`]. No I/O here.

pub mod cells;
pub mod coverage;

use serde::Serialize;

/// How exact the figures are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Disclosure {
    /// Exact counts and statistics (analysts, admins).
    Exact,
    /// Counts from 1 to `k` withheld, with secondary suppression; hotspot classes only (planners).
    Suppressed {
        /// The threshold.
        k: u64,
    },
}

impl Disclosure {
    /// The threshold (0 when exact).
    #[must_use]
    pub fn k(self) -> u64 {
        match self {
            Self::Exact => 0,
            Self::Suppressed { k } => k,
        }
    }
}

/// A count as published: the number, or `null` when withheld.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Count(pub Option<u64>);

impl Default for Count {
    fn default() -> Self {
        Self(Some(0))
    }
}

impl Count {
    /// `value`, or withheld.
    #[must_use]
    pub fn new(value: u64, hidden: bool) -> Self {
        Self((!hidden).then_some(value))
    }
}

/// `num / den` when both are published and `den > 0`.
#[must_use]
pub fn rate(num: Count, den: Count) -> Option<f64> {
    match (num.0, den.0) {
        (Some(n), Some(d)) if d > 0 => Some(n as f64 / d as f64),
        _ => None,
    }
}

/// Rounds a ratio to 4 decimals for publication.
#[must_use]
pub fn round4(x: Option<f64>) -> Option<f64> {
    x.map(|v| (v * 1e4).round() / 1e4)
}
