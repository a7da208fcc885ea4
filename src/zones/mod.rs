//! The LEAD areas: zone ids, zones, versioned and effective-dated zone sets, their validation and the
//! point index. Knows nothing of files, HTTP or storage: `formats` turns files into [`ZoneSet`]s.
//!
//! Coordinates are always (lon, lat) WGS84 degrees, `x = lon`, `y = lat` (geo's convention).

mod catalog;
mod edgegrid;
mod edges;
mod grid;
mod index;
mod label;
mod rings;
mod validate;

pub use catalog::{ZoneCatalog, date_or_open, days_away};
pub use edges::ZoneNo;
pub use index::{DEFAULT_BORDERLINE_M, IndexOptions, Location, ZoneIndex};
pub use label::{LABEL_PRECISION_M, label_point};
pub use validate::{GeometryProblem, MAX_VERTICES, RawPolygon, validate_polygons};

use std::fmt;
use std::str::FromStr;

use chrono::NaiveDate;
use geo::{Area, BooleanOps, BoundingRect, Coord, MultiPolygon, Rect, Relate};
use serde::Serialize;
use sha2::{Digest, Sha256};

/// Overlaps between zones up to this many square metres are tolerated: slivers from digitising or from
/// merging features (floating-point unions move vertices by nanometres). Points in such a sliver follow
/// the shared-edge rule (first id wins).
pub const OVERLAP_TOLERANCE_M2: f64 = 1.0;

/// The most zones one set may hold (the batch grid stores zone numbers in 16 bits).
pub const MAX_ZONES: usize = 60_000;

/// Ids no zone may take, because answers and filters already use them beside zone ids: `outside` (a
/// point or event in no zone: `--zone outside`, `zone=outside`, the coverage table's area), `inside` and
/// `citywide` (the coverage and equity tables' areas for all zones together and for the whole city),
/// and `no_program` (kept, as issue 16 asks, for answers on a date no program is in force).
pub const RESERVED_ZONE_IDS: [&str; 4] = ["outside", "inside", "citywide", "no_program"];

/// A zone's identifier: 1–64 characters of `a-z`, `0-9`, `-`, `_`, `.`, starting with a letter or digit
/// (e.g. `downtown`, `old-town`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct ZoneId(String);

impl ZoneId {
    /// The id as a string slice.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether the id is one of [`RESERVED_ZONE_IDS`], which no zone of a set may have.
    #[must_use]
    pub fn is_reserved(&self) -> bool {
        RESERVED_ZONE_IDS.contains(&self.0.as_str())
    }

    /// Makes an id from free text such as a neighbourhood name: lower case, runs of other characters
    /// become `-` (`"OLD TOWN COMMUNITY ASSOCIATION"` becomes `old-town-community-association`).
    pub fn slugify(text: &str) -> Result<Self, ZoneError> {
        let mut s = String::with_capacity(text.len());
        for c in text.chars().flat_map(char::to_lowercase) {
            if c.is_ascii_alphanumeric() {
                s.push(c);
            } else if !s.ends_with('-') && !s.is_empty() {
                s.push('-');
            }
        }
        while s.ends_with('-') {
            s.pop();
        }
        s.truncate(64);
        s.parse()
    }
}

impl FromStr for ZoneId {
    type Err = ZoneError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let ok = !s.is_empty()
            && s.len() <= 64
            && s.as_bytes()[0].is_ascii_alphanumeric()
            && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_' | b'.'));
        if ok { Ok(Self(s.to_owned())) } else { Err(ZoneError::InvalidId(s.to_owned())) }
    }
}

impl fmt::Display for ZoneId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One LEAD area: an id, a display name and its (multi)polygon in (lon, lat) degrees.
#[derive(Clone, Debug, PartialEq)]
pub struct Zone {
    /// Stable identifier, e.g. `old-town`.
    pub id: ZoneId,
    /// Display name, e.g. "Old Town".
    pub name: String,
    /// The area, holes included; rings may wind either way.
    pub geometry: MultiPolygon<f64>,
    /// Where the boundary comes from (free text), if the file says.
    pub source: Option<String>,
}

/// How authoritative a zone set's boundaries are: a property of the whole set, which every answer
/// repeats so that nobody mistakes a drawing for the official areas.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BoundaryStatus {
    /// Every zone is the authority's own polygon (e.g. the City's neighbourhood boundaries).
    Official,
    /// At least one zone was drawn by someone else from a description: close to the official area, not it.
    Approximation,
    /// The zone file does not say (its `status` member is absent).
    #[default]
    Unknown,
}

