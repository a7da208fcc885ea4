#!/usr/bin/env python3
"""Generate a differential-test reference for leadmap from a zone-set file, using shapely (GEOS).

Points (numpy default_rng(seed)), grouped by `kind` in this order:
  uniform  40%  uniform in the zones' bbox expanded by 20% of its width/height on EACH side
  vertex   20%  exactly at a zone vertex (distinct vertices, chosen with replacement)
  edge     20%  exactly on an edge: any point of an axis-aligned edge, else a dyadic fraction
                a + k/2^m (b - a) that is exactly representable (checked with fractions)
  edge-approx   (part of the 20%) an edge with no exact point found: a + t (b - a) rounded to
                binary64, so it is within ~1 ulp of the edge and may fall on either side
  near     20%  a uniform perpendicular offset in [-30, 30] m from a random point of a random
                edge (edges weighted by length)

Per point:
  zone         id of the zone that COVERS the point (edge/vertex counts as inside); if several do,
               the id that sorts first byte-wise; null if none
  on_boundary  whether the point lies on the boundary (exterior or hole ring) of any zone
  distance_m   distance in metres to the nearest zone boundary over ALL zones (0 when on a
               boundary): boundaries are densified to <= ~4.5 m segments in lon/lat (edges are
               straight in lon/lat), projected to +proj=aeqd centred on the point (WGS84), then
               shapely.distance to the origin
  nearest_zone for points with zone == null, the id of the zone whose boundary is nearest (ties
               within 1e-9 m -> the id that sorts first); null for points inside a zone
  kind         which generator produced the point (see above)

All predicates are GEOS's exact (robust) ones on the binary64 inputs. Floats are written with
Python's shortest round-trip repr, so a correctly rounded parser gets back the exact same doubles
(serde_json needs its `float_roundtrip` feature for that).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
import pyproj
import shapely
from shapely import Point

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tools/: the shared loader
import zoneio  # noqa: E402

DENSIFY_DEG = 4.0e-5  # <= 4.0e-5 deg in lon/lat space is <= ~4.5 m anywhere on Earth
TIE_M = 1e-9


def exact_edge_point(rng: np.random.Generator, a, b, tries: int = 24):
    """A binary64 point exactly on segment a-b (strictly between the ends), or None."""
    (ax, ay), (bx, by) = a, b
    if ax == bx:  # vertical: any latitude between the ends is exactly on it
        lo, hi = sorted((ay, by))
        y = rng.uniform(lo, hi)
        return (ax, y) if lo < y < hi else None
    if ay == by:
        lo, hi = sorted((ax, bx))
        x = rng.uniform(lo, hi)
        return (x, ay) if lo < x < hi else None
    fa = (Fraction(ax), Fraction(ay))
    d = (Fraction(bx) - fa[0], Fraction(by) - fa[1])
    for _ in range(tries):
        m = int(rng.integers(1, 13))
        k = int(rng.integers(0, 2 ** (m - 1))) * 2 + 1  # odd k: a new point at each level
        t = Fraction(k, 2**m)
        px, py = fa[0] + t * d[0], fa[1] + t * d[1]
        fx, fy = float(px), float(py)
        if fx == px and fy == py:
            return (fx, fy)
    return None


def generate_points(rng: np.random.Generator, zones, n: int):
    n_uniform = round(n * 0.4)
    n_vertex = round(n * 0.2)
    n_edge = round(n * 0.2)
    n_near = n - n_uniform - n_vertex - n_edge
    pts: list[tuple[float, float, str]] = []

    minx, miny, maxx, maxy = zoneio.zone_bounds(zones)
    w, h = maxx - minx, maxy - miny
    xs = rng.uniform(minx - 0.2 * w, maxx + 0.2 * w, n_uniform)
    ys = rng.uniform(miny - 0.2 * h, maxy + 0.2 * h, n_uniform)
    pts += [(float(x), float(y), "uniform") for x, y in zip(xs, ys)]

    verts = zoneio.zone_vertices(zones)
    for i in rng.integers(0, len(verts), n_vertex):
        pts.append((float(verts[i, 0]), float(verts[i, 1]), "vertex"))

    edges = zoneio.zone_edges(zones)
    for i in rng.integers(0, len(edges), n_edge):
        a = (float(edges[i, 0]), float(edges[i, 1]))
        b = (float(edges[i, 2]), float(edges[i, 3]))
        p = exact_edge_point(rng, a, b)
        if p is not None:
            pts.append((float(p[0]), float(p[1]), "edge"))
        else:
            t = float(rng.uniform(0.25, 0.75))
            pts.append((a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1]), "edge-approx"))

    xs, ys = zoneio.near_edge_points(rng, edges, n_near, 30.0)
    pts += [(float(x), float(y), "near") for x, y in zip(xs, ys)]
    return pts


def boundary_distances(zones, pts, progress: bool):
    """(n, nzones) distances in metres from each point to each zone's boundary."""
    dense = {
        zid: shapely.segmentize(g.boundary, DENSIFY_DEG) for zid, g in zones.items()
    }
    geod_crs = pyproj.CRS.from_epsg(4326)
    out = np.empty((len(pts), len(zones)))
    origin = Point(0.0, 0.0)
    t0 = time.monotonic()
    for i, (x, y, _) in enumerate(pts):
        aeqd = pyproj.CRS.from_proj4(f"+proj=aeqd +lat_0={y!r} +lon_0={x!r} +datum=WGS84 +units=m")
        tr = pyproj.Transformer.from_crs(geod_crs, aeqd, always_xy=True)
        for j, g in enumerate(dense.values()):
            proj = shapely.transform(g, lambda c: np.column_stack(tr.transform(c[:, 0], c[:, 1])))
            out[i, j] = shapely.distance(proj, origin)
        if progress and (i + 1) % 250 == 0:
            print(f"  distances {i + 1}/{len(pts)} ({time.monotonic() - t0:.0f} s)", file=sys.stderr)
    return out


