#!/usr/bin/env python3
"""Independent recount, with shapely (GEOS), of what the 2018 expansion would have changed against the
2017 pilot areas over the Portland Police Bureau's contacts: the reference `leadmap whatif` is tested
against.

Inputs (read-only):
  ../shared/data/portland/ppb-drug-offenses-2015-2021.csv  (City of Portland / Portland Police Bureau
      open data; see ../shared/README.md)
  geodata/portland-2017.geojson, geodata/portland-2018.geojson  (the built-in zone sets)

Rows are kept as `leadmap import --preset ppb` keeps them: located rows (OpenDataLat/OpenDataLon), the
first row of each CaseNumber, dated OccurDate, in the window [--from, --to]. A point is inside a zone
when the zone COVERS it (an edge counts as inside); on an edge two zones share, the id that sorts first.

Writes only aggregate counts (no row of the file): per month, contacts inside the 2017 areas, inside
the 2018 areas, newly inside (2018 and not 2017) and newly outside; per 2018 zone, contacts and newly
inside; the totals. Output: geodata/fixtures/reference/whatif-2018-vs-2017.json (deterministic).
"""

from __future__ import annotations

import argparse
import csv
import json
from collections import defaultdict
from pathlib import Path

import shapely
from shapely.geometry import shape

REPO = Path(__file__).resolve().parent.parent.parent


def zones(path: Path) -> list[tuple[str, shapely.Geometry]]:
    doc = json.loads(path.read_text())
    out = []
    for f in doc["features"]:
        zid = f.get("id") or f["properties"]["id"]
        g = shape(f["geometry"])
        shapely.prepare(g)
        out.append((zid, g))
    return sorted(out)


def zone_of(zs: list[tuple[str, shapely.Geometry]], x: float, y: float) -> str | None:
    p = shapely.Point(x, y)
    for zid, g in zs:
        if g.covers(p):
            return zid
    return None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ppb", default=str(REPO.parent / "shared/data/portland/ppb-drug-offenses-2015-2021.csv"))
    ap.add_argument("--current", default=str(REPO / "geodata/portland-2017.geojson"))
    ap.add_argument("--proposal", default=str(REPO / "geodata/portland-2018.geojson"))
    ap.add_argument("--from", dest="start", default="2015-01-01")
    ap.add_argument("--to", dest="end", default="2018-04-30")
    ap.add_argument("-o", "--output", default=str(REPO / "geodata/fixtures/reference/whatif-2018-vs-2017.json"))
    a = ap.parse_args()
    cur, prop = zones(Path(a.current)), zones(Path(a.proposal))
    seen: set[str] = set()
    months: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    per_zone: dict[str, list[int]] = {zid: [0, 0] for zid, _ in prop}
    total = [0, 0, 0, 0, 0]  # current, proposal, newly inside, newly outside, all
    with open(a.ppb, newline="") as f:
        for row in csv.DictReader(f):
            try:
                lat, lon = float(row["OpenDataLat"]), float(row["OpenDataLon"])
            except ValueError:
                continue
            if row["CaseNumber"] in seen:
                continue
            seen.add(row["CaseNumber"])
            day = row["OccurDate"]
            if not (a.start <= day <= a.end):
                continue
            c, p = zone_of(cur, lon, lat), zone_of(prop, lon, lat)
            m = months[day[:7]]
            total[4] += 1
            for i, cond in enumerate([c is not None, p is not None, c is None and p is not None, c is not None and p is None]):
                if cond:
                    m[i] += 1
                    total[i] += 1
            if p is not None:
                per_zone[p][0] += 1
                if c is None:
                    per_zone[p][1] += 1
    doc = {
        "source": "tools/reference/make_whatif_reference.py: shapely covers() over ../shared/data/portland/ppb-drug-offenses-2015-2021.csv",
        "from": a.start,
        "to": a.end,
        "totals": dict(zip(["inside_current", "inside_proposal", "newly_inside", "newly_outside", "contacts"], total)),
        "months": {k: dict(zip(["inside_current", "inside_proposal", "newly_inside", "newly_outside"], v)) for k, v in sorted(months.items())},
        "zones": {k: {"contacts": v[0], "newly_inside": v[1]} for k, v in sorted(per_zone.items())},
    }
    Path(a.output).write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
    print(f"{a.output}: {total}")


if __name__ == "__main__":
    main()
