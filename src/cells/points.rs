//! Raw points counted in H3 cells directly (`leadmap cells --input`), without a store: each point in
//! the cell it lies in at the asked resolution, exactly as h3o's `LatLng::to_cell` (and h3-py's
//! `latlng_to_cell`) gives it, on every core.
//!
//! The fast path is a raster over the points' bounding box with squares a sixteenth of a cell edge wide:
//! each cell's hexagon is laid on it once, and a square wholly inside a hexagon (its four corners inside,
//! farther from every edge than the hexagon's edges can bow between vertices in lon/lat, plus a
//! centimetre) belongs to that cell. A point in such a square takes its cell from the raster in a few
//! nanoseconds; a point in any other square (about a fifth of them) goes to h3o. The hexagon is convex
//! in lon/lat at these sizes, so corners inside mean the whole square is inside. The property test checks
//! it against h3o point by point.

use std::collections::HashMap;

use h3o::geom::{ContainmentMode, TilerBuilder};
use h3o::{CellIndex, LatLng, LatLngIndexer, Resolution};
use rayon::prelude::*;

use super::CellRes;

/// Squares per cell edge.
const SQUARES_PER_EDGE: f64 = 16.0;
/// The largest raster (squares); beyond it, h3o for every point.
const MAX_SQUARES: usize = 32 << 20;
/// Fewer points than this go straight to h3o (building the raster would cost more).
const MIN_POINTS: usize = 200_000;
/// Metres per degree of latitude (mean); only sizes the squares.
const M_PER_DEG: f64 = 111_320.0;

/// The cells of a bounding box, laid on a grid of squares.
#[derive(Debug)]
pub struct Raster {
    x0: f64,
    y0: f64,
    inv_dx: f64,
    inv_dy: f64,
    nx: usize,
    ny: usize,
    /// Per square: 0 when it is not wholly inside one cell, else 1 + the cell's index in `cells` (16 bits
    /// keep the grid small enough to stay in cache).
    grid: Vec<u16>,
    cells: Vec<CellIndex>,
    res: Resolution,
}

impl Raster {
    /// The raster of `bbox` (min lon, min lat, max lon, max lat) at `res`, or none when it would be too
    /// large for the box (or the box is degenerate).
    #[must_use]
    pub fn new(bbox: [f64; 4], res: CellRes) -> Option<Self> {
        let res = res.resolution();
        let [x0, y0, x1, y1] = bbox;
        if !(x1 > x0 && y1 > y0 && y1.abs().max(y0.abs()) < 85.0) {
            return None;
        }
        let edge = res.edge_length_m();
        // Sixteen squares per edge, or eight when that would be too many.
        let (per_edge, dx, dy, nx, ny) =
            [SQUARES_PER_EDGE, SQUARES_PER_EDGE / 2.0].into_iter().find_map(|per_edge| {
                let dy = edge / per_edge / M_PER_DEG;
                let dx = dy / f64::midpoint(y0, y1).to_radians().cos();
                let nx = ((x1 - x0) / dx).ceil() as usize + 1;
                let ny = ((y1 - y0) / dy).ceil() as usize + 1;
                (nx.saturating_mul(ny) <= MAX_SQUARES).then_some((per_edge, dx, dy, nx, ny))
            })?;
        let mut tiler = TilerBuilder::new(res).containment_mode(ContainmentMode::Covers).build();
        let rect = geo::Rect::new((x0, y0), (x0 + nx as f64 * dx, y0 + ny as f64 * dy)).to_polygon();
        tiler.add(rect).ok()?;
        let cells: Vec<CellIndex> = tiler.into_coverage().collect();
        if cells.len() >= usize::from(u16::MAX) {
            return None;
        }
        // How far a cell edge (a great-circle arc) can bow away from the straight line between its
        // vertices in lon/lat, with a factor of 3 and a centimetre to spare, in squares.
        let bow_m = 3.0 * edge * edge / (8.0 * 6_371_000.0) + 0.01;
        let margin = bow_m / (edge / per_edge);
        let to_grid = |ll: &LatLng| [(ll.lng() - x0) / dx, (ll.lat() - y0) / dy];
        let inside: Vec<Vec<usize>> = cells
            .par_iter()
            .map(|cell| {
                let ring: Vec<[f64; 2]> = cell.boundary().iter().map(to_grid).collect();
                pure_squares(&ring, margin, nx, ny)
            })
            .collect();
        let mut grid = vec![0u16; nx * ny];
        for (i, squares) in inside.iter().enumerate() {
            let id = u16::try_from(i + 1).ok()?;
            for &s in squares {
                grid[s] = id;
            }
        }
        Some(Self { x0, y0, inv_dx: 1.0 / dx, inv_dy: 1.0 / dy, nx, ny, grid, cells, res })
    }

