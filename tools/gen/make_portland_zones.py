#!/usr/bin/env python3
"""Derive leadmap's built-in Portland zone sets from the City of Portland's neighbourhood polygons.

Writes geodata/portland-2017.geojson (the LEAD pilot's three High Pedestrian Traffic areas) and
geodata/portland-2018.geojson (those three plus the Central Eastside of the May 2018 expansion).
Both files are made by this script only: change the script and re-run it, never edit them by hand.

Sources (read-only, by default from ../shared/data/portland/ beside the repository):

* neighborhoods-regions-2021.geojson: City of Portland, "Neighborhoods (Regions)", 2021 edition,
  ArcGIS Hub item 9f50a605cf4945259b983fa35c993fe9_125 (98 polygons, CRS84 lon/lat, property NAME).
  The pilot areas are the City's PORTLAND DOWNTOWN, OLD TOWN COMMUNITY ASSOCIATION and LLOYD
  DISTRICT COMMUNITY ASSOCIATION polygons, copied vertex for vertex: the binary64 values parsed from
  the City's file are written back as shortest round-trip decimals (no simplification, no rounding);
  only a ring's direction may be reversed (RFC 7946: exteriors counter-clockwise, holes clockwise).
* ppb-drug-offenses-2015-2021.csv: Portland Police Bureau open crime data. Used ONLY to place the
  SE/NE 12th Ave centreline: the median OpenDataLon/OpenDataLat of each intersection row
  "X / Y" with X or Y = "SE 12TH AVE" or "NE 12TH AVE" (hundred-block rows are not used; the
  geocoder puts intersections on centreline nodes). No address or record is written anywhere.

Central Eastside (2018) = the City's KERNS, BUCKMAN COMMUNITY ASSOCIATION and HOSFORD-ABERNETHY
NEIGHBORHOOD DISTRICT ASSN. polygons joined along their vertex-identical shared edges, cut along the
12th Ave line, the part west of it kept. The line runs north to south through the intersection
medians between I-84 (Kerns' edge with Lloyd) and SE Powell Blvd (Hosford-Abernethy's edge with
Brooklyn); each end is where the straight line between the two intersections either side of that
edge crosses it, moved onto the edge's nearest vertex when that is within SNAP_M metres. Then, with
the ends fixed, points that zig-zag more than ZIGZAG_M metres off the chord between their neighbours
on the line are dropped, worst first (the log says how far each end is from the straight continuation
of the two nearest kept points, as a check on the ends).
The ring is built from the source segments themselves (no GEOS union), so every vertex is a City
vertex or a 12th Ave line vertex and every edge along Downtown, Old Town or Lloyd is vertex-identical
to that zone's edge (leadmap treats an edge as shared only then). Where the north end falls inside an
I-84 segment, the same point is inserted into Lloyd's ring in the 2018 file (not in 2017).

The script checks its output (closed simple rings, orientation, no overlaps above 1 m^2 in UTM 10N,
2017 rings identical to the City's, vertex provenance, shared edges, a GEOS cross-check of the cut)
and stops with exit status 2 if anything is wrong.

Licence: the neighbourhood polygons and the crime data are City of Portland open data, distributed
under the City of Portland Data Distribution Policy, without warranty of positional accuracy.

Usage (from the repository root; needs shapely and pyproj, see tools/requirements.txt):

    python3 tools/gen/make_portland_zones.py            # (re)write geodata/portland-201{7,8}.geojson
    python3 tools/gen/make_portland_zones.py --check    # exit 1 if the committed files differ

Output is deterministic (same bytes on every run).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import statistics
import sys
from collections import Counter
from pathlib import Path

from pyproj import Transformer
from shapely.geometry import LinearRing, LineString, Point, Polygon
from shapely.ops import split, unary_union

REPO_ROOT = Path(__file__).resolve().parent.parent.parent
SHARED = REPO_ROOT / ".." / "shared" / "data" / "portland"
DEFAULT_CITY = SHARED / "neighborhoods-regions-2021.geojson"
DEFAULT_PPB = SHARED / "ppb-drug-offenses-2015-2021.csv"

HUB_ITEM = "9f50a605cf4945259b983fa35c993fe9_125"
CITY_LAYER = f"City of Portland, Neighborhoods (Regions), 2021 edition (ArcGIS Hub item {HUB_ITEM})"
POLICY = "City of Portland Data Distribution Policy, no warranty of positional accuracy"

DOWNTOWN, OLD_TOWN, LLOYD = "PORTLAND DOWNTOWN", "OLD TOWN COMMUNITY ASSOCIATION", "LLOYD DISTRICT COMMUNITY ASSOCIATION"
KERNS, BUCKMAN, HAND = "KERNS", "BUCKMAN COMMUNITY ASSOCIATION", "HOSFORD-ABERNETHY NEIGHBORHOOD DISTRICT ASSN."
BROOKLYN = "BROOKLYN ACTION CORPS"
PILOT = [("downtown", "Downtown", DOWNTOWN), ("old-town", "Old Town", OLD_TOWN), ("lloyd", "Lloyd District", LLOYD)]
EASTSIDE = [KERNS, BUCKMAN, HAND]
TWELFTH = {"SE 12TH AVE", "NE 12TH AVE"}

SNAP_M = 15.0  # a line end this close to a vertex of its edge is moved onto that vertex
ZIGZAG_M = 10.0  # a 12th Ave point further than this off the chord between its neighbours is dropped
OVERLAP_M2 = 1.0  # largest tolerated intersection area between two zones
ALONG_M = 1.0  # an edge whose midpoint is this close to another zone's boundary lies along it

URL_2017 = ("https://multco.us/multnomah-county/gallery/"
            "new-multnomah-county-program-aims-divert-low-level-drug-offenders-services")
URL_FAQ = "https://www.multco.us/law-enforcement-assisted-diversion/frequently-asked-questions"
URL_2018 = ("https://www.multco.us/multnomah-county/news/"
            "multnomah-county-public-safety-partners-announce-expansion-law-enforcement")

TO_UTM = Transformer.from_crs("EPSG:4326", "EPSG:32610", always_xy=True).transform


class Invalid(Exception):
    """The data or the result breaks an assumption: stop, write nothing."""


def require(cond: bool, msg: str) -> None:
    if not cond:
        raise Invalid(msg)


# --------------------------------------------------------------------------------------------------
# small geometry helpers (rings are lists of (lon, lat) tuples WITHOUT the closing repeat)


def signed_area(ring):
    return sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in zip(ring, ring[1:] + ring[:1])) / 2


def oriented(ring, ccw: bool):
    """ring (open) in the wanted direction; a reversed ring keeps its first vertex."""
    return list(ring) if (signed_area(ring) > 0) == ccw else [ring[0]] + list(reversed(ring[1:]))


def closed(ring):
    return [list(p) for p in ring] + [list(ring[0])]


def segments(ring):
    return list(zip(ring, ring[1:] + ring[:1]))


def key(a, b):
    return (a, b) if a <= b else (b, a)


def utm(p):
    return TO_UTM(p[0], p[1])


def metres(p, q):
    (x0, y0), (x1, y1) = utm(p), utm(q)
    return math.hypot(x1 - x0, y1 - y0)


def off_chord_m(p, a, b):
    """Metres from p to the segment a-b (in UTM 10N)."""
    return LineString([utm(a), utm(b)]).distance(Point(utm(p)))


def utm_polygon(ring):
    return Polygon([utm(p) for p in ring])


def crossing(p, q, a, b):
    """Where segment p-q crosses segment a-b in the lon/lat plane, or None. The point is computed on
    a-b's own parametrisation (a + u (b - a)), so it sits on that edge as closely as binary64 allows."""
    rx, ry = q[0] - p[0], q[1] - p[1]
    sx, sy = b[0] - a[0], b[1] - a[1]
    d = rx * sy - ry * sx
    if d == 0:
        return None
    apx, apy = a[0] - p[0], a[1] - p[1]
    t = (apx * sy - apy * sx) / d
    u = (apx * ry - apy * rx) / d
    if not (0 <= t <= 1 and 0 <= u <= 1):
        return None
    return (a[0] + u * sx, a[1] + u * sy), u


