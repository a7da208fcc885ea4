#!/usr/bin/env python3
"""The PySAL baseline of leadmap's Gi*, end to end and timed, for tools/bench/bench_gistar.sh.

Reads CELLS.csv (`hex_id,value`, e.g. from tools/gen/gen_gistar_cells.py) and, timed phase by phase:
  neighbours  a dict {cell: [grid_disk(cell, k) minus the cell, intersected with the cell set]}
              (h3-py; the set is a Python set), as tools/reference/make_gistar_reference.py builds it
  weights     libpysal.weights.W(neighbours, id_order=cells, silence_warnings=True)
  statistic   esda.G_Local(y, w, transform='B', star=True, permutations=0): binary weights, the cell
              itself included with weight 1 (Gi*), Zs and the normal p-values (p_norm)
total = neighbours + weights + statistic. Reading the CSV is timed too but kept out of the total (the
leadmap side, tools/bench/gistar_bench.rs, times gi_star on cells already in memory).
permutations=0: no conditional-permutation pseudo p-values. leadmap computes none either (its p-values
are normal, two-sided, with Benjamini-Hochberg FDR classes), so the two sides do comparable work.

Prints one JSON object on stdout: cells, k, read_s, neighbours_s, weights_s, statistic_s, total_s,
sum_abs_z (sum of |Zs| over the finite ones: a checksum to compare with leadmap's), nan_z (cells
whose Zs is not finite), zeros, versions.

Example:
  python3 tools/bench/gistar_esda.py target/bench/gistar_cells.csv --k 1
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings

import esda
import h3
import libpysal
import numpy as np


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("cells", help="CSV with header hex_id,value")
    ap.add_argument("--k", type=int, default=1, help="grid_disk radius of the neighbourhood (default 1)")
    args = ap.parse_args()
    if args.k < 1:
        print("error: --k must be at least 1", file=sys.stderr)
        return 2

    t0 = time.perf_counter()
    with open(args.cells) as fh:
        header = fh.readline().strip().split(",")
        if header[:2] != ["hex_id", "value"]:
            print(f"error: {args.cells}: header must start hex_id,value (got {header})", file=sys.stderr)
            return 2
        cells, vals = [], []
        for line in fh:
            c, v = line.rstrip("\n").split(",")[:2]
            cells.append(c)
            vals.append(float(v))
    y = np.asarray(vals, dtype=float)
    t1 = time.perf_counter()

    ids = set(cells)
    k = args.k
    neighbours = {c: [x for x in h3.grid_disk(c, k) if x != c and x in ids] for c in cells}
    t2 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # island / disconnected-component warnings
        w = libpysal.weights.W(neighbours, id_order=cells, silence_warnings=True)
        t3 = time.perf_counter()
        g = esda.G_Local(y, w, transform="B", star=True, permutations=0)
        t4 = time.perf_counter()

    z = np.asarray(g.Zs, dtype=float)
    finite = np.isfinite(z)
    out = {
        "cells": len(cells),
        "k": k,
        "read_s": t1 - t0,
        "neighbours_s": t2 - t1,
        "weights_s": t3 - t2,
        "statistic_s": t4 - t3,
        "total_s": t4 - t1,
        "sum_abs_z": float(np.abs(z[finite]).sum()),
        "nan_z": int((~finite).sum()),
        "zeros": int((y == 0).sum()),
        "neighbour_links": int(sum(len(v) for v in neighbours.values())),
        "cpus": os.cpu_count(),
        "versions": {"esda": esda.__version__, "libpysal": libpysal.__version__, "h3": h3.__version__,
                     "numpy": np.__version__, "python": sys.version.split()[0]},
    }
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
