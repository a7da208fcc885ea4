//! The batch grid: a two-level regular grid over a zone set's bounding box that answers "which zone?"
//! for most points with one or two memory reads. Built once with the index.
//!
//! Top cells (about 16 K, square in metres) that no zone edge touches hold their zone (or "outside")
//! outright. Top cells crossed by an edge hold a 16 × 16 subgrid whose cells are settled the same way; the
//! subcells still crossed by an edge say "test exactly". A subcell counts as touched when an edge comes
//! within a thousandth of a subcell of it, far more than the rounding in computing a point's cell, so a
//! settled cell is never wrong for any point that maps to it. Points outside the grid are outside every
//! zone.
//!
//! # Building
//! Each edge is rasterized once, onto the subcells near it. Cells no edge touches then take their answer
//! from a neighbour no edge touches either (to the left or below, whatever the two cells' sizes), so the
//! exact test runs only a few times per connected region rather than once per cell or run of cells: the
//! build costs about the number of edges plus the number of crossed top cells times 256, however many
//! vertices a zone has.

use geo::Rect;

use super::edges::{EdgeRef, ZoneNo};
use crate::geodesy::LocalScale;

/// Subgrid side, in cells (a power of two: the fine index splits into top and sub by shifts).
const SUB_BITS: usize = 4;
const SUB: usize = 1 << SUB_BITS;
/// Aim for about this many top cells (small enough that the top table stays in L1/L2 cache).
const TARGET_TOP_CELLS: f64 = 16_384.0;
/// Code for "outside every zone".
const OUTSIDE: u8 = u8::MAX;
/// Code for "crossed by an edge (or a zone number too large for a code): test exactly".
const EXACT: u8 = u8::MAX - 1;
/// Zones numbered below this get their own code; others are always tested exactly.
const MAX_CODED_ZONE: usize = EXACT as usize;

/// What the grid says about a point.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Lookup {
    /// Settled: in this zone.
    Zone(ZoneNo),
    /// Settled: outside every zone (or not a finite point).
    Outside,
    /// Near an edge: run the exact test.
    Exact,
}

/// Every top cell points at a block of `SUB * SUB` one-byte codes. Cells no edge touches share constant
/// blocks (one per code), so a lookup is always the same two loads with no data-dependent branch; the
/// CPU can then overlap the cache misses of many points.
#[derive(Debug, Default)]
pub(super) struct ZoneGrid {
    x0: f64,
    y0: f64,
    /// Fine cells (top cells × `SUB`) per degree.
    inv_fine_w: f64,
    inv_fine_h: f64,
    /// Fine cells across and up, as f64 for the bounds test.
    fine_nx: f64,
    fine_ny: f64,
    /// Top cells across.
    nx: usize,
    /// Per top cell: the block number.
    top: Vec<u32>,
    /// Blocks of `SUB * SUB` codes, row-major; the first blocks are the constant ones.
    blocks: Vec<u8>,
}

impl ZoneGrid {
    /// Builds the grid over `bounds` for these edges; `exact` gives the zone of a point no edge is near.
    pub(super) fn build(bounds: &Rect<f64>, edges: &[EdgeRef], exact: impl Fn([f64; 2]) -> Option<ZoneNo>) -> Self {
        // Pad the box so every zone lies strictly inside the grid.
        let (w0, h0) = (bounds.width(), bounds.height());
        let pad_x = w0 * 0.01 + 1e-9;
        let pad_y = h0 * 0.01 + 1e-9;
        let (x0, y0) = (bounds.min().x - pad_x, bounds.min().y - pad_y);
        let (w, h) = (w0 + 2.0 * pad_x, h0 + 2.0 * pad_y);
        let scale = LocalScale::at_lat(bounds.center().y);
        let (w_m, h_m) = (w * scale.m_per_deg_lon, h * scale.m_per_deg_lat);
        let cell_m = (w_m * h_m / TARGET_TOP_CELLS).sqrt();
        let nx = ((w_m / cell_m).ceil() as usize).clamp(1, 1024);
        let ny = ((h_m / cell_m).ceil() as usize).clamp(1, 1024);
        let (cw, ch) = (w / nx as f64, h / ny as f64);
        let raster = Raster { x0, y0, sw: cw / SUB as f64, sh: ch / SUB as f64, nx, ny };
        let mut b = Builder::new(raster);
        for e in edges {
            raster.for_each_touched(e.a, e.b, |fx, fy| b.mark_crossed(fx, fy));
        }
        b.settle(|p| answer_of(exact(p)));

        // Constant blocks: block k holds code k for every code 0..=255.
        let mut blocks: Vec<u8> = (0..=u8::MAX).flat_map(|c| std::iter::repeat_n(c, SUB * SUB)).collect();
        blocks.reserve(b.crossed.len() * SUB * SUB);
        for (slot, mask) in b.crossed.iter().enumerate() {
            let answers = &b.fine[slot * SUB * SUB..(slot + 1) * SUB * SUB];
            blocks.extend(answers.iter().enumerate().map(|(k, &a)| if bit(mask, k) { EXACT } else { code_of(a) }));
        }
        let top = (0..nx * ny)
            .map(|ti| match b.slot_of[ti] {
                NO_SLOT => u32::from(code_of(b.top[ti])),
                slot => CONSTANT_BLOCKS + slot,
            })
            .collect();
        Self {
            x0,
            y0,
            inv_fine_w: SUB as f64 / cw,
            inv_fine_h: SUB as f64 / ch,
            fine_nx: (nx * SUB) as f64,
            fine_ny: (ny * SUB) as f64,
            nx,
            top,
            blocks,
        }
    }