    /// The cell of a point, when its square is wholly inside one; else none (ask h3o).
    #[inline]
    #[must_use]
    pub fn lookup(&self, lon: f64, lat: f64) -> Option<u32> {
        let gx = (lon - self.x0) * self.inv_dx;
        let gy = (lat - self.y0) * self.inv_dy;
        if !(gx >= 0.0 && gy >= 0.0) {
            return None;
        }
        let (i, j) = (gx as usize, gy as usize);
        if i >= self.nx || j >= self.ny {
            return None;
        }
        match self.grid[j * self.nx + i] {
            0 => None,
            id => Some(u32::from(id - 1)),
        }
    }

    /// The cell numbered `id` by [`Raster::lookup`].
    #[must_use]
    pub fn cell(&self, id: u32) -> CellIndex {
        self.cells[id as usize]
    }

    /// Share of the raster's squares that resolve without h3o.
    #[must_use]
    pub fn pure_share(&self) -> f64 {
        self.grid.iter().filter(|&&g| g != 0).count() as f64 / self.grid.len().max(1) as f64
    }

    /// The resolution.
    #[must_use]
    pub fn resolution(&self) -> Resolution {
        self.res
    }
}

/// The squares (row-major indexes) wholly inside the convex polygon `ring` (grid coordinates, closed or
/// not, either winding), each corner at least `margin` inside every edge. None for a ring that is not
/// strictly convex.
fn pure_squares(ring: &[[f64; 2]], margin: f64, nx: usize, ny: usize) -> Vec<usize> {
    let mut v: Vec<[f64; 2]> = ring.to_vec();
    if v.len() > 1 && v.first() == v.last() {
        v.pop();
    }
    let n = v.len();
    if n < 3 {
        return Vec::new();
    }
    let area2: f64 = (0..n).map(|i| v[i][0] * v[(i + 1) % n][1] - v[(i + 1) % n][0] * v[i][1]).sum();
    if area2 < 0.0 {
        v.reverse();
    }
    // Inward edge lines: a·x + b·y + c >= margin inside, normalised so the value is a distance.
    let mut lines = Vec::with_capacity(n);
    for i in 0..n {
        let (p, q) = (v[i], v[(i + 1) % n]);
        let (ex, ey) = (q[0] - p[0], q[1] - p[1]);
        let len = ex.hypot(ey);
        if len == 0.0 {
            return Vec::new();
        }
        let (a, b) = (-ey / len, ex / len);
        lines.push((a, b, -(a * p[0] + b * p[1])));
    }
    // Strictly convex: every vertex inside every other edge's line.
    if v.iter().any(|p| lines.iter().any(|(a, b, c)| a * p[0] + b * p[1] + c < -1e-9)) {
        return Vec::new();
    }
    let inside = |x: f64, y: f64| lines.iter().all(|(a, b, c)| a * x + b * y + c >= margin);
    let (mut minx, mut miny, mut maxx, mut maxy) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
    for p in &v {
        minx = minx.min(p[0]);
        miny = miny.min(p[1]);
        maxx = maxx.max(p[0]);
        maxy = maxy.max(p[1]);
    }
    let clamp = |x: f64, n: usize| (x.max(0.0) as usize).min(n);
    let mut out = Vec::new();
    for j in clamp(miny.floor(), ny)..clamp(maxy.ceil(), ny) {
        let (y0, y1) = (j as f64, j as f64 + 1.0);
        for i in clamp(minx.floor(), nx)..clamp(maxx.ceil(), nx) {
            let (x0, x1) = (i as f64, i as f64 + 1.0);
            if inside(x0, y0) && inside(x1, y0) && inside(x0, y1) && inside(x1, y1) {
                out.push(j * nx + i);
            }
        }
    }
    out
}

/// The bounding box of valid points (min lon, min lat, max lon, max lat).
fn bbox(points: &[&[[f64; 2]]]) -> [f64; 4] {
    points
        .par_iter()
        .flat_map(|p| p.par_iter())
        .fold(
            || [f64::MAX, f64::MAX, f64::MIN, f64::MIN],
            |b, p| [b[0].min(p[0]), b[1].min(p[1]), b[2].max(p[0]), b[3].max(p[1])],
        )
        .reduce(
            || [f64::MAX, f64::MAX, f64::MIN, f64::MIN],
            |a, b| [a[0].min(b[0]), a[1].min(b[1]), a[2].max(b[2]), a[3].max(b[3])],
        )
}

/// Counts per chunk: by raster cell number, and by h3o cell for the rest.
struct Tally {
    by_id: Vec<u64>,
    other: HashMap<u64, u64>,
}

/// Points per cell, in cell order. Points are (lon, lat), in pieces, and must be valid WGS84 coordinates
/// (others are skipped).
#[must_use]
pub fn count_points(points: &[&[[f64; 2]]], res: CellRes) -> Vec<(CellIndex, u64)> {
    let n: usize = points.iter().map(|p| p.len()).sum();
    let raster = if n >= MIN_POINTS { Raster::new(bbox(points), res) } else { None };
    count_with(points, res, raster.as_ref())
}

