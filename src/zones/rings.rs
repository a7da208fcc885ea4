//! Polygon validity without quadratic work: the rules geo's `Validation` checks for a `Polygon` and a
//! `MultiPolygon` (rings with at least three distinct positions, no ring touching or crossing itself,
//! holes inside their shell, rings and parts meeting at points only, parts not overlapping), reported
//! with geo's own error values, but with every pairwise search pruned by an R-tree.
//!
//! geo 0.33 tests every pair of a ring's segments (100 000 vertices: 5·10⁹ pairs, about a minute) and
//! every pair of holes and of parts. Here a ring's segments go into an R-tree (`bulk_load`) and only
//! segments whose boxes meet are compared, with geo's own segment predicate and its rule for which
//! meetings count (segments that share an end, one's end the other's start, are neighbours); holes and
//! parts are compared (with geo's `Relate`) only when their bounding boxes meet. Same answers, in
//! O(n log n) for a ring whose segments are short next to its extent, as boundaries are.
//!
//! Knows nothing of files or zones; `validate` calls it on geometry already checked for finite lon/lat
//! and closed rings.

use geo::algorithm::validation::{GeometryIndex, InvalidMultiPolygon, InvalidPolygon, RingRole};
use geo::coordinate_position::CoordPos;
use geo::dimensions::Dimensions;
use geo::{BoundingRect, Intersects, Line, LineString, MultiPolygon, Polygon, PreparedGeometry, Relate};
use geo::{Rect, RemoveRepeatedPoints};
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{AABB, RTree, RTreeObject};

/// Every reason `poly` is invalid, as geo's `Polygon::validation_errors` would list them (same
/// variants, same order), without its quadratic searches.
pub(crate) fn polygon_errors(poly: &Polygon<f64>) -> Vec<InvalidPolygon> {
    let mut errors = Vec::new();
    for (i, ring) in std::iter::once(poly.exterior()).chain(poly.interiors()).enumerate() {
        if ring.0.is_empty() {
            continue;
        }
        let role = if i == 0 { RingRole::Exterior } else { RingRole::Interior(i - 1) };
        if ring.remove_repeated_points().0.len() < 4 {
            errors.push(InvalidPolygon::TooFewPointsInRing(role));
        }
        if ring_self_intersects(ring) {
            errors.push(InvalidPolygon::SelfIntersection(role));
        }
    }
    if poly.interiors().iter().all(|r| r.0.is_empty()) {
        return errors;
    }
    let shell = Polygon::new(poly.exterior().clone(), vec![]);
    let prepared_shell = PreparedGeometry::from(&shell);
    let holes: Vec<Option<Polygon<f64>>> =
        poly.interiors().iter().map(|r| (!r.0.is_empty()).then(|| Polygon::new(r.clone(), vec![]))).collect();
    let boxes = Boxes::new(holes.iter().map(|h| h.as_ref().and_then(BoundingRect::bounding_rect)));
    for (i, hole) in holes.iter().enumerate() {
        let Some(hole) = hole else { continue };
        let prepared_hole = PreparedGeometry::from(hole);
        let m = prepared_shell.relate(&prepared_hole);
        if !m.is_contains() {
            errors.push(InvalidPolygon::InteriorRingNotContainedInExteriorRing(RingRole::Interior(i)));
        }
        if m.get(CoordPos::OnBoundary, CoordPos::OnBoundary) == Dimensions::OneDimensional {
            errors.push(InvalidPolygon::IntersectingRingsOnALine(RingRole::Exterior, RingRole::Interior(i)));
        }
        for j in boxes.meeting_after(i) {
            let Some(other) = &holes[j] else { continue };
            let m = prepared_hole.relate(other);
            if m.get(CoordPos::Inside, CoordPos::Inside) == Dimensions::TwoDimensional {
                errors.push(InvalidPolygon::IntersectingRingsOnAnArea(RingRole::Interior(i), RingRole::Interior(j)));
            }
            if m.get(CoordPos::OnBoundary, CoordPos::OnBoundary) == Dimensions::OneDimensional {
                errors.push(InvalidPolygon::IntersectingRingsOnALine(RingRole::Interior(i), RingRole::Interior(j)));
            }
        }
    }
    errors
}

