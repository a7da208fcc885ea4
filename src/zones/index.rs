//! The point index over one zone set: which zone a (lon, lat) point is in, whether it is on a zone's
//! edge, and how far it is from the nearest edge. Built once per zone set, then queried many times.
//!
//! # The boundary rule
//! A point **on** a zone's edge or vertex (exactly, by robust orientation predicates) is **inside** that
//! zone, and the answer says `on_boundary`. A point on an edge shared by two zones is reported in the zone
//! whose id sorts first (byte-wise ascending), again with `on_boundary`; so is a point in one of the tiny
//! overlap slivers a set may tolerate ([`super::OVERLAP_TOLERANCE_M2`]). A point on the edge of a hole is on
//! the zone's boundary, hence inside. Points strictly inside a hole are outside.
//!
//! # Distances
//! `distance_m` is the distance in metres to the nearest zone edge (for a point inside a zone this is the
//! distance to that zone's own boundary, since no zone overlaps another), measured as
//! [`crate::geodesy`] describes. `borderline` is set when it is at most the configured distance
//! (default [`DEFAULT_BORDERLINE_M`], about a phone's GPS accuracy).
//!
//! # Performance
//! [`ZoneIndex::classify`] answers only the zone, through a precomputed two-level grid that settles most
//! points with one memory read; it runs the exact test (an R-tree lookup of polygon envelopes and a
//! crossing-number test with robust predicates) only for points in grid cells crossed by an edge,
//! so it always equals [`ZoneIndex::zone_at`]. [`ZoneIndex::locate`] uses the same grid for the zone, then
//! measures only the few edges a coarser grid lists as possibly nearest for the point's cell (see
//! `edgegrid`); beyond that grid's margin, and in its cells with too many such edges, it scans the edges,
//! or walks an R-tree of them for large sets.
//!
//! Building takes one R-tree of the edges (shared by the edge grid's construction and the search), one
//! pass rasterizing the edges onto the batch grid, and a bounded query per cell of grids of fixed size;
//! no step measures every edge per cell, so a zone of 100 000 vertices builds in a fraction of a second.

use geo::BoundingRect;
use rstar::primitives::{GeomWithData, Line, Rectangle};
use rstar::{PointDistance, RTree};

use super::ZoneSet;
use super::edgegrid::EdgeGrid;
use super::edges::{EdgeRef, PlaneEdge, ZoneNo};
use super::grid::{Lookup, ZoneGrid};
use crate::coord::LonLat;
use crate::geodesy::{LocalScale, point_segment_distance_m};

/// Up to this many edges, nearest-edge search scans a flat list instead of walking the R-tree.
const LINEAR_SCAN_MAX_EDGES: usize = 512;

/// The exact test of a polygon with more edges than this measures only the edges its ray can meet, found
/// through the edge R-tree, instead of every edge.
const RAY_QUERY_MIN_EDGES: usize = 256;

/// Default borderline distance in metres: a point this close to a zone edge may be on either side of it
/// once GPS error is allowed for.
pub const DEFAULT_BORDERLINE_M: f64 = 25.0;

/// Options for building a [`ZoneIndex`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct IndexOptions {
    /// Points within this many metres of a zone edge are `borderline`.
    pub borderline_m: f64,
}

impl Default for IndexOptions {
    fn default() -> Self {
        Self { borderline_m: DEFAULT_BORDERLINE_M }
    }
}

/// The full answer for one point.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Location {
    /// Index into [`ZoneSet::zones`] of the zone the point is in (boundary included), if any.
    pub zone: Option<usize>,
    /// The point lies exactly on a zone edge or vertex.
    pub on_boundary: bool,
    /// Metres to the nearest zone edge (to the zone's own boundary when inside).
    pub distance_m: f64,
    /// Index of the zone owning the nearest edge (lowest index on ties).
    pub nearest_zone: usize,
    /// `distance_m` is within the borderline distance.
    pub borderline: bool,
    /// Metres to the nearest edge between a zone and the outside (edges shared by two zones skipped):
    /// how far GPS error would have to move the point to change whether it is in a LEAD area.
    pub coverage_distance_m: f64,
    /// `coverage_distance_m` is within the borderline distance.
    pub coverage_borderline: bool,
}

/// Where a point is relative to one polygon.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Position {
    Outside,
    Boundary,
    Inside,
}

/// One polygon of a zone, rings closed, in (lon, lat).
#[derive(Debug)]
struct PreparedPolygon {
    zone: ZoneNo,
    rings: Vec<Vec<[f64; 2]>>,
    /// The numbers of its edges in [`ZoneIndex::edges`].
    edges: std::ops::Range<u32>,
    /// Its largest x in the plane of metres: where its test ray can stop.
    plane_max_x: f64,
}

type PolygonEnvelope = GeomWithData<Rectangle<[f64; 2]>, usize>;

