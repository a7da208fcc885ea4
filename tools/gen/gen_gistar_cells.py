#!/usr/bin/env python3
"""Seeded H3 cells with event counts (`hex_id,value`) for the Gi* benchmark (tools/bench/bench_gistar.sh).

The cells are a whole grid disk around downtown Portland: h3.grid_disk(latlng_to_cell(45.52, -122.68,
RES), r) with r the smallest radius giving at least --cells cells (3r(r+1)+1 of them; the default
120000 at res 11 gives r = 200 and 120,601 cells, about 4.5 km across). Values are Poisson counts,
numpy default_rng(seed): mean 0.15 everywhere (about 82 % zeros with the defaults), raised to 3.0
within 25 rings of a cell 60 cell spacings north-west of the centre (74 grid steps at the defaults)
and to 1.5 within 40 rings of a cell 90 spacings south-east (111 steps): two clusters of 1951 and
4921 cells inside the disk (distances and radii are capped at r/2 and r/4 for small --cells). Rows sorted by hex_id (lowercase hex,
as h3-py writes it), values as integers. The same arguments give the same bytes with the pinned
numpy and h3.

Example:
  python3 tools/gen/gen_gistar_cells.py                      # -> target/bench/gistar_cells.csv
  python3 tools/gen/gen_gistar_cells.py --cells 20000 -o /tmp/cells.csv
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import h3
import numpy as np

CENTRE = (45.52, -122.68)
BASE = 0.15
# (direction as (dlat, dlng), distance in cell spacings, cluster radius in rings, Poisson mean)
CLUSTERS = [((1.0, -1.0), 60, 25, 3.0), ((-1.0, 1.0), 90, 40, 1.5)]


def radius_for(n: int) -> int:
    r = 0
    while 3 * r * (r + 1) + 1 < n:
        r += 1
    return r


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cells", type=int, default=120_000, help="at least this many cells (default 120000)")
    ap.add_argument("--res", type=int, default=11, help="H3 resolution (default 11)")
    ap.add_argument("--seed", type=int, default=7, help="numpy default_rng seed (default 7)")
    ap.add_argument("-o", "--output", default="target/bench/gistar_cells.csv", help="output CSV")
    args = ap.parse_args()
    if args.cells < 1 or not 0 <= args.res <= 15:
        print("error: --cells must be positive and --res 0-15", file=sys.stderr)
        return 2

    t0 = time.monotonic()
    r = radius_for(args.cells)
    centre = h3.latlng_to_cell(*CENTRE, args.res)
    cells = sorted(h3.grid_disk(centre, r))
    mean = np.full(len(cells), BASE)
    index = {c: i for i, c in enumerate(cells)}
    # Cluster centres: `dist` cell-centre spacings (sqrt(3) edges) from the centre along a diagonal.
    clat, clng = h3.cell_to_latlng(centre)
    edge = h3.average_hexagon_edge_length(args.res, unit="km")
    for (dlat, dlng), dist, rad, mu in CLUSTERS:
        dist, rad = min(dist, r // 2), min(rad, max(r // 4, 0))
        step_deg = dist * edge * np.sqrt(3) / 111.32 / np.sqrt(2)  # per axis, in degrees of latitude
        c = h3.latlng_to_cell(clat + dlat * step_deg, clng + dlng * step_deg / np.cos(np.radians(clat)), args.res)
        for x in h3.grid_disk(c, rad):
            i = index.get(x)
            if i is not None:
                mean[i] = max(mean[i], mu)
    rng = np.random.default_rng(args.seed)
    y = rng.poisson(mean)

    d = os.path.dirname(args.output)
    if d:
        os.makedirs(d, exist_ok=True)
    part = f"{args.output}.part{os.getpid()}"
    try:
        with open(part, "w") as fh:
            fh.write("hex_id,value\n")
            fh.write("".join(f"{c},{v}\n" for c, v in zip(cells, y.tolist())))
        os.replace(part, args.output)
    finally:
        if os.path.exists(part):
            os.remove(part)
    print(
        f"wrote {args.output}: {len(cells)} res-{args.res} cells (grid_disk radius {r}), "
        f"{int((y == 0).sum())} zeros, sum {int(y.sum())}, max {int(y.max())} ({time.monotonic() - t0:.1f} s)",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
