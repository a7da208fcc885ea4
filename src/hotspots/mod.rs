//! Hotspots: the Getis–Ord Gi* statistic over H3 cells (`ArcGIS`'s "Hot Spot Analysis": binary k-ring
//! weights with the cell itself included, population standard deviation over the study area), its
//! two-sided normal p-value, `ArcGIS`'s `Gi_Bin` confidence classes with and without Benjamini–Hochberg
//! false-discovery-rate control, and expansion candidates: clusters of significant hot cells outside
//! every zone.
//!
//! For cell `i` with neighbour set `N_i` (the k-ring within the study area, `i` included), `W_i = |N_i|`,
//! `n` cells, mean `x̄` and population standard deviation `S` of all `n` values:
//! `z_i = (Σ_{j∈N_i} x_j − x̄ W_i) / (S √((n W_i − W_i²) / (n − 1)))`, as PySAL's
//! `esda.G_Local(y, w, transform='B', star=True)` computes it (tested to 1e-9 against it). z and p are
//! never FDR-corrected; only the `_fdr` class is (as `ArcGIS` does).

use std::collections::{HashMap, HashSet};

use geo::MultiPolygon;
use h3o::CellIndex;
use h3o::geom::SolventBuilder;
use rayon::prelude::*;

/// Gi* of one cell.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GiStar {
    /// The z-score; none when it is undefined (all values equal, or the cell neighbours every cell).
    pub z: Option<f64>,
    /// Two-sided p-value of `z` under the normal approximation: `P(|Z| ≥ |z|)`.
    pub p: Option<f64>,
    /// Confidence class: ±3, ±2, ±1 for hot (+) or cold (−) at 99, 95 or 90 %; 0 not significant.
    pub bin: i8,
    /// The same class with Benjamini–Hochberg FDR control at each of the three levels.
    pub bin_fdr: i8,
    /// Neighbours in the study area, the cell itself included.
    pub neighbours: u32,
}

/// The confidence levels of the classes: (class, α).
pub const LEVELS: [(i8, f64); 3] = [(3, 0.01), (2, 0.05), (1, 0.10)];

/// Two-sided normal p-value of `z`.
#[must_use]
pub fn two_sided_p(z: f64) -> f64 {
    libm::erfc(z.abs() / std::f64::consts::SQRT_2)
}

/// Gi* for every cell of a study area: `cells` (distinct) with `values` (explicit zeros included),
/// k-ring neighbours within the area. Runs on every core.
#[must_use]
pub fn gi_star(cells: &[CellIndex], values: &[f64], k: u32) -> Vec<GiStar> {
    let n = cells.len().min(values.len());
    let position: HashMap<CellIndex, usize> = cells[..n].iter().enumerate().map(|(i, &c)| (c, i)).collect();
    let nf = n as f64;
    let mean = values[..n].iter().sum::<f64>() / nf;
    let var = values[..n].iter().map(|v| v * v).sum::<f64>() / nf - mean * mean;
    let s = var.max(0.0).sqrt();
    let mut out: Vec<GiStar> = (0..n)
        .into_par_iter()
        .with_min_len(1024)
        .map(|i| {
            let mut w = 0u32;
            let mut sum = 0.0;
            for c in cells[i].grid_disk::<Vec<_>>(k) {
                if let Some(&j) = position.get(&c) {
                    w += 1;
                    sum += values[j];
                }
            }
            let wf = f64::from(w);
            let denom = s * ((nf * wf - wf * wf) / (nf - 1.0)).sqrt();
            let z = (sum - mean * wf) / denom;
            let z = (z.is_finite() && denom > 0.0).then_some(z);
            let p = z.map(two_sided_p);
            let bin = match (z, p) {
                (Some(z), Some(p)) => {
                    LEVELS.iter().find(|(_, a)| p < *a).map_or(0, |(b, _)| if z > 0.0 { *b } else { -*b })
                }
                _ => 0,
            };
            GiStar { z, p, bin, bin_fdr: 0, neighbours: w }
        })
        .collect();
    let ps: Vec<Option<f64>> = out.iter().map(|g| g.p).collect();
    for (level, alpha) in LEVELS.iter().rev() {
        let keep = benjamini_hochberg(&ps, *alpha);
        for (g, significant) in out.iter_mut().zip(keep) {
            if significant && let Some(z) = g.z {
                g.bin_fdr = if z > 0.0 { *level } else { -*level };
            }
        }
    }
    out
}

/// Benjamini–Hochberg at `alpha`: which of `p` (none = not tested) are discoveries. With the `m` tested
/// p-values in ascending order, the largest rank `r` with `p_(r) ≤ r α / m` makes every p-value up to
/// `p_(r)` a discovery.
#[must_use]
pub fn benjamini_hochberg(p: &[Option<f64>], alpha: f64) -> Vec<bool> {
    let mut tested: Vec<f64> = p.iter().filter_map(|x| *x).collect();
    tested.sort_by(f64::total_cmp);
    let m = tested.len() as f64;
    let cut = tested.iter().enumerate().rev().find(|(r, x)| **x <= (*r as f64 + 1.0) * alpha / m).map(|(_, x)| *x);
    p.iter().map(|x| matches!((x, cut), (Some(x), Some(c)) if *x <= c)).collect()
}

/// A cluster of significant hot cells outside every zone, where the program could expand.
#[derive(Clone, Debug, PartialEq)]
pub struct Candidate {
    /// The cells, in order.
    pub cells: Vec<CellIndex>,
    /// Events in them.
    pub contacts: u64,
    /// The cluster's outline (lon, lat).
    pub outline: MultiPolygon<f64>,
}

