#!/usr/bin/env python3
"""Generate leadmap's SYNTHETIC demo events (geodata/demo/events.csv), loaded by `leadmap serve --demo`.

Every row is made up. Nothing here comes from police data: points are drawn (numpy default_rng(seed))
around hand-placed centres where public reporting says Portland's street drug activity concentrates
(Old Town / Chinatown, the downtown transit mall and park blocks, the Lloyd Center area, the inner
east side, and a few outer-east corridors such as 82nd Avenue, Gateway and Hazelwood), plus a thin
uniform background over the city. Kinds, dates (2017-03 .. 2021-06, when the pilot ran), times and
race/ethnicity groups are drawn from fixed, plausible-looking shares so that every map layer and figure
has something to show. The `source` of every row is `synthetic-demo`.

    python3 tools/gen/make_demo.py [--n 12000] [--seed 2017] [--out geodata/demo/events.csv]
"""
import argparse
import csv
import datetime as dt
import pathlib

import numpy as np

# (name, lon, lat, spread in metres, weight)
CENTRES = [
    ("old-town", -122.6735, 45.5245, 180, 0.24),
    ("downtown-transit-mall", -122.6770, 45.5180, 250, 0.16),
    ("park-blocks", -122.6835, 45.5150, 220, 0.07),
    ("lloyd", -122.6560, 45.5310, 280, 0.08),
    ("inner-east", -122.6600, 45.5170, 300, 0.06),
    ("82nd-division", -122.5790, 45.5045, 350, 0.08),
    ("gateway", -122.5650, 45.5320, 400, 0.07),
    ("hazelwood", -122.5480, 45.5190, 450, 0.05),
    ("st-johns", -122.7520, 45.5900, 350, 0.03),
]
BACKGROUND = 0.16  # uniform over the box below
BOX = (-122.80, 45.45, -122.50, 45.60)
KINDS = [("arrest", 0.62), ("diversion_referral", 0.23), ("social_contact_referral", 0.15)]
GROUPS = [("white", 0.55), ("black", 0.22), ("hispanic_latino", 0.09), ("native_american", 0.04),
          ("asian", 0.03), ("pacific_islander", 0.01), ("multiracial", 0.03), ("unknown", 0.03)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=12000)
    ap.add_argument("--seed", type=int, default=2017)
    ap.add_argument("--out", default=str(pathlib.Path(__file__).resolve().parent.parent.parent / "geodata/demo/events.csv"))
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    weights = np.array([c[4] for c in CENTRES] + [BACKGROUND])
    weights /= weights.sum()
    which = rng.choice(len(weights), size=args.n, p=weights)
    m_per_deg_lat, m_per_deg_lon = 111_142.0, 78_130.0
    start, end = dt.date(2017, 3, 1), dt.date(2021, 6, 30)
    days = (end - start).days
    kinds = rng.choice(len(KINDS), size=args.n, p=[k[1] for k in KINDS])
    groups = rng.choice(len(GROUPS), size=args.n, p=[g[1] for g in GROUPS])
    with open(args.out, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["external_id", "occurred_on", "occurred_at", "kind", "lon", "lat", "offense", "race_ethnicity"])
        for i in range(args.n):
            c = which[i]
            if c == len(CENTRES):
                lon = rng.uniform(BOX[0], BOX[2])
                lat = rng.uniform(BOX[1], BOX[3])
            else:
                _, clon, clat, spread, _ = CENTRES[c]
                lon = clon + rng.normal(0, spread) / m_per_deg_lon
                lat = clat + rng.normal(0, spread) / m_per_deg_lat
            day = start + dt.timedelta(days=int(rng.integers(0, days + 1)))
            minute = int(rng.integers(0, 24 * 60))
            offense = "PCS" if rng.random() < 0.85 else ("SQ" if rng.random() < 0.6 else "CDO")
            w.writerow([f"demo-{i:06d}", day.isoformat(), f"{minute // 60:02d}:{minute % 60:02d}",
                        KINDS[kinds[i]][0], f"{lon:.6f}", f"{lat:.6f}", offense, GROUPS[groups[i]][0]])
    print(f"wrote {args.n} synthetic events to {args.out}")


if __name__ == "__main__":
    main()
