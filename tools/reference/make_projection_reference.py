#!/usr/bin/env python3
"""Reference answers for leadmap's projection module (src/projection.rs), made with pyproj (PROJ).

For each supported projected system, a seeded scatter of points over the area the system is used for
(the lon/lat box below, grown by half a degree except for NAD83(HARN) systems), projected forward with pyproj to (x, y) in the
system's unit, rounded to the millimetre as published data would be, then projected back to lon/lat
with pyproj: the test feeds leadmap the (x, y) and expects pyproj's (lon, lat) to within 1 cm.

Writes geodata/fixtures/reference/projection.csv: epsg,x,y,lon,lat (shortest round-trip floats).

    python3 tools/reference/make_projection_reference.py [--seed 7] [--n 200]
"""
import argparse
import csv
import pathlib

import numpy as np
from pyproj import Transformer

# EPSG code -> (lon_min, lat_min, lon_max, lat_max) where the system is used. NAD83(HARN) systems get
# inland boxes with no margin (MARGIN below is skipped for them): PROJ applies its HARN Helmert only
# onshore in the conterminous US and falls back to a null shift offshore.
HARN = {2913, 2838, 2914, 2926, 2927}
AREAS = {
    2913: (-123.4, 44.4, -117.0, 45.8),   # Oregon North, international feet (PPB 2012 data)
    2269: (-124.2, 43.9, -116.4, 46.3),
    2838: (-123.4, 44.4, -117.0, 45.8),
    32126: (-124.2, 43.9, -116.4, 46.3),
    2914: (-123.4, 42.5, -117.0, 43.9),
    2285: (-124.8, 47.0, -117.0, 49.0),
    2286: (-124.3, 45.5, -116.9, 47.6),
    2926: (-122.9, 47.5, -117.5, 48.5),
    2927: (-122.9, 46.0, -117.5, 47.0),
    26910: (-126.0, 40.0, -120.0, 49.0),  # NAD83 / UTM 10N (Portland, Seattle)
    32610: (-126.0, 40.0, -120.0, 49.0),
    32733: (12.0, -40.0, 18.0, -1.0),     # a southern zone
    2992: (-124.1, 42.4, -117.0, 45.8),   # NAD83 / Oregon GIC Lambert (ft), the state's agencies' system
    3857: (-170.0, -80.0, 170.0, 80.0),   # WGS 84 / Pseudo-Mercator (web maps), worldwide
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--n", type=int, default=200, help="points per system")
    ap.add_argument("--out", default=str(pathlib.Path(__file__).resolve().parent.parent.parent
                                         / "geodata/fixtures/reference/projection.csv"))
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    rows = []
    for code, (x0, y0, x1, y1) in AREAS.items():
        fwd = Transformer.from_crs("EPSG:4326", f"EPSG:{code}", always_xy=True)
        inv = Transformer.from_crs(f"EPSG:{code}", "EPSG:4326", always_xy=True)
        m = 0.0 if code in HARN else 0.5
        lon = rng.uniform(x0 - m, x1 + m, args.n)
        lat = rng.uniform(y0 - m, y1 + m, args.n)
        x, y = fwd.transform(lon, lat)
        x, y = np.round(x, 3), np.round(y, 3)
        blon, blat = inv.transform(x, y)
        for i in range(args.n):
            rows.append((code, float(x[i]), float(y[i]), float(blon[i]), float(blat[i])))
    with open(args.out, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["epsg", "x", "y", "lon", "lat"])
        for r in rows:
            w.writerow([r[0]] + [repr(v) for v in r[1:]])
    print(f"wrote {len(rows)} points to {args.out}")


if __name__ == "__main__":
    main()
