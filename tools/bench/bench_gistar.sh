#!/usr/bin/env bash
# Gi* benchmark: leadmap's hotspots::gi_star vs esda.G_Local end to end, in one run; see --help.
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: tools/bench/bench_gistar.sh [options]

Target: Gi* over 120,000 resolution-11 cells with k = 1 at least 50x faster than esda.G_Local, end to
end (neighbours + weights + statistic). Both sides run on the same cells in one run:
  cells    tools/gen/gen_gistar_cells.py --cells N -> target/bench/gistar_cells.csv (hex_id,value: a
           whole res-11 grid disk of at least N cells, seeded Poisson counts, mostly zeros, two
           clusters; regenerated every run, deterministic, under a second)
  esda     tools/bench/gistar_esda.py CSV --k K, once: h3 grid_disk(cell, K) minus the cell, intersected
           with the cell set (a Python dict) -> libpysal.weights.W -> esda.G_Local(y, w,
           transform='B', star=True, permutations=0); total = the three phases (reading the CSV and
           importing the modules are not counted)
  leadmap  the gistar_bench example (tools/bench/gistar_bench.rs) with --k K --runs R: the CSV read once,
           then leadmap::hotspots::gi_star (neighbours by grid_disk in a hash of the cells, binary
           weights with the cell itself, z, two-sided normal p, classes, Benjamini-Hochberg FDR
           classes; rayon over all cores) R times: best and median ms
permutations=0: esda computes no permutation pseudo p-values, and leadmap computes none either.
The sum of |z| over the cells with a finite z must agree to a relative 1e-9 (exit 3 otherwise).
Prints a table and ratio = esda total s / leadmap median s; writes target/bench/gistar.json.
Each side also records the machine's CPU time outside it; above 5 % of the machine it is flagged.

The example is built here: cargo build --release --example gistar_bench, into
$CARGO_TARGET_DIR (default target/), and run from $CARGO_TARGET_DIR/release/examples/gistar_bench.
Needs python3 with tools/requirements.txt (esda, libpysal, h3, numpy), GNU time and cargo.
Exit status: 0 measured (target met or not: read the last line), 1 a step failed, 2 usage or a
missing tool, 3 the checksums disagree.

Options:
  --cells N        at least N cells (default 120000: a radius-200 disk, 120,601 cells)
  --k K            neighbourhood radius in grid steps (default 1)
  --runs R         leadmap runs, median reported (default 5)
  --seed S         seed of the cell values (default 7)
  --wait-quiet S   first wait up to S seconds for the machine to be under 10 % busy (default 0)
  --out FILE       JSON summary (default target/bench/gistar.json)
  -h, --help       this text

Example:
  CARGO_TARGET_DIR=/work/target-bench tools/bench/bench_gistar.sh
  tools/bench/bench_gistar.sh --cells 20000 --k 2
EOF
}

BENCH=bench_gistar
# shellcheck source=tools/bench/bench_common.sh
source "$(dirname "${BASH_SOURCE[0]}")/bench_common.sh"

NCELLS=120000 K=1 RUNS=5 SEED=7 WAIT_QUIET=0 OUT=""
while (($#)); do
  case $1 in
    -h | --help) usage; exit 0 ;;
    --cells) NCELLS=${2:?}; shift ;;
    --k) K=${2:?}; shift ;;
    --runs) RUNS=${2:?}; shift ;;
    --seed) SEED=${2:?}; shift ;;
    --wait-quiet) WAIT_QUIET=${2:?}; shift ;;
    --out) OUT=${2:?}; shift ;;
    *) usage >&2; die "unknown option $1" ;;
  esac
  shift
done
OUT=$(abs "$OUT")
cd "$ROOT"
OUT=${OUT:-$ROOT/target/bench/gistar.json}
whole NCELLS=--cells K=--k RUNS=--runs SEED=--seed WAIT_QUIET=--wait-quiet
((NCELLS >= 2 && K >= 1 && RUNS >= 1)) || die "--cells must be at least 2, --k and --runs at least 1"

command -v python3 >/dev/null || die "python3 is not installed"
command -v cargo >/dev/null || die "cargo is not installed"
[[ -x /usr/bin/time ]] || die "GNU time is not installed (/usr/bin/time). On Debian/Ubuntu: apt-get install -y time"
python3 -c 'import esda, libpysal, h3, numpy' 2>/dev/null ||
  die "python3 lacks esda/libpysal/h3/numpy: pip install -r tools/requirements.txt"

