#!/usr/bin/env python3
"""Write a leadmap zone-set file selected from another GeoJSON, for local benchmarks and tests.

Features whose --zone-field value is listed in --select become zones with the given ids (features
mapped to one id are unioned); the rest are dropped. Coordinates are copied as parsed (binary64,
written back as shortest round-trip decimals), so points classified against the output match the
source geometry exactly (unless a union had to re-node shared parts).

The shared City data must not be committed or traced into geodata/: write the output under
target/ (git-ignored), e.g.

  python3 tools/gen/select_zones.py ../shared/data/portland/neighborhoods-regions-2021.geojson \\
      --zone-field NAME \\
      --select 'PORTLAND DOWNTOWN=downtown,OLD TOWN COMMUNITY ASSOCIATION=old-town,LLOYD DISTRICT COMMUNITY ASSOCIATION=lloyd' \\
      -o target/bench/portland-lead-2021.geojson
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import shapely.geometry

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tools/: the shared loader
import zoneio  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("source", help="source GeoJSON FeatureCollection")
    ap.add_argument("--zone-field", required=True, metavar="NAME", help="property holding the names")
    ap.add_argument("--select", required=True, metavar="'VALUE=id,...'", help="names to keep -> ids")
    ap.add_argument("--name", default=None, help="collection name (default: from the output file)")
    ap.add_argument("--effective-from", default="2021-01-01", help="effective_from (default 2021-01-01)")
    ap.add_argument("-o", "--output", required=True)
    args = ap.parse_args()
    try:
        select = zoneio.parse_select(args.select)
        zones = zoneio.load_zones(args.source, args.zone_field, select)
    except zoneio.ToolError as exc:
        zoneio.die(str(exc))

    names = {}
    for value, zid in select.items():
        names.setdefault(zid, value)
    out = Path(args.output)
    doc = {
        "type": "FeatureCollection",
        "name": args.name or out.stem,
        "description": f"selected from {zoneio.rel_to_repo(args.source)} by {args.zone_field}",
        "effective_from": args.effective_from,
        "features": [
            {
                "type": "Feature",
                "id": zid,
                "properties": {"id": zid, "name": names[zid]},
                # mapping() keeps the full doubles (to_geojson would round them)
                "geometry": shapely.geometry.mapping(g),
            }
            for zid, g in zones.items()
        ],
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {out}: zones {list(zones)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
