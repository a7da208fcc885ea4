//! Where to write an area's name: its pole of inaccessibility, the point inside it farthest from its
//! edges (Mapbox's polylabel: a quadtree search with a priority queue), found in local metres so that a
//! degree of longitude counts for what it is at the area's latitude. A bounding-box centre can lie
//! outside an L-shaped zone, or on its edge; this point lies inside, as deep as the shape allows.

use std::collections::BinaryHeap;

use geo::{BoundingRect, Contains, Coord, LineString, MultiPolygon, Point, Polygon};

/// The Earth's mean radius (IUGG), metres: the local plane needs no better.
const EARTH_RADIUS_M: f64 = 6_371_008.8;

/// How close to the best point the search stops, in metres.
pub const LABEL_PRECISION_M: f64 = 1.0;

/// The largest polygon's pole of inaccessibility, (lon, lat) degrees; none for an empty area.
#[must_use]
pub fn label_point(area: &MultiPolygon<f64>) -> Option<(f64, f64)> {
    let rect = area.bounding_rect()?;
    let lat0 = f64::midpoint(rect.min().y, rect.max().y);
    let local = Local::at(lat0);
    let best = area
        .0
        .iter()
        .map(|p| local.polygon(p))
        .map(|p| pole(&p, LABEL_PRECISION_M))
        .max_by(|a, b| a.1.total_cmp(&b.1))?;
    Some(local.back(best.0))
}

/// An equirectangular plane in metres about one latitude: accurate to a fraction of a per cent over a
/// city.
struct Local {
    kx: f64,
    ky: f64,
}

impl Local {
    fn at(lat: f64) -> Self {
        let ky = EARTH_RADIUS_M.to_radians();
        Self { kx: ky * lat.to_radians().cos(), ky }
    }

    fn polygon(&self, p: &Polygon<f64>) -> Polygon<f64> {
        let ring = |r: &LineString<f64>| r.0.iter().map(|c| Coord { x: c.x * self.kx, y: c.y * self.ky }).collect();
        Polygon::new(ring(p.exterior()), p.interiors().iter().map(ring).collect())
    }

    fn back(&self, c: Coord<f64>) -> (f64, f64) {
        (c.x / self.kx, c.y / self.ky)
    }
}

/// A square of the search: its centre, half its side, the centre's signed distance to the edges
/// (positive inside) and the most any point of it can have.
#[derive(Clone, Copy, Debug)]
struct Square {
    c: Coord<f64>,
    h: f64,
    d: f64,
    max: f64,
}

impl Square {
    fn new(c: Coord<f64>, h: f64, polygon: &Polygon<f64>) -> Self {
        let d = signed_distance(c, polygon);
        Self { c, h, d, max: d + h * std::f64::consts::SQRT_2 }
    }
}

impl PartialEq for Square {
    fn eq(&self, o: &Self) -> bool {
        self.max.total_cmp(&o.max).is_eq()
    }
}
impl Eq for Square {}
impl PartialOrd for Square {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Square {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        self.max.total_cmp(&o.max)
    }
}

/// The pole of a polygon in a plane and its distance to the edges.
fn pole(polygon: &Polygon<f64>, precision: f64) -> (Coord<f64>, f64) {
    let Some(rect) = polygon.bounding_rect() else { return (Coord { x: 0.0, y: 0.0 }, 0.0) };
    let (w, h) = (rect.width(), rect.height());
    let side = w.min(h);
    if side <= 0.0 {
        return (rect.min(), 0.0);
    }
    let mut queue = BinaryHeap::new();
    let half = side / 2.0;
    let mut x = rect.min().x;
    while x < rect.max().x {
        let mut y = rect.min().y;
        while y < rect.max().y {
            queue.push(Square::new(Coord { x: x + half, y: y + half }, half, polygon));
            y += side;
        }
        x += side;
    }
    // The centroid of the exterior's vertices and the box centre as first guesses.
    let mut best = Square::new(rect.center(), 0.0, polygon);
    let n = polygon.exterior().0.len().max(1) as f64;
    let mean = polygon.exterior().0.iter().fold(Coord { x: 0.0, y: 0.0 }, |a, c| a + *c / n);
    let m = Square::new(mean, 0.0, polygon);
    if m.d > best.d {
        best = m;
    }
    // Squares are split until none can hold a point `precision` deeper than the best; the count is
    // capped so that a pathological shape cannot spin.
    let mut budget = 100_000;
    while let Some(sq) = queue.pop() {
        if sq.d > best.d {
            best = sq;
        }
        if sq.max - best.d <= precision || budget == 0 {
            continue;
        }
        budget -= 1;
        let h = sq.h / 2.0;
        for (dx, dy) in [(-h, -h), (h, -h), (-h, h), (h, h)] {
            queue.push(Square::new(Coord { x: sq.c.x + dx, y: sq.c.y + dy }, h, polygon));
        }
    }
    (best.c, best.d)
}

