#!/usr/bin/env bash
# Raw-points H3 counting benchmark: `leadmap cells --input` vs h3ronpy + numpy.unique; see --help.
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: tools/bench/bench_cells_input.sh [options]

Target: `leadmap cells --input` on 10 million raw points at resolution 9 at least 3x faster than
h3ronpy's vectorised coordinates_to_cells + numpy.unique on the same points (same run, both sides).
  points   tools/gen/gen_raw_points.py --n N --seed S -> target/bench/raw_points_N.csv (lon,lat, 7
           decimals; reused when it exists; seeds other than 42 get raw_points_N-sS.csv)
  h3ronpy  python3 tools/bench/cells_h3ronpy.py CSV --res R -o OUT: pyarrow.csv read (all cores),
           h3ronpy.vector.coordinates_to_cells (one core), numpy.unique, hex_id,count written
  leadmap  leadmap cells --input CSV --res R -o OUT (hex_id,count and more columns)
Each side runs as a whole process under GNU time (wall, user + system, peak RSS: interpreter start-up
and module imports count for h3ronpy, as process start does for leadmap), the CSV read into the page
cache before each. --rounds 2 (default) alternates the order: h3ronpy, leadmap, leadmap, h3ronpy; the
best wall time of each side is kept and ratio = h3ronpy best wall / leadmap best wall. Every output
must hold the same (hex_id, count) pairs as the first h3ronpy output (exit 3 otherwise). Each step
also records the machine's CPU time outside it; above 5 % of the machine the step is flagged.
Prints a table and writes target/bench/cells_input.json (outputs and logs in
target/bench/cells_input-run/).

Needs python3 with tools/requirements.txt (numpy, pyarrow, h3ronpy) and GNU time. Without --leadmap,
${CARGO_TARGET_DIR:-target}/release/leadmap is used, built with cargo build --release if missing.
Exit status: 0 measured (target met or not: read the last line), 1 a step failed, 2 usage or a
missing tool, 3 the outputs disagree.

Options:
  --points N       raw points (default 10000000)
  --res R          H3 resolution, 5-12 (default 9)
  --seed S         gen_raw_points.py seed (default 42)
  --leadmap BIN    release leadmap binary
  --rounds N       rounds, each side once per round, the order alternating (default 2)
  --wait-quiet S   first wait up to S seconds for the machine to be under 10 % busy (default 0)
  --out FILE       JSON summary (default target/bench/cells_input.json)
  -h, --help       this text

Example:
  tools/bench/bench_cells_input.sh --leadmap /work/target-bench/release/leadmap
  tools/bench/bench_cells_input.sh --points 1000000 --res 10        # a quick check
EOF
}

BENCH=bench_cells_input
# shellcheck source=tools/bench/bench_common.sh
source "$(dirname "${BASH_SOURCE[0]}")/bench_common.sh"

NPOINTS=10000000 RES=9 SEED=42 LEADMAP_BIN="" ROUNDS=2 WAIT_QUIET=0 OUT=""
while (($#)); do
  case $1 in
    -h | --help) usage; exit 0 ;;
    --points) NPOINTS=${2:?}; shift ;;
    --res) RES=${2:?}; shift ;;
    --seed) SEED=${2:?}; shift ;;
    --leadmap) LEADMAP_BIN=${2:?}; shift ;;
    --rounds) ROUNDS=${2:?}; shift ;;
    --wait-quiet) WAIT_QUIET=${2:?}; shift ;;
    --out) OUT=${2:?}; shift ;;
    *) usage >&2; die "unknown option $1" ;;
  esac
  shift
done
# Paths given on the command line are relative to where the script was started; then work from the repo.
LEADMAP_BIN=$(abs "$LEADMAP_BIN") OUT=$(abs "$OUT")
cd "$ROOT"
OUT=${OUT:-$ROOT/target/bench/cells_input.json}
whole NPOINTS=--points RES=--res SEED=--seed ROUNDS=--rounds WAIT_QUIET=--wait-quiet
((NPOINTS >= 1 && ROUNDS >= 1)) || die "--points and --rounds must be at least 1"
((RES >= 5 && RES <= 12)) || die "--res must be 5-12 (leadmap cells' range)"

