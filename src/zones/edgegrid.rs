//! Nearest-edge candidates per grid cell: for every cell of a coarse grid over the zones (grown by a
//! margin), the few edges that can be nearest to some point of the cell, so that a distance query
//! measures a handful of edges instead of all of them.
//!
//! # Why the candidate lists are complete
//! Distances are searched in one plane of metres around the index's origin (`P`) but answered in the
//! tangent plane at the query point (`L`, see [`crate::geodesy`]). Both are diagonal scalings of
//! (lon, lat), so over the grid's latitudes `P / L` lies in `[r_min, r_max]`; let `K = r_max / r_min`
//! (a few parts in a thousand for a city). Take a cell with centre `c` and half-diagonal `h`, and let
//! `d_c` be the plane distance from `c` to its nearest edge `f`. For a point `p` of the cell,
//! `L(p, f) <= P(p, f) / r_min <= (d_c + h) / r_min`, so an edge `e` at least as near to `p` as `f`
//! in `L` has `P(p, e) <= K (d_c + h)`, hence `P(c, e) <= K (d_c + h) + h`. Every edge within that
//! bound of the centre is a candidate; so every edge that is nearest to some point of the cell, ties
//! included, is on the list, and the answer equals a scan of all edges. The same holds for the
//! coverage edges (those no two zones share) on their own list.
//!
//! # Long lists
//! Where many edges are almost equally near, as deep inside a large round zone of many vertices, a cell's
//! lists can hold thousands of edges (all of them, at the centre of a circle). A cell whose lists would
//! hold more than [`MAX_CANDIDATES`] edges keeps none: a point in it takes the path for points beyond the
//! grid (see `index`), whose search radius fits the point rather than the whole cell. This caps the
//! grid's memory at a few bytes per cell and candidate, and its build time with it.

use rstar::primitives::Line;
use rstar::{PointDistance, RTree};

use super::edges::PlaneEdge;
use crate::geodesy::LocalScale;

/// Cells per side of the grid, at most.
const MAX_CELLS_PER_SIDE: usize = 128;

/// Up to this many edges the lists are built by measuring every edge from every cell centre; beyond,
/// by R-tree queries (the same lists, at a cost that grows with the log of the edge count).
const BRUTE_FORCE_MAX_EDGES: usize = 512;

/// A cell's lists hold at most this many edges each; a cell that would need more keeps none. Measuring
/// 128 edges costs about what the R-tree path costs; a larger cap mostly adds build time and memory (an
/// index of a 2 000-vertex ring: 110 ms and ~45 MB at 256, 76 ms and ~25 MB at 128, same query time).
const MAX_CANDIDATES: usize = 128;

/// The grid reaches this far beyond the zones' box (in metres, at least), as a share of its larger side.
const MARGIN_SHARE: f64 = 0.5;

/// Minimum margin in metres.
const MIN_MARGIN_M: f64 = 1000.0;

/// Per-cell candidate lists, in compressed-row form.
#[derive(Debug, Default)]
pub(super) struct EdgeGrid {
    /// Plane coordinates (metres) of the grid's lower-left corner.
    x0: f64,
    y0: f64,
    /// Cell side, metres.
    cell: f64,
    nx: usize,
    ny: usize,
    /// `all[all_start[i]..all_start[i + 1]]`: edge numbers that may be nearest in cell `i`.
    all_start: Vec<u32>,
    all: Vec<u32>,
    /// The same for the coverage edges only. A cell with an empty `all` list has none (too many, see the
    /// module docs): every other cell lists at least the edge nearest its centre.
    coverage_start: Vec<u32>,
    coverage: Vec<u32>,
}