impl BoundaryStatus {
    /// The word used in files and answers: `official`, `approximation` or `unknown`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Official => "official",
            Self::Approximation => "approximation",
            Self::Unknown => "unknown",
        }
    }
}

impl FromStr for BoundaryStatus {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "official" => Ok(Self::Official),
            "approximation" => Ok(Self::Approximation),
            "unknown" => Ok(Self::Unknown),
            other => Err(format!("status {other:?} is not official, approximation or unknown")),
        }
    }
}

impl fmt::Display for BoundaryStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A zone set's descriptive fields: name, how official it is, dates in force and why, free text.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ZoneSetMeta {
    /// Short name, e.g. `portland-lead-2017`.
    pub name: String,
    /// Human title, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Longer description, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Official boundaries or an approximation.
    pub status: BoundaryStatus,
    /// First day in force; `None` means since always.
    pub effective_from: Option<NaiveDate>,
    /// Last day in force (inclusive); `None` means until further notice.
    pub effective_to: Option<NaiveDate>,
    /// Why the set starts on `effective_from` (the source of the date), if the file says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub effective_from_reason: Option<String>,
    /// Why the set ends on `effective_to`, if the file says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub effective_to_reason: Option<String>,
    /// The program's time zone: "today" for it is the day there, whatever the server's clock says
    /// (not part of the version: it moves no boundary).
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "tz_name")]
    pub time_zone: Option<chrono_tz::Tz>,
}

#[allow(
    clippy::ref_option,
    clippy::trivially_copy_pass_by_ref,
    reason = "serde's serialize_with hands the field by reference"
)]
fn tz_name<S: serde::Serializer>(tz: &Option<chrono_tz::Tz>, s: S) -> Result<S::Ok, S::Error> {
    match tz {
        Some(tz) => s.serialize_str(tz.name()),
        None => s.serialize_none(),
    }
}

impl ZoneSetMeta {
    /// Whether the set is in force on `date` (both ends inclusive).
    #[must_use]
    pub fn in_force_on(&self, date: NaiveDate) -> bool {
        self.effective_from.is_none_or(|from| from <= date) && self.effective_to.is_none_or(|to| date <= to)
    }
}

/// A zone set's version: the first 16 hex digits of a SHA-256 over its name, dates, and every zone's id,
/// name and coordinates, in id order. Two sets with the same version give the same answers.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct ZoneSetVersion(String);

impl ZoneSetVersion {
    /// The version as a string slice.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ZoneSetVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A validated, versioned collection of zones, sorted by id, none overlapping another.
#[derive(Clone, Debug, PartialEq)]
pub struct ZoneSet {
    meta: ZoneSetMeta,
    zones: Vec<Zone>,
    version: ZoneSetVersion,
}

impl ZoneSet {
    /// Builds a set from zones whose geometry has already passed [`validate_polygons`]; checks the
    /// set-level rules (at least one zone, no reserved id, unique ids, dates in order, no two zones
    /// overlapping: every overlapping pair is reported) and computes the version. Zones are sorted by id.
    pub fn new(meta: ZoneSetMeta, mut zones: Vec<Zone>) -> Result<Self, ZoneError> {
        if zones.is_empty() {
            return Err(ZoneError::Empty(meta.name));
        }
        if zones.len() > MAX_ZONES {
            return Err(ZoneError::TooManyZones(meta.name, zones.len()));
        }
        if let (Some(from), Some(to)) = (meta.effective_from, meta.effective_to)
            && to < from
        {
            return Err(ZoneError::DatesOutOfOrder { set: meta.name, from, to });
        }
        if let Some(z) = zones.iter().find(|z| z.id.is_reserved()) {
            return Err(ZoneError::ReservedId(z.id.clone()));
        }
        zones.sort_by(|a, b| a.id.cmp(&b.id));
        for pair in zones.windows(2) {
            if pair[0].id == pair[1].id {
                return Err(ZoneError::DuplicateId(pair[0].id.clone()));
            }
        }
        let overlapping = overlaps(&zones);
        if !overlapping.is_empty() {
            return Err(ZoneError::Overlaps(overlapping));
        }
        let version = version_of(&meta, &zones);
        Ok(Self { meta, zones, version })
    }

    /// Name, dates and descriptions.
    #[must_use]
    pub fn meta(&self) -> &ZoneSetMeta {
        &self.meta
    }

    /// The zones, sorted by id.
    #[must_use]
    pub fn zones(&self) -> &[Zone] {
        &self.zones
    }