/// The exact index: every polygon (rings in lon/lat, envelopes in an R-tree) and every edge (in lon/lat,
/// and in a plane of metres around `plane_origin` in an R-tree). It answers the zone of any point on its
/// own; the grids are built from it.
#[derive(Debug)]
struct Exact {
    polygons: Vec<PreparedPolygon>,
    polygon_tree: RTree<PolygonEnvelope>,
    /// Edges in a plane of metres around `plane_origin`, for nearest-edge search.
    edge_tree: RTree<PlaneEdge>,
    /// Every edge, numbered as `edge_tree`, [`ZoneIndex`]'s `edge_list` and the candidate lists of its
    /// `edge_grid` number them.
    edges: Vec<EdgeRef>,
    plane_origin: [f64; 2],
    plane_scale: LocalScale,
}

/// The point index of one zone set. Immutable once built; share it behind an `Arc`.
#[derive(Debug)]
pub struct ZoneIndex {
    set: ZoneSet,
    options: IndexOptions,
    /// Answers every point exactly.
    exact: Exact,
    /// The plane edges in a flat list, scanned instead of the tree when there are few of them.
    edge_list: Vec<PlaneEdge>,
    /// Nearest-edge candidates per cell over the zones and a margin around them.
    edge_grid: EdgeGrid,
    /// Settles most points' zone with one or two memory reads.
    grid: ZoneGrid,
}

impl ZoneIndex {
    /// Builds the index (envelope R-tree, edge R-tree, batch grid) for a validated zone set.
    ///
    /// # Examples
    /// ```
    /// use leadmap::zones::{IndexOptions, ZoneIndex};
    /// let set = leadmap::builtin::zone_sets().unwrap().remove(0);
    /// let index = ZoneIndex::new(set, IndexOptions::default());
    /// let here = index.locate(leadmap::coord::LonLat::new(-122.6765, 45.5245).unwrap()); // Old Town
    /// assert_eq!(index.set().zones()[here.zone.unwrap()].id.as_str(), "old-town");
    /// ```
    #[must_use]
    pub fn new(set: ZoneSet, options: IndexOptions) -> Self {
        let bounds = set.bounds();
        let plane_origin = [bounds.center().x, bounds.center().y];
        let plane_scale = LocalScale::at_lat(plane_origin[1]);
        let mut polygons = Vec::new();
        let mut envelopes = Vec::new();
        let mut edges = Vec::new();
        let mut lines = Vec::new();
        for (zi, zone) in set.zones().iter().enumerate() {
            // Validated sets hold at most MAX_ZONES zones, far below the 16-bit range.
            let Some(zone_no) = ZoneNo::new(zi) else { continue };
            for poly in &zone.geometry {
                let rings: Vec<Vec<[f64; 2]>> = std::iter::once(poly.exterior())
                    .chain(poly.interiors())
                    .map(|r| r.0.iter().map(|c| [c.x, c.y]).collect())
                    .collect();
                let first_edge = edges.len();
                for ring in &rings {
                    for w in ring.windows(2) {
                        let e = EdgeRef { zone: zone_no, a: w[0], b: w[1], shared: false };
                        lines.push(Line::new(
                            plane_scale.offset_m(plane_origin, e.a),
                            plane_scale.offset_m(plane_origin, e.b),
                        ));
                        edges.push(e);
                    }
                }
                if let Some(r) = poly.bounding_rect() {
                    let rect = Rectangle::from_corners([r.min().x, r.min().y], [r.max().x, r.max().y]);
                    envelopes.push(PolygonEnvelope::new(rect, polygons.len()));
                }
                let number = |i: usize| u32::try_from(i).unwrap_or(u32::MAX);
                let max_x = rings.iter().flatten().map(|c| c[0]).fold(f64::NEG_INFINITY, f64::max);
                polygons.push(PreparedPolygon {
                    zone: zone_no,
                    rings,
                    edges: number(first_edge)..number(edges.len()),
                    plane_max_x: plane_scale.offset_m(plane_origin, [max_x, plane_origin[1]])[0],
                });
            }
        }
        mark_shared_edges(&mut edges);
        let coverage: Vec<bool> = edges.iter().map(|e| !e.shared).collect();
        let plane_edges =
            lines.iter().enumerate().map(|(i, l)| PlaneEdge::new(*l, u32::try_from(i).unwrap_or(u32::MAX)));
        let edge_tree = RTree::bulk_load(plane_edges.clone().collect());
        let plane_bounds = (
            plane_scale.offset_m(plane_origin, [bounds.min().x, bounds.min().y]),
            plane_scale.offset_m(plane_origin, [bounds.max().x, bounds.max().y]),
        );
        // In order: the exact index, then the batch grid from its answers, then the nearest-edge grid.
        let exact =
            Exact { polygons, polygon_tree: RTree::bulk_load(envelopes), edge_tree, edges, plane_origin, plane_scale };
        let grid = ZoneGrid::build(&bounds, &exact.edges, |p| exact.zone_at(p[0], p[1]).0);
        let edge_grid =
            EdgeGrid::build(&lines, &coverage, &exact.edge_tree, plane_bounds, plane_scale, plane_origin[1]);
        let edge_list = if exact.edges.len() <= LINEAR_SCAN_MAX_EDGES { plane_edges.collect() } else { Vec::new() };
        Self { set, options, exact, edge_list, edge_grid, grid }
    }

    /// The zone set this index answers for.
    #[must_use]
    pub fn set(&self) -> &ZoneSet {
        &self.set
    }

    /// The options it was built with.
    #[must_use]
    pub fn options(&self) -> IndexOptions {
        self.options
    }