# --------------------------------------------------------------------------------------------------
# inputs


def load_city(path: Path):
    with open(path, encoding="utf-8") as f:
        fc = json.load(f)
    feats = {}
    for feat in fc["features"]:
        name = feat["properties"]["NAME"]
        require(name not in feats, f"{path}: NAME {name!r} appears twice")
        feats[name] = feat
    out = {}
    for name in [n for *_, n in PILOT] + EASTSIDE + [BROOKLYN]:
        require(name in feats, f"{path}: no feature with NAME = {name!r}")
        geom = feats[name]["geometry"]
        require(geom["type"] == "Polygon", f"{name}: {geom['type']}, want Polygon")
        rings = []
        for i, ring in enumerate(geom["coordinates"]):
            pts = [tuple(p) for p in ring]
            require(len(pts) >= 4 and pts[0] == pts[-1], f"{name}: ring {i} not closed")
            require(all(isinstance(v, float) for p in pts for v in p) and all(len(p) == 2 for p in pts),
                    f"{name}: ring {i} has a non-float or non-2D position")
            rings.append(oriented(pts[:-1], ccw=(i == 0)))
        out[name] = {"objectid": feats[name]["properties"]["OBJECTID"], "rings": rings,
                     "raw": [[tuple(p) for p in r] for r in geom["coordinates"]]}
    return out


