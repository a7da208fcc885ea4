//! Geometry validation for zone boundaries as they come from a file: lon/lat ranges (catching projected
//! coordinates and swapped axes), closed rings, enough positions, and polygon validity (no
//! self-intersection, holes inside their shell; checked by [`super::rings`] in O(n log n) with geo's
//! rules and wording). Winding order is accepted either way.

use std::fmt;

use geo::{Coord, LineString, MultiPolygon, Polygon};

use super::rings;

/// The most positions leadmap reads in one zone's geometry, and in one zone file (all its features
/// together): 1 000 000, some 40 MB of GeoJSON. The City of Portland's 98 neighbourhoods take 15 621
/// positions; a file far beyond the limit is a survey-precision export to simplify or not a boundary
/// file at all, and would cost seconds and memory in validation and in the index for nothing.
pub const MAX_VERTICES: usize = 1_000_000;

/// One polygon as written in the file: rings of (lon, lat) positions, exterior first, holes after.
pub type RawPolygon = Vec<Vec<[f64; 2]>>;

/// Which ring of which polygon a problem is in (1-based, as a person counts).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RingRef {
    /// 1-based polygon number within the (multi)polygon.
    pub polygon: usize,
    /// 0 for the exterior ring, k for the k-th hole.
    pub ring: usize,
}

impl fmt::Display for RingRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.ring == 0 {
            write!(f, "polygon {} exterior ring", self.polygon)
        } else {
            write!(f, "polygon {} hole {}", self.polygon, self.ring)
        }
    }
}

/// Why a zone's geometry was rejected.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum GeometryProblem {
    /// The geometry has no coordinates at all.
    #[error("empty geometry: a zone needs a Polygon or MultiPolygon with at least one ring")]
    Empty,
    /// The geometry type is not Polygon or MultiPolygon.
    #[error("geometry type {0} is not supported: zones must be Polygon or MultiPolygon")]
    UnsupportedType(String),
    /// The geometry has more positions than [`MAX_VERTICES`]; simplify it.
    #[error(
        "the geometry has {count} positions; at most {limit} are read per zone. Simplify it, e.g. `ogr2ogr -simplify 0.000001 out.geojson in.geojson` (0.000001° is about 10 cm)"
    )]
    TooManyVertices {
        /// Positions in the geometry, closing ones included.
        count: usize,
        /// [`MAX_VERTICES`].
        limit: usize,
    },
    /// Two consecutive positions of a ring are more than 180° of longitude apart: the ring goes the
    /// short way across the antimeridian, which RFC 7946 §3.1.9 says to cut instead.
    #[error(
        "{at}, positions {index} and {}: the longitude jumps from {from} to {to}, more than 180°, so the ring crosses the antimeridian. RFC 7946 §3.1.9: cut it in two at ±180 (a MultiPolygon with one part on each side)",
        .index + 1
    )]
    CrossesAntimeridian {
        /// Where.
        at: RingRef,
        /// 1-based position before the jump.
        index: usize,
        /// Its longitude.
        from: f64,
        /// The next position's longitude.
        to: f64,
    },
    /// A ring whose positions all lie on one line (or are all one point): it encloses no area, so
    /// neither does a zone made of it.
    #[error("{at} encloses no area: all its positions lie on one line. A zone must cover ground")]
    ZeroArea {
        /// Where.
        at: RingRef,
    },
    /// A position has fewer than two numbers, or NaN/infinite values.
    #[error("{at}, position {index}: coordinate is not a finite [lon, lat] pair")]
    NonFinite {
        /// Where.
        at: RingRef,
        /// 1-based position in the ring.
        index: usize,
    },
    /// Values far outside lon/lat degrees: the file is in a projected CRS (State Plane feet, UTM metres).
    #[error(
        "{at}, position {index}: [{x}, {y}] is not lon/lat degrees; it looks like projected coordinates (e.g. State Plane feet or UTM metres). Reproject the file to EPSG:4326 (CRS84), e.g. `ogr2ogr -t_srs EPSG:4326 out.geojson in.geojson`"
    )]
    NotLonLat {
        /// Where.
        at: RingRef,
        /// 1-based position in the ring.
        index: usize,
        /// First value as written.
        x: f64,
        /// Second value as written.
        y: f64,
    },
    /// The first value fits a latitude and the second a longitude: the axes are swapped.
    #[error(
        "{at}, position {index}: [{x}, {y}] has a second value outside -90..90; the axes look swapped ([lat, lon]). GeoJSON positions are [lon, lat]"
    )]
    SwappedAxes {
        /// Where.
        at: RingRef,
        /// 1-based position in the ring.
        index: usize,
        /// First value as written.
        x: f64,
        /// Second value as written.
        y: f64,
    },
    /// A ring has fewer than four positions (three distinct plus the closing one).
    #[error("{at} has {count} positions; a ring needs at least 4 (first and last equal)")]
    TooFewPositions {
        /// Where.
        at: RingRef,
        /// How many it has.
        count: usize,
    },
    /// The last position of a ring differs from the first.
    #[error("{at} is not closed: first position {first:?} differs from last {last:?}")]
    Unclosed {
        /// Where.
        at: RingRef,
        /// First position.
        first: [f64; 2],
        /// Last position.
        last: [f64; 2],
    },
    /// The polygon breaks an OGC validity rule as geo states them (self-intersection, hole outside its
    /// shell, rings crossing or sharing a line).
    #[error("polygon {polygon}: {reason}")]
    Invalid {
        /// 1-based polygon number.
        polygon: usize,
        /// geo's explanation, e.g. "exterior ring has a self-intersection".
        reason: String,
    },
    /// The parts of a MultiPolygon overlap or touch along a line (geo's OGC rule); merge them into one
    /// polygon.
    #[error("the parts of the multipolygon overlap or share an edge ({0}; geo counts parts from 0)")]
    PartsOverlap(String),
}