/// [`count_points`] with a given raster (none: h3o for every point).
#[must_use]
pub fn count_with(points: &[&[[f64; 2]]], res: CellRes, raster: Option<&Raster>) -> Vec<(CellIndex, u64)> {
    let r = res.resolution();
    let ids = raster.map_or(0, |x| x.cells.len());
    let tally = points
        .par_iter()
        .flat_map(|p| p.par_chunks(1 << 16))
        .map_init(LatLngIndexer::default, |ix, chunk| {
            let mut t = Tally { by_id: vec![0; ids], other: HashMap::new() };
            for &[lon, lat] in chunk {
                if let Some(id) = raster.and_then(|x| x.lookup(lon, lat)) {
                    t.by_id[id as usize] += 1;
                } else if let Ok(ll) = LatLng::new(lat, lon) {
                    *t.other.entry(u64::from(ix.to_cell(ll, r))).or_default() += 1;
                }
            }
            t
        })
        .reduce(
            || Tally { by_id: vec![0; ids], other: HashMap::new() },
            |mut a, b| {
                for (x, y) in a.by_id.iter_mut().zip(&b.by_id) {
                    *x += y;
                }
                for (c, n) in b.other {
                    *a.other.entry(c).or_default() += n;
                }
                a
            },
        );
    let mut all = tally.other;
    if let Some(x) = raster {
        for (id, n) in tally.by_id.iter().enumerate() {
            if *n > 0 {
                *all.entry(u64::from(x.cells[id])).or_default() += n;
            }
        }
    }
    let mut out: Vec<(CellIndex, u64)> =
        all.into_iter().filter_map(|(c, n)| CellIndex::try_from(c).ok().map(|c| (c, n))).collect();
    out.sort_unstable();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Seeded points over Portland: uniform, dense downtown, and on the raster's own square corners.
    fn points(n: usize, seed: u64) -> Vec<[f64; 2]> {
        let mut s = seed;
        let mut next = move || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 11) as f64 / (1u64 << 53) as f64
        };
        (0..n)
            .map(|i| match i % 3 {
                0 => [-122.84 + next() * 0.37, 45.43 + next() * 0.22],
                1 => [-122.68 + (next() - 0.5) * 0.02, 45.52 + (next() - 0.5) * 0.02],
                _ => [-122.70 + (next() * 4000.0).round() * 1e-5, 45.50 + (next() * 4000.0).round() * 1e-5],
            })
            .collect()
    }

    #[test]
    fn the_raster_gives_every_point_the_cell_h3o_gives_it() {
        let owned = points(120_000, 0x0123_4567_89ab_cdef);
        let pts: Vec<&[[f64; 2]]> = owned.chunks(50_000).collect();
        let bb = bbox(&pts);
        for r in [5u8, 7, 9, 10, 12] {
            let res: CellRes = r.to_string().parse().unwrap();
            let Some(raster) = Raster::new(bb, res) else {
                assert!(r >= 11, "res {r} fits");
                continue;
            };
            if r <= 10 {
                assert!(raster.pure_share() > 0.7, "res {r}: {}", raster.pure_share());
            }
            let mut hits = 0;
            for &[lon, lat] in &owned {
                if let Some(id) = raster.lookup(lon, lat) {
                    hits += 1;
                    let want = LatLng::new(lat, lon).unwrap().to_cell(raster.resolution());
                    assert_eq!(raster.cell(id), want, "res {r} ({lon}, {lat})");
                }
            }
            assert!(hits > owned.len() / 2, "res {r}: {hits}");
            let brute = count_with(&pts, res, None);
            assert_eq!(count_with(&pts, res, Some(&raster)), brute, "res {r}");
            assert_eq!(brute.iter().map(|(_, n)| n).sum::<u64>(), owned.len() as u64);
        }
    }

    #[test]
    fn squares_inside_a_convex_ring_keep_their_distance_from_its_edges() {
        // A square ring from (1, 1) to (5, 5), margin 0.1: only the squares clear of its edges.
        let ring = [[1.0, 1.0], [5.0, 1.0], [5.0, 5.0], [1.0, 5.0]];
        let mut got = pure_squares(&ring, 0.1, 10, 10);
        got.sort_unstable();
        assert_eq!(got, [22, 23, 32, 33], "squares with a corner on the edge are not inside");
        let ring = [[0.9, 0.9], [5.1, 0.9], [5.1, 5.1], [0.9, 5.1]];
        let got = pure_squares(&ring, 0.05, 10, 10);
        assert_eq!(got.len(), 16);
        assert!(got.contains(&11) && got.contains(&44) && !got.contains(&55));
        let concave = [[0.0, 0.0], [6.0, 0.0], [3.0, 1.0], [6.0, 6.0], [0.0, 6.0]];
        assert!(pure_squares(&concave, 0.0, 10, 10).is_empty());
    }
}