    /// The grid's code for (`lon`, `lat`): two loads and no data-dependent branch, so the CPU overlaps the
    /// cache misses of consecutive points. Decode with [`ZoneGrid::decode`].
    #[inline]
    pub(super) fn code(&self, lon: f64, lat: f64) -> u8 {
        let gx = (lon - self.x0) * self.inv_fine_w;
        let gy = (lat - self.y0) * self.inv_fine_h;
        // Non-short-circuit `&` so this compiles to flags, not branches; NaN fails every comparison.
        #[expect(clippy::needless_bitwise_bool, reason = "branch-free on purpose")]
        let inside = (gx >= 0.0) & (gy >= 0.0) & (gx < self.fine_nx) & (gy < self.fine_ny);
        let (ix, iy) = if inside { (gx as usize, gy as usize) } else { (0, 0) };
        let block = self.top[(iy >> SUB_BITS) * self.nx + (ix >> SUB_BITS)] as usize;
        let code = self.blocks[(block << (2 * SUB_BITS)) | ((iy & (SUB - 1)) << SUB_BITS) | (ix & (SUB - 1))];
        if inside { code } else { OUTSIDE }
    }

    /// What a code means.
    #[inline]
    pub(super) fn decode(code: u8) -> Lookup {
        match code {
            OUTSIDE => Lookup::Outside,
            EXACT => Lookup::Exact,
            z => Lookup::Zone(ZoneNo::from_code(z)),
        }
    }

    /// The zone a code settles, `None` for outside and for "test exactly" (check with [`Self::decode`]).
    /// Branch-free: `Option<ZoneNo>` is a 16-bit number with 0 for `None`.
    #[inline]
    pub(super) fn settled_zone(code: u8) -> Option<ZoneNo> {
        ZoneNo::from_raw(if code < EXACT { u16::from(code) + 1 } else { 0 })
    }

    /// What the grid knows about (`lon`, `lat`).
    #[inline]
    pub(super) fn lookup(&self, lon: f64, lat: f64) -> Lookup {
        Self::decode(self.code(lon, lat))
    }

    /// Top cells crossed by an edge (each has a block of its own).
    #[cfg(test)]
    pub(super) fn subgrid_count(&self) -> usize {
        self.blocks.len() / (SUB * SUB) - 256
    }
}

/// The constant blocks come first, one per code.
const CONSTANT_BLOCKS: u32 = 256;
/// `Builder::slot_of` of a top cell no edge crosses.
const NO_SLOT: u32 = u32::MAX;
/// A fine cell's mask of crossed subcells, one bit per subcell.
type Mask = [u64; SUB * SUB / 64];
/// Working answers while building: a zone's index, or one of these two.
const UNKNOWN: u32 = u32::MAX;
const OUT: u32 = u32::MAX - 1;

/// The working answer for an exact answer (a zone index too large to hold stays unknown, so its cells
/// are tested exactly).
fn answer_of(zone: Option<ZoneNo>) -> u32 {
    zone.map_or(OUT, |z| u32::try_from(z.index()).ok().filter(|&z| z < OUT).unwrap_or(UNKNOWN))
}

/// The code for a working answer.
fn code_of(answer: u32) -> u8 {
    match answer {
        UNKNOWN => EXACT,
        OUT => OUTSIDE,
        z if (z as usize) < MAX_CODED_ZONE => z as u8,
        _ => EXACT,
    }
}

