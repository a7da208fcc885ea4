//! The batch grid: a two-level regular grid over a zone set's bounding box that answers "which zone?"
//! for most points with one or two memory reads. Built once with the index.
//!
//! Top cells (about 16 K, square in metres) that no zone edge touches hold their zone (or "outside")
//! outright. Top cells crossed by an edge hold a 16 × 16 subgrid whose cells are settled the same way; the
//! subcells still crossed by an edge say "test exactly". A cell counts as touched when an edge comes within a
//! thousandth of a cell of it, far more than the rounding in computing a point's cell, so a settled cell is
//! never wrong for any point that maps to it. Points outside the grid are outside every zone.

use geo::Rect;

use super::index::{EdgeRef, ZoneNo};
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
    Zone(u16),
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

fn code_for(zone: Option<usize>) -> u8 {
    match zone {
        None => OUTSIDE,
        Some(z) if z < MAX_CODED_ZONE => z as u8,
        Some(_) => EXACT,
    }
}

impl ZoneGrid {
    /// Builds the grid over `bounds` for these edges; `exact` gives the zone of a point no edge is near.
    pub(super) fn build(bounds: &Rect<f64>, edges: &[EdgeRef], exact: impl Fn([f64; 2]) -> Option<usize>) -> Self {
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

        // Which edges touch which top cell.
        let mut touching: Vec<Vec<u32>> = vec![Vec::new(); nx * ny];
        for (ei, e) in edges.iter().enumerate() {
            let (ex0, ex1) = (e.a[0].min(e.b[0]), e.a[0].max(e.b[0]));
            let (ey0, ey1) = (e.a[1].min(e.b[1]), e.a[1].max(e.b[1]));
            let ix0 = (((ex0 - x0) / cw).floor() as isize - 1).max(0) as usize;
            let ix1 = (((ex1 - x0) / cw).floor() as usize + 1).min(nx - 1);
            let iy0 = (((ey0 - y0) / ch).floor() as isize - 1).max(0) as usize;
            let iy1 = (((ey1 - y0) / ch).floor() as usize + 1).min(ny - 1);
            for iy in iy0..=iy1 {
                for ix in ix0..=ix1 {
                    let cell = expanded_cell(x0 + ix as f64 * cw, y0 + iy as f64 * ch, cw, ch);
                    if segment_touches_rect(e.a, e.b, cell) {
                        touching[iy * nx + ix].push(ei as u32);
                    }
                }
            }
        }

        // Constant blocks: block k holds code k for every code 0..=255.
        let mut blocks: Vec<u8> = (0..=u8::MAX).flat_map(|c| std::iter::repeat_n(c, SUB * SUB)).collect();
        let mut top = vec![0u32; nx * ny];
        let (sw, sh) = (cw / SUB as f64, ch / SUB as f64);
        // Two cells side by side that no edge touches hold the same zone: the segment between their
        // centres lies in the two cells, so no edge crosses it. Along a row, only the first cell of each
        // run of untouched cells needs the exact test.
        for iy in 0..ny {
            let mut run: Option<u8> = None;
            for ix in 0..nx {
                let (cx, cy) = (x0 + ix as f64 * cw, y0 + iy as f64 * ch);
                let near = &touching[iy * nx + ix];
                if near.is_empty() {
                    let code = *run.get_or_insert_with(|| code_for(exact([cx + cw / 2.0, cy + ch / 2.0])));
                    top[iy * nx + ix] = u32::from(code);
                    continue;
                }
                run = None;
                top[iy * nx + ix] = (blocks.len() / (SUB * SUB)) as u32;
                for sy in 0..SUB {
                    let mut sub_run: Option<u8> = None;
                    for sx in 0..SUB {
                        let (scx, scy) = (cx + sx as f64 * sw, cy + sy as f64 * sh);
                        let cell = expanded_cell(scx, scy, sw, sh);
                        let crossed = near.iter().any(|&ei| {
                            let e = &edges[ei as usize];
                            segment_touches_rect(e.a, e.b, cell)
                        });
                        if crossed {
                            sub_run = None;
                            blocks.push(EXACT);
                        } else {
                            blocks.push(
                                *sub_run.get_or_insert_with(|| code_for(exact([scx + sw / 2.0, scy + sh / 2.0]))),
                            );
                        }
                    }
                }
            }
        }
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
            z => Lookup::Zone(u16::from(z)),
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
    fn grid_settles_most_cells_and_agrees_with_exact() {
        let sq = [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0], [0.0, 0.0]];
        let edges: Vec<EdgeRef> = sq.windows(2).map(|w| EdgeRef { zone: 0, a: w[0], b: w[1], shared: false }).collect();
        let inside = |p: [f64; 2]| (p[0] >= 0.0 && p[0] <= 1.0 && p[1] >= 0.0 && p[1] <= 1.0).then_some(0);
        let bounds = Rect::new(geo::Coord { x: 0.0, y: 0.0 }, geo::Coord { x: 1.0, y: 1.0 });
        let g = ZoneGrid::build(&bounds, &edges, inside);
        assert!(g.subgrid_count() > 0 && g.subgrid_count() < g.top.len() / 5, "{}", g.subgrid_count());
        assert_eq!(g.lookup(0.5, 0.5), Lookup::Zone(0));
        assert_eq!(g.lookup(5.0, 0.5), Lookup::Outside);
        assert_eq!(g.lookup(f64::NAN, 0.5), Lookup::Outside);
        assert_eq!(g.lookup(1.0, 0.5), Lookup::Exact);
        for i in 0..2000 {
            let x = -0.02 + 1.04 * f64::from(i) / 2000.0;
            let y = 0.5 + 0.3 * (f64::from(i) * 0.37).sin();
            match g.lookup(x, y) {
                Lookup::Zone(z) => assert_eq!(inside([x, y]), Some(usize::from(z)), "({x}, {y})"),
                Lookup::Outside => assert_eq!(inside([x, y]), None, "({x}, {y})"),
                Lookup::Exact => {}
            }
        }
    }
}