    /// The full answer for a validated point: zone, `on_boundary`, distance to the nearest
    /// edge and `borderline` (within the index's borderline distance). See the module docs for the
    /// boundary rule.
    #[must_use]
    pub fn locate(&self, point: LonLat) -> Location {
        self.locate_within(point, self.options.borderline_m)
    }

    /// [`Self::locate`] with `borderline_m` instead of the index's borderline distance (e.g. the GPS
    /// accuracy a phone reported for this point).
    #[must_use]
    pub fn locate_within(&self, point: LonLat, borderline_m: f64) -> Location {
        let (lon, lat) = (point.lon(), point.lat());
        // A settled grid cell touches no edge, so a point in it is not on one.
        let (zone, on_boundary) = match self.grid.lookup(lon, lat) {
            Lookup::Zone(z) => (Some(z.index()), false),
            Lookup::Outside => (None, false),
            Lookup::Exact => self.zone_at(lon, lat),
        };
        let Nearest { distance_m, zone: nearest_zone, coverage_distance_m } = self.nearest(point);
        Location {
            zone,
            on_boundary,
            distance_m,
            nearest_zone,
            borderline: distance_m <= borderline_m,
            coverage_distance_m,
            coverage_borderline: coverage_distance_m <= borderline_m,
        }
    }

    /// Exact zone test for (`lon`, `lat`): the zone index (boundary rule applied) and whether the point is
    /// on an edge. No distances.
    #[must_use]
    pub fn zone_at(&self, lon: f64, lat: f64) -> (Option<usize>, bool) {
        let (zone, on_edge) = self.exact.zone_at(lon, lat);
        (zone.map(ZoneNo::index), on_edge)
    }

    /// Zone of (`lon`, `lat`) through the batch grid: one memory read for most points, the exact test near
    /// edges. Always equal to `zone_at(lon, lat).0`. Non-finite input gives `None`.
    #[inline]
    #[must_use]
    pub fn classify(&self, lon: f64, lat: f64) -> Option<usize> {
        match self.grid.lookup(lon, lat) {
            Lookup::Zone(z) => Some(z.index()),
            Lookup::Outside => None,
            Lookup::Exact => self.zone_at(lon, lat).0,
        }
    }

    /// Classifies many (lon, lat) points into `out` (cleared first), in order; equal to [`Self::classify`]
    /// on each point. Answers are [`ZoneNo`]s (two bytes each, `None` outside) to keep the output small.
    ///
    /// # Performance
    /// Works in chunks: first the grid codes of a chunk (branch-free loads that the CPU overlaps), then
    /// the answers, running the exact test only where a code says so.
    pub fn classify_batch(&self, points: &[[f64; 2]], out: &mut Vec<Option<ZoneNo>>) {
        const CHUNK: usize = 256;
        out.clear();
        out.reserve(points.len());
        let mut codes = [0u8; CHUNK];
        for chunk in points.chunks(CHUNK) {
            for (c, p) in codes.iter_mut().zip(chunk) {
                *c = self.grid.code(p[0], p[1]);
            }
            let start = out.len();
            out.extend(codes[..chunk.len()].iter().map(|&c| ZoneGrid::settled_zone(c)));
            for (i, (&c, p)) in codes.iter().zip(chunk).enumerate() {
                if ZoneGrid::decode(c) == Lookup::Exact {
                    out[start + i] = self.zone_at(p[0], p[1]).0.and_then(ZoneNo::new);
                }
            }
        }
    }

    /// Distance in metres from the point to the nearest zone edge, and that edge's zone index.
    #[must_use]
    pub fn nearest_edge(&self, point: LonLat) -> (f64, usize) {
        let n = self.nearest(point);
        (n.distance_m, n.zone)
    }

