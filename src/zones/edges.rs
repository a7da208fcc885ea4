//! The parts a zone index is made of, shared by the exact index (`index`), the batch grid (`grid`) and
//! the nearest-edge grid (`edgegrid`): the zone number ([`ZoneNo`], the one type for "which zone of the
//! set") and the zones' edges, in lon/lat and in the index's plane of metres.

use std::num::NonZeroU16;

use rstar::primitives::{GeomWithData, Line};

/// A zone's position in its set (the index into [`super::ZoneSet::zones`]) in two bytes, so that
/// `Option<ZoneNo>` is two bytes too: the compact answer of [`super::ZoneIndex::classify_batch`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ZoneNo(NonZeroU16);

impl ZoneNo {
    /// The zone at `index` of its set; `None` past the 16-bit range (sets hold at most
    /// [`super::MAX_ZONES`]).
    #[must_use]
    pub fn new(index: usize) -> Option<Self> {
        u16::try_from(index + 1).ok().and_then(NonZeroU16::new).map(Self)
    }

    /// The index into [`super::ZoneSet::zones`].
    #[must_use]
    pub fn index(self) -> usize {
        usize::from(self.0.get() - 1)
    }

    /// From the stored form, index + 1; 0 is `None`.
    #[inline]
    pub(super) fn from_raw(index_plus_one: u16) -> Option<Self> {
        NonZeroU16::new(index_plus_one).map(Self)
    }

    /// The zone of a batch grid code (`code` is the zone's index, below 255).
    #[inline]
    pub(super) fn from_code(code: u8) -> Self {
        Self(NonZeroU16::MIN.saturating_add(u16::from(code)))
    }
}

/// An edge of a zone, end points in (lon, lat).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct EdgeRef {
    pub(super) zone: ZoneNo,
    pub(super) a: [f64; 2],
    pub(super) b: [f64; 2],
    /// Another zone has the same edge (same end points, either direction): crossing it changes the zone
    /// but not whether the point is in a LEAD area.
    pub(super) shared: bool,
}

/// An edge in the plane of metres, with its number in the index's list of edges.
pub(super) type PlaneEdge = GeomWithData<Line<[f64; 2]>, u32>;