fn bit(mask: &Mask, k: usize) -> bool {
    mask[k >> 6] & (1 << (k & 63)) != 0
}

/// The fine cells of the grid: `nx` × `ny` top cells of `SUB` × `SUB` cells of `sw` × `sh` degrees
/// from (`x0`, `y0`).
#[derive(Clone, Copy)]
struct Raster {
    x0: f64,
    y0: f64,
    sw: f64,
    sh: f64,
    nx: usize,
    ny: usize,
}

impl Raster {
    /// Calls `f(fx, fy)` for every fine cell the edge `a`–`b` touches (by [`segment_touches_rect`] on the
    /// cell grown as [`expanded_cell`] grows it): the same cells as testing every cell, but only the
    /// cells near the edge are tested. Row by row, the columns tested are those the edge spans within a
    /// row of this one, plus one on each side: far beyond any rounding.
    fn for_each_touched(&self, a: [f64; 2], b: [f64; 2], mut f: impl FnMut(usize, usize)) {
        let (fnx, fny) = (self.nx * SUB, self.ny * SUB);
        // Cell number of a coordinate, clamped to the grid (the grid holds every edge).
        let clamp = |v: f64, n: usize| if v > 0.0 { (v as usize).min(n - 1) } else { 0 };
        let row = |y: f64| ((y - self.y0) / self.sh).floor();
        let col = |x: f64| ((x - self.x0) / self.sw).floor();
        let (dx, dy) = (b[0] - a[0], b[1] - a[1]);
        let (r0, r1) = (clamp(row(a[1].min(b[1])) - 1.0, fny), clamp(row(a[1].max(b[1])) + 1.0, fny));
        for fy in r0..=r1 {
            let (lo, hi) = (self.y0 + (fy as f64 - 1.0) * self.sh, self.y0 + (fy as f64 + 2.0) * self.sh);
            let (t0, t1) = if dy == 0.0 {
                (0.0, 1.0)
            } else {
                let (u, v) = ((lo - a[1]) / dy, (hi - a[1]) / dy);
                (u.min(v).max(0.0), u.max(v).min(1.0))
            };
            if t0 > t1 {
                continue;
            }
            let (xa, xb) = (a[0] + t0 * dx, a[0] + t1 * dx);
            let (c0, c1) = (clamp(col(xa.min(xb)) - 1.0, fnx), clamp(col(xa.max(xb)) + 1.0, fnx));
            for fx in c0..=c1 {
                let cell =
                    expanded_cell(self.x0 + fx as f64 * self.sw, self.y0 + fy as f64 * self.sh, self.sw, self.sh);
                if segment_touches_rect(a, b, cell) {
                    f(fx, fy);
                }
            }
        }
    }
}

/// The grid while it is built: which fine cells edges cross, then every other cell's answer.
struct Builder {
    raster: Raster,
    /// Per top cell: its number among the top cells an edge crosses, or [`NO_SLOT`].
    slot_of: Vec<u32>,
    /// Per crossed top cell: its crossed fine cells.
    crossed: Vec<Mask>,
    /// Per top cell no edge crosses: its answer.
    top: Vec<u32>,
    /// Per crossed top cell, `SUB * SUB` answers of its fine cells, row-major ([`UNKNOWN`] where crossed).
    fine: Vec<u32>,
}

/// A cell of the run being settled: a whole top cell, or a fine cell (top cell, index in its block).
#[derive(Clone, Copy)]
enum Item {
    Top(usize),
    Fine(usize, usize),
}

impl Builder {
    fn new(raster: Raster) -> Self {
        let cells = raster.nx * raster.ny;
        Self { raster, slot_of: vec![NO_SLOT; cells], crossed: Vec::new(), top: vec![UNKNOWN; cells], fine: Vec::new() }
    }

    fn mark_crossed(&mut self, fx: usize, fy: usize) {
        let ti = (fy >> SUB_BITS) * self.raster.nx + (fx >> SUB_BITS);
        if self.slot_of[ti] == NO_SLOT {
            self.slot_of[ti] = self.crossed.len() as u32;
            self.crossed.push([0; SUB * SUB / 64]);
        }
        let k = ((fy & (SUB - 1)) << SUB_BITS) | (fx & (SUB - 1));
        self.crossed[self.slot_of[ti] as usize][k >> 6] |= 1 << (k & 63);
    }