impl EdgeGrid {
    /// Builds the lists for `edges` (plane metres around the origin; `coverage[i]` says whether edge `i`
    /// counts for the coverage distance; `tree` holds the same edges, each with its number). `bounds` is
    /// the (lower-left, upper-right) corner of the zones in the plane, `plane` the plane's scale and
    /// `origin_lat` the latitude of its origin. An empty grid when there are no edges.
    pub(super) fn build(
        edges: &[Line<[f64; 2]>],
        coverage: &[bool],
        tree: &RTree<PlaneEdge>,
        bounds: ([f64; 2], [f64; 2]),
        plane: LocalScale,
        origin_lat: f64,
    ) -> Self {
        let tree = (edges.len() > BRUTE_FORCE_MAX_EDGES).then_some(tree);
        Self::build_with(edges, coverage, tree, bounds, plane, origin_lat, MAX_CANDIDATES)
    }

    /// [`Self::build`], finding the lists through `tree` or by measuring every edge, and capping them at
    /// `max_candidates`.
    fn build_with(
        edges: &[Line<[f64; 2]>],
        coverage: &[bool],
        tree: Option<&RTree<PlaneEdge>>,
        bounds: ([f64; 2], [f64; 2]),
        plane: LocalScale,
        origin_lat: f64,
        max_candidates: usize,
    ) -> Self {
        if edges.is_empty() {
            return Self::default();
        }
        let (lo, hi) = bounds;
        let side = (hi[0] - lo[0]).max(hi[1] - lo[1]).max(1.0);
        let margin = (side * MARGIN_SHARE).max(MIN_MARGIN_M);
        let (x0, y0) = (lo[0] - margin, lo[1] - margin);
        let extent = side + 2.0 * margin;
        #[expect(clippy::cast_precision_loss, reason = "a small constant")]
        let cell = extent / MAX_CELLS_PER_SIDE as f64;
        let count = |len: f64| {
            #[expect(clippy::cast_possible_truncation, clippy::cast_sign_loss, reason = "bounded by the constant")]
            let n = (len / cell).ceil() as usize;
            n.clamp(1, MAX_CELLS_PER_SIDE)
        };
        let (nx, ny) = (count(hi[0] - lo[0] + 2.0 * margin), count(hi[1] - lo[1] + 2.0 * margin));
        // The latitudes the grid spans (plane y is linear in latitude).
        #[expect(clippy::cast_precision_loss, reason = "at most MAX_CELLS_PER_SIDE")]
        let top = y0 + ny as f64 * cell;
        let (lat_lo, lat_hi) = (origin_lat + y0 / plane.m_per_deg_lat, origin_lat + top / plane.m_per_deg_lat);
        if !(lat_lo > -89.0 && lat_hi < 89.0) {
            return Self::default(); // near a pole the plane is no guide: the caller scans every edge
        }
        let k = plane_to_local_spread(plane, lat_lo, lat_hi);
        let h = cell * std::f64::consts::FRAC_1_SQRT_2;
        let mut grid = Self {
            x0,
            y0,
            cell,
            nx,
            ny,
            all_start: Vec::with_capacity(nx * ny + 1),
            all: Vec::new(),
            coverage_start: Vec::with_capacity(nx * ny + 1),
            coverage: Vec::new(),
        };
        grid.all_start.push(0);
        grid.coverage_start.push(0);
        let bound = |nearest: f64| (k * (nearest + h) + h) * (1.0 + 1e-9) + 1e-6;
        let mut lists = CellLists { edges, coverage, tree, distances: Vec::new(), found: Vec::new(), max_candidates };
        for iy in 0..ny {
            for ix in 0..nx {
                #[expect(clippy::cast_precision_loss, reason = "at most MAX_CELLS_PER_SIDE")]
                let c = [x0 + (ix as f64 + 0.5) * cell, y0 + (iy as f64 + 0.5) * cell];
                lists.fill(c, bound, &mut grid.all, &mut grid.coverage);
                grid.all_start.push(u32::try_from(grid.all.len()).unwrap_or(u32::MAX));
                grid.coverage_start.push(u32::try_from(grid.coverage.len()).unwrap_or(u32::MAX));
            }
        }
        grid
    }