    /// The nearest edge, and the nearest edge between a zone and the outside.
    ///
    /// # Performance
    /// One nearest-neighbour descent in the metric plane finds a candidate; every edge that could be
    /// nearer in the point's own local metric lies within a slightly larger radius (the two metrics differ
    /// by the axis ratios), so one range query finds them all, with no priority queue. Only a point whose
    /// nearest edge is shared by two zones needs a second, filtered search for the coverage distance.
    fn nearest(&self, point: LonLat) -> Nearest {
        let (lon, lat) = (point.lon(), point.lat());
        let p = [lon, lat];
        let local = LocalScale::at_lat(lat);
        let rx = self.exact.plane_scale.m_per_deg_lon / local.m_per_deg_lon;
        let ry = self.exact.plane_scale.m_per_deg_lat / local.m_per_deg_lat;
        let q = self.exact.plane_scale.offset_m(self.exact.plane_origin, p);
        if let Some((all, coverage)) = self.edge_grid.candidates(q) {
            // The usual case: a few candidate edges, each measured once (see `edgegrid`).
            let mut best: (f64, Option<ZoneNo>) = (f64::INFINITY, None);
            for &i in all {
                let e = &self.exact.edges[i as usize];
                let d = point_segment_distance_m(p, e.a, e.b, local);
                if d < best.0 || (d == best.0 && best.1.is_none_or(|b| e.zone < b)) {
                    best = (d, Some(e.zone));
                }
            }
            let coverage_distance_m = coverage
                .iter()
                .map(|&i| {
                    let e = &self.exact.edges[i as usize];
                    point_segment_distance_m(p, e.a, e.b, local)
                })
                .fold(f64::INFINITY, f64::min);
            return Nearest { distance_m: best.0, zone: best.1.map_or(0, ZoneNo::index), coverage_distance_m };
        }
        let first = if self.edge_list.is_empty() {
            self.exact.edge_tree.nearest_neighbor(&q)
        } else {
            // A city's zones have tens to hundreds of edges: a straight scan beats the tree's heap.
            let mut best: Option<(&PlaneEdge, f64)> = None;
            for e in &self.edge_list {
                let d2 = e.distance_2(&q);
                if best.is_none_or(|(_, b)| d2 < b) {
                    best = Some((e, d2));
                }
            }
            best.map(|(e, _)| e)
        };
        let Some(first) = first else {
            return Nearest { distance_m: f64::INFINITY, zone: 0, coverage_distance_m: f64::INFINITY };
        };
        let first_edge = &self.exact.edges[first.data as usize];
        let first_local = point_segment_distance_m(p, first_edge.a, first_edge.b, local);
        // Plane distance <= max ratio * local distance and >= min ratio * local distance, so any edge at
        // least as near as `first` in the local metric lies within this plane radius.
        let radius = first.distance_2(&q).sqrt() * (rx.max(ry) / rx.min(ry)) * (1.0 + 1e-9) + 1e-9;
        let mut best: (f64, Option<ZoneNo>) = (f64::INFINITY, None);
        let mut best_coverage = f64::INFINITY;
        let mut visit = |edge: &PlaneEdge| {
            let e = &self.exact.edges[edge.data as usize];
            let d = point_segment_distance_m(p, e.a, e.b, local);
            if d < best.0 || (d == best.0 && best.1.is_none_or(|b| e.zone < b)) {
                best = (d, Some(e.zone));
            }
            if !e.shared {
                best_coverage = best_coverage.min(d);
            }
        };
        let r2 = radius * radius;
        if self.edge_list.is_empty() {
            self.exact.edge_tree.locate_within_distance(q, r2).for_each(&mut visit);
        } else {
            self.edge_list.iter().filter(|e| e.distance_2(&q) <= r2).for_each(&mut visit);
        }
        // Every edge nearer than `first` was a candidate, so a coverage edge found at or below
        // `first_local` is the nearest one; otherwise search the coverage edges alone.
        let coverage_distance_m =
            if best_coverage <= first_local { best_coverage } else { self.nearest_edge_where(point, |e| !e.shared).0 };
        Nearest { distance_m: best.0, zone: best.1.map_or(0, ZoneNo::index), coverage_distance_m }
    }

    /// [`Self::nearest_edge`] among the edges `keep` accepts (`f64::INFINITY` when it accepts none).
    fn nearest_edge_where(&self, point: LonLat, keep: impl Fn(&EdgeRef) -> bool) -> (f64, usize) {
        let (lon, lat) = (point.lon(), point.lat());
        let p = [lon, lat];
        let local = LocalScale::at_lat(lat);
        // Plane distances differ from local ones by at most these axis ratios, so once the plane distance
        // exceeds `best * max_ratio` no later edge can be nearer.
        let rx = self.exact.plane_scale.m_per_deg_lon / local.m_per_deg_lon;
        let ry = self.exact.plane_scale.m_per_deg_lat / local.m_per_deg_lat;
        let max_ratio = rx.max(ry) * (1.0 + 1e-9);
        let q = self.exact.plane_scale.offset_m(self.exact.plane_origin, p);
        let mut best: (f64, Option<ZoneNo>) = (f64::INFINITY, None);
        for (edge, d2) in self.exact.edge_tree.nearest_neighbor_iter_with_distance_2(&q) {
            if d2.sqrt() > best.0 * max_ratio {
                break;
            }
            let e = &self.exact.edges[edge.data as usize];
            if !keep(e) {
                continue;
            }
            let d = point_segment_distance_m(p, e.a, e.b, local);
            if d < best.0 || (d == best.0 && best.1.is_none_or(|b| e.zone < b)) {
                best = (d, Some(e.zone));
            }
        }
        (best.0, best.1.map_or(0, ZoneNo::index))
    }
}

impl Exact {
    /// Exact zone test for (`lon`, `lat`): the zone (boundary rule applied) and whether the point is
    /// on an edge. No distances.
    fn zone_at(&self, lon: f64, lat: f64) -> (Option<ZoneNo>, bool) {
        let p = [lon, lat];
        let mut zone: Option<ZoneNo> = None;
        let mut on_edge = false;
        for env in self.polygon_tree.locate_all_at_point(&p) {
            let poly = &self.polygons[env.data];
            let pos = if poly.edges.len() > RAY_QUERY_MIN_EDGES {
                self.polygon_position_by_ray_query(poly, p)
            } else {
                polygon_position(&poly.rings, p)
            };
            on_edge |= pos == Position::Boundary;
            if pos != Position::Outside {
                // First id wins among every zone holding the point (edges included), so a point in a
                // tolerated overlap sliver follows the same rule as one on a shared edge.
                zone = Some(zone.map_or(poly.zone, |z| z.min(poly.zone)));
            }
        }
        (zone, on_edge)
    }