/// The distance from `c` to the polygon's nearest edge, negative outside.
fn signed_distance(c: Coord<f64>, polygon: &Polygon<f64>) -> f64 {
    let mut d = f64::INFINITY;
    for ring in std::iter::once(polygon.exterior()).chain(polygon.interiors()) {
        for seg in ring.lines() {
            d = d.min(segment_distance(c, seg.start, seg.end));
        }
    }
    if polygon.contains(&Point(c)) { d } else { -d }
}

fn segment_distance(p: Coord<f64>, a: Coord<f64>, b: Coord<f64>) -> f64 {
    let ab = b - a;
    let len2 = ab.x * ab.x + ab.y * ab.y;
    let t = if len2 > 0.0 { (((p - a).x * ab.x + (p - a).y * ab.y) / len2).clamp(0.0, 1.0) } else { 0.0 };
    let q = a + ab * t;
    (p.x - q.x).hypot(p.y - q.y)
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::polygon;

    /// The deepest of a dense grid of points, by brute force.
    fn brute(polygon: &Polygon<f64>, steps: usize) -> f64 {
        let r = polygon.bounding_rect().unwrap();
        let mut best = f64::NEG_INFINITY;
        for i in 0..=steps {
            for j in 0..=steps {
                let c = Coord {
                    x: r.min().x + r.width() * i as f64 / steps as f64,
                    y: r.min().y + r.height() * j as f64 / steps as f64,
                };
                best = best.max(signed_distance(c, polygon));
            }
        }
        best
    }

    #[test]
    fn an_l_shape_is_labelled_inside_where_its_box_centre_is_not() {
        // An L: the box centre (5, 5) lies in the missing corner.
        let l = polygon![(x: 0.0, y: 0.0), (x: 10.0, y: 0.0), (x: 10.0, y: 3.0), (x: 3.0, y: 3.0), (x: 3.0, y: 10.0), (x: 0.0, y: 10.0)];
        assert!(signed_distance(Coord { x: 5.0, y: 5.0 }, &l) < 0.0);
        let (c, d) = pole(&l, 1e-3);
        assert!(l.contains(&Point(c)) && d > 1.4, "{c:?} at {d}");
        assert!(d >= brute(&l, 400) - 1e-3 - 10.0 / 400.0, "as deep as a dense grid finds");
    }

    #[test]
    fn every_built_in_zone_is_labelled_inside_as_deep_as_brute_force_finds() {
        let mut areas: Vec<(String, MultiPolygon<f64>)> = Vec::new();
        for set in crate::builtin::zone_sets().unwrap() {
            areas.extend(set.zones().iter().map(|z| (z.id.to_string(), z.geometry.clone())));
        }
        for (name, area) in &areas {
            let (lon, lat) = label_point(area).unwrap();
            assert!(area.contains(&Point::new(lon, lat)), "{name}: ({lon}, {lat}) inside");
            let r = area.bounding_rect().unwrap();
            let local = Local::at(f64::midpoint(r.min().y, r.max().y));
            let biggest = area
                .0
                .iter()
                .map(|p| local.polygon(p))
                .map(|p| (brute(&p, 300), p))
                .fold((f64::NEG_INFINITY, None), |a, (d, p)| if d > a.0 { (d, Some(p)) } else { a });
            let p = biggest.1.unwrap();
            let mine = signed_distance(Coord { x: lon * local.kx, y: lat * local.ky }, &p);
            let grid = p.bounding_rect().unwrap().width().max(p.bounding_rect().unwrap().height()) / 300.0;
            assert!(mine >= biggest.0 - LABEL_PRECISION_M - 1e-6, "{name}: {mine} m deep, a grid finds {}", biggest.0);
            assert!(mine <= biggest.0 + grid, "{name}: {mine} m deep, a grid of {grid} m finds {}", biggest.0);
        }
    }
}
