#!/usr/bin/env bash
# Proposal-impact benchmark (issue 17): leadmap's `proposals::impact` vs a PostGIS query; see --help.
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: tools/bench/bench_impact.sh [options]

Issue 17's targets on this machine, both sides on the very same events in one run:
  1. the impact of one proposal (the built-in 2018 set against the 2017 set) over 10 M events under
     300 ms, and at least 10x a PostgreSQL/PostGIS query computing the same newly-inside and
     newly-outside counts by month over the same events (both sides loaded beforehand);
  2. comparing 5 proposals over 10 M events under 1 s.

leadmap   `cargo bench --bench main -- proposals_impact` (builds the bench if needed, into
          $CARGO_TARGET_DIR, default target/) with LEADMAP_BENCH_EVENTS=N and
          LEADMAP_BENCH_IMPACT_DIR=TMP/dump: the bench makes its seeded events (benches/main.rs,
          `seeded_events`/`seeded_columns`), checks every proposal's impact against a per-event
          count, writes the events (lon,lat,day CSV, shortest round-trip decimals: the same binary64
          values) and the 2018-vs-2017 counts by month, times `impact` in process (median of 5),
          then criterion times: impact/1-proposal, impact+compare/5-proposals, each phase of
          impact (classify-both, cells-gained-lost, hotspots) and core/newly-by-month
          (classification + a dense per-month count: the work the SQL does). Criterion medians.
