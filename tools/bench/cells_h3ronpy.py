#!/usr/bin/env python3
"""Python baseline of `leadmap cells --input`: points of a CSV counted in H3 cells with h3ronpy.

Reads a CSV with a header holding `lon` and `lat` (other columns are ignored) with pyarrow.csv
(multithreaded), computes the cell of each point with h3ronpy's vectorised
`h3ronpy.vector.coordinates_to_cells(lat, lng, res)` (Rust, h3o), counts them with
`numpy.unique(..., return_counts=True)` and writes `hex_id,count` in cell order (hex_id as h3-py
and kepler.gl write it: lowercase hex, e.g. 8928f0004b3ffff). Rows with an empty or non-finite
lon/lat are dropped (h3ronpy raises on NaN). Prints each phase's wall time (read, cells, unique,
write, total), the CPU time of the cells phase and the process's thread count to stderr.
h3ronpy 0.22's coordinates_to_cells is one sequential Rust loop (GIL released, no rayon): one core;
pyarrow's CSV reader uses every core, numpy.unique one.

Example:
  python3 tools/bench/cells_h3ronpy.py /tmp/raw10m.csv --res 9 -o /tmp/h3ronpy_cells.csv
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
from h3ronpy.vector import coordinates_to_cells


def cpu() -> float:
    t = os.times()
    return t.user + t.system


def threads() -> str:
    try:
        with open("/proc/self/status") as fh:
            return next(l.split()[1] for l in fh if l.startswith("Threads:"))
    except (OSError, StopIteration):
        return "?"


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("input", help="CSV with lon and lat columns")
    ap.add_argument("--res", type=int, default=9, help="H3 resolution 0-15 (default 9)")
    ap.add_argument("-o", "--output", required=True, help="output CSV (hex_id,count)")
    args = ap.parse_args()
    if not 0 <= args.res <= 15:
        print("error: --res must be 0-15", file=sys.stderr)
        return 2

    t0 = time.perf_counter()
    table = pacsv.read_csv(
        args.input,
        convert_options=pacsv.ConvertOptions(
            include_columns=["lon", "lat"],
            column_types={"lon": pa.float64(), "lat": pa.float64()},
        ),
    )
    lon = table.column("lon").to_numpy()  # nulls become NaN
    lat = table.column("lat").to_numpy()
    ok = np.isfinite(lon) & np.isfinite(lat)
    dropped = len(ok) - int(ok.sum())
    if dropped:
        lon, lat = lon[ok], lat[ok]
    t1 = time.perf_counter()
    c1 = cpu()
    cells = np.asarray(coordinates_to_cells(lat, lon, args.res))
    t2 = time.perf_counter()
    c2 = cpu()
    ids, counts = np.unique(cells, return_counts=True)
    t3 = time.perf_counter()
    with open(args.output, "w") as fh:
        fh.write("hex_id,count\n")
        fh.write("".join(f"{c:x},{n}\n" for c, n in zip(ids.tolist(), counts.tolist())))
    t4 = time.perf_counter()

    print(
        f"{len(cells)} points ({dropped} dropped), {len(ids)} cells at res {args.res}\n"
        f"read {t1 - t0:.3f} s, cells {t2 - t1:.3f} s, unique {t3 - t2:.3f} s, "
        f"write {t4 - t3:.3f} s, total {t4 - t0:.3f} s\n"
        f"cells phase: {c2 - c1:.3f} s CPU = {(c2 - c1) / max(t2 - t1, 1e-9):.2f} cores busy; "
        f"process threads {threads()}, cpus {os.cpu_count()}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