def build_reference(zones, n: int, seed: int, progress: bool = True):
    rng = np.random.default_rng(seed)
    pts = generate_points(rng, zones, n)
    ids = list(zones)
    geoms = list(zones.values())
    for g in geoms:
        shapely.prepare(g)
    xs = np.array([p[0] for p in pts])
    ys = np.array([p[1] for p in pts])
    points = shapely.points(xs, ys)

    covers = np.column_stack([shapely.covers(g, points) for g in geoms])
    contains = np.column_stack([shapely.contains(g, points) for g in geoms])
    on_b = np.column_stack([shapely.intersects(g.boundary, points) for g in geoms])
    # self-check: for a point, "on the boundary" is exactly "covered but not contained"
    if not np.array_equal(on_b, covers & ~contains):
        bad = np.flatnonzero((on_b != (covers & ~contains)).any(axis=1))
        raise RuntimeError(f"GEOS predicates disagree for points {bad[:10].tolist()}")
    on_boundary = on_b.any(axis=1)

    dist = boundary_distances(zones, pts, progress)
    out = []
    for i, (x, y, kind) in enumerate(pts):
        hit = np.flatnonzero(covers[i])
        zone = ids[hit[0]] if len(hit) else None  # ids are sorted: first hit = lowest id
        d = dist[i]
        if on_boundary[i]:
            dmin = 0.0
        else:
            dmin = float(d.min())
        nearest = None
        if zone is None:
            nearest = ids[int(np.flatnonzero(d <= d.min() + TIE_M)[0])]
        out.append(
            {
                "lon": x,
                "lat": y,
                "zone": zone,
                "on_boundary": bool(on_boundary[i]),
                "distance_m": dmin,
                "nearest_zone": nearest,
                "kind": kind,
            }
        )
    return out


def write_reference(path: Path, header: dict, points: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    head = json.dumps(header, indent=1)
    assert head.endswith("\n}")
    lines = ",\n".join(json.dumps(p, separators=(",", ":")) for p in points)
    path.write_text(head[:-2] + ',\n "points": [\n' + lines + "\n ]\n}\n")


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("zones", help="zone-set GeoJSON (leadmap format, or any with --zone-field)")
    ap.add_argument("-o", "--output", required=True, help="output JSON path")
    ap.add_argument("--n", type=int, default=2000, help="number of points (default 2000)")
    ap.add_argument("--seed", type=int, default=1, help="numpy default_rng seed (default 1)")
    zoneio.add_zone_args(ap)
    ap.add_argument("--quiet", action="store_true", help="no progress on stderr")
    args = ap.parse_args()
    if args.n < 1:
        zoneio.die("--n must be positive")

    try:
        select = zoneio.parse_select(args.select)
        zones = zoneio.load_zones(args.zones, args.zone_field, select)
    except zoneio.ToolError as exc:
        zoneio.die(str(exc))

    t0 = time.monotonic()
    points = build_reference(zones, args.n, args.seed, progress=not args.quiet)
    header = {
        "zones": zoneio.rel_to_repo(args.zones),
        "generator": "tools/reference/make_reference.py",
        "shapely": shapely.__version__,
        "geos": shapely.geos_version_string,
        "pyproj": pyproj.__version__,
        "proj": pyproj.proj_version_str,
        "seed": args.seed,
    }
    if args.zone_field:
        header["zone_field"] = args.zone_field
    if select:
        header["select"] = select
    header["zone_ids"] = list(zones)
    header["n"] = len(points)
    write_reference(Path(args.output), header, points)

    if not args.quiet:
        kinds: dict[str, int] = {}
        for p in points:
            kinds[p["kind"]] = kinds.get(p["kind"], 0) + 1
        zones_count: dict[str, int] = {}
        for p in points:
            zones_count[str(p["zone"])] = zones_count.get(str(p["zone"]), 0) + 1
        nb = sum(p["on_boundary"] for p in points)
        size = Path(args.output).stat().st_size
        print(
            f"wrote {args.output}: {len(points)} points, {size / 1024:.0f} KiB, "
            f"{time.monotonic() - t0:.1f} s\n  kinds {kinds}\n  zones {zones_count}\n"
            f"  on_boundary {nb}",
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