export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}
BIN=$CARGO_TARGET_DIR/release/examples/gistar_bench
[[ $BIN == /* ]] || BIN=$ROOT/$BIN
RUN=$ROOT/target/bench/gistar-run
CSV=$ROOT/target/bench/gistar_cells.csv
mkdir -p "$RUN" "$(dirname "$OUT")"


# ---- build and data (untimed) -----------------------------------------------------------------------
echo "building the gistar_bench example (CARGO_TARGET_DIR=$CARGO_TARGET_DIR) ..." >&2
cargo build --release --example gistar_bench >&2 || fail "cargo build --release --example gistar_bench failed"
[[ -x $BIN ]] || fail "no binary at $BIN after the build"
python3 tools/gen/gen_gistar_cells.py --cells "$NCELLS" --seed "$SEED" -o "$CSV" ||
  fail "tools/gen/gen_gistar_cells.py failed"

wait_quiet bench_gistar "$WAIT_QUIET"

# ---- the two sides ------------------------------------------------------------------------------------
side() { # NAME CMD...: runs CMD under GNU time, stdout to RUN/NAME.json; prints machine busy ticks
  local name=$1 b0 b1 rc=0
  shift
  b0=$(busy_ticks)
  /usr/bin/time -f '%e %U %S %M' -o "$RUN/$name.time" "$@" >"$RUN/$name.json" 2>"$RUN/$name.err" || rc=$?
  b1=$(busy_ticks)
  ((rc == 0)) || fail "$name side exited with status $rc: $(tail -5 "$RUN/$name.err")"
  echo $((b1 - b0)) >"$RUN/$name.ticks"
}
echo "esda: tools/bench/gistar_esda.py (one run) ..." >&2
side esda python3 tools/bench/gistar_esda.py "$CSV" --k "$K"
echo "leadmap: gistar_bench --k $K --runs $RUNS ..." >&2
side leadmap "$BIN" "$CSV" --k "$K" --runs "$RUNS"
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- summary --------------------------------------------------------------------------------------------
python3 - "$RUN" "$OUT" "$BUSY_BEFORE" "$LOAD_BEFORE" "$LOAD_AFTER" "$TCK" "$BIN" "$SEED" <<'PY'
import json
import os
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

run, out = Path(sys.argv[1]), Path(sys.argv[2])
busy_before, load_before, load_after, tck, binpath, seed = (float(sys.argv[3]), sys.argv[4], sys.argv[5],
                                                            int(sys.argv[6]), sys.argv[7], int(sys.argv[8]))
ncpu = os.cpu_count()


def side(name):
    res = json.loads((run / f"{name}.json").read_text().strip().splitlines()[-1])
    wall, user, sys_, rss = (run / f"{name}.time").read_text().split()[-4:]
    cpu = float(user) + float(sys_)
    ticks = int((run / f"{name}.ticks").read_text())
    # GNU time gives the wall time to 10 ms: a quick run can read 0.
    other = max(0.0, ticks / tck - cpu) / (max(float(wall), 0.01) * ncpu) * 100
    proc = {"wall_s": float(wall), "cpu_s": cpu, "max_rss_mb": int(rss) / 1024, "other_load_pct": other}
    return res, proc


esda, esda_proc = side("esda")
lm, lm_proc = side("leadmap")
problems = []
if esda["cells"] != lm["cells"]:
    problems.append(f"cells: esda {esda['cells']}, leadmap {lm['cells']}")
a, b = esda["sum_abs_z"], lm["sum_abs_z"]
rel = abs(a - b) / max(abs(a), abs(b), 1e-300)
if rel > 1e-9:
    problems.append(f"sum |z|: esda {a!r}, leadmap {b!r} (relative difference {rel:.3g} > 1e-9)")
ratio = esda["total_s"] / (lm["median_ms"] / 1e3)
try:
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True,
                           text=True).stdout.strip()
    commit += "+dirty" if dirty else ""
except OSError:
    commit = "unknown"
cpu_model = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
unreliable = [n for n, p in (("esda", esda_proc), ("leadmap", lm_proc)) if p["other_load_pct"] > 5]
target = {"what": "Gi* over 120,000 res-11 cells, k = 1: at least 50x esda.G_Local end to end "
                  "(neighbours + weights + statistic)", "ratio": ratio, "met": ratio >= 50}
result = {
    "when": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"), "commit": commit,
    "machine": {"cpus": ncpu, "cpu": cpu_model, "busy_before_pct": busy_before,
                "loadavg_before": load_before, "loadavg_after": load_after},
    "cells": lm["cells"], "k": lm["k"], "seed": seed, "zeros": esda.get("zeros"),
    "esda": {**esda, "process": esda_proc,
             "call": "esda.G_Local(y, w, transform='B', star=True, permutations=0)"},
    "leadmap": {**lm, "process": lm_proc, "bin": binpath, "call": "leadmap::hotspots::gi_star(cells, values, k)"},
    "sum_abs_z_rel_diff": rel, "ratio_esda_total_over_leadmap_median": ratio, "target": target,
    "unreliable_sides": unreliable, "problems": problems,
}
out.write_text(json.dumps(result, indent=2) + "\n")

p = print
p()
p(f"{lm['cells']:,} res-11 cells (seed {seed}, {esda.get('zeros', 0):,} zeros), k = {lm['k']}; {ncpu} CPUs ({cpu_model}); "
  f"load average {load_before} before, {load_after} after; commit {commit}")
p(f"esda {esda['versions']['esda']}, libpysal {esda['versions']['libpysal']}, h3-py {esda['versions']['h3']}, "
  f"numpy {esda['versions']['numpy']}, Python {esda['versions']['python']}")
p()
rows = [
    ["esda (1 run)", f"{esda['neighbours_s']:.3f}", f"{esda['weights_s']:.3f}", f"{esda['statistic_s']:.3f}",
     f"{esda['total_s']:.3f}", f"{esda['total_s'] * 1e3:,.1f}", f"{esda_proc['max_rss_mb']:.0f}",
     f"{esda_proc['other_load_pct']:.1f}", f"{a:.6f}"],
    [f"leadmap (median of {lm['runs']})", "-", "-", "-", f"{lm['median_ms'] / 1e3:.4f}", f"{lm['median_ms']:,.1f}",
     f"{lm_proc['max_rss_mb']:.0f}", f"{lm_proc['other_load_pct']:.1f}", f"{b:.6f}"],
]
hdr = ["", "neighbours s", "weights s", "statistic s", "total s", "total ms", "peak RSS MB", "other load %",
       "sum |z|"]
w = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(hdr)]
p("| " + " | ".join(c.ljust(w[i]) if i == 0 else c.rjust(w[i]) for i, c in enumerate(hdr)) + " |")
p("|" + "|".join("-" * (w[i] + 2) if i == 0 else "-" * (w[i] + 1) + ":" for i in range(len(hdr))) + "|")
for r in rows:
    p("| " + " | ".join(c.ljust(w[i]) if i == 0 else c.rjust(w[i]) for i, c in enumerate(r)) + " |")
p()
p(f"leadmap best {lm['best_ms']:.1f} ms, median {lm['median_ms']:.1f} ms (gi_star on cells in memory: neighbours, "
  f"weights, z, p, classes, FDR; all cores); process {lm_proc['wall_s']:.2f} s wall, {lm_proc['cpu_s']:.2f} s CPU "
  f"with the CSV read and {lm['runs']} runs.")
p(f"esda: CSV read {esda['read_s']:.3f} s (not counted); process {esda_proc['wall_s']:.2f} s wall with module imports; "
  f"one thread. Both sides: no permutation p-values.")
p(f"sum |z| relative difference {rel:.2e} (limit 1e-9)")
p()
p(f"{'MET   ' if target['met'] else 'MISSED'} Gi* at least 50x esda.G_Local end to end: ratio = esda total / "
  f"leadmap median = {ratio:,.1f}x")
if unreliable:
    p(f"WARNING: other processes used more than 5 % of the machine during: {', '.join(unreliable)}; rerun on a quiet "
      "machine (--wait-quiet S).")
if busy_before > 10:
    p(f"WARNING: the machine was {busy_before:.0f} % busy before the run started.")
for pr in problems:
    p(f"RESULTS DISAGREE: {pr}")
p()
p(f"summary: {out}")
sys.exit(3 if problems else 0)
PY
