#!/usr/bin/env python3
"""Generate seeded benchmark points around a zone set.

80% uniform in the zones' bounding box expanded by 25% of its width/height on each side, 20% at a
uniform perpendicular offset in [-50, 50] m from a random point of a random zone edge (edges
weighted by length); the two groups are shuffled together. numpy default_rng(seed): the same
arguments give the same bytes.

Outputs:
  -o FILE.bin   raw little-endian float64 pairs (lon, lat), no header; 16 bytes a point
  --csv FILE    CSV with header id,lon,lat,note: id = 0-based row number (= index in the .bin),
                lon/lat as shortest round-trip decimals (parse back to the same doubles as the
                .bin with a correctly rounded parser), note = call-<id>

Example:
  python3 tools/gen/gen_points.py --n 10000000 --seed 42 --zones ZONES.geojson \\
      -o target/bench/points.bin --csv target/bench/points.csv
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tools/: the shared loader
import zoneio  # noqa: E402

CSV_CHUNK = 500_000


def generate(zones, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n_near = round(n * 0.2)
    n_uniform = n - n_near
    minx, miny, maxx, maxy = zoneio.zone_bounds(zones)
    w, h = maxx - minx, maxy - miny
    pts = np.empty((n, 2), dtype="<f8")
    pts[:n_uniform, 0] = rng.uniform(minx - 0.25 * w, maxx + 0.25 * w, n_uniform)
    pts[:n_uniform, 1] = rng.uniform(miny - 0.25 * h, maxy + 0.25 * h, n_uniform)
    x, y = zoneio.near_edge_points(rng, zoneio.zone_edges(zones), n_near, 50.0)
    pts[n_uniform:, 0] = x
    pts[n_uniform:, 1] = y
    return pts[rng.permutation(n)]


def write_csv(path: Path, pts: np.ndarray) -> None:
    with path.open("w", newline="") as fh:
        fh.write("id,lon,lat,note\n")
        for start in range(0, len(pts), CSV_CHUNK):
            chunk = pts[start : start + CSV_CHUNK].tolist()  # Python floats: repr = round trip
            fh.write(
                "".join(
                    f"{i},{lon!r},{lat!r},call-{i}\n"
                    for i, (lon, lat) in enumerate(chunk, start)
                )
            )


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--zones", required=True, help="zone-set GeoJSON")
    zoneio.add_zone_args(ap)
    ap.add_argument("--n", type=int, default=10_000_000, help="number of points (default 1e7)")
    ap.add_argument("--seed", type=int, default=42, help="numpy default_rng seed (default 42)")
    ap.add_argument("-o", "--output", required=True, help="output .bin (lon, lat float64 LE pairs)")
    ap.add_argument("--csv", help="also write this CSV (id,lon,lat,note)")
    args = ap.parse_args()
    if args.n < 1:
        zoneio.die("--n must be positive")
    try:
        zones = zoneio.load_zones_from_args(args)
    except zoneio.ToolError as exc:
        zoneio.die(str(exc))

    t0 = time.monotonic()
    pts = generate(zones, args.n, args.seed)
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    pts.tofile(out)
    print(
        f"wrote {out}: {args.n} points, {out.stat().st_size} bytes ({time.monotonic() - t0:.1f} s)",
        file=sys.stderr,
    )
    if args.csv:
        t1 = time.monotonic()
        csv = Path(args.csv)
        csv.parent.mkdir(parents=True, exist_ok=True)
        write_csv(csv, pts)
        print(
            f"wrote {csv}: {csv.stat().st_size} bytes ({time.monotonic() - t1:.1f} s)",
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