    /// The candidate edges (all, coverage) for the plane point `q`, or `None` outside the grid and in a
    /// cell with too many.
    #[inline]
    pub(super) fn candidates(&self, q: [f64; 2]) -> Option<(&[u32], &[u32])> {
        if self.all_start.is_empty() {
            return None;
        }
        let fx = (q[0] - self.x0) / self.cell;
        let fy = (q[1] - self.y0) / self.cell;
        // Also false for NaN.
        #[expect(clippy::cast_precision_loss, reason = "at most MAX_CELLS_PER_SIDE")]
        let inside = fx >= 0.0 && fy >= 0.0 && fx < self.nx as f64 && fy < self.ny as f64;
        if !inside {
            return None;
        }
        #[expect(clippy::cast_possible_truncation, clippy::cast_sign_loss, reason = "checked to be in the grid")]
        let i = (fy as usize) * self.nx + fx as usize;
        let range = |start: &[u32], i: usize| start[i] as usize..start[i + 1] as usize;
        let all = &self.all[range(&self.all_start, i)];
        if all.is_empty() {
            return None;
        }
        Some((all, &self.coverage[range(&self.coverage_start, i)]))
    }
}

/// Fills one cell's candidate lists, either way.
struct CellLists<'a> {
    edges: &'a [Line<[f64; 2]>],
    coverage: &'a [bool],
    /// `None`: measure every edge.
    tree: Option<&'a RTree<PlaneEdge>>,
    /// Scratch: distances (brute force) or found edges (tree).
    distances: Vec<f64>,
    found: Vec<(u32, f64)>,
    /// A cell whose either list would be longer gets neither.
    max_candidates: usize,
}

impl CellLists<'_> {
    /// Appends to `all` and `coverage_out`, in edge order, the edges within `bound(d)` of `c`, `d` being
    /// the distance from `c` to the nearest edge (for `all`) or nearest coverage edge (for the other);
    /// appends nothing to either when either list would be longer than `max_candidates`.
    fn fill(&mut self, c: [f64; 2], bound: impl Fn(f64) -> f64, all: &mut Vec<u32>, coverage_out: &mut Vec<u32>) {
        let coverage = self.coverage;
        let number = |i: usize| u32::try_from(i).unwrap_or(u32::MAX);
        if let Some(tree) = self.tree {
            let dist = |e: &PlaneEdge| e.geom().distance_2(&c).sqrt();
            let nearest = tree.nearest_neighbor(&c);
            let nearest_all = nearest.map_or(f64::INFINITY, dist);
            // The nearest edge is usually a coverage edge too; only otherwise search again.
            let nearest_cov = match nearest {
                Some(e) if coverage[e.data as usize] => nearest_all,
                _ => tree.nearest_neighbor_iter(&c).find(|e| coverage[e.data as usize]).map_or(f64::INFINITY, dist),
            };
            let (ba, bc) = (bound(nearest_all), bound(nearest_cov));
            // Query a hair wider than the bound, then apply the very test the brute-force path applies,
            // stopping as soon as a list is too long.
            let reach = ba.max(if bc.is_finite() { bc } else { 0.0 }) * (1.0 + 1e-9);
            self.found.clear();
            let (mut n_all, mut n_cov) = (0, 0);
            for e in tree.locate_within_distance(c, reach * reach) {
                let d = dist(e);
                let (in_all, in_cov) = (d <= ba, coverage[e.data as usize] && d <= bc);
                n_all += usize::from(in_all);
                n_cov += usize::from(in_cov);
                if n_all > self.max_candidates || n_cov > self.max_candidates {
                    return;
                }
                if in_all || in_cov {
                    self.found.push((e.data, d));
                }
            }
            self.found.sort_unstable_by_key(|&(i, _)| i);
            all.extend(self.found.iter().filter(|&&(_, d)| d <= ba).map(|&(i, _)| i));
            coverage_out.extend(self.found.iter().filter(|&&(i, d)| coverage[i as usize] && d <= bc).map(|&(i, _)| i));
        } else {
            self.distances.clear();
            self.distances.extend(self.edges.iter().map(|e| e.distance_2(&c).sqrt()));
            let d = &self.distances;
            let nearest_all = d.iter().copied().fold(f64::INFINITY, f64::min);
            let nearest_cov =
                d.iter().zip(coverage).filter(|(_, c)| **c).map(|(d, _)| *d).fold(f64::INFINITY, f64::min);
            let (ba, bc) = (bound(nearest_all), bound(nearest_cov));
            let n_all = d.iter().filter(|&&di| di <= ba).count();
            let n_cov = d.iter().zip(coverage).filter(|&(&di, &cov)| cov && di <= bc).count();
            if n_all > self.max_candidates || n_cov > self.max_candidates {
                return;
            }
            all.extend(d.iter().enumerate().filter(|&(_, &di)| di <= ba).map(|(i, _)| number(i)));
            coverage_out.extend(
                d.iter().zip(coverage).enumerate().filter(|&(_, (&di, &cov))| cov && di <= bc).map(|(i, _)| number(i)),
            );
        }
    }
}