/// Every pair of parts of `multi` that overlap or touch along a line (geo's `MultiPolygon` rule), in
/// pair order; the parts themselves are assumed valid (see [`polygon_errors`]).
pub(crate) fn parts_errors(multi: &MultiPolygon<f64>) -> Vec<InvalidMultiPolygon> {
    let boxes = Boxes::new(multi.0.iter().map(BoundingRect::bounding_rect));
    let mut errors = Vec::new();
    for (i, a) in multi.0.iter().enumerate() {
        for j in boxes.meeting_after(i) {
            let m = a.relate(&multi.0[j]);
            if m.get(CoordPos::Inside, CoordPos::Inside) == Dimensions::TwoDimensional {
                errors.push(InvalidMultiPolygon::ElementsOverlaps(GeometryIndex(i), GeometryIndex(j)));
            }
            if m.get(CoordPos::OnBoundary, CoordPos::OnBoundary) == Dimensions::OneDimensional {
                errors.push(InvalidMultiPolygon::ElementsTouchOnALine(GeometryIndex(i), GeometryIndex(j)));
            }
        }
    }
    errors
}

/// Whether two segments of the ring that are not neighbours meet: geo's rule, segment `a` and `b` meet
/// (closed segments, exact predicates) and neither `a` ends where `b` starts nor `b` ends where `a`
/// starts. Only pairs whose bounding boxes meet are tested, which loses nothing: segments that meet
/// have boxes that meet.
fn ring_self_intersects(ring: &LineString<f64>) -> bool {
    let lines: Vec<Line<f64>> = ring.lines().collect();
    if lines.len() < 2 {
        return false;
    }
    let tree = RTree::bulk_load(lines.iter().enumerate().map(|(i, l)| GeomWithData::new(*l, i)).collect());
    lines.iter().enumerate().any(|(i, a)| {
        tree.locate_in_envelope_intersecting(&a.envelope()).any(|other| {
            let b = other.geom();
            other.data > i && a.start != b.end && a.end != b.start && a.intersects(b)
        })
    })
}

/// Bounding boxes of a list of geometries (`None` for an empty one), indexed to find the pairs whose
/// boxes meet (touching counts): the candidates for any pairwise test that needs the geometries to meet.
pub(crate) struct Boxes {
    tree: RTree<GeomWithData<Rectangle<[f64; 2]>, usize>>,
    rects: Vec<Option<Rect<f64>>>,
}

impl Boxes {
    pub(crate) fn new(rects: impl Iterator<Item = Option<Rect<f64>>>) -> Self {
        let rects: Vec<Option<Rect<f64>>> = rects.collect();
        let items = rects
            .iter()
            .enumerate()
            .filter_map(|(i, r)| {
                r.map(|r| GeomWithData::new(Rectangle::from_corners(r.min().into(), r.max().into()), i))
            })
            .collect();
        Self { tree: RTree::bulk_load(items), rects }
    }

