"""Shared helpers for leadmap's Python tools: load a zone set, parse selections, sample points.

Not a script. The tools in this folder import it (Python puts the script's folder on sys.path).

Zone ids follow leadmap's zone-set format: a feature's top-level ``id``, else ``properties.id``.
With ``zone_field`` the id is ``properties[zone_field]`` instead, optionally mapped and filtered
by a ``select`` mapping (source value -> zone id); features mapped to the same id are unioned.
"""

from __future__ import annotations

import json
import math
import os
import sys
from pathlib import Path

import numpy as np
import shapely
from shapely.geometry import shape

REPO_ROOT = Path(__file__).resolve().parent.parent

# WGS84 ellipsoid, used to turn metres into degrees locally.
_WGS84_A = 6378137.0
_WGS84_F = 1 / 298.257223563
_WGS84_E2 = _WGS84_F * (2 - _WGS84_F)


class ToolError(Exception):
    """A user-facing error: the tool prints it and exits with status 2."""


def die(msg: str, code: int = 2) -> None:
    print(f"error: {msg}", file=sys.stderr)
    sys.exit(code)


def parse_select(text: str | None) -> dict[str, str] | None:
    """Parse 'SOURCE VALUE=zone-id,OTHER=other-id' into a dict (values may contain spaces)."""
    if text is None:
        return None
    out: dict[str, str] = {}
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        if "=" not in item:
            raise ToolError(f"--select item {item!r} is not of the form 'SOURCE VALUE=zone-id'")
        src, _, dst = item.rpartition("=")
        src, dst = src.strip(), dst.strip()
        if not src or not dst:
            raise ToolError(f"--select item {item!r} has an empty side")
        if src in out and out[src] != dst:
            raise ToolError(f"--select maps {src!r} twice ({out[src]!r} and {dst!r})")
        out[src] = dst
    if not out:
        raise ToolError("--select is empty")
    return out


def feature_id(feat: dict, index: int) -> str:
    fid = feat.get("id")
    if fid is None:
        fid = (feat.get("properties") or {}).get("id")
    if fid is None:
        raise ToolError(
            f"feature #{index} has no 'id' (top-level or properties.id); "
            "for other files pass --zone-field NAME [--select ...]"
        )
    return str(fid)


def load_zones(
    path: str | os.PathLike,
    zone_field: str | None = None,
    select: dict[str, str] | None = None,
    require_valid: bool = True,
) -> dict[str, shapely.Geometry]:
    """Return {zone id: shapely geometry}, ids sorted byte-wise ascending (leadmap's tie order)."""
    path = Path(path)
    try:
        with path.open("rb") as fh:
            doc = json.load(fh)
    except FileNotFoundError:
        raise ToolError(f"zones file not found: {path}") from None
    except json.JSONDecodeError as exc:
        raise ToolError(f"zones file {path} is not valid JSON: {exc}") from None
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection":
        raise ToolError(f"zones file {path} is not a GeoJSON FeatureCollection")
    if select is not None and zone_field is None:
        raise ToolError("--select needs --zone-field")

    parts: dict[str, list] = {}
    seen_values: set[str] = set()
    for i, feat in enumerate(doc.get("features") or []):
        if zone_field is not None:
            props = feat.get("properties") or {}
            if zone_field not in props:
                raise ToolError(f"feature #{i} has no property {zone_field!r}")
            value = str(props[zone_field])
            seen_values.add(value)
            if select is not None:
                if value not in select:
                    continue
                zid = select[value]
            else:
                zid = value
        else:
            zid = feature_id(feat, i)
            if zid in parts:
                raise ToolError(f"duplicate zone id {zid!r} in {path}")
        geom_json = feat.get("geometry")
        if not geom_json or geom_json.get("type") not in ("Polygon", "MultiPolygon"):
            raise ToolError(f"zone {zid!r} (feature #{i}) is not a Polygon or MultiPolygon")
        polys = geom_json.get("coordinates") or []
        if geom_json["type"] == "Polygon":
            polys = [polys]
        for poly in polys:
            for ring in poly or []:
                if len(ring) < 4 or ring[0] != ring[-1]:
                    raise ToolError(
                        f"zone {zid!r} (feature #{i}) has a ring that is not closed or has "
                        "fewer than 4 positions"
                    )
        try:
            geom = shape(geom_json)
        except Exception as exc:  # shapely raises several types for bad coordinates
            raise ToolError(f"zone {zid!r} (feature #{i}) has unreadable geometry: {exc}") from None
        if geom.is_empty:
            raise ToolError(f"zone {zid!r} (feature #{i}) has an empty geometry")
        minx, miny, maxx, maxy = geom.bounds
        if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
            raise ToolError(
                f"zone {zid!r} (feature #{i}) has coordinates outside lon/lat range "
                f"(bounds {geom.bounds}); projected or [lat, lon] order?"
            )
        if require_valid and not geom.is_valid:
            raise ToolError(
                f"zone {zid!r} (feature #{i}) is invalid: {shapely.is_valid_reason(geom)}"
            )
        parts.setdefault(zid, []).append(geom)

    if select is not None:
        missing = sorted(set(select) - seen_values)
        if missing:
            raise ToolError(f"--select names values not found in {zone_field!r}: {missing}")
    if not parts:
        raise ToolError(f"no zones loaded from {path}")

    zones: dict[str, shapely.Geometry] = {}
    # Python str order is code-point order, which equals UTF-8 byte order.
    for zid in sorted(parts):
        geoms = parts[zid]
        zones[zid] = geoms[0] if len(geoms) == 1 else shapely.union_all(geoms)
    return zones