    /// Gives every cell no edge crosses its answer. Two such cells side by side (or one above the other)
    /// have the same answer, whatever their sizes: a short segment from the smaller one's centre across
    /// their common side lies in the two cells, so no edge crosses it. So, fine row by fine row, a run of
    /// such cells shares one answer, which is known as soon as one of them, or a cell just below one of
    /// them, has an answer; only otherwise is the exact test run, once, at the centre of the run's first
    /// cell. That is a few tests per connected region instead of one per run of every row.
    fn settle(&mut self, exact: impl Fn([f64; 2]) -> u32) {
        let Raster { nx, ny, .. } = self.raster;
        self.fine = vec![UNKNOWN; self.crossed.len() * SUB * SUB];
        let mut run: Vec<Item> = Vec::new();
        for ty in 0..ny {
            let row_crossed = self.slot_of[ty * nx..(ty + 1) * nx].iter().any(|&s| s != NO_SLOT);
            for sy in 0..SUB {
                if sy > 0 && !row_crossed {
                    break; // every top cell of the row was settled on its first fine row
                }
                let mut known = UNKNOWN;
                for tx in 0..nx {
                    let ti = ty * nx + tx;
                    let slot = self.slot_of[ti];
                    if slot == NO_SLOT {
                        if known == UNKNOWN {
                            known = if sy == 0 { self.below_top(ty, ti) } else { self.top[ti] };
                        }
                        run.push(Item::Top(ti));
                        continue;
                    }
                    for sx in 0..SUB {
                        let k = (sy << SUB_BITS) | sx;
                        if bit(&self.crossed[slot as usize], k) {
                            self.finish_run(&mut run, known, &exact);
                            known = UNKNOWN;
                            continue;
                        }
                        if known == UNKNOWN {
                            known = self.below_fine(ty, ti, slot, sy, sx);
                        }
                        run.push(Item::Fine(ti, k));
                    }
                }
                self.finish_run(&mut run, known, &exact);
            }
        }
    }

    /// The answer below the fine cell (`sx`, `sy`) of top cell `ti` (in `slot`), if known.
    fn below_fine(&self, ty: usize, ti: usize, slot: u32, sy: usize, sx: usize) -> u32 {
        if sy > 0 {
            return self.fine[slot as usize * SUB * SUB + ((sy - 1) << SUB_BITS) + sx];
        }
        if ty == 0 {
            return UNKNOWN;
        }
        match self.slot_of[ti - self.raster.nx] {
            NO_SLOT => self.top[ti - self.raster.nx],
            below => self.fine[below as usize * SUB * SUB + ((SUB - 1) << SUB_BITS) + sx],
        }
    }

    /// An answer known just below top cell `ti`, if any.
    fn below_top(&self, ty: usize, ti: usize) -> u32 {
        if ty == 0 {
            return UNKNOWN;
        }
        match self.slot_of[ti - self.raster.nx] {
            NO_SLOT => self.top[ti - self.raster.nx],
            below => {
                let start = below as usize * SUB * SUB + ((SUB - 1) << SUB_BITS);
                self.fine[start..start + SUB].iter().copied().find(|&a| a != UNKNOWN).unwrap_or(UNKNOWN)
            }
        }
    }

    /// Gives the cells of `run` (emptied) the `known` answer, or the exact one.
    fn finish_run(&mut self, run: &mut Vec<Item>, known: u32, exact: impl Fn([f64; 2]) -> u32) {
        let Some(&first) = run.first() else { return };
        let answer = if known == UNKNOWN { exact(self.centre(first)) } else { known };
        for item in run.drain(..) {
            match item {
                Item::Top(ti) => self.top[ti] = answer,
                Item::Fine(ti, k) => self.fine[self.slot_of[ti] as usize * SUB * SUB + k] = answer,
            }
        }
    }

    /// The centre of a cell.
    fn centre(&self, item: Item) -> [f64; 2] {
        let r = &self.raster;
        let (fx, fy, size) = match item {
            Item::Top(ti) => ((ti % r.nx) * SUB, (ti / r.nx) * SUB, SUB as f64),
            Item::Fine(ti, k) => ((ti % r.nx) * SUB + (k & (SUB - 1)), (ti / r.nx) * SUB + (k >> SUB_BITS), 1.0),
        };
        [r.x0 + (fx as f64 + size / 2.0) * r.sw, r.y0 + (fy as f64 + size / 2.0) * r.sh]
    }
}