    /// [`polygon_position`] for a polygon of many edges: the same crossing test, over only the edges whose
    /// box meets the test ray (from `p` towards +x), found in the edge R-tree.
    ///
    /// The plane's coordinates are increasing functions of lon and lat alone (and rounding keeps them
    /// non-decreasing), so every edge the crossing test does not skip (its box meets the ray in lon/lat)
    /// has a plane box that meets the ray in the plane: the query finds all of them, and the test itself
    /// skips any extra one as before.
    fn polygon_position_by_ray_query(&self, poly: &PreparedPolygon, p: [f64; 2]) -> Position {
        let q = self.plane_scale.offset_m(self.plane_origin, p);
        let ray = rstar::AABB::from_corners(q, [poly.plane_max_x, q[1]]);
        let mut inside = false;
        for edge in self.edge_tree.locate_in_envelope_intersecting(&ray) {
            if !poly.edges.contains(&edge.data) {
                continue;
            }
            let e = &self.edges[edge.data as usize];
            match crossing(e.a, e.b, p) {
                Crossing::OnEdge => return Position::Boundary,
                Crossing::Yes => inside = !inside,
                Crossing::No => {}
            }
        }
        if inside { Position::Inside } else { Position::Outside }
    }
}

/// What [`ZoneIndex::nearest`] finds.
struct Nearest {
    distance_m: f64,
    zone: usize,
    coverage_distance_m: f64,
}

/// Flags every edge that another zone also has (same end points, either direction).
fn mark_shared_edges(edges: &mut [EdgeRef]) {
    let key = |e: &EdgeRef| {
        let (a, b) = ([e.a[0].to_bits(), e.a[1].to_bits()], [e.b[0].to_bits(), e.b[1].to_bits()]);
        if a <= b { (a, b) } else { (b, a) }
    };
    let mut zones_of: std::collections::HashMap<([u64; 2], [u64; 2]), (ZoneNo, bool)> =
        std::collections::HashMap::with_capacity(edges.len());
    for e in edges.iter() {
        zones_of.entry(key(e)).and_modify(|(zone, shared)| *shared |= *zone != e.zone).or_insert((e.zone, false));
    }
    for e in edges.iter_mut() {
        e.shared = zones_of.get(&key(e)).is_some_and(|&(_, shared)| shared);
    }
}

/// Crossing-number point-in-polygon over all rings (holes included) with exact on-edge detection by
/// robust orientation. Works for either winding.
fn polygon_position(rings: &[Vec<[f64; 2]>], p: [f64; 2]) -> Position {
    let mut inside = false;
    for ring in rings {
        for w in ring.windows(2) {
            match crossing(w[0], w[1], p) {
                Crossing::OnEdge => return Position::Boundary,
                Crossing::Yes => inside = !inside,
                Crossing::No => {}
            }
        }
    }
    if inside { Position::Inside } else { Position::Outside }
}

/// What edge `a`–`b` adds to the crossing-number test at `p`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Crossing {
    /// Nothing: the ray from `p` towards +x does not cross it (edges whose box misses the ray are
    /// skipped at once).
    No,
    /// The ray crosses it (half-open in y, so a vertex on the ray counts once).
    Yes,
    /// `p` lies on it (robust orientation).
    OnEdge,
}

