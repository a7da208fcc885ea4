#!/usr/bin/env python3
"""pandas + shapely baseline for `leadmap classify`: add a `zone` column to a CSV of points.

Reads INPUT (a CSV with lon/lat columns), sets `zone` to the id of the zone containing each row's
point (empty if none, or if lon/lat is missing), and writes all input columns plus `zone` to
OUTPUT. Polygons are prepared once; each zone in id order (byte-wise ascending) tests only the
rows inside its bounding box and not yet assigned, so a point in several zones gets the lowest id
(leadmap's tie rule).

--predicate contains (default) uses shapely.contains_xy: a point exactly on an edge is OUTSIDE.
--predicate intersects uses shapely.intersects_xy: edge/vertex points are inside, exactly
leadmap's rule. The two differ only for points exactly on a zone boundary.

  python3 tools/bench/classify_pandas.py target/bench/points.csv --zones ZONES.geojson \\
      -o target/bench/classify-pandas.csv
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import shapely

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tools/: the shared loader
import zoneio  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("input", metavar="INPUT", help="input CSV")
    ap.add_argument("--zones", required=True, help="zone-set GeoJSON")
    zoneio.add_zone_args(ap)
    ap.add_argument("-o", "--output", required=True, help="output CSV")
    ap.add_argument("--lon-col", default="lon", help="longitude column (default lon)")
    ap.add_argument("--lat-col", default="lat", help="latitude column (default lat)")
    ap.add_argument(
        "--predicate",
        choices=("contains", "intersects"),
        default="contains",
        help="contains_xy (edges outside, default) or intersects_xy (edges inside, as leadmap)",
    )
    ap.add_argument("--verbose", action="store_true", help="print phase timings on stderr")
    args = ap.parse_args()

    try:
        zones = zoneio.load_zones_from_args(args)
    except zoneio.ToolError as exc:
        zoneio.die(str(exc))
    predicate = shapely.contains_xy if args.predicate == "contains" else shapely.intersects_xy

    t0 = time.perf_counter()
    try:
        df = pd.read_csv(args.input)
    except FileNotFoundError:
        zoneio.die(f"input not found: {args.input}")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        zoneio.die(f"cannot read {args.input}: {exc}")
    for col in (args.lon_col, args.lat_col):
        if col not in df.columns:
            zoneio.die(f"{args.input} has no column {col!r} (columns: {list(df.columns)})")
    t1 = time.perf_counter()

    x = pd.to_numeric(df[args.lon_col], errors="coerce").to_numpy(dtype=float)
    y = pd.to_numeric(df[args.lat_col], errors="coerce").to_numpy(dtype=float)
    ids = list(zones)
    assigned = np.full(len(df), -1, dtype=np.int32)
    for i, g in enumerate(zones.values()):
        shapely.prepare(g)
        minx, miny, maxx, maxy = g.bounds
        # NaN compares False, so rows without coordinates are never candidates
        cand = np.flatnonzero(
            (x >= minx) & (x <= maxx) & (y >= miny) & (y <= maxy) & (assigned < 0)
        )
        assigned[cand[predicate(g, x[cand], y[cand])]] = i
    labels = np.array([""] + ids, dtype=object)
    df["zone"] = labels[assigned + 1]
    t2 = time.perf_counter()

    try:
        df.to_csv(args.output, index=False)
    except OSError as exc:
        zoneio.die(f"cannot write {args.output}: {exc}")
    t3 = time.perf_counter()
    if args.verbose:
        print(
            f"read {t1 - t0:.2f} s, classify {t2 - t1:.2f} s, write {t3 - t2:.2f} s, "
            f"{len(df)} rows",
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
