//! What planners and analysts are shown, computed from the in-memory event columns: counts per H3 cell
//! with each cell's relation to the zones, hotspots and expansion candidates ([`cells`]), and coverage
//! and equity tables ([`coverage`]). Each comes exact (analysts, admins), perturbed by cell key
//! ([`Disclosure::Perturbed`], what planners see over HTTP) or exact with small counts withheld
//! ([`Disclosure::Suppressed`], `--suppress K` files), by [`crate::privacy`]: this module and that one
//! are the one place that decides what a planner sees. No I/O here.

pub mod cells;
pub mod coverage;
pub mod geography;
pub mod period;

use serde::Serialize;

/// The most cells one answer may hold: about 200 MB of GeoJSON. A larger one is refused with
/// [`FigureError::TooManyCells`] before it is computed.
pub const MAX_ANSWER_CELLS: u64 = 1_000_000;

/// Why a figure cannot be computed as asked.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FigureError {
    /// The answer would hold more cells than [`MAX_ANSWER_CELLS`].
    #[error(
        "the answer would hold about {cells} cells at resolution {res}, more than the limit of {limit}; narrow the query: a coarser res, a shorter period, one kind or zone{hint}"
    )]
    TooManyCells {
        /// The estimate.
        cells: u64,
        /// The resolution asked for.
        res: u8,
        /// The limit.
        limit: u64,
        /// More advice, e.g. about events far from the rest.
        hint: String,
    },
}

use crate::privacy::PerturbationTable;

/// How exact the figures are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Disclosure {
    /// Exact counts and statistics (analysts, admins).
    Exact,
    /// Every count, totals included, perturbed by its own cell key through the table (counts from 1 to
    /// its k published as 0, the others moved by at most its `max_noise`); rates from the published
    /// counts; hotspot classes only (planners).
    Perturbed(&'static PerturbationTable),
    /// Exact counts, those from 1 to `k` withheld, with secondary suppression; hotspot classes only
    /// (`--suppress K` files).
    Suppressed {
        /// The threshold.
        k: u64,
    },
}

impl Disclosure {
    /// Counts from 1 to this are withheld or published as 0 (0 when exact).
    #[must_use]
    pub fn k(self) -> u64 {
        match self {
            Self::Exact => 0,
            Self::Perturbed(t) => t.zero_up_to(),
            Self::Suppressed { k } => k,
        }
    }

    /// A short name for cache keys and logs: `exact`, `perturbed:TABLE`, `suppressed:K`.
    #[must_use]
    pub fn label(self) -> String {
        match self {
            Self::Exact => "exact".to_owned(),
            Self::Perturbed(t) => format!("perturbed:{}", t.name()),
            Self::Suppressed { k } => format!("suppressed:{k}"),
        }
    }

    /// Whether z-scores, p-values and other statistics of exact counts may be shown.
    #[must_use]
    pub fn is_exact(self) -> bool {
        self == Self::Exact
    }

    /// Publishes counts with their cell keys, entry by entry, for the disclosures that need no view of
    /// the whole table (exact and perturbed); `None` for [`Self::Suppressed`], whose secondary
    /// suppression the caller runs over the table's relations.
    #[must_use]
    pub fn each(self, values: &[u64], keys: &[u8]) -> Option<Vec<Count>> {
        match self {
            Self::Exact => Some(values.iter().map(|&v| Count(Some(v))).collect()),
            Self::Perturbed(t) => Some(values.iter().zip(keys).map(|(&v, &k)| Count(Some(t.publish(v, k)))).collect()),
            Self::Suppressed { .. } => None,
        }
    }
}

/// What an answer says about its perturbation (planners' answers), so a reader knows how far to trust a
/// count.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Perturbation {
    /// The table's name.
    pub table: String,
    /// Counts from 1 to this are published as 0.
    pub zero_up_to: u64,
    /// A published count above `zero_up_to` is within this of the true count.
    pub max_noise: u64,
    /// The same, in words.
    pub note: String,
}

impl Disclosure {
    /// The perturbation note of a perturbed answer, none otherwise.
    #[must_use]
    pub fn perturbation(self) -> Option<Perturbation> {
        let Self::Perturbed(t) = self else { return None };
        let (k, d) = (t.zero_up_to(), t.max_noise());
        Some(Perturbation {
            table: t.name().to_owned(),
            zero_up_to: k,
            max_noise: d,
            note: format!(
                "Counts are perturbed to protect the people in them: a count from 1 to {k} is shown as 0, a larger \
                 one is within {d} of the true count (a count up to {} may also be shown as 0); totals and rates \
                 are computed from such counts and need not add up exactly.",
                k + d
            ),
        })
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
