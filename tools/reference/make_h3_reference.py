#!/usr/bin/env python3
"""H3 reference cells from h3-py (Uber's reference library) for the cells differential test.

Writes geodata/fixtures/reference/h3_cells.csv: seeded points over Portland (and a few far away), each
with its resolution-15 cell (what the store keeps), that cell's parents at resolutions 5-12, and the
point's own cell at resolutions 5-12 (latlng_to_cell: what leadmap counts it in). H3 cells do not nest, so
near cell edges a parent and the point's own cell differ.

    pip install h3==4.5.0
    python3 tools/reference/make_h3_reference.py [--points 3000] [--seed 7] [-o FILE]
"""
import argparse
import csv
import random

import h3


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--points", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("-o", "--output", default="geodata/fixtures/reference/h3_cells.csv")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    points = [(rng.uniform(-122.84, -122.47), rng.uniform(45.43, 45.65)) for _ in range(args.points)]
    # Downtown, tightly, where most contacts are; and places far from Portland (other faces, the
    # antimeridian, near the poles).
    points += [(rng.gauss(-122.678, 0.004), rng.gauss(45.52, 0.004)) for _ in range(args.points // 3)]
    points += [(-73.99, 40.73), (139.69, 35.69), (179.999, -16.5), (-179.999, 65.0), (0.0, 0.0), (12.5, 89.9)]
    with open(args.output, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["lon", "lat", "res15"] + [f"parent{r}" for r in range(5, 13)] + [f"direct{r}" for r in range(5, 13)])
        for lon, lat in points:
            lon, lat = round(lon, 7), round(lat, 7)
            c15 = h3.latlng_to_cell(lat, lon, 15)
            parents = [h3.cell_to_parent(c15, r) for r in range(5, 13)]
            direct = [h3.latlng_to_cell(lat, lon, r) for r in range(5, 13)]
            w.writerow([lon, lat, c15] + parents + direct)
    print(f"wrote {len(points)} points to {args.output} (h3-py {h3.__version__})")


if __name__ == "__main__":
    main()