/// A cell grown by a thousandth of its size on every side: `[xmin, ymin, xmax, ymax]`.
fn expanded_cell(x: f64, y: f64, w: f64, h: f64) -> [f64; 4] {
    let (mx, my) = (w * 1e-3, h * 1e-3);
    [x - mx, y - my, x + w + mx, y + h + my]
}

/// Whether segment `a`–`b` meets the closed rectangle (conservative: true on a near touch).
fn segment_touches_rect(a: [f64; 2], b: [f64; 2], r: [f64; 4]) -> bool {
    if a[0].max(b[0]) < r[0] || a[0].min(b[0]) > r[2] || a[1].max(b[1]) < r[1] || a[1].min(b[1]) > r[3] {
        return false;
    }
    let (dx, dy) = (b[0] - a[0], b[1] - a[1]);
    let side = |x: f64, y: f64| dx * (y - a[1]) - dy * (x - a[0]);
    let s = [side(r[0], r[1]), side(r[2], r[1]), side(r[2], r[3]), side(r[0], r[3])];
    !(s.iter().all(|&v| v > 0.0) || s.iter().all(|&v| v < 0.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segment_rectangle_touching() {
        let r = [0.0, 0.0, 1.0, 1.0];
        assert!(segment_touches_rect([-1.0, 0.5], [2.0, 0.5], r), "crosses");
        assert!(segment_touches_rect([0.2, 0.2], [0.3, 0.3], r), "inside");
        assert!(!segment_touches_rect([-1.0, 2.0], [2.0, 1.5], r), "above");
        assert!(!segment_touches_rect([1.5, -1.0], [3.0, 0.9], r), "beside, boxes overlap");
        assert!(segment_touches_rect([1.0, 1.0], [2.0, 2.0], r), "corner touch");
    }

    #[test]
    fn rasterizing_an_edge_finds_the_cells_a_test_of_every_cell_finds() {
        use rand::{RngExt, SeedableRng};
        let r = Raster { x0: -122.7, y0: 45.4, sw: 0.0013, sh: 0.0009, nx: 3, ny: 2 };
        let (fnx, fny) = (r.nx * SUB, r.ny * SUB);
        let (w, h) = (fnx as f64 * r.sw, fny as f64 * r.sh);
        let at = |fx: f64, fy: f64| [r.x0 + fx * r.sw, r.y0 + fy * r.sh];
        // On grid lines, along them, single points, corner to corner, and beyond the grid.
        let mut segments = vec![
            (at(0.0, 3.0), at(40.0, 3.0)),
            (at(7.0, 0.0), at(7.0, 30.0)),
            (at(5.5, 5.5), at(5.5, 5.5)),
            (at(0.0, 0.0), at(48.0, 32.0)),
            (at(48.0, 0.0), at(0.0, 32.0)),
            (at(-3.0, 10.2), at(52.0, 10.21)),
            (at(10.0, 10.0), at(10.0 + 1e-9, 31.999)),
        ];
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
        for i in 0..400 {
            let a = [r.x0 + rng.random::<f64>() * w, r.y0 + rng.random::<f64>() * h];
            let reach = [0.3, 3.0, 40.0][i % 3];
            let d = [(rng.random::<f64>() - 0.5) * reach * r.sw, (rng.random::<f64>() - 0.5) * reach * r.sh];
            segments.push((a, [a[0] + d[0], a[1] + d[1]]));
        }
        for (a, b) in segments {
            let mut found = Vec::new();
            r.for_each_touched(a, b, |fx, fy| found.push((fy, fx)));
            found.sort_unstable();
            let every: Vec<(usize, usize)> = (0..fny)
                .flat_map(|fy| (0..fnx).map(move |fx| (fy, fx)))
                .filter(|&(fy, fx)| {
                    let cell = expanded_cell(r.x0 + fx as f64 * r.sw, r.y0 + fy as f64 * r.sh, r.sw, r.sh);
                    segment_touches_rect(a, b, cell)
                })
                .collect();
            assert!(!every.is_empty(), "{a:?} {b:?}");
            assert_eq!(found, every, "{a:?} {b:?}");
        }
    }

    /// Even-odd test over closed rings (exact enough away from edges, where the grid settles cells).
    fn in_rings(rings: &[Vec<[f64; 2]>], p: [f64; 2]) -> bool {
        let mut inside = false;
        for w in rings.iter().flat_map(|r| r.windows(2)) {
            let (a, b) = (w[0], w[1]);
            if (a[1] > p[1]) != (b[1] > p[1]) && p[0] < a[0] + (p[1] - a[1]) / (b[1] - a[1]) * (b[0] - a[0]) {
                inside = !inside;
            }
        }
        inside
    }

    #[test]
    fn cells_are_settled_from_their_neighbours_with_a_few_exact_tests() {
        // Zone 0: a 3000-gon with a square hole; zone 1: a thin sliver of a triangle beside it.
        let circle: Vec<[f64; 2]> = (0..=3000)
            .map(|i| {
                let t = std::f64::consts::TAU * f64::from(i % 3000) / 3000.0;
                [t.cos(), t.sin()]
            })
            .collect();
        let hole = vec![[-0.3, -0.2], [0.4, -0.2], [0.4, 0.5], [-0.3, 0.5], [-0.3, -0.2]];
        let sliver = vec![[1.2, -1.0], [1.25, -1.0], [1.6, 1.0], [1.2, -1.0]];
        let zones = [vec![circle, hole], vec![sliver]];
        let edges: Vec<EdgeRef> = zones
            .iter()
            .enumerate()
            .flat_map(|(z, rings)| {
                rings.iter().flat_map(move |r| {
                    r.windows(2).map(move |w| EdgeRef {
                        zone: ZoneNo::new(z).unwrap(),
                        a: w[0],
                        b: w[1],
                        shared: false,
                    })
                })
            })
            .collect();
        let zone_of = |p: [f64; 2]| zones.iter().position(|rings| in_rings(rings, p)).and_then(ZoneNo::new);
        let calls = std::cell::Cell::new(0);
        let bounds = Rect::new(geo::Coord { x: -1.0, y: -1.0 }, geo::Coord { x: 1.6, y: 1.0 });
        let g = ZoneGrid::build(&bounds, &edges, |p| {
            calls.set(calls.get() + 1);
            zone_of(p)
        });
        // One test each for outside, the ring, the hole and the sliver, and a few for pockets between
        // crossed cells; settling every run of every row took thousands.
        assert!(calls.get() >= 4 && calls.get() < 30, "{} exact tests", calls.get());
        let (mut total, mut exact) = (0, 0);
        for i in 0..200_000u32 {
            let (fx, fy) = ((f64::from(i) * 0.618_034).fract(), (f64::from(i) * 0.414_214).fract());
            let p = [-1.1 + 2.8 * fx, -1.1 + 2.2 * fy];
            match g.lookup(p[0], p[1]) {
                Lookup::Zone(z) => assert_eq!(zone_of(p), Some(z), "{p:?}"),
                Lookup::Outside => assert_eq!(zone_of(p), None, "{p:?}"),
                Lookup::Exact => exact += 1,
            }
            total += 1;
        }
        assert!(exact * 50 < total, "{exact} of {total} points need the exact test");
    }

    #[test]
    fn grid_settles_most_cells_and_agrees_with_exact() {
        let sq = [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0], [0.0, 0.0]];
        let edges: Vec<EdgeRef> =
            sq.windows(2).map(|w| EdgeRef { zone: ZoneNo::new(0).unwrap(), a: w[0], b: w[1], shared: false }).collect();
        let inside =
            |p: [f64; 2]| (p[0] >= 0.0 && p[0] <= 1.0 && p[1] >= 0.0 && p[1] <= 1.0).then(|| ZoneNo::new(0).unwrap());
        let bounds = Rect::new(geo::Coord { x: 0.0, y: 0.0 }, geo::Coord { x: 1.0, y: 1.0 });
        let g = ZoneGrid::build(&bounds, &edges, inside);
        assert!(g.subgrid_count() > 0 && g.subgrid_count() < g.top.len() / 5, "{}", g.subgrid_count());
        assert_eq!(g.lookup(0.5, 0.5), Lookup::Zone(ZoneNo::new(0).unwrap()));
        assert_eq!(g.lookup(5.0, 0.5), Lookup::Outside);
        assert_eq!(g.lookup(f64::NAN, 0.5), Lookup::Outside);
        assert_eq!(g.lookup(1.0, 0.5), Lookup::Exact);
        for i in 0..2000 {
            let x = -0.02 + 1.04 * f64::from(i) / 2000.0;
            let y = 0.5 + 0.3 * (f64::from(i) * 0.37).sin();
            match g.lookup(x, y) {
                Lookup::Zone(z) => assert_eq!(inside([x, y]), Some(z), "({x}, {y})"),
                Lookup::Outside => assert_eq!(inside([x, y]), None, "({x}, {y})"),
                Lookup::Exact => {}
            }
        }
    }
}