PostGIS   a throwaway PostgreSQL 15 + PostGIS 3 cluster (initdb in a temp dir, Unix socket there only;
          shared_buffers 3GB and work_mem 1GB so the table and its index stay in memory, the
          packaged defaults otherwise, parallel query included); the dumped CSV COPYed into a table
          (id, day, geometry(Point,4326)), a GiST index, the zone sets from geodata/*.geojson
          (ST_GeomFromGeoJSON), VACUUM ANALYZE, pg_prewarm of table and index (tools/
          bench_impact_load.sql). Then two forms of the query, each one warm-up and --runs timed
          runs (psql \timing, statement time): tools/bench/bench_impact_union.sql (each set's zones
          unioned, ST_Intersects against each union, GiST candidates) and tools/bench/bench_impact_join.sql
          (a spatial join zone by zone, then per event). Baseline = the faster form's median.
Every month's newly inside / newly outside from both SQL forms must equal leadmap's.

Writes target/bench/impact.json (raw outputs in target/bench/impact-run/) and prints a table:
N, leadmap ms (1 proposal, 5 + compare, the phases, the core), PostGIS ms per form, ratio = PostGIS
median / leadmap impact median (and / the core), targets met or missed.
Exit status: 0 measured (read the table), 1 a step failed, 2 usage or a missing tool, 3 the counts
disagree, 130 interrupted. The server is stopped and the temp dir removed on exit, also on Ctrl-C.

Needs: cargo, python3, PostgreSQL 15 server binaries and PostGIS 3 (apt-get install -y postgresql-15
postgresql-15-postgis-3), pg_prewarm (postgresql-contrib, part of postgresql-15). Run as root,
PostgreSQL runs as the `postgres` user (runuser). Disk: about 50 bytes a row (CSV) plus about 200
bytes a row (the cluster) in the temp dir. 10 M events: about 10 minutes all told (bench build not
counted), most of it the PostGIS load and index.

Options:
  --events N          events (default 10000000; e.g. 200000 for a quick run)
  --runs N            timed runs of each SQL form after its warm-up (default 5)
  --bench-args ARGS   extra criterion arguments (default none; e.g. '--warm-up-time 1
                      --measurement-time 3' for a quicker run)
  --pg-bin DIR        PostgreSQL server binaries (default /usr/lib/postgresql/15/bin)
  --tmpdir DIR        where the temp dir (CSV + cluster) goes (default $TMPDIR or /tmp)
  --wait-quiet S      first wait up to S seconds for the machine to be under 10 % busy (default 0)
  --keep              keep the temp dir (the cluster, stopped; the CSV is deleted once loaded)
  --out FILE          JSON summary (default target/bench/impact.json)
  -h, --help          this text

Examples:
  CARGO_TARGET_DIR=/work/target-bench tools/bench/bench_impact.sh                 # 10 M events
  tools/bench/bench_impact.sh --events 200000 --runs 3 --bench-args '--warm-up-time 1 --measurement-time 2'
EOF
}

BENCH=bench_impact
# shellcheck source=tools/bench/bench_common.sh
source "$(dirname "${BASH_SOURCE[0]}")/bench_common.sh"

EVENTS=10000000 RUNS=5 BENCH_ARGS="" WAIT_QUIET=0 KEEP=0
PG_BIN=/usr/lib/postgresql/15/bin TMP_PARENT=${TMPDIR:-/tmp} OUT=""
while (($#)); do
  case $1 in
    -h | --help) usage; exit 0 ;;
    --events) EVENTS=${2:?}; shift ;;
    --runs) RUNS=${2:?}; shift ;;
    --bench-args) BENCH_ARGS=${2?}; shift ;;
    --pg-bin) PG_BIN=${2:?}; shift ;;
    --tmpdir) TMP_PARENT=${2:?}; shift ;;
    --wait-quiet) WAIT_QUIET=${2:?}; shift ;;
    --keep) KEEP=1 ;;
    --out) OUT=${2:?}; shift ;;
    *) usage >&2; die "unknown option $1" ;;
  esac
  shift
done
OUT=$(abs "$OUT") PG_BIN=$(abs "$PG_BIN") TMP_PARENT=$(abs "$TMP_PARENT")
TARGET_DIR=$(abs "${CARGO_TARGET_DIR:-}")
cd "$ROOT"
TARGET_DIR=${TARGET_DIR:-$ROOT/target}
OUT=${OUT:-$ROOT/target/bench/impact.json}
[[ $EVENTS =~ ^[0-9]+$ && $EVENTS -ge 1000 ]] || die "--events must be a whole number, at least 1000 (got $EVENTS)"
[[ $RUNS =~ ^[0-9]+$ && $RUNS -ge 1 ]] || die "--runs must be a whole number, at least 1 (got $RUNS)"
whole WAIT_QUIET=--wait-quiet

# ---- prerequisites (PostgreSQL and PostGIS are not installed here) --------------------------------
command -v python3 >/dev/null || die "python3 is not installed"
command -v cargo >/dev/null || die "cargo is not installed"
pg_require pg_prewarm
COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
git diff --quiet HEAD -- src benches Cargo.toml Cargo.lock 2>/dev/null || COMMIT="$COMMIT+dirty"

# ---- cleanup: the bench (its own process group) and the server stopped, the temp dir removed ------
TMP=""
cleanup() {
  trap - INT TERM
  if [[ -n $CHILD ]]; then
    kill -TERM -- "-$CHILD" 2>/dev/null || kill -TERM "$CHILD" 2>/dev/null || true
    wait "$CHILD" 2>/dev/null || true
    CHILD=""
  fi
  pg_stop
  if [[ -n $TMP && -d $TMP ]]; then
    if ((KEEP)); then echo "bench_impact: kept $TMP" >&2; else rm -rf "$TMP"; fi
  fi
  TMP=""
}
trap cleanup EXIT
trap 'echo "bench_impact: interrupted" >&2; exit 130' INT TERM

RUN=$ROOT/target/bench/impact-run
rm -rf "$RUN"
mkdir -p "$RUN" "$(dirname "$OUT")" "$TMP_PARENT"
TMP=$(mktemp -d "$TMP_PARENT/leadmap-bench-impact.XXXXXX")
chmod 755 "$TMP"
DUMP=$TMP/dump
mkdir -p "$DUMP"
wait_quiet bench_impact "$WAIT_QUIET"

# ---- leadmap: the bench (dumps the events, checks the counts, times) ------------------------------
echo "leadmap: cargo bench --bench main -- proposals_impact ($EVENTS events; builds if needed) ..." >&2
CRIT=$TARGET_DIR/criterion/proposals_impact
rm -rf "$CRIT"
t0=$EPOCHREALTIME
# shellcheck disable=SC2086 # BENCH_ARGS: several criterion arguments
run -g -o "$RUN/bench.log" env LEADMAP_BENCH_EVENTS="$EVENTS" LEADMAP_BENCH_IMPACT_DIR="$DUMP" \
  CARGO_TARGET_DIR="$TARGET_DIR" cargo bench --bench main -- proposals_impact $BENCH_ARGS ||
  fail "cargo bench failed (a wrong count fails its assertions): $(tail -20 "$RUN/bench.log")"
BENCH_S=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.1f", b - a}')
[[ -f $DUMP/events.csv && -f $DUMP/leadmap.json ]] || fail "the bench wrote no dump (see $RUN/bench.log)"
cp "$DUMP/leadmap.json" "$RUN/leadmap.json"
BUSY_AFTER_BENCH=$(busy_pct)

# ---- PostGIS: a throwaway cluster, the same events ------------------------------------------------
# Memory for the table and index; a Unix socket in the temp dir only.
pg_start "$TMP" "$RUN" "shared_buffers = 3GB" "work_mem = 1GB" "maintenance_work_mem = 1GB" "max_wal_size = 8GB"
psql_at -c 'CREATE EXTENSION postgis' -c 'CREATE EXTENSION pg_prewarm' >/dev/null 2>"$RUN/psql-setup.err" ||
  fail "CREATE EXTENSION failed: $(cat "$RUN/psql-setup.err")"
PG_VERSION=$(psql_at -c 'SHOW server_version')
POSTGIS_VERSION=$(psql_at -c 'SELECT postgis_full_version()')
cp geodata/portland-2017.geojson "$TMP/zones-cur.geojson"
cp geodata/portland-2018.geojson "$TMP/zones-prop.geojson"
chmod a+r "$TMP"/*.geojson "$DUMP" "$DUMP/events.csv"
chmod a+x "$DUMP"
CUR=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["name"])' "$TMP/zones-cur.geojson")
PROP=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["name"])' "$TMP/zones-prop.geojson")

echo "PostGIS: loading $EVENTS events (COPY, geometry, GiST index, VACUUM ANALYZE) ..." >&2
t0=$EPOCHREALTIME
run -g -o "$RUN/pg-load.txt" "${PSQL[@]}" -v csv="$DUMP/events.csv" -v zones_cur="$TMP/zones-cur.geojson" \
  -v zones_prop="$TMP/zones-prop.geojson" -c '\timing on' -f tools/bench/bench_impact_load.sql ||
  fail "loading failed: $(tail -5 "$RUN/pg-load.txt")"
LOAD_S=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.1f", b - a}')
# The CSV is not needed any more: 450 MB at 10 M rows.
rm -f "$DUMP/events.csv"
psql_at -F, -c "SELECT count(*), pg_total_relation_size('events'), pg_relation_size('events_geom'),
  (SELECT count(*) FROM zones WHERE NOT ST_IsValid(geom)) FROM events" >"$RUN/pg-table.txt"
psql_at -c "SELECT pg_prewarm('events'), pg_prewarm('events_geom'), pg_prewarm('zones')" >"$RUN/pg-prewarm.txt"
psql_at -c "SELECT json_object_agg(name, current_setting(name) ORDER BY name) FROM pg_settings WHERE name IN
  ('shared_buffers', 'work_mem', 'max_parallel_workers_per_gather', 'max_parallel_workers', 'jit',
   'effective_cache_size', 'random_page_cost')" >"$RUN/pg-settings.json"

for form in union join; do
  echo "PostGIS: $form form, 1 warm-up + $RUNS runs ..." >&2
  for k in $(seq 0 "$RUNS"); do
    run -g -o "$RUN/pg-$form-$k.txt" "${PSQL[@]}" -At -F, -v cur="$CUR" -v prop="$PROP" -c '\timing on' \
      -f "tools/bench/bench_impact_$form.sql" || fail "the $form query failed: $(tail -5 "$RUN/pg-$form-$k.txt")"
  done
  # The plan, for the record (not timed).
  sed '/^--/d' "tools/bench/bench_impact_$form.sql" | sed '1s/^/EXPLAIN (ANALYZE, BUFFERS) /' >"$TMP/explain.sql"
  "${PSQL[@]}" -v cur="$CUR" -v prop="$PROP" -f "$TMP/explain.sql" >"$RUN/pg-$form-plan.txt" 2>&1 || true
done
cleanup

# ---- summary --------------------------------------------------------------------------------------
export BI_WHEN BI_COMMIT=$COMMIT BI_BUSY_BEFORE=$BUSY_BEFORE BI_BUSY_AFTER_BENCH=$BUSY_AFTER_BENCH \
  BI_LOAD_BEFORE=$LOAD_BEFORE BI_PG_VERSION=$PG_VERSION BI_POSTGIS_VERSION=$POSTGIS_VERSION BI_LOAD_S=$LOAD_S \
  BI_BENCH_S=$BENCH_S BI_CPU BI_NCPU
BI_WHEN=$(date -u +%Y-%m-%dT%H:%M:%SZ) BI_NCPU=$(nproc)
BI_CPU=$(awk -F': ' '/^model name/{print $2; exit}' /proc/cpuinfo)
python3 - "$RUN" "$OUT" "$CRIT" "$EVENTS" "$RUNS" <<'PY'
import os
import glob
import json
import statistics
import sys
from pathlib import Path

run, out, crit, events, runs = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
lm = json.loads((run / "leadmap.json").read_text())
problems = []
if lm["events"] != events:
    problems.append(f"the bench made {lm['events']} events, not {events}")

crit_ms = {}
for b in glob.glob(str(crit / "**" / "new" / "benchmark.json"), recursive=True):
    fid = json.loads(Path(b).read_text())["full_id"].removeprefix("proposals_impact/")
    est = json.loads((Path(b).parent / "estimates.json").read_text())
    crit_ms[fid] = est["median"]["point_estimate"] / 1e6


def pg_form(form):
    times, rows = [], None
    for k in range(runs + 1):
        lines = (run / f"pg-{form}-{k}.txt").read_text().splitlines()
        t = [float(x.split()[1]) for x in lines if x.startswith("Time: ")]
        got = [x.split(",") for x in lines if x and not x.startswith("Time: ")]
        got = [[m, int(a), int(b)] for m, a, b in got]
        if rows is None:
            rows = got
        elif got != rows:
            problems.append(f"{form}: run {k} answered differently from the warm-up")
        if k > 0:
            times.append(sum(t))
    return {"runs_ms": times, "median_ms": statistics.median(times), "warmup_included": False, "months": rows}


pg = {f: pg_form(f) for f in ("union", "join")}
want = lm["months"]
for f, r in pg.items():
    if r["months"] != want:
        a, b = {m[0]: m[1:] for m in want}, {m[0]: m[1:] for m in r["months"]}
        diff = [(m, a.get(m), b.get(m)) for m in sorted(set(a) | set(b)) if a.get(m) != b.get(m)]
        problems.append(f"PostGIS ({f}) and leadmap disagree on {len(diff)} month(s), e.g. {diff[:3]} "
                        "(month, leadmap [in, out], PostGIS [in, out])")
best = min(pg, key=lambda f: pg[f]["median_ms"])
pg_ms = pg[best]["median_ms"]
one = crit_ms.get("impact/1-proposal")
five = crit_ms.get("impact+compare/5-proposals")
core = crit_ms.get("core/newly-by-month")
cnt, size, idx, invalid = (run / "pg-table.txt").read_text().strip().split(",")
if int(cnt) != events:
    problems.append(f"PostgreSQL holds {cnt} events, not {events}")
ratio = pg_ms / one if one else None
targets = {
    "impact_1_under_300ms": {"ms": one, "met": one is not None and one < 300},
    "impact_1_10x_postgis": {"ratio": ratio, "met": ratio is not None and ratio >= 10},
    "compare_5_under_1s": {"ms": five, "met": five is not None and five < 1000},
}
env = os.environ
result = {
    "when": env["BI_WHEN"], "commit": env["BI_COMMIT"], "events": events,
    "machine": {"cpus": int(env["BI_NCPU"]), "cpu": env["BI_CPU"],
                "busy_before_pct": float(env["BI_BUSY_BEFORE"]),
                "busy_after_bench_pct": float(env["BI_BUSY_AFTER_BENCH"]), "load_before": env["BI_LOAD_BEFORE"]},
    "versions": {"postgresql": env["BI_PG_VERSION"], "postgis": env["BI_POSTGIS_VERSION"]},
    "pg_settings": json.loads((run / "pg-settings.json").read_text()),
    "proposal": lm["proposal"], "current": lm["current"],
    "newly_inside": lm["newly_inside"], "newly_outside": lm["newly_outside"],
    "leadmap_criterion_median_ms": crit_ms,
    "leadmap_in_process_ms": {k: v["median_ms"] for k, v in lm["in_process"].items()},
    "postgis": {f: {k: v for k, v in r.items() if k != "months"} for f, r in pg.items()},
    "postgis_best_form": best, "postgis_median_ms": pg_ms,
    "postgis_table": {"rows": int(cnt), "bytes": int(size), "gist_bytes": int(idx), "invalid_zones": int(invalid)},
    "postgis_load_s": float(env["BI_LOAD_S"]), "bench_run_s": float(env["BI_BENCH_S"]),
    "ratio_postgis_over_impact": ratio, "ratio_postgis_over_core": pg_ms / core if core else None,
    "targets": targets, "problems": problems,
}
out.write_text(json.dumps(result, indent=2) + "\n")


def f(v, d=1):
    return "-" if v is None else f"{v:,.{d}f}"


p = print
p()
p(f"{events:,} events; {lm['proposal']} against {lm['current']}: {lm['newly_inside']:,} newly inside, "
  f"{lm['newly_outside']:,} newly outside; PostgreSQL {result['versions']['postgresql']}")
p()
p("| what | ms (median) |")
p("|---|---:|")
for k in sorted(crit_ms):
    p(f"| leadmap {k} | {f(crit_ms[k])} |")
for k, v in lm["in_process"].items():
    p(f"| leadmap {k} (in process, before criterion, median of 5) | {f(v['median_ms'])} |")
for form, r in pg.items():
    p(f"| PostGIS {form} form ({runs} runs after a warm-up) | {f(r['median_ms'])} |")
p()
p(f"ratio PostGIS ({best}) / leadmap impact = {f(ratio, 2)}x; / leadmap core count = "
  f"{f(result['ratio_postgis_over_core'], 2)}x")
for name, t in targets.items():
    p(f"{'MET   ' if t['met'] else 'MISSED'} {name}: {f(t.get('ms', t.get('ratio')), 2)}")
if result["machine"]["busy_before_pct"] > 10:
    p(f"WARNING: the machine was {result['machine']['busy_before_pct']} % busy before the run")
for pr in problems:
    p(f"PROBLEM: {pr}")
p(f"PostGIS load (COPY, geometry, index, VACUUM ANALYZE): {result['postgis_load_s']} s; bench run {result['bench_run_s']} s")
p(f"summary: {out}")
sys.exit(3 if problems else 0)
PY
