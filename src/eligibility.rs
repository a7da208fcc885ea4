//! The answer to a field app's question "is this contact location in a LEAD area?": the zone (or none),
//! the boundary flags, distances, whether a LEAD program is in force on the date, and the zone set that
//! answered. The same shape is printed by `leadmap check` and served by `GET /v1/eligibility`.
//!
//! Boundary rule (see [`crate::zones::ZoneIndex`]): a point on a zone edge is inside it and reported
//! with `on_boundary: true`; on an edge shared by two zones the zone whose id sorts first is reported.
//! Location is only one criterion: `eligible` here means "a program is in force and the location
//! qualifies"; offense and exclusion rules are screened separately ([`crate::rules::screen`]).

use chrono::NaiveDate;
use serde::Serialize;

use crate::coord::LonLat;
use crate::program::ProgramOn;
use crate::zones::{BoundaryStatus, Zone, ZoneIndex, ZoneSet};

/// The largest GPS accuracy a request may give, metres: anything coarser says nothing about an area a
/// few blocks wide.
pub const MAX_ACCURACY_M: f64 = 1000.0;

/// A phone's reported horizontal accuracy in metres, more than 0 and at most [`MAX_ACCURACY_M`]: the
/// borderline distance for that one point.
#[derive(Clone, Copy, Debug, PartialEq, PartialOrd)]
pub struct AccuracyM(f64);

/// An accuracy that is not a distance leadmap accepts.
#[derive(Clone, Copy, Debug, PartialEq, thiserror::Error)]
#[error("accuracy_m {0} is not a GPS accuracy: give metres, more than 0 and at most 1000 (phones report 5 to 60)")]
pub struct InvalidAccuracy(pub f64);

impl AccuracyM {
    /// Validates an accuracy in metres.
    ///
    /// # Examples
    /// ```
    /// use leadmap::eligibility::AccuracyM;
    /// assert_eq!(AccuracyM::new(12.5).unwrap().metres(), 12.5);
    /// assert!(AccuracyM::new(0.0).is_err());
    /// assert!(AccuracyM::new(1000.5).is_err());
    /// assert!(AccuracyM::new(f64::NAN).is_err());
    /// ```
    pub fn new(metres: f64) -> Result<Self, InvalidAccuracy> {
        if metres > 0.0 && metres <= MAX_ACCURACY_M { Ok(Self(metres)) } else { Err(InvalidAccuracy(metres)) }
    }

    /// Parses a request's text (`accuracy_m=12.5`), naming the value when it is not a number.
    pub fn parse(text: &str) -> Result<Self, String> {
        let metres: f64 = text
            .trim()
            .parse()
            .map_err(|_| format!("accuracy_m {text:?} is not a number of metres (e.g. accuracy_m=12.5)"))?;
        Self::new(metres).map_err(|e| e.to_string())
    }

    /// The accuracy in metres.
    #[must_use]
    pub fn metres(self) -> f64 {
        self.0
    }
}

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

/// Which zone set answered: name, version (content hash), how official its boundaries are, and dates in
/// force.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ZoneSetRef {
    /// Zone set name.
    pub name: String,
    /// Content hash of the set.
    pub version: String,
    /// `official` (the authority's own polygons), `approximation` (drawn from a description) or
    /// `unknown` (the file does not say).
    pub status: BoundaryStatus,
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
            status: s.meta().status,
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
    /// A LEAD program is in force on `at` and the location lies in one of its zones (boundary included).
    pub eligible: bool,
    /// A zone set and a rule set are both in force on `at`. When `false`, `eligible` is `false` whatever
    /// the location, and `program_note` says why; the location fields are measured against the nearest
    /// zone set (`zone_set`), for information only.
    pub program_in_force: bool,
    /// Why no program is in force on `at` (naming the nearest sets, their dates and why they ended), or
    /// `null` when one is.
    pub program_note: Option<String>,
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
    /// The borderline distance used, metres: the request's `accuracy_m`, else the service's default
    /// (`--borderline-m`, 25 m).
    pub borderline_m: f64,
    /// The point asked about.
    pub point: PointRef,
    /// The date asked about.
    pub at: NaiveDate,
    /// The zone set that answered: the one in force on `at`, else the nearest.
    pub zone_set: ZoneSetRef,
}

impl PointEligibility {
    /// Answers for `point` on the program's date, with its zone set; `accuracy` (the phone's reported
    /// GPS accuracy) replaces the index's borderline distance for this point.
    ///
    /// # Examples
    /// ```
    /// use leadmap::{coord::LonLat, eligibility::{AccuracyM, PointEligibility}, program::program_on};
    /// use leadmap::{rules::RuleCatalog, zones::{IndexOptions, ZoneCatalog}};
    /// let zones = ZoneCatalog::new(leadmap::builtin::zone_sets().unwrap(), IndexOptions::default());
    /// let rules = RuleCatalog::new(leadmap::builtin::rule_sets().unwrap()).unwrap();
    /// let square = LonLat::new(-122.6793, 45.5189).unwrap();
    /// let in_2017 = program_on(&zones, &rules, chrono::NaiveDate::from_ymd_opt(2017, 6, 1).unwrap()).unwrap();
    /// let a = PointEligibility::of(&in_2017, square, None);
    /// assert!(a.eligible && a.program_in_force);
    /// assert_eq!(a.zone.unwrap().id, "downtown");
    /// let today = program_on(&zones, &rules, chrono::NaiveDate::from_ymd_opt(2026, 12, 4).unwrap()).unwrap();
    /// let b = PointEligibility::of(&today, square, AccuracyM::new(10.0).ok());
    /// assert!(!b.eligible && !b.program_in_force && b.zone.is_some(), "in an area, but no program");
    /// assert_eq!(b.borderline_m, 10.0);
    /// ```
    #[must_use]
    pub fn of(program: &ProgramOn<'_>, point: LonLat, accuracy: Option<AccuracyM>) -> Self {
        let index: &ZoneIndex = program.zones;
        let borderline_m = accuracy.map_or(index.options().borderline_m, AccuracyM::metres);
        let loc = index.locate_within(point, borderline_m);
        let zones = index.set().zones();
        Self {
            eligible: loc.zone.is_some() && program.in_force(),
            program_in_force: program.in_force(),
            program_note: program.not_in_force.clone(),
            zone: loc.zone.map(|z| ZoneRef::from(&zones[z])),
            on_boundary: loc.on_boundary,
            borderline: loc.borderline,
            distance_m: round_cm(loc.distance_m),
            coverage_borderline: loc.coverage_borderline,
            coverage_distance_m: round_cm(loc.coverage_distance_m),
            nearest_zone: loc.zone.is_none().then(|| ZoneRef::from(&zones[loc.nearest_zone])),
            borderline_m,
            point: PointRef { lon: point.lon(), lat: point.lat() },
            at: program.at,
            zone_set: ZoneSetRef::from(index.set()),
        }
    }
}
