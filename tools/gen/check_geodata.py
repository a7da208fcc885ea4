#!/usr/bin/env python3
"""Check leadmap's built-in zone-set files (geodata/*.geojson).

Validates each file against the rules the Rust loader enforces, plus a few
cross-zone rules, prints areas and where some landmarks fall, and can count
Portland Police Bureau drug offences per zone as a coarse sanity check. The hand-drawing rules
(8-40 vertices, at most 6 decimals) apply only to hand-drawn features, not to official boundaries
or files made by tools/gen/make_portland_zones.py.

    pip install shapely pyproj
    python3 tools/gen/check_geodata.py                       # checks geodata/portland-*.geojson
    python3 tools/gen/check_geodata.py --ppb ../shared/data/portland/ppb-drug-offenses-2015-2021.csv

Exit status 1 if any rule is broken.
"""
import argparse
import csv
import glob
import itertools
import json
import os
import sys
from collections import Counter

from pyproj import Transformer
from shapely.geometry import LinearRing, Point, Polygon

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

# Rough reference points (lon, lat) from general knowledge / public infoboxes.
LANDMARKS = {
    "Pioneer Courthouse Square": (-122.6793, 45.5189),
    "Portland State University": (-122.6850, 45.5117),
    "Skidmore Fountain": (-122.6711, 45.5224),
    "Chinatown Gate (NW 4th & Burnside)": (-122.6744, 45.5232),
    "Union Station": (-122.6765, 45.5289),
    "Moda Center": (-122.6668, 45.5316),
    "Veterans Memorial Coliseum": (-122.6694, 45.5322),
    "Lloyd Center": (-122.6535, 45.5316),
    "Oregon Convention Center": (-122.6631, 45.5289),
    "OMSI": (-122.6659, 45.5084),
    "Powell's City of Books (Pearl, just N of Burnside)": (-122.6814, 45.5236),
    "Hawthorne Bridge (NRHP point, mid-river)": (-122.6709, 45.5132),
    "Burnside Bridge (NRHP point, mid-river)": (-122.6674, 45.5231),
    "SE Hawthorne Blvd & SE 7th Ave": (-122.6588, 45.5121),
    "Salmon Street Springs": (-122.6733, 45.5154),
}

MAX_DECIMALS = 6


def derived(fc, props):
    """True for a feature copied from an official boundary or made by tools/gen/make_portland_zones.py:
    its vertex count and decimals are the source's, so the hand-drawing rules (8-40 vertices, at
    most MAX_DECIMALS decimals) do not apply to it."""
    return "official boundary" in (props.get("source") or "") or "make_portland_zones.py" in (fc.get("description") or "")


def decimals(x):
    s = repr(float(x))
    if "e" in s or "E" in s:
        return 99
    return len(s.split(".")[1]) if "." in s else 0


def check_ring(ring, where, errors, hand_drawn=True):
    if len(ring) < 4 or ring[0] != ring[-1]:
        errors.append(f"{where}: ring not closed")
        return
    n = len(ring) - 1
    if hand_drawn and not 8 <= n <= 40:
        errors.append(f"{where}: {n} vertices, want 8-40")
    for lon, lat in ring:
        if hand_drawn and (decimals(lon) > MAX_DECIMALS or decimals(lat) > MAX_DECIMALS):
            errors.append(f"{where}: more than {MAX_DECIMALS} decimals in {lon},{lat}")
            break
        if not (-180 <= lon <= 180 and -90 <= lat <= 90):
            errors.append(f"{where}: out of range {lon},{lat}")
            break
    lr = LinearRing(ring)
    if not lr.is_simple:
        errors.append(f"{where}: ring self-intersects")
    if not lr.is_ccw:
        errors.append(f"{where}: exterior ring is not counter-clockwise (RFC 7946)")
    if len(set(map(tuple, ring[:-1]))) != n:
        errors.append(f"{where}: repeated vertex")