/// Groups `hot` cells (each with its event count) into clusters of neighbours (sharing an edge) and
/// ranks them by events, most first (ties: more cells, then the first cell).
#[must_use]
pub fn clusters(hot: &[(CellIndex, u64)]) -> Vec<Candidate> {
    let counts: HashMap<CellIndex, u64> = hot.iter().copied().collect();
    let mut seen: HashSet<CellIndex> = HashSet::new();
    let mut out = Vec::new();
    let mut sorted: Vec<CellIndex> = counts.keys().copied().collect();
    sorted.sort_unstable();
    for start in sorted {
        if !seen.insert(start) {
            continue;
        }
        let mut cells = vec![start];
        let mut todo = vec![start];
        while let Some(c) = todo.pop() {
            for nb in c.grid_disk::<Vec<_>>(1) {
                if counts.contains_key(&nb) && seen.insert(nb) {
                    cells.push(nb);
                    todo.push(nb);
                }
            }
        }
        cells.sort_unstable();
        let contacts = cells.iter().map(|c| counts[c]).sum();
        let outline = SolventBuilder::new()
            .build()
            .dissolve(cells.iter().copied())
            .unwrap_or_else(|_| MultiPolygon::new(Vec::new()));
        out.push(Candidate { cells, contacts, outline });
    }
    out.sort_by(|a, b| {
        b.contacts.cmp(&a.contacts).then(b.cells.len().cmp(&a.cells.len())).then(a.cells[0].cmp(&b.cells[0]))
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn benjamini_hochberg_steps_up_as_worked_by_hand() {
        // m = 10. At α = 0.05 the thresholds r·α/m are 0.005, 0.010, 0.015, ...: p(1) = 0.001 and
        // p(2) = 0.008 pass, nothing later does → 2 discoveries. At α = 0.10 (0.01, 0.02, 0.03, 0.04,
        // 0.05, 0.06, 0.07, ...): p(6) = 0.060 ≤ 0.06 is the largest passing rank, so p(3) = 0.039 and
        // p(4) = 0.041, above their own thresholds, are discoveries too (the step-up) → 6. At α = 0.01
        // (0.001, 0.002, ...): only p(1) = 0.001.
        let p = [0.205, 0.001, 0.042, 0.039, 0.216, 0.008, 0.060, 0.074, 0.041, 0.212].map(Some);
        let count = |a| benjamini_hochberg(&p, a).iter().filter(|x| **x).count();
        assert_eq!(count(0.05), 2);
        assert_eq!(count(0.10), 6);
        assert_eq!(count(0.01), 1);
        let at10 = benjamini_hochberg(&p, 0.10);
        assert_eq!(at10, [false, true, true, true, false, true, true, false, true, false]);
        // Untested entries are never discoveries and do not count in m.
        let with_gaps = [Some(0.001), None, Some(0.02)];
        assert_eq!(benjamini_hochberg(&with_gaps, 0.05), [true, false, true]);
        assert!(benjamini_hochberg(&[], 0.05).is_empty());
    }

    #[test]
    fn two_sided_p_values_match_the_normal_table() {
        assert!((two_sided_p(1.959_963_984_540_054) - 0.05).abs() < 1e-12);
        assert!((two_sided_p(-2.575_829_303_548_901) - 0.01).abs() < 1e-12);
        assert!((two_sided_p(1.644_853_626_951_472_2) - 0.10).abs() < 1e-12);
        assert_eq!(two_sided_p(0.0), 1.0);
    }

    #[test]
    fn one_hot_cluster_outside_is_one_candidate_with_its_outline() {
        let centre = h3o::LatLng::new(45.52, -122.68).unwrap().to_cell(h3o::Resolution::Nine);
        let area: Vec<CellIndex> = centre.grid_disk(6);
        let hot: Vec<CellIndex> = centre.grid_disk(1);
        let values: Vec<f64> = area.iter().map(|c| if hot.contains(c) { 20.0 } else { 0.0 }).collect();
        let gi = gi_star(&area, &values, 1);
        let at = |c: CellIndex| gi[area.iter().position(|x| *x == c).unwrap()];
        assert_eq!(at(centre).bin, 3);
        assert_eq!(at(centre).bin_fdr, 3);
        assert_eq!(at(centre).neighbours, 7);
        let edge =
            centre.grid_disk::<Vec<_>>(6).into_iter().find(|c| !centre.grid_disk::<Vec<_>>(5).contains(c)).unwrap();
        assert!(at(edge).neighbours < 7, "the area's edge has fewer neighbours");
        let flat = gi_star(&area, &vec![3.0; area.len()], 1);
        assert!(flat.iter().all(|g| g.z.is_none() && g.bin == 0), "no variance: z undefined");
        let significant: Vec<(CellIndex, u64)> =
            area.iter().zip(&gi).filter(|(_, g)| g.bin_fdr >= 2).map(|(c, _)| (*c, 1)).collect();
        let far = centre.grid_disk::<Vec<_>>(6)[100];
        let mut with_far = significant.clone();
        with_far.push((far, 50));
        let found = clusters(&with_far);
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].cells, vec![far], "ranked by contacts");
        assert_eq!(found[1].contacts, significant.len() as u64);
        assert_eq!(found[1].outline.0.len(), 1, "one contiguous outline");
    }
}
