#!/usr/bin/env python3
"""Batch point-in-zone throughput: shapely 2 baseline vs leadmap, in the same run.

Baseline (timed, best of --runs, default 3; points already in memory, polygons prepared once):
for each zone in id order (byte-wise ascending, leadmap's tie order), a numpy bbox mask over the
not-yet-assigned points, then shapely.contains_xy(prepared zone, candidates). A point goes to the
first zone that contains it, else "outside".

Untimed check: the same with shapely.intersects_xy, i.e. leadmap's rule (a point on an edge or
vertex is inside; shared edge -> lowest id). contains_xy and intersects_xy differ only for points
exactly on a zone boundary; that difference is reported, and leadmap's counts are expected to equal
the intersects_xy counts exactly.

leadmap: runs  LEADMAP_CMD --points POINTS --zones ZONES [--zone-field F --select S]  and reads ONE JSON object from its stdout:
  {"points": N, "seconds": s, "points_per_sec": r, "counts": {"zone-id": n, ..., "outside": n}}
(build output on stderr is passed through). Its "seconds" is whatever leadmap measures.

Writes a JSON summary (default target/bench/batch.json). Exit status: 0 ok; 1 leadmap failed or
printed no usable JSON (shapely figures still printed and written); 3 counts disagree beyond
boundary points; 2 bad arguments/inputs.
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import shapely

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tools/: the shared loader
import zoneio  # noqa: E402

DEFAULT_CMD = "cargo run --release --example batch_throughput --"


def load_points(path: Path) -> np.ndarray:
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise zoneio.ToolError(f"points file not found: {path} (make it with tools/gen/gen_points.py)")
    if size == 0 or size % 16:
        raise zoneio.ToolError(f"{path}: size {size} is not a positive multiple of 16 bytes")
    return np.fromfile(path, dtype="<f8").reshape(-1, 2)


def classify(zones: list, bounds: np.ndarray, x: np.ndarray, y: np.ndarray, predicate) -> np.ndarray:
    """Index of the first zone (in the given order) matching each point, -1 if none."""
    assigned = np.full(len(x), -1, dtype=np.int32)
    for i, (g, (minx, miny, maxx, maxy)) in enumerate(zip(zones, bounds)):
        cand = np.flatnonzero(
            (x >= minx) & (x <= maxx) & (y >= miny) & (y <= maxy) & (assigned < 0)
        )
        hit = predicate(g, x[cand], y[cand])
        assigned[cand[hit]] = i
    return assigned


def counts_of(assigned: np.ndarray, ids: list[str]) -> dict[str, int]:
    c = np.bincount(assigned + 1, minlength=len(ids) + 1)
    out = {zid: int(c[i + 1]) for i, zid in enumerate(ids)}
    out["outside"] = int(c[0])
    return out


def parse_json_object(stdout: str) -> dict:
    text = stdout.strip()
    try:
        obj = json.loads(text)
        if isinstance(obj, dict):
            return obj
    except json.JSONDecodeError:
        pass
    for line in reversed(text.splitlines()):  # tolerate extra chatter: last JSON-object line
        line = line.strip()
        if line.startswith("{"):
            try:
                obj = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(obj, dict):
                return obj
    raise ValueError("no JSON object found on stdout")


def run_leadmap(
    cmd: str, points: Path, zones: Path, zone_args: list[str], timeout: float
) -> tuple[dict | None, str | None]:
    argv = shlex.split(cmd) + ["--points", str(points), "--zones", str(zones)] + zone_args
    print(f"running: {shlex.join(argv)}", file=sys.stderr)
    try:
        proc = subprocess.run(
            argv, stdout=subprocess.PIPE, stderr=None, text=True, timeout=timeout
        )
    except FileNotFoundError as exc:
        return None, f"cannot start leadmap command: {exc}"
    except subprocess.TimeoutExpired:
        return None, f"leadmap command timed out after {timeout:.0f} s"
    if proc.returncode != 0:
        return None, f"leadmap command exited with status {proc.returncode}"
    try:
        obj = parse_json_object(proc.stdout)
    except ValueError as exc:
        tail = proc.stdout.strip()[-500:]
        return None, f"{exc}; stdout ended with: {tail!r}"
    missing = [k for k in ("points", "seconds", "counts") if k not in obj]
    if missing or not isinstance(obj.get("counts"), dict):
        return None, f"leadmap JSON lacks {missing or ['counts (object)']}: {obj}"
    if "points_per_sec" not in obj and obj["seconds"]:
        obj["points_per_sec"] = obj["points"] / obj["seconds"]
    return obj, None


def zone_cli_args(args) -> list[str]:
    """--zone-field/--select as given, to forward to leadmap (same flag names)."""
    out = []
    if args.zone_field:
        out += ["--zone-field", args.zone_field]
    if args.select:
        out += ["--select", args.select]
    return out


def fmt_rate(r: float | None) -> str:
    return "-" if r is None else f"{r / 1e6:,.2f} M/s"


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--zones", required=True, help="zone-set GeoJSON (the file leadmap is given)")
    ap.add_argument("--points", default="target/bench/points.bin", help="points .bin (gen_points.py)")
    ap.add_argument(
        "--leadmap-cmd",
        default=DEFAULT_CMD,
        help=f"leadmap command; '--points P --zones Z' are appended (default: {DEFAULT_CMD!r}); "
        "'' skips leadmap",
    )
    zoneio.add_zone_args(ap)
    ap.add_argument("--runs", type=int, default=3, help="shapely runs, best is kept (default 3)")
    ap.add_argument("--timeout", type=float, default=3600, help="leadmap timeout in s (default 3600)")
    ap.add_argument("--json", default="target/bench/batch.json", help="summary output path")
    args = ap.parse_args()
    if args.runs < 1:
        zoneio.die("--runs must be >= 1")

    try:
        zones = zoneio.load_zones_from_args(args)
        pts = load_points(Path(args.points))
    except zoneio.ToolError as exc:
        zoneio.die(str(exc))
    ids = list(zones)  # sorted byte-wise
    geoms = list(zones.values())
    t_prep = time.perf_counter()
    for g in geoms:
        shapely.prepare(g)
    t_prep = time.perf_counter() - t_prep
    bounds = np.array([g.bounds for g in geoms])
    x = np.ascontiguousarray(pts[:, 0])
    y = np.ascontiguousarray(pts[:, 1])
    n = len(x)
    print(f"{n:,} points, zones {ids}", file=sys.stderr)

    times = []
    assigned = None
    for r in range(args.runs):
        t0 = time.perf_counter()
        assigned = classify(geoms, bounds, x, y, shapely.contains_xy)
        times.append(time.perf_counter() - t0)
        print(f"  shapely run {r + 1}: {times[-1]:.3f} s", file=sys.stderr)
    best = min(times)
    shapely_counts = counts_of(assigned, ids)
    covers = classify(geoms, bounds, x, y, shapely.intersects_xy)
    covers_counts = counts_of(covers, ids)
    on_edge = int(np.count_nonzero(covers != assigned))

    summary: dict = {
        "points_file": args.points,
        "zones": args.zones,
        "points": n,
        "zone_ids": ids,
        "shapely": {
            "version": shapely.__version__,
            "geos": shapely.geos_version_string,
            "method": "prepared polygons, bbox prefilter, contains_xy, first zone in id order",
            "prepare_seconds": t_prep,
            "runs_seconds": times,
            "seconds": best,
            "points_per_sec": n / best,
            "counts": shapely_counts,
        },
        "shapely_boundary_rule": {
            "method": "same with intersects_xy (edge/vertex = inside; leadmap's rule), untimed",
            "counts": covers_counts,
            "points_on_edges": on_edge,
        },
    }

    lm, err = (None, "skipped (--leadmap-cmd '')")
    if args.leadmap_cmd.strip():
        lm, err = run_leadmap(
            args.leadmap_cmd, Path(args.points), Path(args.zones), zone_cli_args(args), args.timeout
        )
    summary["leadmap"] = lm if lm is not None else {"error": err}

    status = 0
    rows = [("shapely contains_xy", n, best, n / best)]
    if lm is not None:
        rows.append(("leadmap", lm["points"], lm["seconds"], lm.get("points_per_sec")))
    print()
    print(f"{'implementation':<22}{'points':>14}{'seconds':>11}{'throughput':>16}")
    for name, np_, s, r in rows:
        print(f"{name:<22}{np_:>14,}{s:>11.3f}{fmt_rate(r):>16}")

    if lm is None:
        print(f"\nleadmap: FAILED: {err}")
        status = 1
    else:
        ratio = (lm.get("points_per_sec") or 0) / (n / best)
        summary["ratio_leadmap_over_shapely"] = ratio
        print(f"\nratio leadmap/shapely (points/s): {ratio:.2f}x")
        if lm["points"] != n:
            print(f"MISMATCH: leadmap read {lm['points']} points, file has {n}")
            status = 3
        lm_counts = {str(k): int(v) for k, v in lm["counts"].items()}
        keys = ids + ["outside"] + sorted(set(lm_counts) - set(ids) - {"outside"})
        print(f"\n{'zone':<14}{'shapely':>12}{'shapely+edge':>14}{'leadmap':>12}{'lm-shapely':>12}")
        diff = {}
        for k in keys:
            s, c, l = shapely_counts.get(k, 0), covers_counts.get(k, 0), lm_counts.get(k, 0)
            diff[k] = l - s
            print(f"{k:<14}{s:>12,}{c:>14,}{l:>12,}{l - s:>12,}")
        exact = all(lm_counts.get(k, 0) == covers_counts.get(k, 0) for k in keys)
        moved = sum(abs(d) for d in diff.values()) // 2
        summary["count_diff_leadmap_minus_shapely"] = diff
        summary["counts_match_boundary_rule"] = exact
        print(f"\npoints exactly on an edge (contains_xy vs intersects_xy): {on_edge}")
        if exact:
            print(f"counts: OK (leadmap = shapely with edges inside; {moved} point(s) moved by the edge rule)")
        else:
            print(f"counts: DISAGREE beyond edge points ({moved} point(s) moved, {on_edge} on edges)")
            status = 3
    summary["status"] = status

    zoneio.write_summary(args.json, summary)
    return status


if __name__ == "__main__":
    sys.exit(main())
