#!/usr/bin/env python3
"""Getis-Ord Gi* reference values from PySAL (esda) for the hot-spot differential test.

Writes geodata/fixtures/reference/gistar.csv: for each case, H3 cells with seeded Poisson event counts
(mostly low, one or two hot clusters) and esda.G_Local(y, w, transform='B', star=True, permutations=0),
where w is a libpysal W of H3 k-ring neighbours restricted to the case's cells (grid_disk(cell, k) minus
the cell, intersected with the cell set). With star=True and binary weights esda sets the diagonal to 1,
so every cell is its own neighbour with weight 1 (ArcGIS's Gi*). Cases: r9k1 / r9k2 (grid_disk(.., 8)
at res 9, k=1 and k=2, same values), r10irr (res-10 cells with centres in an L shape with a hole, plus
a detached 4-cell scrap and an isolated cell, k=1), r11k1 (res-11 grid_disk(.., 25), k=1, mostly zeros).

Columns: case,res,k,hex_id,value,n_neighbours_incl_self,z,p_norm,g (floats as repr, rows by case, hex_id).
  n = cells in the case, W_i = |N_i| (neighbours incl. self), xbar = mean(y) over ALL n cells (y_i
  included), S^2 = mean(y^2) - xbar^2 (population variance, divides by n, not n-1), sum_i = sum of y_j over N_i.
  g      = esda Gs = sum_i / sum(y)
  z      = esda Zs = (Gs - EG) / sqrt(VG), EG = W_i / n,
           VG = W_i * (n - W_i) / (n - 1) / n^2 * S^2 / xbar^2,
           algebraically = (sum_i - xbar*W_i) / (S * sqrt((n*W_i - W_i^2) / (n - 1))) (checked here, 1e-12).
  p_norm = esda p_norm = scipy.stats.norm.sf(|z|): ONE-sided upper tail of |z| (always <= 0.5; double it
           for a two-sided p). Undefined z (none here), esda returns no error, just non-finite values:
           all y 0 -> z, p_norm, g all nan; W_i == n -> z, p_norm nan (0/0; g = 1); all y equal and > 0 ->
           S^2 ~ 0, z nan (or +-inf / nan from rounding). An isolated cell (W_i = 1) is well defined.

    pip install -r tools/requirements.txt   # esda==2.9.0 libpysal==4.14.1 h3==4.5.0 numpy
    python3 tools/reference/make_gistar_reference.py [--seed 11] [-o FILE]
"""
import argparse
import csv
import warnings

import esda
import h3
import libpysal
import numpy as np


def r10_cells() -> list[str]:
    # An L around downtown with a hole in the vertical arm, a detached 4-cell scrap to the east and a
    # tiny square around one cell centre to the south (an isolated cell: W_i = 1).
    ell = [(45.508, -122.692), (45.536, -122.692), (45.536, -122.681), (45.515, -122.681),
           (45.515, -122.662), (45.508, -122.662)]
    hole = [(45.519, -122.689), (45.525, -122.689), (45.525, -122.684), (45.519, -122.684)]
    scrap = [(45.5255, -122.6595), (45.5275, -122.6595), (45.5275, -122.6565), (45.5255, -122.6565)]
    lone = [(45.5024, -122.6842), (45.5030, -122.6842), (45.5030, -122.6836), (45.5024, -122.6836)]
    polys = [h3.LatLngPoly(ell, hole), h3.LatLngPoly(scrap), h3.LatLngPoly(lone)]
    return sorted(set().union(*(h3.polygon_to_cells(poly, 10) for poly in polys)))


def values(rng, cells, base, hot, centres, radius) -> np.ndarray:
    """Poisson counts: mean `hot` within grid distance `radius` of a centre cell, else `base`."""
    near = [any(h3.grid_distance(c, h) <= radius for h in centres) for c in cells]
    return rng.poisson([hot if x else base for x in near]).astype(float)


def gistar(cells, y, k):
    """esda Gi* with binary k-ring weights; also checks Zs against the textbook formula."""
    ids = set(cells)
    nb = {c: sorted((set(h3.grid_disk(c, k)) - {c}) & ids) for c in cells}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # island warnings for isolated cells
        w = libpysal.weights.W(nb, id_order=list(cells))
        gl = esda.G_Local(y, w, transform="B", star=True, permutations=0)
    wi = np.array([len(nb[c]) + 1 for c in cells], dtype=float)
    assert np.array_equal(np.asarray(gl.w.sparse.sum(axis=1)).ravel(), wi)  # self weight 1 included
    assert np.all(gl.w.sparse.diagonal() == 1.0)
    n, xbar = len(y), y.mean()
    s = np.sqrt((y**2).mean() - xbar**2)
    idx = {c: i for i, c in enumerate(cells)}
    sums = np.array([y[i] + sum(y[idx[j]] for j in nb[c]) for i, c in enumerate(cells)])
    z = (sums - xbar * wi) / (s * np.sqrt((n * wi - wi**2) / (n - 1)))
    assert np.allclose(gl.Zs, z, rtol=1e-12, atol=1e-13), np.max(np.abs(gl.Zs - z))
    assert np.allclose(gl.Gs, sums / y.sum(), rtol=1e-12, atol=0)
    return wi.astype(int), gl.Zs, gl.p_norm, gl.Gs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("-o", "--output", default="geodata/fixtures/reference/gistar.csv")
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)

    c9 = sorted(h3.grid_disk(h3.latlng_to_cell(45.52, -122.68, 9), 8))
    y9 = values(rng, c9, 0.6, 4.0, [c9[int(i)] for i in rng.choice(len(c9), 2, replace=False)], 1)
    c10 = r10_cells()
    y10 = values(rng, c10, 0.8, 5.0, [h3.latlng_to_cell(45.512, -122.666, 10)], 2)
    c11 = sorted(h3.grid_disk(h3.latlng_to_cell(45.52, -122.68, 11), 25))
    y11 = values(rng, c11, 0.04, 2.5, [c11[int(rng.integers(len(c11)))]], 3)
    cases = [("r9k1", 9, 1, c9, y9), ("r9k2", 9, 2, c9, y9), ("r10irr", 10, 1, c10, y10),
             ("r11k1", 11, 1, c11, y11)]

    rows = []
    for name, res, k, cells, y in cases:
        wi, z, p, g = gistar(cells, y, k)
        assert np.all(np.isfinite(z))
        rows += [[name, res, k, c, int(y[i]), int(wi[i]), repr(float(z[i])), repr(float(p[i])),
                  repr(float(g[i]))] for i, c in enumerate(cells)]
        print(f"{name}: {len(cells)} cells, {int((y == 0).sum())} zeros, sum {int(y.sum())}, "
              f"W_i {wi.min()}-{wi.max()}, z {z.min():.3f}..{z.max():.3f}")
    rows.sort(key=lambda r: (r[0], r[3]))
    with open(args.output, "w", newline="") as f:
        out = csv.writer(f, lineterminator="\n")
        out.writerow(["case", "res", "k", "hex_id", "value", "n_neighbours_incl_self", "z", "p_norm", "g"])
        out.writerows(rows)
    print(f"wrote {len(rows)} rows to {args.output} (esda {esda.__version__}, libpysal "
          f"{libpysal.__version__}, h3-py {h3.__version__}, numpy {np.__version__})")


if __name__ == "__main__":
    main()