#[inline]
fn crossing(a: [f64; 2], b: [f64; 2], p: [f64; 2]) -> Crossing {
    if (p[1] < a[1] && p[1] < b[1]) || (p[1] > a[1] && p[1] > b[1]) || (p[0] > a[0] && p[0] > b[0]) {
        return Crossing::No;
    }
    let pc = robust::Coord { x: p[0], y: p[1] };
    let o = robust::orient2d(robust::Coord { x: a[0], y: a[1] }, robust::Coord { x: b[0], y: b[1] }, pc);
    if o == 0.0 {
        return if p[0] >= a[0].min(b[0]) { Crossing::OnEdge } else { Crossing::No };
    }
    if (a[1] > p[1]) != (b[1] > p[1]) && (o > 0.0) == (b[1] > a[1]) { Crossing::Yes } else { Crossing::No }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::zones::{Zone, ZoneSetMeta};
    use geo::{MultiPolygon, polygon};

    fn index(zones: Vec<(&str, geo::Polygon<f64>)>) -> ZoneIndex {
        let zones = zones
            .into_iter()
            .map(|(id, p)| Zone {
                id: id.parse().unwrap(),
                name: id.into(),
                geometry: MultiPolygon(vec![p]),
                source: None,
            })
            .collect();
        let set = ZoneSet::new(ZoneSetMeta { name: "t".into(), ..ZoneSetMeta::default() }, zones).unwrap();
        ZoneIndex::new(set, IndexOptions::default())
    }

    #[test]
    fn edges_and_vertices_are_inside_and_flagged() {
        let idx = index(vec![(
            "sq",
            polygon![(x: -122.68, y: 45.52), (x: -122.67, y: 45.52), (x: -122.67, y: 45.53), (x: -122.68, y: 45.53)],
        )]);
        assert_eq!(idx.zone_at(-122.675, 45.525), (Some(0), false));
        assert_eq!(idx.zone_at(-122.68, 45.52), (Some(0), true), "vertex");
        assert_eq!(idx.zone_at(-122.675, 45.52), (Some(0), true), "bottom edge");
        assert_eq!(idx.zone_at(-122.67, 45.525), (Some(0), true), "right edge");
        assert_eq!(idx.zone_at(-122.665, 45.525), (None, false));
        let loc = idx.locate(LonLat::new(-122.675, 45.525).unwrap());
        assert!(loc.distance_m > 300.0 && !loc.borderline, "{loc:?}");
        let near = idx.locate(LonLat::new(-122.6699, 45.525).unwrap());
        assert!(near.borderline && near.distance_m < 10.0, "{near:?}");
        // A phone's own accuracy replaces the index's distance for one point; nothing else changes.
        let p = LonLat::new(-122.6699, 45.525).unwrap();
        let precise = idx.locate_within(p, near.distance_m * 0.99);
        assert!(!precise.borderline && !precise.coverage_borderline, "{precise:?}");
        assert_eq!((precise.zone, precise.distance_m), (near.zone, near.distance_m));
        assert_eq!(idx.locate_within(p, near.distance_m), near, "at the distance exactly: borderline");
        assert!(idx.locate_within(LonLat::new(-122.675, 45.525).unwrap(), 400.0).borderline);
    }

    #[test]
    fn shared_edge_goes_to_the_first_id() {
        let left = polygon![(x: 0.0, y: 0.0), (x: 1.0, y: 0.0), (x: 1.0, y: 1.0), (x: 0.0, y: 1.0)];
        let right = polygon![(x: 1.0, y: 0.0), (x: 2.0, y: 0.0), (x: 2.0, y: 1.0), (x: 1.0, y: 1.0)];
        // "b" is the left square, "a" the right one: the shared edge x=1 goes to "a" (index 0).
        let idx = index(vec![("b", left), ("a", right)]);
        assert_eq!(idx.zone_at(1.0, 0.5), (Some(0), true));
        assert_eq!(idx.zone_at(0.5, 0.5), (Some(1), false));
        assert_eq!(idx.zone_at(1.5, 0.5), (Some(0), false));
    }

    #[test]
    fn a_tolerated_overlap_sliver_goes_to_the_first_id_and_a_bigger_one_is_refused() {
        use crate::zones::{OVERLAP_TOLERANCE_M2, ZoneError, ZoneSet};
        use geo::BooleanOps;
        // Two 0.001° squares in Portland; "b" (left) reaches 1e-7° (~8 mm) into "a": about 0.87 m².
        let (x0, y0, d) = (-122.68, 45.52, 0.001);
        let square = |x: f64| polygon![(x: x, y: y0), (x: x + d, y: y0), (x: x + d, y: y0 + d), (x: x, y: y0 + d)];
        let sliver = 1e-7;
        let left =
            polygon![(x: x0 - d, y: y0), (x: x0 + sliver, y: y0), (x: x0 + sliver, y: y0 + d), (x: x0 - d, y: y0 + d)];
        let overlap =
            crate::zones::area_m2(&MultiPolygon(vec![square(x0)]).intersection(&MultiPolygon(vec![left.clone()])));
        assert!(overlap > 0.5 && overlap < OVERLAP_TOLERANCE_M2, "{overlap}");
        let idx = index(vec![("b", left), ("a", square(x0))]);
        assert_eq!(idx.zone_at(x0 + sliver / 2.0, y0 + d / 2.0), (Some(0), false), "in the sliver: the first id, a");
        let wide = polygon![(x: x0 - d, y: y0), (x: x0 + 3.0 * sliver, y: y0), (x: x0 + 3.0 * sliver, y: y0 + d), (x: x0 - d, y: y0 + d)];
        let meta = ZoneSetMeta { name: "t".into(), ..ZoneSetMeta::default() };
        let zone = |id: &str, p: geo::Polygon<f64>| Zone {
            id: id.parse().unwrap(),
            name: id.into(),
            geometry: MultiPolygon(vec![p]),
            source: None,
        };
        let e = ZoneSet::new(meta, vec![zone("b", wide), zone("a", square(x0))]).unwrap_err();
        assert!(matches!(&e, ZoneError::Overlaps(p) if p.len() == 1 && p[0].area_m2 > 2.0), "{e}");
    }

    #[test]
    fn holes_are_outside_but_their_edges_are_inside() {
        let donut = polygon!(
            exterior: [(x: 0.0, y: 0.0), (x: 4.0, y: 0.0), (x: 4.0, y: 4.0), (x: 0.0, y: 4.0)],
            interiors: [[(x: 1.0, y: 1.0), (x: 3.0, y: 1.0), (x: 3.0, y: 3.0), (x: 1.0, y: 3.0)]],
        );
        let idx = index(vec![("d", donut)]);
        assert_eq!(idx.zone_at(2.0, 2.0), (None, false));
        assert_eq!(idx.zone_at(2.0, 1.0), (Some(0), true));
        assert_eq!(idx.zone_at(0.5, 2.0), (Some(0), false));
        for (x, y) in [(2.0, 2.0), (2.0, 1.0), (0.5, 2.0), (3.0, 3.0), (5.0, 5.0), (f64::NAN, 1.0)] {
            assert_eq!(idx.classify(x, y), idx.zone_at(x, y).0, "({x}, {y})");
        }
    }

    #[test]
    fn the_ray_query_test_equals_the_test_of_every_edge() {
        // Every polygon of both built-in sets and a donut, whatever its size, on and near every vertex and
        // edge midpoint and over its box.
        let donut = polygon!(
            exterior: [(x: 0.0, y: 0.0), (x: 4.0, y: 0.0), (x: 4.0, y: 4.0), (x: 0.0, y: 4.0)],
            interiors: [[(x: 1.0, y: 1.0), (x: 3.0, y: 1.0), (x: 3.0, y: 3.0), (x: 1.0, y: 3.0)]],
        );
        let mut indexes = vec![index(vec![("d", donut)])];
        indexes.extend(
            crate::builtin::zone_sets().unwrap().into_iter().map(|s| ZoneIndex::new(s, IndexOptions::default())),
        );
        let mut counts = [0; 3];
        for idx in &indexes {
            for poly in &idx.exact.polygons {
                let mut points = Vec::new();
                for w in poly.rings.iter().flat_map(|r| r.windows(2)) {
                    let mid = [f64::midpoint(w[0][0], w[1][0]), f64::midpoint(w[0][1], w[1][1])];
                    for base in [w[0], mid] {
                        for (dx, dy) in [(0.0, 0.0), (1e-9, 0.0), (-1e-9, 0.0), (0.0, 1e-9), (2e-4, -3e-4)] {
                            points.push([base[0] + dx, base[1] + dy]);
                        }
                    }
                }
                let xs = poly.rings[0].iter().map(|c| c[0]);
                let (x0, x1) = (xs.clone().fold(f64::INFINITY, f64::min), xs.fold(f64::NEG_INFINITY, f64::max));
                let ys = poly.rings[0].iter().map(|c| c[1]);
                let (y0, y1) = (ys.clone().fold(f64::INFINITY, f64::min), ys.fold(f64::NEG_INFINITY, f64::max));
                for i in 0..2000u32 {
                    let (fx, fy) = ((f64::from(i) * 0.618_034).fract(), (f64::from(i) * 0.414_214).fract());
                    points.push([x0 + (x1 - x0) * fx, y0 + (y1 - y0) * fy]);
                }
                for p in points {
                    let pos = polygon_position(&poly.rings, p);
                    assert_eq!(idx.exact.polygon_position_by_ray_query(poly, p), pos, "{p:?}");
                    counts[pos as usize] += 1;
                }
            }
        }
        assert!(counts.iter().all(|&n| n > 300), "outside, boundary, inside: {counts:?}");
    }

    /// A star around Portland: `n` vertices, radius alternating 0.05° and 0.05° less the spacing of its
    /// vertices (a wiggly circle, as in the benches), closed.
    fn wiggly_ring(n: usize) -> Vec<geo::Coord> {
        let spacing = 0.05 * std::f64::consts::TAU / n as f64;
        (0..=n)
            .map(|i| {
                let t = std::f64::consts::TAU * (i % n) as f64 / n as f64;
                let r = if i % 2 == 0 { 0.05 } else { 0.05 - spacing };
                geo::coord! { x: -122.6 + r * t.cos(), y: 45.5 + r * t.sin() }
            })
            .collect()
    }

    #[test]
    fn a_zone_of_100_000_vertices_with_a_hole_answers_as_brute_force() {
        use geo::coordinate_position::{CoordPos, CoordinatePosition};
        use rand::{RngExt, SeedableRng};
        let hole: Vec<geo::Coord> = [(-122.6, 45.5), (-122.59, 45.5), (-122.59, 45.51), (-122.6, 45.5)]
            .map(|(x, y)| geo::coord! { x: x, y: y })
            .into();
        let polygon = geo::Polygon::new(geo::LineString(wiggly_ring(100_000)), vec![geo::LineString(hole)]);
        let idx = index(vec![("wiggly", polygon.clone())]);
        let rings = &idx.exact.polygons[0].rings;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(16);
        let mut points = Vec::new();
        for _ in 0..2500 {
            // Over the ring's box and a little beyond.
            points.push([-122.66 + 0.12 * rng.random::<f64>(), 45.44 + 0.12 * rng.random::<f64>()]);
        }
        let edges = &idx.exact.edges;
        for i in 0..2500 {
            // On, beside and near the edges (of the hole too), where the grid defers to the exact test.
            let e = if i % 10 == 0 { edges[edges.len() - 1 - i % 3] } else { edges[rng.random_range(0..edges.len())] };
            let t = [0.0, 0.5, rng.random::<f64>()][i % 3];
            let off = [0.0, 1e-9, -1e-7, 3e-6, -2e-5][i % 5];
            points.push([e.a[0] + t * (e.b[0] - e.a[0]) + off, e.a[1] + t * (e.b[1] - e.a[1]) - off]);
        }
        let mut batch = Vec::new();
        idx.classify_batch(&points, &mut batch);
        let (mut inside, mut boundary) = (0, 0);
        for (i, &[x, y]) in points.iter().enumerate() {
            let pos = polygon_position(rings, [x, y]);
            let zone = (pos != Position::Outside).then_some(0);
            inside += usize::from(pos == Position::Inside);
            boundary += usize::from(pos == Position::Boundary);
            assert_eq!(idx.classify(x, y), zone, "({x}, {y})");
            assert_eq!(batch[i].map(ZoneNo::index), zone, "({x}, {y})");
            let loc = idx.locate(LonLat::new(x, y).unwrap());
            assert_eq!((loc.zone, loc.on_boundary), (zone, pos == Position::Boundary), "({x}, {y})");
            if i % 20 == 0 {
                // geo's own test agrees.
                let geo_pos = polygon.coordinate_position(&geo::coord! { x: x, y: y });
                let expected = match pos {
                    Position::Inside => CoordPos::Inside,
                    Position::Boundary => CoordPos::OnBoundary,
                    Position::Outside => CoordPos::Outside,
                };
                assert_eq!(geo_pos, expected, "({x}, {y})");
            }
        }
        assert!(inside > 2000 && boundary > 300 && points.len() - inside - boundary > 1000, "{inside} {boundary}");

        // Distances: where the edge grid lists candidates (near the hole) and where it keeps no list (too
        // many edges are almost equally near: most cells, each 1/64 of the ring's width).
        let q = |p: &[f64; 2]| idx.exact.plane_scale.offset_m(idx.exact.plane_origin, *p);
        let listed: Vec<bool> = points.iter().map(|p| idx.edge_grid.candidates(q(p)).is_some()).collect();
        let n_listed = listed.iter().filter(|&&l| l).count();
        assert!(n_listed > 0 && n_listed < points.len(), "{n_listed} of {} points have candidate lists", points.len());
        let sample = points.iter().zip(&listed).enumerate().filter(|&(i, (_, &l))| l || i % 25 == 0);
        for (_, (&[x, y], _)) in sample {
            let local = LocalScale::at_lat(y);
            let nearest =
                edges.iter().map(|e| point_segment_distance_m([x, y], e.a, e.b, local)).fold(f64::INFINITY, f64::min);
            let loc = idx.locate(LonLat::new(x, y).unwrap());
            assert_eq!(
                (loc.distance_m, loc.coverage_distance_m, loc.nearest_zone),
                (nearest, nearest, 0),
                "({x}, {y})"
            );
        }
    }

    #[test]
    fn fast_nearest_search_equals_brute_force_over_all_edges() {
        let build = || ZoneIndex::new(crate::builtin::zone_sets().unwrap().remove(1), IndexOptions::default());
        let grid = build();
        let mut scan = build();
        scan.edge_grid = EdgeGrid::default(); // the path beyond the grid's margin
        assert!(!scan.edge_list.is_empty(), "few edges: the flat scan is used");
        let mut tree = build();
        tree.edge_grid = EdgeGrid::default();
        tree.edge_list.clear(); // as for a set with many edges: the R-tree path
        let edges = scan.exact.edges.clone();
        assert!(edges.iter().any(|e| e.shared) && edges.iter().any(|e| !e.shared));
        let b = scan.set().bounds();
        let mut points = Vec::new();
        for i in 0..6000u32 {
            // A deterministic scatter over the zones' box grown by 1.5 times on each side (the grid reaches
            // half a box beyond, so both grid and fallback are exercised).
            let (fx, fy) = ((f64::from(i) * 0.618_034).fract(), (f64::from(i) * 0.414_214).fract());
            points.push([
                b.min().x - 1.5 * b.width() + 4.0 * b.width() * fx,
                b.min().y - 1.5 * b.height() + 4.0 * b.height() * fy,
            ]);
        }
        for e in &edges {
            // On, beside and just off every vertex and edge midpoint, where ties and near-ties live.
            for base in [e.a, [f64::midpoint(e.a[0], e.b[0]), f64::midpoint(e.a[1], e.b[1])]] {
                for (dx, dy) in [(0.0, 0.0), (1e-7, 0.0), (0.0, -1e-7), (3e-4, 2e-4), (-2e-4, 3e-4)] {
                    points.push([base[0] + dx, base[1] + dy]);
                }
            }
        }
        let mut on_grid = 0;
        for [lon, lat] in points {
            let p = LonLat::new(lon, lat).unwrap();
            let local = LocalScale::at_lat(lat);
            let dist = |e: &EdgeRef| point_segment_distance_m([lon, lat], e.a, e.b, local);
            let all = edges.iter().map(dist).fold(f64::INFINITY, f64::min);
            let coverage = edges.iter().filter(|e| !e.shared).map(dist).fold(f64::INFINITY, f64::min);
            let zone = edges.iter().filter(|e| dist(e) == all).map(|e| e.zone.index()).min().unwrap();
            let q = grid.exact.plane_scale.offset_m(grid.exact.plane_origin, [lon, lat]);
            on_grid += usize::from(grid.edge_grid.candidates(q).is_some());
            for idx in [&grid, &scan, &tree] {
                let loc = idx.locate(p);
                assert_eq!(loc.distance_m, all, "at ({lon}, {lat})");
                assert_eq!(loc.coverage_distance_m, coverage, "at ({lon}, {lat})");
                assert_eq!(loc.nearest_zone, zone, "at ({lon}, {lat})");
            }
        }
        assert!(on_grid > 2000, "many points are on the grid ({on_grid})");
    }
}