def add_zone_args(parser) -> None:
    parser.add_argument(
        "--zone-field",
        metavar="NAME",
        help="take zone ids from this property instead of the feature id (e.g. NAME)",
    )
    parser.add_argument(
        "--select",
        metavar="'VALUE=id,...'",
        help="keep only features whose --zone-field value is listed, renamed to the given id; "
        "features mapped to the same id are unioned",
    )


def load_zones_from_args(args, require_valid: bool = True) -> dict[str, shapely.Geometry]:
    return load_zones(args.zones, args.zone_field, parse_select(args.select), require_valid)


def rel_to_repo(path: str | os.PathLike) -> str:
    """Path relative to the repo root, with '/' separators (may start with '../')."""
    return Path(os.path.relpath(Path(path).resolve(), REPO_ROOT)).as_posix()


def metres_per_degree(lat_deg):
    """(metres per degree of longitude, metres per degree of latitude) on WGS84 at lat_deg."""
    phi = np.radians(lat_deg)
    s2 = np.sin(phi) ** 2
    w = np.sqrt(1 - _WGS84_E2 * s2)
    n = _WGS84_A / w  # prime vertical radius
    m = _WGS84_A * (1 - _WGS84_E2) / w**3  # meridional radius
    return n * np.cos(phi) * math.pi / 180, m * math.pi / 180


def zone_rings(g: shapely.Geometry) -> list[shapely.Geometry]:
    """All rings (exteriors and holes) of a Polygon or MultiPolygon."""
    return list(shapely.get_rings(shapely.get_parts(g)))


def zone_bounds(zones: dict[str, shapely.Geometry]) -> tuple[float, float, float, float]:
    b = np.array([g.bounds for g in zones.values()])
    return b[:, 0].min(), b[:, 1].min(), b[:, 2].max(), b[:, 3].max()


def zone_edges(zones: dict[str, shapely.Geometry]) -> np.ndarray:
    """All ring segments of all zones as an (n, 4) array [x0, y0, x1, y1], shared edges once,
    in a deterministic order."""
    segs = set()
    for g in zones.values():
        for ring in zone_rings(g):
            c = shapely.get_coordinates(ring)
            for (x0, y0), (x1, y1) in zip(c[:-1], c[1:]):
                a, b = (float(x0), float(y0)), (float(x1), float(y1))
                if a == b:
                    continue
                segs.add((a, b) if a <= b else (b, a))
    return np.array(sorted(segs), dtype=float).reshape(-1, 4)


def zone_vertices(zones: dict[str, shapely.Geometry]) -> np.ndarray:
    """Distinct vertices of all zones as an (n, 2) array, deterministic order."""
    pts = set()
    for g in zones.values():
        for ring in zone_rings(g):
            for x, y in shapely.get_coordinates(ring):
                pts.add((float(x), float(y)))
    return np.array(sorted(pts), dtype=float).reshape(-1, 2)


def near_edge_points(rng: np.random.Generator, edges: np.ndarray, n: int, max_m: float):
    """n points at a uniform perpendicular offset in [-max_m, max_m] metres from a random
    point of a random edge (edges weighted by length in metres)."""
    if n == 0:
        return np.empty(0), np.empty(0)
    x0, y0, x1, y1 = edges.T
    kx, ky = metres_per_degree((y0 + y1) / 2)
    dx_m, dy_m = (x1 - x0) * kx, (y1 - y0) * ky
    length = np.hypot(dx_m, dy_m)
    idx = rng.choice(len(edges), size=n, p=length / length.sum())
    t = rng.random(n)
    off = rng.uniform(-max_m, max_m, n)
    bx = x0[idx] + t * (x1[idx] - x0[idx])
    by = y0[idx] + t * (y1[idx] - y0[idx])
    # unit normal in metres, converted back to degrees at the base point
    nx, ny = -dy_m[idx] / length[idx], dx_m[idx] / length[idx]
    kbx, kby = metres_per_degree(by)
    return bx + off * nx / kbx, by + off * ny / kby


def write_summary(path: str | os.PathLike, summary: dict) -> None:
    """Write a benchmark's JSON summary (creating its folder) and say where on stderr."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(summary, indent=1) + "\n")
    print(f"wrote {out}", file=sys.stderr)