def load(path, errors):
    with open(path) as f:
        fc = json.load(f)
    if fc.get("type") != "FeatureCollection":
        errors.append(f"{path}: not a FeatureCollection")
    for key in ("name", "title", "effective_from", "description"):
        if not fc.get(key):
            errors.append(f"{path}: missing foreign member {key!r}")
    zones = {}
    for i, feat in enumerate(fc.get("features", [])):
        fid = feat.get("id")
        props = feat.get("properties") or {}
        where = f"{os.path.basename(path)}#{fid or i}"
        if not fid or props.get("id") != fid:
            errors.append(f"{where}: feature id and properties.id must match")
        for key in ("name", "source"):
            if not props.get(key):
                errors.append(f"{where}: missing properties.{key}")
        geom = feat.get("geometry") or {}
        if geom.get("type") != "Polygon" or len(geom.get("coordinates", [])) != 1:
            errors.append(f"{where}: want a Polygon with one (exterior) ring")
            continue
        ring = geom["coordinates"][0]
        check_ring(ring, where, errors, hand_drawn=not derived(fc, props))
        poly = Polygon(ring)
        if not poly.is_valid:
            errors.append(f"{where}: invalid polygon")
        if fid in zones:
            errors.append(f"{where}: duplicate id")
        zones[fid] = (props.get("name"), poly, ring)
    return fc, zones


def check_pairs(path, zones, errors):
    for (a, (_, pa, _)), (b, (_, pb, _)) in itertools.combinations(zones.items(), 2):
        inter = pa.intersection(pb).area
        if inter != 0:
            errors.append(f"{os.path.basename(path)}: {a} and {b} overlap (area {inter:.3e} deg²)")
        elif pa.touches(pb):
            print(f"  {a} touches {b} (shared edge {pa.boundary.intersection(pb.boundary).length * 1e5:.0f} ~m)")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("files", nargs="*", help="zone-set files (default: geodata/*.geojson)")
    ap.add_argument("--ppb", help="PPB drug-offence CSV to count per zone (sanity check only)")
    args = ap.parse_args()
    files = args.files or sorted(glob.glob(os.path.join(ROOT, "geodata", "*.geojson")))
    to_utm = Transformer.from_crs("EPSG:4326", "EPSG:32610", always_xy=True).transform

    errors = []
    loaded = {}
    for path in files:
        fc, zones = load(path, errors)
        loaded[path] = zones
        print(f"{os.path.basename(path)}: {fc.get('name')} "
              f"[{fc.get('effective_from')} .. {fc.get('effective_to') or 'open'}]")
        for fid, (name, poly, ring) in zones.items():
            km2 = Polygon([to_utm(x, y) for x, y in ring]).area / 1e6
            print(f"  {fid:18} {name:18} {len(ring) - 1:3} vertices  {km2:6.3f} km²")
        check_pairs(path, zones, errors)
        for label, (lon, lat) in LANDMARKS.items():
            pt = Point(lon, lat)
            hit = [fid for fid, (_, poly, _) in zones.items() if poly.contains(pt)]
            print(f"    {label:50} -> {', '.join(hit) or '-'}")

    # A zone id that appears in several files must have identical geometry unless it changed on purpose.
    by_id = {}
    for path, zones in loaded.items():
        for fid, (_, _, ring) in zones.items():
            by_id.setdefault(fid, []).append((path, ring))
    for fid, versions in by_id.items():
        rings = {json.dumps(r) for _, r in versions}
        if len(rings) > 1:
            print(f"  note: zone {fid!r} differs between files: "
                  + ", ".join(os.path.basename(p) for p, _ in versions))

    if args.ppb:
        for path, zones in loaded.items():
            counts, located, labels = Counter(), 0, {}
            with open(args.ppb, newline="") as f:
                for row in csv.DictReader(f):
                    try:
                        pt = Point(float(row["OpenDataLon"]), float(row["OpenDataLat"]))
                    except (KeyError, ValueError):
                        continue
                    located += 1
                    for fid, (_, poly, _) in zones.items():
                        if poly.contains(pt):
                            counts[fid] += 1
                            labels.setdefault(fid, Counter())[row.get("Neighborhood", "")] += 1
                            break
            print(f"{os.path.basename(path)}: {located} located PPB points; "
                  + ", ".join(f"{k} {counts[k]}" for k in zones) + f"; total {sum(counts.values())}")
            for fid in zones:
                top = ", ".join(f"{k} {v}" for k, v in labels.get(fid, Counter()).most_common(4))
                print(f"    {fid:18} labels: {top}")

    for e in errors:
        print("ERROR:", e, file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