/// Checks the rings of a (multi)polygon as written and turns them into a geo `MultiPolygon`.
/// Returns every problem found (coordinate problems stop the polygon checks, which would be noise).
///
/// # Examples
/// ```
/// use leadmap::zones::validate_polygons;
/// let square = vec![vec![[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0], [0.0, 0.0]]];
/// assert!(validate_polygons(&[square]).is_ok());
/// let open = vec![vec![[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]];
/// assert!(validate_polygons(&[open]).is_err());
/// ```
pub fn validate_polygons(raw: &[RawPolygon]) -> Result<MultiPolygon<f64>, Vec<GeometryProblem>> {
    if raw.is_empty() || raw.iter().all(|p| p.iter().all(Vec::is_empty)) {
        return Err(vec![GeometryProblem::Empty]);
    }
    let count: usize = raw.iter().flatten().map(Vec::len).sum();
    if count > MAX_VERTICES {
        return Err(vec![GeometryProblem::TooManyVertices { count, limit: MAX_VERTICES }]);
    }
    let mut problems = Vec::new();
    // Coordinate ranges first: one report per geometry is enough to name the cause.
    'coords: for (pi, poly) in raw.iter().enumerate() {
        for (ri, ring) in poly.iter().enumerate() {
            let at = RingRef { polygon: pi + 1, ring: ri };
            for (i, &[x, y]) in ring.iter().enumerate() {
                if let Some(p) = coordinate_problem(at, i + 1, x, y) {
                    problems.push(p);
                    break 'coords;
                }
            }
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    for (pi, poly) in raw.iter().enumerate() {
        for (ri, ring) in poly.iter().enumerate() {
            if let Some(i) = ring.windows(2).position(|w| (w[1][0] - w[0][0]).abs() > 180.0) {
                let at = RingRef { polygon: pi + 1, ring: ri };
                problems.push(GeometryProblem::CrossesAntimeridian {
                    at,
                    index: i + 1,
                    from: ring[i][0],
                    to: ring[i + 1][0],
                });
            }
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    for (pi, poly) in raw.iter().enumerate() {
        if poly.is_empty() || poly[0].is_empty() {
            problems.push(GeometryProblem::Empty);
            continue;
        }
        for (ri, ring) in poly.iter().enumerate() {
            let at = RingRef { polygon: pi + 1, ring: ri };
            if ring.len() < 4 {
                problems.push(GeometryProblem::TooFewPositions { at, count: ring.len() });
            } else if ring[0] != ring[ring.len() - 1] {
                problems.push(GeometryProblem::Unclosed { at, first: ring[0], last: ring[ring.len() - 1] });
            } else if encloses_no_area(ring) {
                problems.push(GeometryProblem::ZeroArea { at });
            }
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let polygons: Vec<Polygon<f64>> = raw
        .iter()
        .map(|poly| {
            let mut rings = poly.iter().map(|ring| LineString(ring.iter().map(|&[x, y]| Coord { x, y }).collect()));
            let exterior = rings.next().unwrap_or_else(|| LineString(vec![]));
            Polygon::new(exterior, rings.collect())
        })
        .collect();
    for (pi, poly) in polygons.iter().enumerate() {
        for reason in rings::polygon_errors(poly) {
            problems.push(GeometryProblem::Invalid { polygon: pi + 1, reason: reason.to_string() });
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let multi = MultiPolygon(polygons);
    problems.extend(rings::parts_errors(&multi).into_iter().map(|e| GeometryProblem::PartsOverlap(e.to_string())));
    if problems.is_empty() { Ok(multi) } else { Err(problems) }
}

/// Whether every position of the ring is on one line through its first two distinct positions (exact
/// orientation test, so no rounding either way). A ring with any position off that line and no
/// self-intersection encloses a positive area.
fn encloses_no_area(ring: &[[f64; 2]]) -> bool {
    let c = |[x, y]: [f64; 2]| robust::Coord { x, y };
    let Some(&a) = ring.first() else { return true };
    let Some(&b) = ring.iter().find(|&&p| p != a) else { return true };
    ring.iter().all(|&p| robust::orient2d(c(a), c(b), c(p)) == 0.0)
}

fn coordinate_problem(at: RingRef, index: usize, x: f64, y: f64) -> Option<GeometryProblem> {
    if !x.is_finite() || !y.is_finite() {
        return Some(GeometryProblem::NonFinite { at, index });
    }
    if (-180.0..=180.0).contains(&x) && (-90.0..=90.0).contains(&y) {
        return None;
    }
    if (-90.0..=90.0).contains(&x) && (-180.0..=180.0).contains(&y) {
        return Some(GeometryProblem::SwappedAxes { at, index, x, y });
    }
    Some(GeometryProblem::NotLonLat { at, index, x, y })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring(pts: &[[f64; 2]]) -> Vec<[f64; 2]> {
        pts.to_vec()
    }

    #[test]
    fn accepts_either_winding() {
        let ccw = ring(&[[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0], [0.0, 0.0]]);
        let mut cw = ccw.clone();
        cw.reverse();
        assert!(validate_polygons(&[vec![ccw]]).is_ok());
        assert!(validate_polygons(&[vec![cw]]).is_ok());
    }

    #[test]
    fn names_projected_and_swapped_coordinates() {
        let feet = ring(&[
            [7_645_653.2, 684_826.8],
            [7_645_700.0, 684_826.8],
            [7_645_700.0, 684_900.0],
            [7_645_653.2, 684_826.8],
        ]);
        let e = validate_polygons(&[vec![feet]]).unwrap_err();
        assert!(matches!(e[0], GeometryProblem::NotLonLat { index: 1, .. }), "{e:?}");
        assert!(e[0].to_string().contains("State Plane"));
        let swapped = ring(&[[45.52, -122.68], [45.53, -122.68], [45.53, -122.67], [45.52, -122.68]]);
        let e = validate_polygons(&[vec![swapped]]).unwrap_err();
        assert!(matches!(e[0], GeometryProblem::SwappedAxes { .. }), "{e:?}");
        assert!(e[0].to_string().contains("swapped"));
    }

    #[test]
    fn names_unclosed_short_empty_and_self_intersecting_rings() {
        let open = ring(&[[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]);
        assert!(matches!(validate_polygons(&[vec![open]]).unwrap_err()[0], GeometryProblem::Unclosed { .. }));
        let short = ring(&[[0.0, 0.0], [1.0, 0.0], [0.0, 0.0]]);
        assert!(matches!(
            validate_polygons(&[vec![short]]).unwrap_err()[0],
            GeometryProblem::TooFewPositions { count: 3, .. }
        ));
        assert_eq!(validate_polygons(&[]).unwrap_err(), vec![GeometryProblem::Empty]);
        assert_eq!(validate_polygons(&[vec![vec![]]]).unwrap_err(), vec![GeometryProblem::Empty]);
        let bowtie = ring(&[[0.0, 0.0], [1.0, 1.0], [1.0, 0.0], [0.0, 1.0], [0.0, 0.0]]);
        let e = validate_polygons(&[vec![bowtie]]).unwrap_err();
        assert!(e[0].to_string().contains("self-intersection"), "{e:?}");
    }

    /// A fine star around Portland: `n` vertices, radius alternating 0.05° and 0.05° less the spacing
    /// of its vertices (a wiggly circle).
    fn star(n: usize) -> Vec<[f64; 2]> {
        let spacing = 0.05 * std::f64::consts::TAU / n as f64;
        let mut pts: Vec<[f64; 2]> = (0..n)
            .map(|i| {
                let t = std::f64::consts::TAU * i as f64 / n as f64;
                let r = if i % 2 == 0 { 0.05 } else { 0.05 - spacing };
                [-122.6 + r * t.cos(), 45.5 + r * t.sin()]
            })
            .collect();
        pts.push(pts[0]);
        pts
    }

    #[test]
    fn a_ring_of_100_000_vertices_validates_without_comparing_every_pair() {
        // geo's Validation compares all 5·10⁹ segment pairs here (about a minute in release).
        let multi = validate_polygons(&[vec![star(100_000)]]).unwrap();
        assert_eq!(multi.0[0].exterior().0.len(), 100_001);
        let hole = ring(&[[-122.6, 45.5], [-122.59, 45.5], [-122.59, 45.51], [-122.6, 45.5]]);
        assert!(validate_polygons(&[vec![star(10_000), hole]]).is_ok());
        let mut pinched = star(100_000);
        pinched[50_000] = pinched[10_000];
        let e = validate_polygons(&[vec![pinched]]).unwrap_err();
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].to_string(), "polygon 1: exterior ring has a self-intersection");
    }

    #[test]
    fn caps_the_positions_of_one_geometry() {
        // A NaN first position stops validation at once, after the count: the limit itself is let through.
        let nan_ring = |n: usize| vec![[f64::NAN, 0.0]; n];
        let at_limit = validate_polygons(&[vec![nan_ring(MAX_VERTICES - 8)], vec![nan_ring(8)]]).unwrap_err();
        assert!(matches!(at_limit[0], GeometryProblem::NonFinite { .. }), "{:?}", at_limit[0]);
        let e = validate_polygons(&[vec![nan_ring(MAX_VERTICES - 8)], vec![nan_ring(4), nan_ring(5)]]).unwrap_err();
        assert_eq!(e, vec![GeometryProblem::TooManyVertices { count: MAX_VERTICES + 1, limit: MAX_VERTICES }]);
        let text = e[0].to_string();
        assert!(text.contains("1000001 positions") && text.contains("at most 1000000"), "{text}");
    }

    #[test]
    fn refuses_a_ring_across_the_antimeridian() {
        let fiji = ring(&[[179.5, -17.0], [-179.5, -17.0], [-179.5, -16.0], [179.5, -16.0], [179.5, -17.0]]);
        let e = validate_polygons(&[vec![fiji]]).unwrap_err();
        assert_eq!(
            e,
            vec![GeometryProblem::CrossesAntimeridian {
                at: RingRef { polygon: 1, ring: 0 },
                index: 1,
                from: 179.5,
                to: -179.5
            }]
        );
        let text = e[0].to_string();
        assert!(
            text.contains("positions 1 and 2") && text.contains("RFC 7946 §3.1.9") && text.contains("±180"),
            "{text}"
        );
        // Cut at ±180, the same area is two valid parts.
        let east = ring(&[[179.5, -17.0], [180.0, -17.0], [180.0, -16.0], [179.5, -16.0], [179.5, -17.0]]);
        let west = ring(&[[-180.0, -17.0], [-179.5, -17.0], [-179.5, -16.0], [-180.0, -16.0], [-180.0, -17.0]]);
        assert!(validate_polygons(&[vec![east], vec![west]]).is_ok());
    }

    #[test]
    fn refuses_rings_that_enclose_no_area() {
        // geo's Validation accepts a ring folded onto one line; it covers no ground.
        let flat = ring(&[[0.0, 0.0], [1.0, 1.0], [2.0, 2.0], [0.0, 0.0]]);
        assert!(geo::Validation::is_valid(&Polygon::new(
            LineString(flat.iter().map(|&[x, y]| Coord { x, y }).collect()),
            vec![]
        )));
        let e = validate_polygons(&[vec![flat]]).unwrap_err();
        assert_eq!(e, vec![GeometryProblem::ZeroArea { at: RingRef { polygon: 1, ring: 0 } }]);
        assert!(e[0].to_string().contains("polygon 1 exterior ring encloses no area"), "{e:?}");
        let point = ring(&[[0.5, 0.5], [0.5, 0.5], [0.5, 0.5], [0.5, 0.5]]);
        let shell = ring(&[[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0], [0.0, 0.0]]);
        let e = validate_polygons(&[vec![shell.clone(), point]]).unwrap_err();
        assert_eq!(e, vec![GeometryProblem::ZeroArea { at: RingRef { polygon: 1, ring: 1 } }]);
        let thin = ring(&[[0.0, 0.0], [1.0, 0.0], [2.0, 1e-12], [0.0, 0.0]]);
        assert!(validate_polygons(&[vec![thin]]).is_ok(), "a sliver has area");
    }

    #[test]
    fn lists_every_pair_of_overlapping_parts() {
        let sq = |x: f64, y: f64| ring(&[[x, y], [x + 1.0, y], [x + 1.0, y + 1.0], [x, y + 1.0], [x, y]]);
        let parts =
            [vec![sq(0.0, 0.0)], vec![sq(0.5, 0.5)], vec![sq(3.0, 0.0)], vec![sq(3.5, 0.5)], vec![sq(9.0, 0.0)]];
        let e = validate_polygons(&parts).unwrap_err();
        let text: Vec<String> = e.iter().map(ToString::to_string).collect();
        assert_eq!(text.len(), 2, "{text:?}");
        assert!(text[0].contains("polygons at indices 0 and 1 overlap"), "{text:?}");
        assert!(text[1].contains("polygons at indices 2 and 3 overlap"), "{text:?}");
    }

    #[test]
    fn names_a_hole_outside_its_shell() {
        let shell = ring(&[[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0], [0.0, 0.0]]);
        let hole = ring(&[[2.0, 2.0], [3.0, 2.0], [3.0, 3.0], [2.0, 2.0]]);
        let e = validate_polygons(&[vec![shell, hole]]).unwrap_err();
        assert!(matches!(e[0], GeometryProblem::Invalid { polygon: 1, .. }), "{e:?}");
    }
}
