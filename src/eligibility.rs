//! The answer to a field app's question "is this contact location in a LEAD area?": the zone (or none),
//! the boundary flags, distances, and the zone set that answered. The same shape is printed by
//! `leadmap check` and (later) served over HTTP.
//!
//! Boundary rule (see [`crate::zones::ZoneIndex`]): a point on a zone edge is inside it and reported
//! with `on_boundary: true`; on an edge shared by two zones the zone whose id sorts first is reported.
//! Location is only one criterion: `eligible` here means "the location qualifies"; offense and
//! exclusion rules are screened separately.

use chrono::NaiveDate;
use serde::Serialize;

use crate::coord::LonLat;
use crate::zones::{Zone, ZoneIndex, ZoneSet};

/// Metres to the centimetre: how every answer reports a distance.
#[must_use]
pub fn round_cm(m: f64) -> f64 {
    (m * 100.0).round() / 100.0
}

/// `{id, name}` of a zone.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ZoneRef {
    /// Zone id, e.g. `old-town`.
    pub id: String,
    /// Display name, e.g. "Old Town".
    pub name: String,
}

impl From<&Zone> for ZoneRef {
    fn from(z: &Zone) -> Self {
        Self { id: z.id.as_str().to_owned(), name: z.name.clone() }
    }
}

/// Which zone set answered: name, version (content hash) and dates in force.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ZoneSetRef {
    /// Zone set name.
    pub name: String,
    /// Content hash of the set.
    pub version: String,
    /// First day in force, if bounded.
    pub effective_from: Option<NaiveDate>,
    /// Last day in force, if bounded.
    pub effective_to: Option<NaiveDate>,
}

impl From<&ZoneSet> for ZoneSetRef {
    fn from(s: &ZoneSet) -> Self {
        Self {
            name: s.meta().name.clone(),
            version: s.version().to_string(),
            effective_from: s.meta().effective_from,
            effective_to: s.meta().effective_to,
        }
    }
}

/// The point as echoed back, (lon, lat).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct PointRef {
    /// Longitude, degrees.
    pub lon: f64,
    /// Latitude, degrees.
    pub lat: f64,
}

/// The answer for one point.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
#[expect(clippy::struct_excessive_bools, reason = "a wire format: each flag is a field of the JSON answer")]
pub struct PointEligibility {
    /// The location lies in a LEAD zone (boundary included).
    pub eligible: bool,
    /// The zone it lies in, or `null`.
    pub zone: Option<ZoneRef>,
    /// The point is exactly on a zone edge.
    pub on_boundary: bool,
    /// The point is within the borderline distance of a zone edge: GPS error could put it either side.
    pub borderline: bool,
    /// Metres to the nearest zone edge (inside a zone: to its boundary), to the centimetre.
    pub distance_m: f64,
    /// The point is within the borderline distance of an edge between a LEAD area and the outside, so
    /// GPS error could change whether it is in a LEAD area (edges two zones share do not count: crossing
    /// them changes the zone, not eligibility).
    pub coverage_borderline: bool,
    /// Metres to the nearest edge between a LEAD area and the outside, to the centimetre.
    pub coverage_distance_m: f64,
    /// When outside every zone: the nearest zone. `null` when inside.
    pub nearest_zone: Option<ZoneRef>,
    /// The borderline distance used, metres.
    pub borderline_m: f64,
    /// The point asked about.
    pub point: PointRef,
    /// The date whose zone set answered.
    pub at: NaiveDate,
    /// The zone set that answered.
    pub zone_set: ZoneSetRef,
}

impl PointEligibility {
    /// Answers for `point` with the index of the zone set in force on `at`.
    ///
    /// # Examples
    /// ```
    /// use leadmap::{coord::LonLat, eligibility::PointEligibility, zones::*};
    /// let set = leadmap::builtin::zone_sets().unwrap().remove(0);
    /// let index = ZoneIndex::new(set, IndexOptions::default());
    /// let at = chrono::NaiveDate::from_ymd_opt(2017, 6, 1).unwrap();
    /// let a = PointEligibility::of(&index, LonLat::new(-122.6793, 45.5189).unwrap(), at);
    /// assert!(a.eligible);
    /// assert_eq!(a.zone.unwrap().id, "downtown");
    /// ```
    #[must_use]
    pub fn of(index: &ZoneIndex, point: LonLat, at: NaiveDate) -> Self {
        let loc = index.locate(point);
        let zones = index.set().zones();
        Self {
            eligible: loc.zone.is_some(),
            zone: loc.zone.map(|z| ZoneRef::from(&zones[z])),
            on_boundary: loc.on_boundary,
            borderline: loc.borderline,
            distance_m: round_cm(loc.distance_m),
            coverage_borderline: loc.coverage_borderline,
            coverage_distance_m: round_cm(loc.coverage_distance_m),
            nearest_zone: loc.zone.is_none().then(|| ZoneRef::from(&zones[loc.nearest_zone])),
            borderline_m: index.options().borderline_m,
            point: PointRef { lon: point.lon(), lat: point.lat() },
            at,
            zone_set: ZoneSetRef::from(index.set()),
        }
    }
}