    /// The content hash.
    #[must_use]
    pub fn version(&self) -> &ZoneSetVersion {
        &self.version
    }

    /// The zone with this id.
    #[must_use]
    pub fn zone(&self, id: &str) -> Option<&Zone> {
        self.zones.binary_search_by(|z| z.id.as_str().cmp(id)).ok().map(|i| &self.zones[i])
    }

    /// The bounding box of all zones, (lon, lat).
    #[must_use]
    pub fn bounds(&self) -> Rect<f64> {
        let mut rects = self.zones.iter().filter_map(|z| z.geometry.bounding_rect());
        let first = rects.next().unwrap_or_else(|| Rect::new(Coord::zero(), Coord::zero()));
        rects.fold(first, |acc, r| {
            Rect::new(
                Coord { x: acc.min().x.min(r.min().x), y: acc.min().y.min(r.min().y) },
                Coord { x: acc.max().x.max(r.max().x), y: acc.max().y.max(r.max().y) },
            )
        })
    }
}

/// Area of a (multi)polygon in square metres, using the local scale at its centre latitude.
#[must_use]
pub fn area_m2(geometry: &MultiPolygon<f64>) -> f64 {
    let Some(r) = geometry.bounding_rect() else {
        return 0.0;
    };
    let s = crate::geodesy::LocalScale::at_lat(f64::midpoint(r.min().y, r.max().y));
    geometry.unsigned_area() * s.m_per_deg_lon * s.m_per_deg_lat
}

/// Two zones of a set whose interiors overlap by more than [`OVERLAP_TOLERANCE_M2`].
#[derive(Clone, Debug, PartialEq)]
pub struct ZoneOverlap {
    /// First zone (ids in order).
    pub a: ZoneId,
    /// Second zone.
    pub b: ZoneId,
    /// Overlapping area, square metres.
    pub area_m2: f64,
}

impl fmt::Display for ZoneOverlap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "zones \"{}\" and \"{}\" overlap by {:.1} m²", self.a, self.b, self.area_m2)
    }
}

/// Every pair of zones (sorted by id) overlapping by more than the tolerance, in id order. Only zones
/// whose bounding boxes meet are related (an R-tree over the boxes), so a set of many zones costs
/// about its neighbouring pairs, not every pair.
fn overlaps(zones: &[Zone]) -> Vec<ZoneOverlap> {
    use geo::coordinate_position::CoordPos;
    use geo::dimensions::Dimensions;
    let boxes = rings::Boxes::new(zones.iter().map(|z| z.geometry.bounding_rect()));
    let mut found = Vec::new();
    for (i, a) in zones.iter().enumerate() {
        for j in boxes.meeting_after(i) {
            let b = &zones[j];
            if a.geometry.relate(&b.geometry).get(CoordPos::Inside, CoordPos::Inside) != Dimensions::TwoDimensional {
                continue;
            }
            let area = area_m2(&a.geometry.intersection(&b.geometry));
            if area > OVERLAP_TOLERANCE_M2 {
                found.push(ZoneOverlap { a: a.id.clone(), b: b.id.clone(), area_m2: area });
            }
        }
    }
    found
}

fn version_of(meta: &ZoneSetMeta, zones: &[Zone]) -> ZoneSetVersion {
    let mut h = Sha256::new();
    let mut field = |bytes: &[u8]| {
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(bytes);
    };
    field(b"leadmap-zone-set-v1");
    field(meta.name.as_bytes());
    field(meta.effective_from.map(|d| d.to_string()).unwrap_or_default().as_bytes());
    field(meta.effective_to.map(|d| d.to_string()).unwrap_or_default().as_bytes());
    // Sets that do not say how official they are keep the version they had before the status existed.
    if meta.status != BoundaryStatus::Unknown {
        field(b"status");
        field(meta.status.as_str().as_bytes());
    }
    for z in zones {
        field(z.id.as_str().as_bytes());
        field(z.name.as_bytes());
        for poly in &z.geometry {
            field(b"polygon");
            for ring in std::iter::once(poly.exterior()).chain(poly.interiors()) {
                let mut bytes = Vec::with_capacity(ring.0.len() * 16);
                for c in &ring.0 {
                    bytes.extend_from_slice(&c.x.to_le_bytes());
                    bytes.extend_from_slice(&c.y.to_le_bytes());
                }
                field(&bytes);
            }
        }
    }
    ZoneSetVersion(crate::digest::hex(&h.finalize()[..8]))
}