def load_twelfth(path: Path):
    """Median geocode per 12th Ave intersection: {label: (lon, lat, rows)}."""
    pts = {}
    with open(path, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            addr = row["Address"].strip()
            if "BLOCK OF" in addr:
                continue
            parts = [s.strip() for s in addr.split(" / ")]
            if len(parts) != 2 or not TWELFTH & set(parts):
                continue
            if not row["OpenDataLon"] or not row["OpenDataLat"]:
                continue
            label = " / ".join(sorted(parts))
            pts.setdefault(label, []).append((float(row["OpenDataLon"]), float(row["OpenDataLat"])))
    require(pts, f"{path}: no SE/NE 12th Ave intersection rows")
    return {label: (statistics.median(x for x, _ in v), statistics.median(y for _, y in v), len(v))
            for label, v in sorted(pts.items())}


# --------------------------------------------------------------------------------------------------
# the Central Eastside


def shared_chain(ring, other_ring):
    """Segments of `ring` (in its order) that are vertex-identical segments of `other_ring`."""
    theirs = {key(a, b) for a, b in segments(other_ring)}
    return [(a, b) for a, b in segments(ring) if key(a, b) in theirs]


def join_rings(rings, names):
    """Outer boundary of polygons that tile each other along vertex-identical edges, as one CCW ring.
    Fails if a shared edge is not vertex-identical (it would show up as a pinch or a second ring)."""
    count = Counter(key(a, b) for r in rings for a, b in segments(r))
    require(max(count.values()) <= 2, f"{names}: an edge is used by three rings")
    nxt = {}
    for r in rings:
        for a, b in segments(r):
            if count[key(a, b)] == 1:
                require(a not in nxt, f"{names}: the joined boundary touches itself at {a}")
                nxt[a] = b
    start = min(nxt)
    ring, p = [start], nxt[start]
    while p != start:
        ring.append(p)
        p = nxt[p]
        require(len(ring) <= len(nxt), f"{names}: boundary does not close")
    require(len(ring) == len(nxt), f"{names}: the joined boundary is more than one ring "
                                   "(a shared edge that is not vertex-identical, or a hole)")
    require(signed_area(ring) > 0, f"{names}: joined ring is not counter-clockwise")
    return ring


def end_point(label, inside, outside, chain, union_ring, log):
    """Where the straight line inside-outside crosses `chain` (a list of segments), snapped onto a
    vertex of the chain within SNAP_M metres. Returns (point, segment or None if a vertex)."""
    hits = [(c, (a, b)) for a, b in chain if (c := crossing(inside, outside, a, b))]
    require(len(hits) == 1, f"{label}: the line crosses the edge {len(hits)} times, want 1")
    ((pt, _u), seg), = hits
    others = [c for a, b in segments(union_ring) if key(a, b) != key(*seg)
              if (c := crossing(inside, outside, a, b)) and metres(c[0], pt) > 1e-6]
    require(not others, f"{label}: the line crosses the joined boundary elsewhere too")
    verts = sorted({v for s in chain for v in s})
    near = min(verts, key=lambda v: (metres(pt, v), v))
    d = metres(pt, near)
    if d <= SNAP_M:
        log.append(f"{label}: crossing ({pt[0]!r}, {pt[1]!r}) snapped {d:.1f} m to the City's vertex "
                   f"({near[0]!r}, {near[1]!r})")
        return near, None
    log.append(f"{label}: crossing ({pt[0]!r}, {pt[1]!r}) kept, inside segment {seg[0]} - {seg[1]}; "
               f"nearest vertex {d:.1f} m away")
    return pt, seg


def twelfth_line(geocodes, union_ring, union_poly, i84, powell, log):
    """The 12th Ave line north to south, [((lon, lat), label), ...], and the I-84 and Powell segments
    its ends lie inside (None where an end was snapped onto a City vertex).

    The ends are placed first, from the intersections either side of each edge; the zig-zag filter
    then runs over the points between them with the ends fixed. (Placing the ends after the filter
    would let a point far beyond an edge decide the end: south of Powell the next 12th Ave
    intersection is ~900 m away on Brooklyn's offset grid.)"""
    pts = sorted(geocodes.items(), key=lambda kv: (-kv[1][1], kv[0]))
    inside = [Point(v[0], v[1]).within(union_poly) for _, v in pts]
    idx = [i for i, ok in enumerate(inside) if ok]
    require(idx, "no 12th Ave intersection between I-84 and SE Powell")
    require(idx == list(range(idx[0], idx[-1] + 1)), "12th Ave intersections in the area are not contiguous N-S")
    require(idx[0] > 0 and idx[-1] < len(pts) - 1, "need a 12th Ave intersection north of I-84 and one south of Powell")
    for label, (lon, lat, n) in pts:
        log.append(f"  geocode {label:34} ({lon!r}, {lat!r})  rows {n}")
    xy = lambda i: (pts[i][1][0], pts[i][1][1])  # noqa: E731
    n_in, n_out = xy(idx[0]), xy(idx[0] - 1)
    s_in, s_out = xy(idx[-1]), xy(idx[-1] + 1)
    log.append(f"north end from {pts[idx[0] - 1][0]} -> {pts[idx[0]][0]}")
    north, north_seg = end_point("I-84 end", n_out, n_in, i84, union_ring, log)
    log.append(f"south end from {pts[idx[-1]][0]} -> {pts[idx[-1] + 1][0]}")
    south, south_seg = end_point("Powell end", s_in, s_out, powell, union_ring, log)

    line = [(north, "I-84 end")] + [(xy(i), pts[i][0]) for i in idx] + [(south, "Powell end")]
    while True:
        devs = [(off_chord_m(line[i][0], line[i - 1][0], line[i + 1][0]), i) for i in range(1, len(line) - 1)]
        if not devs:
            break
        worst, i = max(devs)
        if worst <= ZIGZAG_M:
            break
        log.append(f"dropped {line[i][1]}: {worst:.1f} m off the chord {line[i - 1][1]} - {line[i + 1][1]}")
        del line[i]
    for i in range(1, len(line) - 1):
        log.append(f"  kept {line[i][1]:34} {off_chord_m(line[i][0], line[i - 1][0], line[i + 1][0]):4.1f} m off its chord")
    # How far each end is from the straight continuation of the two nearest kept points (information).
    for end, a, b, label in ((line[0][0], line[2][0], line[1][0], "I-84 end"),
                             (line[-1][0], line[-3][0], line[-2][0], "Powell end")):
        (ax, ay), (bx, by), (ex, ey) = utm(a), utm(b), utm(end)
        dx, dy = bx - ax, by - ay
        side = abs((ex - ax) * dy - (ey - ay) * dx) / math.hypot(dx, dy)
        log.append(f"{label} is {side:.1f} m off the straight continuation of the two nearest kept points")
    return line, north_seg, south_seg


def cut_west(union_ring, line, north_seg, south_seg):
    """The part of union_ring west of the N->S line: the boundary walked counter-clockwise from one
    line end to the other, closed by the line. Each end is a ring vertex (seg None) or lies inside
    the ring segment seg. Of the two pieces, the one with the smaller mean longitude is kept."""
    n = len(union_ring)
    segs = segments(union_ring)

    def locate(p, seg):
        if seg is None:
            require(p in union_ring, f"line end {p} is not a vertex of the joined boundary")
            return union_ring.index(p), True
        found = [i for i, s in enumerate(segs) if key(*s) == key(*seg)]
        require(len(found) == 1, f"line end {p}: its segment is not on the joined boundary")
        return found[0], False

    ends = {line[0][0]: locate(line[0][0], north_seg), line[-1][0]: locate(line[-1][0], south_seg)}
    inner = [p for p, _ in line[1:-1]]
    pieces = []
    for first, last, back in ((line[0][0], line[-1][0], inner[::-1]), (line[-1][0], line[0][0], inner)):
        i, _ = ends[first]
        j, last_is_vertex = ends[last]
        walk, k = [first], (i + 1) % n
        while True:
            if last_is_vertex and k == j:
                break
            walk.append(union_ring[k])
            if not last_is_vertex and k == j:
                break
            k = (k + 1) % n
            require(len(walk) <= n + 1, "walk along the joined boundary does not reach the other end")
        walk.append(last)
        pieces.append(walk + back)
    pieces.sort(key=lambda r: sum(x for x, _ in r) / len(r))
    return pieces[0]


# --------------------------------------------------------------------------------------------------
# output


def dumps(o, level=0):
    pad = "  " * level
    if isinstance(o, dict):
        items = [f'{pad}  {json.dumps(k)}: {dumps(v, level + 1)}' for k, v in o.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(o, list):
        if o and all(isinstance(v, (int, float)) for v in o):
            return json.dumps(o)
        if not o:
            return "[]"
        return "[\n" + ",\n".join(pad + "  " + dumps(v, level + 1) for v in o) + "\n" + pad + "]"
    return json.dumps(o)


def feature(zid, name, source, rings):
    return {
        "type": "Feature",
        "id": zid,
        "properties": {"id": zid, "name": name, "source": source},
        "geometry": {"type": "Polygon", "coordinates": [closed(r) for r in rings]},
    }


def official_source(name, objectid, extra=""):
    return (f"{CITY_LAYER}, feature NAME = '{name}' (OBJECTID {objectid}); official boundary, copied vertex "
            f"for vertex{extra}; {POLICY}.")


# --------------------------------------------------------------------------------------------------
# checks on the result


def check_set(label, zones, log):
    """zones: [(id, rings)]. Closed simple rings, orientation, validity, no overlaps."""
    polys = {}
    for zid, rings in zones:
        for i, r in enumerate(rings):
            c = closed(r)
            require(c[0] == c[-1] and len(r) >= 3, f"{label}/{zid}: ring {i} not closed")
            require(len(set(r)) == len(r), f"{label}/{zid}: ring {i} repeats a vertex")
            require(LinearRing(r).is_simple, f"{label}/{zid}: ring {i} is not simple")
            require((signed_area(r) > 0) == (i == 0), f"{label}/{zid}: ring {i} has the wrong orientation")
        poly = Polygon(rings[0], rings[1:])
        require(poly.is_valid, f"{label}/{zid}: invalid polygon")
        polys[zid] = poly
    ids = [z for z, _ in zones]
    for a in range(len(ids)):
        for b in range(a + 1, len(ids)):
            ra, rb = dict(zones)[ids[a]], dict(zones)[ids[b]]
            area = utm_polygon(ra[0]).intersection(utm_polygon(rb[0])).area
            require(area < OVERLAP_M2, f"{label}: {ids[a]} and {ids[b]} overlap by {area:.3f} m^2")
    for zid, rings in zones:
        km2 = utm_polygon(rings[0]).area / 1e6 - sum(utm_polygon(h).area for h in rings[1:]) / 1e6
        log.append(f"{label}: {zid:17} {len(rings[0]):3} vertices  {km2:.4f} km^2")
    return polys


def check_shared_edges(ce_ring, others, log):
    """Every edge of Central Eastside along another zone is a vertex-identical edge of it, and back."""
    ce_keys = {key(a, b) for a, b in segments(ce_ring)}
    ce_line = LineString([utm(p) for p in ce_ring + ce_ring[:1]])
    for zid, ring in others:
        z_keys = {key(a, b) for a, b in segments(ring)}
        z_line = LineString([utm(p) for p in ring + ring[:1]])
        shared = []
        for edges, boundary, own, what in ((segments(ce_ring), z_line, z_keys, f"central-eastside edge along {zid}"),
                                           (segments(ring), ce_line, ce_keys, f"{zid} edge along central-eastside")):
            shared.append(0)
            for a, b in edges:
                seg = LineString([utm(a), utm(b)])
                mid = seg.interpolate(0.5, normalized=True)
                along = boundary.distance(mid) < ALONG_M or seg.intersection(boundary).length > 0
                if along:
                    require(key(a, b) in own, f"{what} is not vertex-identical: {a} - {b}")
                    shared[-1] += 1
        require(shared[0] == shared[1], f"central-eastside / {zid}: shared edges counted differently on the two sides")
        log.append(f"shared edges central-eastside / {zid}: {shared[0]} (vertex-identical both ways)")


# --------------------------------------------------------------------------------------------------


def build(city_path: Path, ppb_path: Path, log: list[str]):
    city = load_city(city_path)
    ring = {name: city[name]["rings"][0] for name in city}
    for name in [n for *_, n in PILOT] + EASTSIDE:
        require(len(city[name]["rings"]) == 1, f"{name}: has holes; the ring builder handles exteriors only")

    # Assumptions about the edges, checked on the data.
    i84 = shared_chain(ring[KERNS], ring[LLOYD])
    powell = shared_chain(ring[HAND], ring[BROOKLYN])
    require(i84, "Kerns and Lloyd share no vertex-identical edge (I-84)")
    require(powell, "Hosford-Abernethy and Brooklyn share no vertex-identical edge (SE Powell)")
    for a_name in EASTSIDE:
        for b_name in EASTSIDE:
            if a_name < b_name:
                ka = {key(*s) for s in segments(ring[a_name])}
                kb = {key(*s) for s in segments(ring[b_name])}
                inter = Polygon(ring[a_name]).intersection(Polygon(ring[b_name]))
                require(inter.area < 1e-14, f"{a_name} and {b_name} overlap")
                log.append(f"{a_name} / {b_name}: {len(ka & kb)} vertex-identical shared segments")

    union_ring = join_rings([ring[n] for n in EASTSIDE], "Kerns+Buckman+Hosford-Abernethy")
    union_poly = Polygon(union_ring)
    geos_union = unary_union([Polygon(ring[n]) for n in EASTSIDE])
    require(utm_polygon(union_ring).symmetric_difference(
        Polygon([utm(p) for p in geos_union.exterior.coords])).area < OVERLAP_M2,
        "joined ring differs from the GEOS union")

    geocodes = load_twelfth(ppb_path)
    line, north_seg, south_seg = twelfth_line(geocodes, union_ring, union_poly, i84, powell, log)
    ce = cut_west(union_ring, line, north_seg, south_seg)
    require(signed_area(ce) > 0, "Central Eastside ring is not counter-clockwise")

    # Which City neighbours the Central Eastside's outer edges face (assumption check, for the report).
    whole = json.load(open(city_path, encoding="utf-8"))
    seg_owner = {}
    for feat in whole["features"]:
        g = feat["geometry"]
        polys = [g["coordinates"]] if g["type"] == "Polygon" else g["coordinates"]
        for p in polys:
            for r in p:
                pts = [tuple(v) for v in r]
                for a, b in zip(pts, pts[1:]):
                    seg_owner.setdefault(key(a, b), []).append(feat["properties"]["NAME"])
    line_pts = {p for p, _ in line}
    runs = []
    for a, b in segments(ce):
        k = key(a, b)
        if a in line_pts and b in line_pts:
            what = "12th Ave line"
        elif k in seg_owner:
            what = " + ".join(sorted(set(seg_owner[k]) - set(EASTSIDE))) or "(no neighbour)"
        else:
            what = "part of a City segment (cut at a line end)"
        if not runs or runs[-1][0] != what:
            runs.append([what, 0])
        runs[-1][1] += 1
    log.append("Central Eastside boundary, counter-clockwise from the I-84 end: "
               + "; ".join(f"{w} ({n} edges)" for w, n in runs))

    # Lloyd for 2018: the north end inserted into its I-84 segment when it is not a City vertex.
    lloyd18 = list(ring[LLOYD])
    north = line[0][0]
    if north_seg is not None:
        a, b = north_seg
        pos = [i for i, (p, q) in enumerate(segments(lloyd18)) if key(p, q) == key(a, b)]
        require(len(pos) == 1, "the I-84 segment of the north end is not a Lloyd segment")
        lloyd18.insert(pos[0] + 1, north)
        # measured in the lon/lat plane, where leadmap's edges are straight (a UTM chord sags ~0.2 mm)
        m_per_deg = 111_320.0
        off = LineString([a, b]).distance(Point(north)) * m_per_deg
        moved = Polygon(lloyd18).symmetric_difference(Polygon(ring[LLOYD])).area * m_per_deg ** 2
        require(off < 1e-6 and moved < 1e-6, f"Lloyd's extra vertex moves its boundary ({off} m, {moved} m^2)")
        log.append(f"inserted ({north[0]!r}, {north[1]!r}) into Lloyd's 2018 ring between {a} and {b} "
                   f"({off:.1e} m off the City's segment, area change {moved:.1e} m^2)")

    # Provenance of every Central Eastside vertex.
    source_vertices = {v for n in EASTSIDE for v in ring[n]}
    for v in ce:
        require(v in source_vertices or v in line_pts, f"Central Eastside vertex {v} is neither the City's nor the line's")

    # GEOS cross-check: the union split by the (extended) line, west piece, same area.
    def beyond(p, q, d=0.002):
        """p moved d degrees further along the direction q -> p."""
        dx, dy = p[0] - q[0], p[1] - q[1]
        h = math.hypot(dx, dy)
        return (p[0] + dx / h * d, p[1] + dy / h * d)

    ext = [beyond(line[0][0], line[1][0])] + [p for p, _ in line] + [beyond(line[-1][0], line[-2][0])]
    pieces = sorted(split(geos_union, LineString(ext)).geoms, key=lambda g: g.centroid.x)
    diff = utm_polygon(ce).symmetric_difference(Polygon([utm(p) for p in pieces[0].exterior.coords])).area
    require(diff < OVERLAP_M2, f"Central Eastside differs from GEOS's split by {diff:.3f} m^2")
    log.append(f"GEOS cross-check: union split by the line, west piece differs by {diff:.2e} m^2")

    check_shared_edges(ce, [("downtown", ring[DOWNTOWN]), ("old-town", ring[OLD_TOWN]), ("lloyd", lloyd18)], log)

    # 2017: the City's polygons exactly.
    for zid, _, name in PILOT:
        ours = city[name]["rings"]
        raw = city[name]["raw"]
        require(Polygon(ours[0], ours[1:]).equals(Polygon(raw[0], raw[1:])), f"{zid}: not equal to the City's polygon")
        for o, r in zip(ours, raw):
            c = [tuple(p) for p in closed(o)]
            require(c == r or c == r[::-1], f"{zid}: vertices differ from the City's")

    sets = {}
    f17 = [feature(zid, zname, official_source(name, city[name]["objectid"]), city[name]["rings"])
           for zid, zname, name in PILOT]
    set17 = [(zid, city[name]["rings"]) for zid, _, name in PILOT]
    check_set("2017", set17, log)

    extra = ""
    if north_seg is not None:
        extra = (f", plus one vertex at ({north[0]!r}, {north[1]!r}) on its I-84 edge where the 2018 expansion "
                 "meets it, which moves no edge")
    rings18 = {"downtown": city[DOWNTOWN]["rings"], "old-town": city[OLD_TOWN]["rings"], "lloyd": [lloyd18]}
    f18 = [feature(zid, zname, official_source(name, city[name]["objectid"], extra if zid == "lloyd" else ""),
                   rings18[zid]) for zid, zname, name in PILOT]
    ce_source = (
        "Drawn by the leadmap developers from the County's description of the May 2018 expansion (east to SE/NE "
        "12th Ave, north to I-84, south to SE Powell Blvd): the City's Kerns, Buckman and Hosford-Abernethy "
        "polygons (Neighborhoods (Regions), 2021 edition) west of the SE/NE 12th Ave centreline, whose position is "
        "the median geocode of the Police Bureau's 12th Ave intersections (open crime data 2015-2021); the I-84, "
        "SE Powell and Willamette edges are the City's; an approximation of the County's area, accurate to "
        "roughly 10-20 m along 12th Ave.")
    f18.append(feature("central-eastside", "Central Eastside", ce_source, [ce]))
    set18 = [(zid, rings18[zid]) for zid, *_ in PILOT] + [("central-eastside", [ce])]
    check_set("2018", set18, log)

    log.append("12th Ave line, north to south:")
    for p, label in line:
        log.append(f"  ({p[0]!r}, {p[1]!r})  {label}")

    sets["portland-2017.geojson"] = {
        "type": "FeatureCollection",
        "name": "portland-lead-2017",
        "title": "Portland LEAD pilot areas (2017)",
        "status": "official",
        "time_zone": "America/Los_Angeles",
        "effective_from": "2017-02-27",
        "effective_to": "2018-05-15",
        "effective_from_reason": (
            "The pilot launched on 27 February 2017 (Multnomah County, 'New Multnomah County program aims to "
            f"divert low-level drug offenders to services', {URL_2017}; LEAD FAQ {URL_FAQ})."),
        "effective_to_reason": (
            f"The day before the expansion: the County announced the May 2018 expansion on 16 May 2018 ({URL_2018}); "
            "the announcement is the only dated source, so the 2018 areas apply from that day."),
        "description": (
            "Portland/Multnomah County LEAD pilot areas, the 'High Pedestrian Traffic areas' Downtown, Old Town and "
            "the Lloyd District: the City of Portland's official neighbourhood polygons PORTLAND DOWNTOWN, OLD TOWN "
            "COMMUNITY ASSOCIATION and LLOYD DISTRICT COMMUNITY ASSOCIATION, copied vertex for vertex (no "
            f"simplification, no rounding) from {CITY_LAYER}; the 2021 edition is the one used, the pilot dates from "
            f"2017. {POLICY}. Made by tools/gen/make_portland_zones.py from the City's file: do not edit by hand, "
            "change the script and re-run it."),
        "features": f17,
    }
    lloyd_note = (" Lloyd has one extra vertex on its I-84 edge, where the Central Eastside's 12th Ave line meets "
                  "it, so that the two zones share that edge vertex for vertex; it moves no edge."
                  if north_seg is not None else "")
    sets["portland-2018.geojson"] = {
        "type": "FeatureCollection",
        "name": "portland-lead-2018",
        "title": "Portland LEAD areas after the May 2018 expansion",
        "status": "approximation",
        "time_zone": "America/Los_Angeles",
        "effective_from": "2018-05-16",
        "effective_to": "2021-06-30",
        "effective_from_reason": (
            f"The County announced the expansion on 16 May 2018 ({URL_2018}): the LEAD area now reaches east to "
            "SE/NE 12th Ave, north to I-84 and south to SE Powell Blvd. The announcement is the only dated source, "
            "so the 2018 areas apply from that day."),
        "effective_to_reason": (
            f"The pilot became PATH under County Behavioral Health on 1 July 2021 ({URL_FAQ}); leadmap has no "
            "boundaries for PATH, so no LEAD area is in force after 30 June 2021."),
        "description": (
            "Portland/Multnomah County LEAD areas after the May 2018 expansion (east to SE/NE 12th Ave, north to "
            f"I-84, south to SE Powell Blvd; {URL_2018}): the three pilot areas Downtown, Old Town and the Lloyd "
            "District, which are the City of Portland's official neighbourhood polygons copied vertex for vertex "
            f"from {CITY_LAYER}, plus the Central Eastside.{lloyd_note} The Central Eastside is our own drawing "
            "along street centrelines: the City's Kerns, Buckman and Hosford-Abernethy polygons west of the SE/NE "
            "12th Ave centreline, whose I-84, SE Powell Blvd and Willamette edges are the City's; so the set as a "
            "whole is an approximation. The 12th Ave line runs through the median geocodes of the SE/NE 12th Ave "
            "intersections in the Portland Police Bureau's open crime data 2015-2021 (City of Portland open data; "
            f"only the intersection positions are used). {POLICY}. Made by tools/gen/make_portland_zones.py: do not "
            "edit by hand, change the script and re-run it."),
        "features": f18,
    }
    return {name: dumps(doc) + "\n" for name, doc in sets.items()}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="\n\n".join(__doc__.split("\n\n")[1:]))
    ap.add_argument("--city", type=Path, default=DEFAULT_CITY, help="City neighbourhoods GeoJSON (default: %(default)s)")
    ap.add_argument("--ppb", type=Path, default=DEFAULT_PPB, help="PPB offences CSV (default: %(default)s)")
    ap.add_argument("--out-dir", type=Path, default=REPO_ROOT / "geodata", help="where to write (default: %(default)s)")
    ap.add_argument("--check", action="store_true", help="write nothing; exit 1 if the files in --out-dir differ")
    ap.add_argument("-q", "--quiet", action="store_true", help="print only errors and differences")
    args = ap.parse_args()

    log: list[str] = []
    try:
        files = build(args.city, args.ppb, log)
    except Invalid as e:
        print("\n".join(log), file=sys.stderr)
        print(f"error: {e}", file=sys.stderr)
        return 2
    if not args.quiet:
        print("\n".join(log))
    differ = 0
    for name, text in files.items():
        path = args.out_dir / name
        if args.check:
            old = path.read_bytes() if path.exists() else None
            if old != text.encode("utf-8"):
                print(f"{path}: differs from what tools/gen/make_portland_zones.py makes", file=sys.stderr)
                differ += 1
            elif not args.quiet:
                print(f"{path}: up to date")
        else:
            path.write_bytes(text.encode("utf-8"))
            if not args.quiet:
                print(f"wrote {path} ({len(text)} bytes)")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