    /// The indices after `i` whose boxes meet box `i`, ascending.
    pub(crate) fn meeting_after(&self, i: usize) -> Vec<usize> {
        let Some(r) = self.rects[i] else { return Vec::new() };
        let envelope = AABB::from_corners(r.min().into(), r.max().into());
        let mut found: Vec<usize> =
            self.tree.locate_in_envelope_intersecting(&envelope).map(|item| item.data).filter(|&j| j > i).collect();
        found.sort_unstable();
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{Coord, Validation};
    use rand::{RngExt, SeedableRng};

    /// A ring of `n` positions on a small integer grid (so that collinear runs, repeated positions,
    /// touching and crossing segments are all common), closed.
    fn random_ring(rng: &mut rand_chacha::ChaCha8Rng, n: std::ops::Range<usize>, span: i32) -> LineString<f64> {
        let n = rng.random_range(n);
        let mut coords: Vec<Coord<f64>> = (0..n)
            .map(|_| Coord { x: f64::from(rng.random_range(0..=span)), y: f64::from(rng.random_range(0..=span)) })
            .collect();
        coords.push(coords[0]);
        LineString(coords)
    }

    /// A star-shaped (hence simple) ring around (cx, cy): `n` vertices at increasing angles, radius
    /// between `r_min` and `r_max`.
    fn random_star(
        rng: &mut rand_chacha::ChaCha8Rng,
        n: std::ops::Range<usize>,
        c: (f64, f64),
        r: (f64, f64),
    ) -> LineString<f64> {
        let n = rng.random_range(n);
        let mut coords: Vec<Coord<f64>> = (0..n)
            .map(|i| {
                let t = std::f64::consts::TAU * (i as f64 + rng.random::<f64>() * 0.9) / n as f64;
                let radius = r.0 + rng.random::<f64>() * (r.1 - r.0);
                Coord { x: (c.0 + radius * t.cos()).round(), y: (c.1 + radius * t.sin()).round() }
            })
            .collect();
        coords.push(coords[0]);
        LineString(coords)
    }

    #[test]
    fn agrees_with_geo_on_seeded_random_polygons() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(16);
        let (mut valid, mut invalid) = (0, 0);
        for case in 0..6000 {
            let poly = match case % 3 {
                // Free-form rings: mostly self-intersecting, some simple, many degenerate.
                0 => Polygon::new(random_ring(&mut rng, 3..8, 4), vec![]),
                // A star shell on a grid with star holes placed anywhere: holes inside, touching,
                // crossing the shell or one another, outside.
                1 => {
                    let shell = random_star(&mut rng, 3..12, (10.0, 10.0), (6.0, 10.0));
                    let holes = (0..rng.random_range(1..4))
                        .map(|_| {
                            let c = (f64::from(rng.random_range(2..18)), f64::from(rng.random_range(2..18)));
                            random_star(&mut rng, 3..6, c, (1.0, 4.0))
                        })
                        .collect();
                    Polygon::new(shell, holes)
                }
                // A free-form shell with free-form holes.
                _ => Polygon::new(
                    random_ring(&mut rng, 3..7, 6),
                    (0..rng.random_range(1..3)).map(|_| random_ring(&mut rng, 3..5, 6)).collect(),
                ),
            };
            let ours = polygon_errors(&poly);
            let geos = poly.validation_errors();
            assert_eq!(ours, geos, "case {case}: {poly:?}");
            if ours.is_empty() { valid += 1 } else { invalid += 1 }
        }
        assert!(valid > 600 && invalid > 600, "both kinds are exercised: {valid} valid, {invalid} invalid");
    }

    #[test]
    fn agrees_with_geo_on_seeded_random_multipolygons() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let (mut valid, mut invalid) = (0, 0);
        for case in 0..2000 {
            let parts = (0..rng.random_range(2..5))
                .map(|_| {
                    let c = (f64::from(rng.random_range(0..30)), f64::from(rng.random_range(0..30)));
                    Polygon::new(random_star(&mut rng, 3..8, c, (2.0, 6.0)), vec![])
                })
                .filter(|p| polygon_errors(p).is_empty())
                .collect();
            let multi = MultiPolygon(parts);
            let ours = parts_errors(&multi);
            let geos = multi.validation_errors();
            assert_eq!(ours, geos, "case {case}: {multi:?}");
            if ours.is_empty() { valid += 1 } else { invalid += 1 }
        }
        assert!(valid > 200 && invalid > 200, "both kinds are exercised: {valid} valid, {invalid} invalid");
    }

    #[test]
    fn names_a_touching_vertex_a_spike_and_a_crossing() {
        let ring = |pts: &[(f64, f64)]| LineString::from(pts.to_vec());
        // The ring passes through (1, 1) twice: touching itself is not simple.
        let pinched =
            Polygon::new(ring(&[(0., 0.), (2., 0.), (1., 1.), (2., 2.), (0., 2.), (1., 1.), (0., 0.)]), vec![]);
        assert_eq!(polygon_errors(&pinched), vec![InvalidPolygon::SelfIntersection(RingRole::Exterior)]);
        let bowtie = Polygon::new(ring(&[(0., 0.), (1., 1.), (1., 0.), (0., 1.), (0., 0.)]), vec![]);
        assert_eq!(polygon_errors(&bowtie), vec![InvalidPolygon::SelfIntersection(RingRole::Exterior)]);
        let square = ring(&[(0., 0.), (4., 0.), (4., 4.), (0., 4.), (0., 0.)]);
        let crossing_hole = Polygon::new(square.clone(), vec![ring(&[(3., 1.), (5., 1.), (5., 2.), (3., 1.)])]);
        assert_eq!(
            polygon_errors(&crossing_hole),
            vec![InvalidPolygon::InteriorRingNotContainedInExteriorRing(RingRole::Interior(0))]
        );
        let inside = Polygon::new(square, vec![ring(&[(1., 1.), (2., 1.), (2., 2.), (1., 1.)])]);
        assert!(polygon_errors(&inside).is_empty());
    }
}
