#!/usr/bin/env python3
"""CSV classification, end to end: pandas + shapely (tools/bench/classify_pandas.py) vs `leadmap classify`.

After one warm-up read of the CSV and zones files (page cache), runs each once and times the whole
process (wall clock, including interpreter start-up, reading and writing):
  1. python3 tools/bench/classify_pandas.py CSV --zones ZONES -o PANDAS_OUT [--predicate P]
  2. LEADMAP classify CSV --zones ZONES -o LEADMAP_OUT
(--zone-field/--select, if given, are passed to both)
then compares the two outputs' zone columns row by row (empty = no zone). Mismatched rows whose
point lies exactly on a zone boundary, and where leadmap gave the edge-inclusive answer (lowest
covering id), are reported as explained by the edge rule (contains_xy puts them outside); any
other mismatch is a failure.

Writes a JSON summary (default target/bench/classify.json). Exit status: 0 ok; 1 a command failed
(the other's figures are still printed); 3 unexplained mismatches or row counts differ; 2 bad
arguments/inputs.
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import shapely

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tools/: the shared loader
import zoneio  # noqa: E402

TOOLS = Path(__file__).resolve().parent


def warm(path: Path) -> int:
    n = 0
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 24):
            n += len(chunk)
    return n


def timed(argv: list[str], timeout: float) -> tuple[float, str | None]:
    print(f"running: {shlex.join(argv)}", file=sys.stderr)
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(argv, timeout=timeout)
    except FileNotFoundError as exc:
        return time.perf_counter() - t0, f"cannot start: {exc}"
    except subprocess.TimeoutExpired:
        return time.perf_counter() - t0, f"timed out after {timeout:.0f} s"
    secs = time.perf_counter() - t0
    return secs, (None if proc.returncode == 0 else f"exited with status {proc.returncode}")


def read_zone_column(path: Path, column: str, extra: list[str]) -> pd.DataFrame:
    header = pd.read_csv(path, nrows=0).columns
    if column not in header:
        raise zoneio.ToolError(f"{path} has no {column!r} column (columns: {list(header)})")
    cols = [column] + [c for c in extra if c in header]
    return pd.read_csv(path, usecols=cols, dtype=str, keep_default_na=False)


def compare(args, zones, pandas_out: Path, leadmap_out: Path) -> dict:
    col = args.zone_column
    a = read_zone_column(pandas_out, col, ["id", args.lon_col, args.lat_col])
    b = read_zone_column(leadmap_out, col, ["id"])
    res: dict = {"rows_pandas": len(a), "rows_leadmap": len(b)}
    if len(a) != len(b):
        res["ok"] = False
        res["error"] = "row counts differ"
        return res
    if "id" in a.columns and "id" in b.columns and not a["id"].equals(b["id"]):
        res["ok"] = False
        res["error"] = "row order differs (id columns are not equal row by row)"
        return res
    za, zb = a[col].to_numpy(), b[col].to_numpy()
    bad = np.flatnonzero(za != zb)
    res["mismatches"] = int(len(bad))
    explained = 0
    samples = []
    if len(bad):
        x = pd.to_numeric(a[args.lon_col].iloc[bad], errors="coerce").to_numpy(dtype=float)
        y = pd.to_numeric(a[args.lat_col].iloc[bad], errors="coerce").to_numpy(dtype=float)
        pts = shapely.points(x, y)
        on_edge = np.zeros(len(bad), dtype=bool)
        rule = np.full(len(bad), "", dtype=object)  # leadmap's rule: first covering zone id
        for zid, g in zones.items():
            on_edge |= shapely.intersects(g.boundary, pts)
            rule[(rule == "") & shapely.covers(g, pts)] = zid
        # explained: the point is on an edge and leadmap gave the edge-inclusive answer
        ok_rule = on_edge & (zb[bad].astype(object) == rule)
        explained = int(ok_rule.sum())
        for k in range(min(10, len(bad))):
            samples.append(
                {
                    "row": int(bad[k]),
                    "lon": a[args.lon_col].iloc[bad[k]],
                    "lat": a[args.lat_col].iloc[bad[k]],
                    "pandas": za[bad[k]],
                    "leadmap": zb[bad[k]],
                    "on_edge": bool(on_edge[k]),
                    "expected": rule[k],
                }
            )
    res["mismatches_on_edges"] = explained
    res["mismatches_unexplained"] = int(len(bad)) - explained
    res["mismatch_samples"] = samples
    res["counts_pandas"] = {str(k): int(v) for k, v in pd.Series(za).value_counts().items()}
    res["counts_leadmap"] = {str(k): int(v) for k, v in pd.Series(zb).value_counts().items()}
    res["ok"] = res["mismatches_unexplained"] == 0
    return res


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--zones", required=True, help="zone-set GeoJSON (leadmap format)")
    ap.add_argument("--csv", default="target/bench/points.csv", help="input CSV (gen_points.py --csv)")
    ap.add_argument(
        "--leadmap",
        default="target/release/leadmap",
        help="leadmap binary or command ('classify CSV --zones Z -o OUT' is appended; "
        "default target/release/leadmap); '' skips leadmap",
    )
    zoneio.add_zone_args(ap)
    ap.add_argument("--pandas-out", default="target/bench/classify-pandas.csv")
    ap.add_argument("--leadmap-out", default="target/bench/classify-leadmap.csv")
    ap.add_argument(
        "--predicate",
        choices=("contains", "intersects"),
        default="contains",
        help="passed to classify_pandas.py (default contains, i.e. contains_xy)",
    )
    ap.add_argument("--zone-column", default="zone", help="zone column in both outputs (default zone)")
    ap.add_argument("--lon-col", default="lon")
    ap.add_argument("--lat-col", default="lat")
    ap.add_argument("--timeout", type=float, default=3600, help="per command, seconds (default 3600)")
    ap.add_argument("--json", default="target/bench/classify.json", help="summary output path")
    args = ap.parse_args()

    csv, zones_path = Path(args.csv), Path(args.zones)
    try:
        zones = zoneio.load_zones_from_args(args)
        nbytes = warm(csv)
        warm(zones_path)
    except FileNotFoundError as exc:
        zoneio.die(f"not found: {exc.filename} (make the CSV with tools/gen/gen_points.py --csv)")
    except zoneio.ToolError as exc:
        zoneio.die(str(exc))
    for out in (args.pandas_out, args.leadmap_out):
        Path(out).parent.mkdir(parents=True, exist_ok=True)
    print(f"warm-up: read {nbytes:,} bytes of {csv}", file=sys.stderr)

    zone_args = []  # forwarded unchanged to both commands
    if args.zone_field:
        zone_args += ["--zone-field", args.zone_field]
    if args.select:
        zone_args += ["--select", args.select]
    summary: dict = {"csv": str(csv), "csv_bytes": nbytes, "zones": str(zones_path)}
    p_argv = [sys.executable, str(TOOLS / "classify_pandas.py"), str(csv), "--zones",
              str(zones_path), *zone_args, "-o", args.pandas_out, "--predicate", args.predicate]
    p_secs, p_err = timed(p_argv, args.timeout)
    summary["pandas"] = {
        "command": shlex.join(p_argv),
        "seconds": p_secs,
        "pandas": pd.__version__,
        "shapely": shapely.__version__,
        "predicate": args.predicate,
        "error": p_err,
    }

    l_secs, l_err = None, "skipped (--leadmap '')"
    if args.leadmap.strip():
        l_argv = shlex.split(args.leadmap) + ["classify", str(csv), "--zones", str(zones_path),
                                              *zone_args, "-o", args.leadmap_out]
        l_secs, l_err = timed(l_argv, args.timeout)
        summary["leadmap"] = {"command": shlex.join(l_argv), "seconds": l_secs, "error": l_err}
    else:
        summary["leadmap"] = {"error": l_err}

    print()
    print(f"{'implementation':<28}{'seconds':>10}  status")
    print(f"{'pandas+shapely (' + args.predicate + ')':<28}{p_secs:>10.2f}  {p_err or 'ok'}")
    if l_secs is not None:
        print(f"{'leadmap classify':<28}{l_secs:>10.2f}  {l_err or 'ok'}")
    else:
        print(f"{'leadmap classify':<28}{'-':>10}  {l_err}")

    status = 0
    if p_err or l_err:
        status = 1
    else:
        ratio = p_secs / l_secs
        summary["speedup_leadmap_over_pandas"] = ratio
        print(f"\nratio pandas/leadmap (time): {ratio:.2f}x (leadmap is {ratio:.2f} times as fast)")
        try:
            cmp = compare(args, zones, Path(args.pandas_out), Path(args.leadmap_out))
        except zoneio.ToolError as exc:
            cmp = {"ok": False, "error": str(exc)}
        summary["comparison"] = cmp
        if "error" in cmp:
            print(f"\ncomparison FAILED: {cmp['error']}")
        else:
            print(
                f"\nrows {cmp['rows_pandas']:,}; zone mismatches {cmp['mismatches']:,} "
                f"({cmp['mismatches_on_edges']:,} on an edge as expected, "
                f"{cmp['mismatches_unexplained']:,} unexplained)"
            )
            for s in cmp["mismatch_samples"]:
                print(f"  row {s['row']}: ({s['lon']}, {s['lat']}) pandas={s['pandas']!r} "
                      f"leadmap={s['leadmap']!r} on_edge={s['on_edge']} expected={s['expected']!r}")
        if not cmp["ok"]:
            status = 3
    summary["status"] = status

    zoneio.write_summary(args.json, summary)
    return status


if __name__ == "__main__":
    sys.exit(main())