/// Why a zone set cannot be built or used.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ZoneError {
    /// A zone id has characters outside `a-z 0-9 - _ .` or is empty or too long; pick a slug like `old-town`.
    #[error(
        "zone id {0:?} is not valid: use 1-64 characters of a-z, 0-9, '-', '_' or '.', starting with a letter or digit"
    )]
    InvalidId(String),
    /// A zone has one of [`RESERVED_ZONE_IDS`]: answers could not tell it from the value they already
    /// mean. Pick another id (e.g. with `--select KEY=id`).
    #[error(
        "zone id \"{0}\" is reserved: outside, inside, citywide and no_program are values answers and filters use beside zone ids, so a zone may not have one; pick another id (e.g. --select 'KEY=other-id')"
    )]
    ReservedId(ZoneId),
    /// Two zones of one set share an id; give each zone its own id or merge them with `--select`.
    #[error(
        "duplicate zone id {0:?}: every zone of a set needs its own id (use --select to merge features into one zone)"
    )]
    DuplicateId(ZoneId),
    /// Zones' interiors overlap by more than [`OVERLAP_TOLERANCE_M2`]: a point could then be in two LEAD
    /// areas. Every overlapping pair is listed, in id order. Fix the boundaries.
    #[error(
        "{} pair(s) of zones overlap; zones of one set may share edges but not area:\n  {}",
        .0.len(),
        .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n  ")
    )]
    Overlaps(Vec<ZoneOverlap>),
    /// The set has no zones at all (e.g. a `--select` that matched nothing).
    #[error("zone set {0:?} has no zones")]
    Empty(String),
    /// The set has more zones than leadmap indexes.
    #[error("zone set {0:?} has {1} zones; at most 60000 are supported")]
    TooManyZones(String, usize),
    /// `effective_to` is before `effective_from`.
    #[error("zone set {set:?}: effective_to {to} is before effective_from {from}")]
    DatesOutOfOrder {
        /// The set's name.
        set: String,
        /// First day in force.
        from: NaiveDate,
        /// Last day in force.
        to: NaiveDate,
    },
    /// No loaded zone set is in force on the date asked about.
    #[error("no zone set is in force on {date}; loaded: {loaded}")]
    NoneInForce {
        /// The date asked about.
        date: NaiveDate,
        /// The loaded sets and their dates.
        loaded: String,
    },
    /// Two loaded zone sets are both in force on one date with the same start date.
    #[error("zone sets {0:?} and {1:?} are both in force on {2} and start the same day; give them different dates")]
    Ambiguous(String, String, NaiveDate),
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::polygon;

    fn square(id: &str, x0: f64, y0: f64, size: f64) -> Zone {
        Zone {
            id: id.parse().unwrap(),
            name: id.to_uppercase(),
            geometry: MultiPolygon(vec![polygon![
                (x: x0, y: y0), (x: x0 + size, y: y0), (x: x0 + size, y: y0 + size), (x: x0, y: y0 + size), (x: x0, y: y0)
            ]]),
            source: None,
        }
    }

    #[test]
    fn ids_are_validated_and_slugified() {
        assert!("old-town".parse::<ZoneId>().is_ok());
        assert!("Old Town".parse::<ZoneId>().is_err());
        assert!("".parse::<ZoneId>().is_err());
        assert!("-x".parse::<ZoneId>().is_err());
        assert_eq!(
            ZoneId::slugify("OLD TOWN COMMUNITY ASSOCIATION").unwrap().as_str(),
            "old-town-community-association"
        );
        assert_eq!(ZoneId::slugify("  Lloyd / Sullivan's Gulch ").unwrap().as_str(), "lloyd-sullivan-s-gulch");
        assert!(ZoneId::slugify("***").is_err());
    }

    #[test]
    fn set_rejects_duplicates_overlaps_and_emptiness() {
        let meta = ZoneSetMeta { name: "t".into(), ..ZoneSetMeta::default() };
        assert_eq!(ZoneSet::new(meta.clone(), vec![]), Err(ZoneError::Empty("t".into())));
        let dup = ZoneSet::new(meta.clone(), vec![square("a", 0.0, 0.0, 1.0), square("a", 5.0, 0.0, 1.0)]);
        assert!(matches!(dup, Err(ZoneError::DuplicateId(_))));
        let overlap = ZoneSet::new(meta.clone(), vec![square("a", 0.0, 0.0, 1.0), square("b", 0.5, 0.5, 1.0)]);
        assert!(matches!(&overlap, Err(ZoneError::Overlaps(pairs)) if pairs.len() == 1), "{overlap:?}");
        // Sharing an edge is fine.
        let shared = ZoneSet::new(meta, vec![square("b", 1.0, 0.0, 1.0), square("a", 0.0, 0.0, 1.0)]).unwrap();
        assert_eq!(shared.zones()[0].id.as_str(), "a", "zones are sorted by id");
    }

    #[test]
    fn set_lists_every_overlapping_pair_in_id_order() {
        let meta = ZoneSetMeta { name: "t".into(), ..ZoneSetMeta::default() };
        // a overlaps b and c; d overlaps e; f only shares an edge with e; g is far away.
        let zones = vec![
            square("g", 50.0, 50.0, 1.0),
            square("c", 0.2, 0.6, 1.0),
            square("b", 0.5, 0.0, 1.0),
            square("a", 0.0, 0.0, 1.0),
            square("e", 10.5, 0.0, 1.0),
            square("d", 10.0, 0.0, 1.0),
            square("f", 11.5, 0.0, 1.0),
        ];
        let Err(ZoneError::Overlaps(pairs)) = ZoneSet::new(meta, zones) else { panic!("overlaps") };
        let ids: Vec<(&str, &str)> = pairs.iter().map(|p| (p.a.as_str(), p.b.as_str())).collect();
        assert_eq!(ids, [("a", "b"), ("a", "c"), ("b", "c"), ("d", "e")]);
        let text = ZoneError::Overlaps(pairs).to_string();
        assert!(text.starts_with("4 pair(s) of zones overlap"), "{text}");
        assert!(text.contains("\n  zones \"d\" and \"e\" overlap by "), "{text}");
    }

    #[test]
    fn set_refuses_reserved_ids() {
        let meta = ZoneSetMeta { name: "t".into(), ..ZoneSetMeta::default() };
        for id in RESERVED_ZONE_IDS {
            let e = ZoneSet::new(meta.clone(), vec![square("a", 0.0, 0.0, 1.0), square(id, 5.0, 0.0, 1.0)]);
            assert_eq!(e, Err(ZoneError::ReservedId(id.parse().unwrap())));
            let text = e.unwrap_err().to_string();
            assert!(text.starts_with(&format!("zone id \"{id}\" is reserved")), "{text}");
        }
        assert!(ZoneSet::new(meta, vec![square("outside-east", 0.0, 0.0, 1.0)]).is_ok(), "only the exact words");
    }

    #[test]
    fn version_is_a_content_hash() {
        let meta = ZoneSetMeta { name: "t".into(), ..ZoneSetMeta::default() };
        let a = ZoneSet::new(meta.clone(), vec![square("a", 0.0, 0.0, 1.0), square("b", 1.0, 0.0, 1.0)]).unwrap();
        let b = ZoneSet::new(meta.clone(), vec![square("b", 1.0, 0.0, 1.0), square("a", 0.0, 0.0, 1.0)]).unwrap();
        assert_eq!(a.version(), b.version(), "order of input does not matter");
        assert_eq!(a.version().as_str().len(), 16);
        let c = ZoneSet::new(meta.clone(), vec![square("a", 0.0, 0.0, 1.0), square("b", 1.0, 0.0, 1.5)]).unwrap();
        assert_ne!(a.version(), c.version(), "a moved vertex changes the version");
        let dated = ZoneSetMeta { effective_from: NaiveDate::from_ymd_opt(2018, 5, 1), ..meta };
        let d = ZoneSet::new(dated, vec![square("a", 0.0, 0.0, 1.0), square("b", 1.0, 0.0, 1.0)]).unwrap();
        assert_ne!(a.version(), d.version(), "dates are part of the version");
    }

    #[test]
    fn in_force_is_inclusive_at_both_ends() {
        let meta = ZoneSetMeta {
            name: "t".into(),
            effective_from: NaiveDate::from_ymd_opt(2017, 2, 27),
            effective_to: NaiveDate::from_ymd_opt(2018, 4, 30),
            ..ZoneSetMeta::default()
        };
        assert!(!meta.in_force_on(NaiveDate::from_ymd_opt(2017, 2, 26).unwrap()));
        assert!(meta.in_force_on(NaiveDate::from_ymd_opt(2017, 2, 27).unwrap()));
        assert!(meta.in_force_on(NaiveDate::from_ymd_opt(2018, 4, 30).unwrap()));
        assert!(!meta.in_force_on(NaiveDate::from_ymd_opt(2018, 5, 1).unwrap()));
    }
}