/// `K = r_max / r_min` of the module docs for latitudes in `lat_lo..=lat_hi`, rounded up a little. Each
/// ratio is monotonic in latitude on either side of the equator, so the extremes are at the ends or at 0.
fn plane_to_local_spread(plane: LocalScale, lat_lo: f64, lat_hi: f64) -> f64 {
    let mut r_min = f64::INFINITY;
    let mut r_max: f64 = 0.0;
    let (lo, hi) = (lat_lo.clamp(-89.9, 89.9), lat_hi.clamp(-89.9, 89.9));
    let equator = if lo < 0.0 && hi > 0.0 { Some(0.0) } else { None };
    for lat in [lo, hi].into_iter().chain(equator) {
        let local = LocalScale::at_lat(lat);
        for r in [plane.m_per_deg_lon / local.m_per_deg_lon, plane.m_per_deg_lat / local.m_per_deg_lat] {
            r_min = r_min.min(r);
            r_max = r_max.max(r);
        }
    }
    r_max / r_min * (1.0 + 1e-9)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geodesy::distance_origin_to_segment;
    use rand::{RngExt, SeedableRng};

    /// Random segments over a 6 km square around Portland's latitude (plane metres around the origin),
    /// every third one shared (not a coverage edge).
    fn random_edges(n: usize, seed: u64) -> (Vec<Line<[f64; 2]>>, Vec<bool>) {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let mut at = || [rng.random::<f64>() * 6000.0 - 3000.0, rng.random::<f64>() * 6000.0 - 3000.0];
        let edges: Vec<_> = (0..n)
            .map(|_| {
                let a = at();
                let d = at();
                Line::new(a, [a[0] + d[0] / 20.0, a[1] + d[1] / 20.0])
            })
            .collect();
        let coverage = (0..n).map(|i| i % 3 != 0).collect();
        (edges, coverage)
    }

    fn tree_of(edges: &[Line<[f64; 2]>]) -> RTree<PlaneEdge> {
        RTree::bulk_load(edges.iter().enumerate().map(|(i, e)| PlaneEdge::new(*e, i as u32)).collect())
    }

    /// The lists of cell `i`.
    fn lists(grid: &EdgeGrid, i: usize) -> (&[u32], &[u32]) {
        let range = |start: &[u32]| start[i] as usize..start[i + 1] as usize;
        (&grid.all[range(&grid.all_start)], &grid.coverage[range(&grid.coverage_start)])
    }

    #[test]
    fn tree_and_brute_force_build_the_same_lists() {
        let plane = LocalScale::at_lat(45.52);
        for (n, seed) in [(1, 1), (40, 2), (200, 3)] {
            let (edges, coverage) = random_edges(n, seed);
            let tree = tree_of(&edges);
            let bounds = ([-3000.0, -3000.0], [3300.0, 3300.0]);
            let uncapped = EdgeGrid::build_with(&edges, &coverage, None, bounds, plane, 45.52, usize::MAX);
            let cells = uncapped.nx * uncapped.ny;
            let longest = (0..cells).map(|i| lists(&uncapped, i)).map(|(a, c)| a.len().max(c.len())).max().unwrap();
            for cap in [MAX_CANDIDATES, longest / 2] {
                let brute = EdgeGrid::build_with(&edges, &coverage, None, bounds, plane, 45.52, cap);
                let tree = EdgeGrid::build_with(&edges, &coverage, Some(&tree), bounds, plane, 45.52, cap);
                assert_eq!((brute.nx, brute.ny), (MAX_CELLS_PER_SIDE, MAX_CELLS_PER_SIDE));
                assert_eq!(brute.all_start, tree.all_start, "{n} edges");
                assert_eq!(brute.all, tree.all, "{n} edges");
                assert_eq!(brute.coverage_start, tree.coverage_start, "{n} edges");
                assert_eq!(brute.coverage, tree.coverage, "{n} edges");
                // A cell keeps its whole lists, or none when either is longer than the cap.
                let mut dropped = 0;
                for i in 0..cells {
                    let (all, cov) = lists(&uncapped, i);
                    let fits = all.len() <= cap && cov.len() <= cap;
                    dropped += usize::from(!fits);
                    assert_eq!(lists(&brute, i), if fits { (all, cov) } else { (&[][..], &[][..]) }, "cell {i}");
                }
                assert_eq!(dropped > 0, cap < longest, "{n} edges, cap {cap}: {dropped} cells dropped");
            }
        }
    }

    #[test]
    fn candidates_hold_the_nearest_edge_in_the_local_metric() {
        let origin = [-122.67, 45.52];
        let plane = LocalScale::at_lat(origin[1]);
        let (edges, coverage) = random_edges(300, 9);
        let bounds = ([-3000.0, -3000.0], [3300.0, 3300.0]);
        // A low cap, so that some cells keep no lists: a point there has none.
        let grid = EdgeGrid::build_with(&edges, &coverage, None, bounds, plane, origin[1], 6);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(4);
        let (mut checked, mut dropped) = (0, 0);
        for _ in 0..20_000 {
            let q = [rng.random::<f64>() * 14_000.0 - 7000.0, rng.random::<f64>() * 14_000.0 - 7000.0];
            let Some((all, cov)) = grid.candidates(q) else {
                let (fx, fy) = ((q[0] - grid.x0) / grid.cell, (q[1] - grid.y0) / grid.cell);
                dropped += usize::from(fx >= 0.0 && fy >= 0.0 && fx < grid.nx as f64 && fy < grid.ny as f64);
                continue;
            };
            checked += 1;
            // The point's own tangent plane: rescale the plane offsets by the local/plane scale ratios.
            let lat = origin[1] + q[1] / plane.m_per_deg_lat;
            let local = LocalScale::at_lat(lat);
            let (sx, sy) = (local.m_per_deg_lon / plane.m_per_deg_lon, local.m_per_deg_lat / plane.m_per_deg_lat);
            let d = |i: usize| {
                let (a, b) = (edges[i].from, edges[i].to);
                distance_origin_to_segment(
                    [(a[0] - q[0]) * sx, (a[1] - q[1]) * sy],
                    [(b[0] - q[0]) * sx, (b[1] - q[1]) * sy],
                )
            };
            let best = |ids: &mut dyn Iterator<Item = usize>| ids.map(d).fold(f64::INFINITY, f64::min);
            assert_eq!(best(&mut all.iter().map(|&i| i as usize)), best(&mut (0..edges.len())), "at {q:?}");
            assert_eq!(
                best(&mut cov.iter().map(|&i| i as usize)),
                best(&mut (0..edges.len()).filter(|&i| coverage[i])),
                "coverage at {q:?}"
            );
        }
        assert!(checked > 5000, "{checked} points on the grid");
        assert!(dropped > 100, "{dropped} points in cells with too many candidates");
    }
}