command -v python3 >/dev/null || die "python3 is not installed"
[[ -x /usr/bin/time ]] || die "GNU time is not installed (/usr/bin/time). On Debian/Ubuntu: apt-get install -y time"
python3 -c 'import numpy, pyarrow, h3ronpy' 2>/dev/null ||
  die "python3 lacks numpy/pyarrow/h3ronpy: pip install -r tools/requirements.txt"
if [[ -z $LEADMAP_BIN ]]; then
  export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}
  LEADMAP_BIN=$CARGO_TARGET_DIR/release/leadmap
  [[ $LEADMAP_BIN == /* ]] || LEADMAP_BIN=$ROOT/$LEADMAP_BIN
  if [[ ! -x $LEADMAP_BIN ]]; then
    command -v cargo >/dev/null || die "no $LEADMAP_BIN and cargo is not installed (or give --leadmap BIN)"
    echo "building leadmap (cargo build --release, CARGO_TARGET_DIR=$CARGO_TARGET_DIR) ..." >&2
    cargo build --release >&2 || fail "cargo build --release failed"
  fi
fi
[[ -x $LEADMAP_BIN ]] || die "not an executable: $LEADMAP_BIN"

RUN=$ROOT/target/bench/cells_input-run
CSV=$ROOT/target/bench/raw_points_$NPOINTS.csv
((SEED == 42)) || CSV=$ROOT/target/bench/raw_points_$NPOINTS-s$SEED.csv
mkdir -p "$RUN" "$(dirname "$OUT")"
rm -f "$RUN"/r[0-9]*-*
GEN_S=null
if [[ -s $CSV ]]; then
  echo "reusing $CSV" >&2
else
  t0=$EPOCHREALTIME
  python3 tools/gen/gen_raw_points.py --n "$NPOINTS" --seed "$SEED" -o "$CSV" || fail "tools/gen/gen_raw_points.py failed"
  GEN_S=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.1f", b - a}')
fi


wait_quiet bench_cells_input "$WAIT_QUIET"

step() { # ROUND SIDE CMD...: under GNU time; the CSV read into the page cache first
  local base=$RUN/r$1-$2 b0 b1 rc=0 name=$2
  shift 2
  cat "$CSV" >/dev/null
  echo "  $name ..." >&2
  b0=$(busy_ticks)
  /usr/bin/time -f '%e %U %S %M' -o "$base.time" "$@" >"$base.out" 2>"$base.err" || rc=$?
  b1=$(busy_ticks)
  ((rc == 0)) || fail "$name exited with status $rc: $(tail -5 "$base.err")"
  echo $((b1 - b0)) >"$base.ticks"
}
h3ronpy_side() { step "$1" h3ronpy python3 tools/bench/cells_h3ronpy.py "$CSV" --res "$RES" -o "$RUN/r$1-h3ronpy.csv"; }
leadmap_side() { step "$1" leadmap "$LEADMAP_BIN" cells --input "$CSV" --res "$RES" -o "$RUN/r$1-leadmap.csv"; }
for r in $(seq "$ROUNDS"); do
  echo "round $r/$ROUNDS:" >&2
  if ((r % 2)); then
    h3ronpy_side "$r"
    leadmap_side "$r"
  else
    leadmap_side "$r"
    h3ronpy_side "$r"
  fi
done
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- summary --------------------------------------------------------------------------------------------
python3 - "$RUN" "$OUT" "$CSV" "$NPOINTS" "$RES" "$SEED" "$ROUNDS" "$LEADMAP_BIN" "$BUSY_BEFORE" "$LOAD_BEFORE" \
  "$LOAD_AFTER" "$TCK" "$GEN_S" <<'PY'
import csv
import json
import os
import re
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

run, out, csv_path = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
npoints, res, seed, rounds = (int(x) for x in sys.argv[4:8])
leadmap_bin, busy_before, load_before, load_after = sys.argv[8], float(sys.argv[9]), sys.argv[10], sys.argv[11]
tck, gen_s = int(sys.argv[12]), json.loads(sys.argv[13])
ncpu = os.cpu_count()


def pairs(path):
    with open(path, newline="") as fh:
        rd = csv.DictReader(fh)
        if not {"hex_id", "count"} <= set(rd.fieldnames or []):
            raise SystemExit(f"{path}: no hex_id,count columns (header {rd.fieldnames})")
        return {r["hex_id"].lower(): int(r["count"]) for r in rd}


steps, problems = [], []
reference = pairs(run / "r1-h3ronpy.csv")
for r in range(1, rounds + 1):
    for order, side in enumerate(("h3ronpy", "leadmap") if r % 2 else ("leadmap", "h3ronpy"), 1):
        base = run / f"r{r}-{side}"
        wall, user, sys_, rss = (base.with_suffix(".time")).read_text().split()[-4:]
        wall, cpu = float(wall), float(user) + float(sys_)
        ticks = int(base.with_suffix(".ticks").read_text())
        st = {"round": r, "order": order, "side": side, "wall_s": wall, "user_s": float(user), "sys_s": float(sys_),
              "cpu_s": cpu, "cores_busy": cpu / wall if wall else None, "max_rss_mb": int(rss) / 1024,
              "other_load_pct": max(0.0, ticks / tck - cpu) / (wall * ncpu) * 100}
        err = base.with_suffix(".err").read_text()
        if side == "h3ronpy":  # the baseline's own phase timings
            m = re.search(r"read ([\d.]+) s, cells ([\d.]+) s, unique ([\d.]+) s, write ([\d.]+) s, total ([\d.]+) s",
                          err)
            if m:
                st["phases_s"] = dict(zip(("read", "cells", "unique", "write", "total"), map(float, m.groups())))
        got = pairs(base.with_suffix(".csv"))
        st["cells"], st["points_counted"] = len(got), sum(got.values())
        if got != reference:
            only_a, only_b = set(reference) - set(got), set(got) - set(reference)
            diff = sum(1 for k in set(got) & set(reference) if got[k] != reference[k])
            problems.append(f"round {r} {side}: {len(only_a)} cells missing, {len(only_b)} extra, {diff} counts differ "
                            "from round 1 h3ronpy")
        steps.append(st)

best = {s: min((x for x in steps if x["side"] == s), key=lambda x: x["wall_s"]) for s in ("h3ronpy", "leadmap")}
ratio = best["h3ronpy"]["wall_s"] / best["leadmap"]["wall_s"]
cpu_ratio = best["h3ronpy"]["cpu_s"] / best["leadmap"]["cpu_s"] if best["leadmap"]["cpu_s"] else None
try:
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True,
                           text=True).stdout.strip()
    commit += "+dirty" if dirty else ""
except OSError:
    commit = "unknown"
try:
    version = subprocess.run([leadmap_bin, "--version"], capture_output=True, text=True).stdout.strip()
except OSError:
    version = "unknown"
import h3ronpy, numpy, pyarrow  # noqa: E401,E402  (versions only)

cpu_model = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
unreliable = [f"round {x['round']} {x['side']}" for x in steps if x["other_load_pct"] > 5]
target = {"what": "leadmap cells --input on 10 M raw points at res 9: at least 3x h3ronpy coordinates_to_cells + "
                  "numpy.unique (best wall of each side, same run)", "ratio": ratio, "met": ratio >= 3}
result = {
    "when": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"), "commit": commit,
    "machine": {"cpus": ncpu, "cpu": cpu_model, "busy_before_pct": busy_before, "loadavg_before": load_before,
                "loadavg_after": load_after},
    "csv": {"path": str(csv_path), "points": npoints, "seed": seed, "bytes": csv_path.stat().st_size,
            "generated_s": gen_s},
    "res": res, "rounds": rounds, "cells": len(reference), "points_counted": sum(reference.values()),
    "versions": {"leadmap": version, "h3ronpy": h3ronpy.__version__, "numpy": numpy.__version__,
                 "pyarrow": pyarrow.__version__, "python": sys.version.split()[0]},
    "leadmap_bin": leadmap_bin,
    "commands": {"h3ronpy": "python3 tools/bench/cells_h3ronpy.py CSV --res R -o OUT",
                 "leadmap": "leadmap cells --input CSV --res R -o OUT"},
    "steps": steps, "best": best, "ratio_h3ronpy_over_leadmap_wall": ratio, "ratio_cpu": cpu_ratio,
    "target": target, "unreliable_steps": unreliable, "problems": problems,
}
out.write_text(json.dumps(result, indent=2) + "\n")

p = print
p()
p(f"{npoints:,} points ({csv_path.stat().st_size / 1e6:.0f} MB CSV, seed {seed}) -> {len(reference):,} res-{res} cells; "
  f"{rounds} round(s); {ncpu} CPUs ({cpu_model}); load average {load_before} before, {load_after} after")
p(f"{version}; h3ronpy {h3ronpy.__version__}, numpy {numpy.__version__}, pyarrow {pyarrow.__version__}; commit {commit}")
p()
hdr = ["", "wall s", "user+sys s", "cores", "peak RSS MB", "other load %", "h3ronpy phases (read/cells/unique/write) s"]
rows = []
for x in steps:
    ph = x.get("phases_s")
    rows.append([f"round {x['round']} #{x['order']} {x['side']}", f"{x['wall_s']:.2f}", f"{x['cpu_s']:.2f}",
                 f"{x['cores_busy']:.2f}", f"{x['max_rss_mb']:.0f}", f"{x['other_load_pct']:.1f}",
                 "/".join(f"{ph[k]:.2f}" for k in ("read", "cells", "unique", "write")) if ph else "-"])
for s in ("h3ronpy", "leadmap"):
    x = best[s]
    rows.append([f"best {s}", f"{x['wall_s']:.2f}", f"{x['cpu_s']:.2f}", f"{x['cores_busy']:.2f}",
                 f"{x['max_rss_mb']:.0f}", f"{x['other_load_pct']:.1f}", ""])
w = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(hdr)]
p("| " + " | ".join(c.ljust(w[i]) if i in (0, len(hdr) - 1) else c.rjust(w[i]) for i, c in enumerate(hdr)) + " |")
p("|" + "|".join("-" * (w[i] + 2) if i in (0, len(hdr) - 1) else "-" * (w[i] + 1) + ":" for i in range(len(hdr))) + "|")
for r in rows:
    p("| " + " | ".join(c.ljust(w[i]) if i in (0, len(hdr) - 1) else c.rjust(w[i]) for i, c in enumerate(r)) + " |")
p()
p("Whole processes (h3ronpy: interpreter start and imports included). Outputs: "
  + ("all identical (hex_id, count)" if not problems else "DIFFER") + f", {sum(reference.values()):,} points counted.")
p(f"CPU ratio (user+sys, best runs): {cpu_ratio:.2f}x" if cpu_ratio else "CPU ratio: -")
if gen_s is not None:
    p(f"The CSV was generated in this run: {gen_s} s.")
p()
p(f"{'MET   ' if target['met'] else 'MISSED'} leadmap cells --input at least 3x h3ronpy + numpy.unique: ratio = h3ronpy "
  f"best wall / leadmap best wall = {ratio:.2f}x")
if unreliable:
    p("WARNING: other processes used more than 5 % of the machine during: " + ", ".join(unreliable)
      + "; rerun on a quiet machine (--wait-quiet S).")
if busy_before > 10:
    p(f"WARNING: the machine was {busy_before:.0f} % busy before the run started.")
for pr in problems:
    p(f"OUTPUTS DISAGREE: {pr}")
p()
p(f"summary: {out}")
sys.exit(3 if problems else 0)
PY
