//! Raw points counted in H3 cells directly (`leadmap cells --input`), without a store: each point in
//! the cell it lies in at the asked resolution, as h3o's `LatLng::to_cell` (and h3-py's
//! `latlng_to_cell`) gives it. Runs on every core.

use h3o::{CellIndex, LatLng, LatLngIndexer};
use rayon::prelude::*;

use super::CellRes;

/// Points per cell, in cell order. Points are (lon, lat) and must be valid WGS84 coordinates (others are
/// skipped).
#[must_use]
pub fn count_points(points: &[[f64; 2]], res: CellRes) -> Vec<(CellIndex, u64)> {
    let r = res.resolution();
    let mut cells: Vec<u64> = Vec::with_capacity(points.len());
    points
        .par_iter()
        .with_min_len(1 << 14)
        .map_init(LatLngIndexer::default, |ix, &[lon, lat]| {
            LatLng::new(lat, lon).map_or(u64::MAX, |ll| u64::from(ix.to_cell(ll, r)))
        })
        .collect_into_vec(&mut cells);
    cells.par_sort_unstable();
    let mut out: Vec<(CellIndex, u64)> = Vec::new();
    for c in cells {
        let Ok(cell) = CellIndex::try_from(c) else { continue };
        match out.last_mut() {
            Some((last, n)) if *last == cell => *n += 1,
            _ => out.push((cell, 1)),
        }
    }
    out
}
