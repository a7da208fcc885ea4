#!/usr/bin/env bash
# Import benchmark: `leadmap import` vs PostgreSQL/PostGIS COPY + geometry; see --help.
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: tools/bench/bench_import.sh [options]

Times `leadmap import` of a seeded synthetic event CSV (tools/gen/gen_events.py: id,date,time,kind,lon,
lat,offense,race_ethnicity,agency; 10 M rows by default) into a new embedded store, beside its
baseline on the same file in the same run:
  PostgreSQL  a throwaway PostgreSQL 15 cluster (initdb in a temp dir, Unix socket there only,
              listen_addresses='', the packaged defaults otherwise: fsync, synchronous_commit and
              full_page_writes on), PostGIS 3; a table with the same columns, typed (text id, date,
              time, text kind, double precision lon/lat, text offense, race_ethnicity, agency):
                COPY events FROM 'FILE' WITH (FORMAT csv, HEADER true)              -> COPY s
                ALTER TABLE events ADD COLUMN geom geometry(Point,4326);
                UPDATE events SET geom = ST_SetSRID(ST_MakePoint(lon, lat), 4326)   -> geometry s
              baseline = COPY s + geometry s (psql \timing: statement times; no index is built).
              Then count(*) and count(geom) must equal the rows.
  leadmap     /usr/bin/time -v leadmap import FILE --source bench --data TMP/bench.gpkg --json -q
              into a new store: wall seconds, peak RSS, the JSON summary (read = rows and
              imported + rejected = rows; exit status 3, some rows rejected, is reported, not an
              error); VmRSS sampled every 0.5 s: min, max and trend (MB per million rows) over the
              second half of the run (is memory flat?). Then the same file again into the same store (all rows unchanged): wall s, RSS.
The CSV is read once before each side so both read it from the page cache, and `sync` runs before
each timed step; after the PostgreSQL side the table is dropped and a CHECKPOINT run (untimed), so
neither autovacuum nor deferred writes land in leadmap's time. With --rounds N the two sides take
turns going first (a new table and a new store each round) and the table gives medians.

The CSV is cached as target/bench/events-vV-ROWS-sSEED.csv (V: gen_events.py's format version) and
reused; 10 M rows take about a minute to generate (about 790 MB). Each timed step also records the
machine's CPU time outside the measured processes; over 5 % of the machine flags the figures as
unreliable.
Writes target/bench/import.json (raw outputs in target/bench/import-run/) and prints a table.
Exit status: 0 measured (whether or not leadmap won: read the table), 1 a step failed (generator,
PostgreSQL, or leadmap with a status other than 0 or 3), 2 usage or a missing tool, 3 a row count is
wrong, 130 interrupted. The PostgreSQL server is stopped and the temp dir removed on exit, also on
Ctrl-C.

Needs: python3, GNU time (/usr/bin/time; apt-get install -y time), PostgreSQL 15 server binaries
(apt-get install -y postgresql-15) and PostGIS 3 (apt-get install -y postgresql-15-postgis-3).
Nothing is installed or built by this script. Run as root, PostgreSQL runs as the `postgres` user
(runuser); the CSV must be readable by it. Needs about 700 bytes of free disk a row in the temp dir.

Options:
  --leadmap BIN       release leadmap binary (default target/release/leadmap; never built here:
                      cargo build --release --bin leadmap)
  --rows N            data rows in the CSV (default 10000000)
  --seed N            generator seed (default 42)
  --rounds N          repeat both sides N times, alternating which goes first; medians (default 1)
  --pg-bin DIR        PostgreSQL server binaries (default /usr/lib/postgresql/15/bin)
  --tmpdir DIR        where the temp dir (cluster + store) goes (default $TMPDIR or /tmp)
  --wait-quiet S      first wait up to S seconds for the machine to be under 10 % busy
                      (default 0: measure at once; busy runs are flagged either way)
  --keep              keep the temp dir after the run: the cluster (server.log; the table is
                      dropped after each measurement) and the last store (the server is stopped)
  --out FILE          JSON summary (default target/bench/import.json)
  -h, --help          this text

Example:
  tools/bench/bench_import.sh --leadmap /work/target-bench/release/leadmap --rounds 3 --wait-quiet 600
  tools/bench/bench_import.sh --leadmap target/release/leadmap --rows 200000     # a quick check
EOF
}

BENCH=bench_import
# shellcheck source=tools/bench/bench_common.sh
source "$(dirname "${BASH_SOURCE[0]}")/bench_common.sh"

LEADMAP_BIN="" ROWS=10000000 SEED=42 ROUNDS=1 WAIT_QUIET=0 KEEP=0
PG_BIN=/usr/lib/postgresql/15/bin TMP_PARENT=${TMPDIR:-/tmp} OUT=""
while (($#)); do
  case $1 in
    -h | --help) usage; exit 0 ;;
    --leadmap) LEADMAP_BIN=${2:?}; shift ;;
    --rows) ROWS=${2:?}; shift ;;
    --seed) SEED=${2:?}; shift ;;
    --rounds) ROUNDS=${2:?}; shift ;;
    --pg-bin) PG_BIN=${2:?}; shift ;;
    --tmpdir) TMP_PARENT=${2:?}; shift ;;
    --wait-quiet) WAIT_QUIET=${2:?}; shift ;;
    --keep) KEEP=1 ;;
    --out) OUT=${2:?}; shift ;;
    *) usage >&2; die "unknown option $1" ;;
  esac
  shift
done
# Paths given on the command line are relative to where the script was started; then work from the repo.
LEADMAP_BIN=$(abs "$LEADMAP_BIN") OUT=$(abs "$OUT") PG_BIN=$(abs "$PG_BIN") TMP_PARENT=$(abs "$TMP_PARENT")
cd "$ROOT"
LEADMAP_BIN=${LEADMAP_BIN:-$ROOT/target/release/leadmap}
OUT=${OUT:-$ROOT/target/bench/import.json}
whole ROWS=--rows SEED=--seed ROUNDS=--rounds WAIT_QUIET=--wait-quiet
((ROWS >= 1 && ROUNDS >= 1)) || die "--rows and --rounds must be at least 1"

# ---- prerequisites (nothing is installed or built here) -------------------------------------------
command -v python3 >/dev/null || die "python3 is not installed"
[[ -x /usr/bin/time ]] || die "GNU time is not installed (/usr/bin/time). On Debian/Ubuntu: apt-get install -y time"
[[ -x $LEADMAP_BIN ]] ||
  die "not an executable: $LEADMAP_BIN (nothing is built here: cargo build --release --bin leadmap," \
    "or give --leadmap BIN)"
pg_require
COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
git diff --quiet HEAD -- src Cargo.toml Cargo.lock 2>/dev/null || COMMIT="$COMMIT+dirty"

# ---- cleanup: the server stopped, the temp dir removed, whatever happens -------------------------
TMP=""
declare -a KILL_PIDS=() # leadmap, /usr/bin/time and the RSS sampler while they run
cleanup() {
  trap - INT TERM
  # leadmap first: SIGTERM would end /usr/bin/time and leave its child running
  if ((${#KILL_PIDS[@]})); then stop_pids "${KILL_PIDS[@]}"; fi
  KILL_PIDS=()
  if [[ -n $CHILD ]]; then stop_pids "$CHILD"; fi
  CHILD=""
  pg_stop
  if [[ -n $TMP && -d $TMP ]]; then
    if ((KEEP)); then
      echo "bench_import: kept $TMP (cluster data in $PGDATA, store in $TMP/store)" >&2
    else
      rm -rf "$TMP"
    fi
  fi
  TMP=""
}
trap cleanup EXIT
trap 'echo "bench_import: interrupted" >&2; exit 130' INT TERM

RUN=$ROOT/target/bench/import-run
rm -rf "$RUN"
mkdir -p "$RUN" "$(dirname "$OUT")"
RESULTS=$RUN/results.jsonl
: >"$RESULTS"

# ---- the CSV (cached) -----------------------------------------------------------------------------
GEN_VERSION=$(python3 tools/gen/gen_events.py --version)
CSV=$ROOT/target/bench/events-v$GEN_VERSION-$ROWS-s$SEED.csv
GEN_S=null
if [[ -f $CSV ]]; then
  echo "using the cached $CSV" >&2
else
  echo "generating $ROWS rows (seed $SEED) into $CSV ..." >&2
  t0=$EPOCHREALTIME
  run python3 tools/gen/gen_events.py --rows "$ROWS" --seed "$SEED" -o "$CSV" || fail "tools/gen/gen_events.py failed"
  GEN_S=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.1f", b - a}')
fi
CSV_BYTES=$(stat -c %s "$CSV")
chmod a+r "$CSV" 2>/dev/null || true
"${AS_PG[@]}" test -r "$CSV" ||
  die "$PG_OWNER cannot read $CSV (COPY reads it on the server side):" \
    "make it and its directories readable (chmod o+r / o+x)"
[[ $CSV != *"'"* ]] || die "the CSV path must not contain a single quote: $CSV"
warm_csv() { cat "$CSV" >/dev/null; }

# ---- a quiet machine, the temp dir and the cluster ------------------------------------------------
wait_quiet bench_import "$WAIT_QUIET"

mkdir -p "$TMP_PARENT"
TMP=$(mktemp -d "$TMP_PARENT/leadmap-bench-import.XXXXXX")
chmod 755 "$TMP"
mkdir -p "$TMP/store"
[[ $(df --output=fstype "$TMP" | tail -1 | tr -d " ") != tmpfs ]] ||
  echo "bench_import: WARNING: $TMP_PARENT is a tmpfs (memory): fsync costs nothing there; give --tmpdir on a disk" >&2
NEED=$((ROWS * 700))
AVAIL=$(($(df --output=avail -k "$TMP" | tail -1) * 1024))
((AVAIL > NEED)) ||
  echo "bench_import: WARNING: $((AVAIL / 1000000)) MB free in $TMP_PARENT, about $((NEED / 1000000)) MB needed" >&2

# Only a Unix socket in the temp dir; every other setting is the packaged default.
pg_start "$TMP" "$RUN"
psql_at -c 'CREATE EXTENSION postgis' >/dev/null 2>"$RUN/psql-setup.err" ||
  fail "CREATE EXTENSION postgis failed: $(cat "$RUN/psql-setup.err")"
PG_VERSION=$(psql_at -c 'SHOW server_version')
POSTGIS_VERSION=$(psql_at -c 'SELECT postgis_lib_version()')
PG_SETTINGS_JSON=$(psql_at -c "SELECT json_object_agg(name, current_setting(name) ORDER BY name) FROM pg_settings
  WHERE name IN ('fsync', 'synchronous_commit', 'full_page_writes', 'wal_level', 'shared_buffers', 'wal_buffers',
                 'max_wal_size', 'checkpoint_timeout', 'wal_compression', 'work_mem', 'maintenance_work_mem',
                 'autovacuum', 'data_checksums', 'huge_pages', 'max_parallel_workers')")
PG_SETTINGS_TEXT=$(psql_at -F= -c "SELECT name, current_setting(name) FROM pg_settings
  WHERE name IN ('fsync', 'synchronous_commit', 'full_page_writes', 'wal_level', 'shared_buffers', 'max_wal_size',
                 'checkpoint_timeout') ORDER BY name" | tr '\n' ' ')
echo "PostgreSQL $PG_VERSION, PostGIS $POSTGIS_VERSION; $PG_SETTINGS_TEXT" >&2

# CPU ticks of the whole cluster: the postmaster (with its reaped children: finished backends) and
# every child still running (checkpointer, WAL writer, backends).
pg_ticks() {
  local pm
  pm=$(head -1 "$PGDATA/postmaster.pid")
  {
    sed 's/^.*) //' "/proc/$pm/stat"
    for c in $(cat "/proc/$pm/task/$pm/children" 2>/dev/null); do
      sed 's/^.*) //' "/proc/$c/stat" 2>/dev/null || true
    done
  } | awk '{s += $12 + $13 + $14 + $15} END {print s}'
}
NCPU=$(nproc)
# "Time: 1234.567 ms" lines of psql \timing, summed, in seconds
timing_s() { awk '/^Time: / {s += $2} END {printf "%.3f", s / 1000}' "$1"; }

pg_side() { # ROUND ORDER
  local r=$1 o=$2 t0 t1 t2 t3 b0 b1 b2 c0 c1 c2 counts ck0
  echo "round $r/$ROUNDS: PostgreSQL: COPY + geometry ..." >&2
  "${PSQL[@]}" -c 'SET client_min_messages = warning' -c 'DROP TABLE IF EXISTS events' \
    -c 'CREATE TABLE events (id text, date date, time time, kind text, lon double precision,
          lat double precision, offense text, race_ethnicity text, agency text)' \
    -c 'CHECKPOINT' || fail "creating the table failed"
  warm_csv
  sync
  c0=$(pg_ticks) b0=$(busy_ticks) t0=$EPOCHREALTIME
  run -o "$RUN/r$r-pg-copy.txt" "${PSQL[@]}" -c '\timing on' \
    -c "COPY events FROM '$CSV' WITH (FORMAT csv, HEADER true)" ||
    fail "COPY failed: $(tail -5 "$RUN/r$r-pg-copy.txt")"
  t1=$EPOCHREALTIME
  sleep 0.2 # let the postmaster reap the backend (its CPU time moves to the postmaster's children)
  c1=$(pg_ticks) b1=$(busy_ticks) t2=$EPOCHREALTIME
  run -o "$RUN/r$r-pg-geom.txt" "${PSQL[@]}" -c '\timing on' \
    -c 'ALTER TABLE events ADD COLUMN geom geometry(Point,4326)' \
    -c 'UPDATE events SET geom = ST_SetSRID(ST_MakePoint(lon, lat), 4326)' ||
    fail "the geometry step failed: $(tail -5 "$RUN/r$r-pg-geom.txt")"
  t3=$EPOCHREALTIME
  sleep 0.2
  c2=$(pg_ticks) b2=$(busy_ticks)
  counts=$(psql_at -F, -c "SELECT count(*), count(geom), pg_total_relation_size('events') FROM events")
  # Untimed: drop the table (else autovacuum would clean up after the UPDATE during leadmap's import) and
  # write the deferred work (dirty buffers) out, so that none of it lands in leadmap's time.
  ck0=$EPOCHREALTIME
  "${PSQL[@]}" -c 'DROP TABLE events' -c 'CHECKPOINT' || fail "DROP TABLE + CHECKPOINT failed"
  sync
  printf '{"round":%d,"order":%d,"side":"pg","copy_s":%s,"geom_s":%s,"copy_wall":[%s,%s],"geom_wall":[%s,%s],' \
    "$r" "$o" "$(timing_s "$RUN/r$r-pg-copy.txt")" "$(timing_s "$RUN/r$r-pg-geom.txt")" \
    "$t0" "$t1" "$t2" "$t3" >>"$RESULTS"
  printf '"copy_cpu_ticks":{"pg":%s,"machine":%s},"geom_cpu_ticks":{"pg":%s,"machine":%s},' \
    "$((c1 - c0))" "$((b1 - b0))" "$((c2 - c1))" "$((b2 - b1))" >>"$RESULTS"
  printf '"counts":[%s],"checkpoint_after":[%s,%s]}\n' "$counts" "$ck0" "$EPOCHREALTIME" >>"$RESULTS"
}

STORE=$TMP/store/bench.gpkg
sample_rss() { # PID FILE: "epoch VmRSS_kB" every 0.5 s while PID runs
  local k v _
  while [[ -r /proc/$1/status ]]; do
    while read -r k v _; do
      if [[ $k == VmRSS: ]]; then
        printf '%s %s\n' "$EPOCHREALTIME" "$v"
        break
      fi
    done <"/proc/$1/status" 2>/dev/null || break
    sleep 0.5
  done >"$2"
}
leadmap_import() { # ROUND ORDER STEP(import|reimport)
  local r=$1 o=$2 step=$3 t0 t1 b0 b1 tpid lpid="" spid="" rc=0 base
  base=$RUN/r$r-leadmap-$step
  warm_csv
  sync
  b0=$(busy_ticks) t0=$EPOCHREALTIME
  /usr/bin/time -v -o "$base.time" "$LEADMAP_BIN" import "$CSV" --source bench --data "$STORE" --json -q \
    >"$base.json" 2>"$base.err" &
  tpid=$!
  KILL_PIDS=("$tpid")
  for _ in $(seq 200); do
    lpid=$(cat "/proc/$tpid/task/$tpid/children" 2>/dev/null || true)
    lpid=${lpid%% *}
    [[ -n $lpid ]] && break
    kill -0 "$tpid" 2>/dev/null || break
    sleep 0.01
  done
  if [[ -n $lpid ]]; then
    KILL_PIDS=("$lpid" "$tpid")
    if [[ $step == import ]]; then
      sample_rss "$lpid" "$base.rss" &
      spid=$!
      KILL_PIDS+=("$spid")
    fi
  fi
  wait "$tpid" || rc=$?
  t1=$EPOCHREALTIME b1=$(busy_ticks)
  if [[ -n $spid ]]; then wait "$spid" 2>/dev/null || true; fi
  KILL_PIDS=()
  ((rc == 0 || rc == 3)) || fail "leadmap import ($step, round $r) exited with status $rc: $(tail -5 "$base.err")"
  sync
  printf '{"round":%d,"order":%d,"side":"leadmap","step":"%s","exit":%d,"wall":[%s,%s],' \
    "$r" "$o" "$step" "$rc" "$t0" "$t1" >>"$RESULTS"
  printf '"machine_cpu_ticks":%s,"store_bytes":%s}\n' \
    "$((b1 - b0))" "$(du -cb "$STORE"* | tail -1 | cut -f1)" >>"$RESULTS"
}
leadmap_side() { # ROUND ORDER
  echo "round $1/$ROUNDS: leadmap import (new store), then again (re-import) ..." >&2
  rm -f "$STORE" "$STORE-wal" "$STORE-shm" "$STORE-journal"
  leadmap_import "$1" "$2" import
  leadmap_import "$1" "$2" reimport
}

for r in $(seq "$ROUNDS"); do
  if ((r % 2)); then
    pg_side "$r" 1
    leadmap_side "$r" 2
  else
    leadmap_side "$r" 1
    pg_side "$r" 2
  fi
done

# ---- summary --------------------------------------------------------------------------------------
cleanup
CPU_MODEL=$(awk -F': ' '/^model name/{print $2; exit}' /proc/cpuinfo)
FS_TYPE=$(df --output=fstype "$TMP_PARENT" | tail -1 | tr -d " ")
cat >"$RUN/meta.json" <<EOF
{
  "when": $(jstr "$(date -u +%Y-%m-%dT%H:%M:%SZ)"),
  "commit": $(jstr "$COMMIT"),
  "busy_before_pct": $BUSY_BEFORE,
  "machine": {"cpus": $NCPU, "cpu": $(jstr "$CPU_MODEL"), "kernel": $(jstr "$(uname -r)"),
              "mem_mb": $(awk '/^MemTotal:/ {print int($2 / 1024)}' /proc/meminfo), "tmp_fs": $(jstr "$FS_TYPE")},
  "clk_tck": $TCK,
  "csv": {"path": $(jstr "$CSV"), "rows": $ROWS, "seed": $SEED, "bytes": $CSV_BYTES, "generator_version": $GEN_VERSION,
          "generated_s": $GEN_S},
  "rounds": $ROUNDS,
  "versions": {"leadmap": $(jstr "$("$LEADMAP_BIN" --version 2>/dev/null || echo unknown)"),
               "postgresql": $(jstr "$PG_VERSION"), "postgis": $(jstr "$POSTGIS_VERSION")},
  "leadmap_bin": $(jstr "$LEADMAP_BIN"),
  "leadmap_command": "leadmap import FILE --source bench --data TMP/bench.gpkg --json -q",
  "pg_settings": $PG_SETTINGS_JSON,
  "pg_initdb": "initdb -E UTF8 --locale=C.UTF-8 -A trust; listen_addresses='' (Unix socket in the temp dir)"
}
EOF
python3 - "$RUN" "$OUT" <<'PY'
import json
import re
import statistics
import sys
from pathlib import Path

run, out = Path(sys.argv[1]), Path(sys.argv[2])
meta = json.loads((run / "meta.json").read_text())
rows, ncpu, tck = meta["csv"]["rows"], meta["machine"]["cpus"], meta["clk_tck"]
lines = [json.loads(x) for x in (run / "results.jsonl").read_text().splitlines() if x.strip()]
problems = []


def time_v(path):
    """GNU time -v: peak RSS, user and system seconds."""
    t = Path(path).read_text()

    def get(pat):
        return float(re.search(pat, t).group(1))

    return {"max_rss_mb": get(r"Maximum resident set size \(kbytes\): (\d+)") / 1024,
            "user_s": get(r"User time \(seconds\): ([\d.]+)"),
            "sys_s": get(r"System time \(seconds\): ([\d.]+)")}


def other_pct(machine_ticks, own_s, wall):
    """CPU time of everything but the measured processes, as a share of the whole machine."""
    return max(0.0, machine_ticks / tck - own_s) / (wall * ncpu) * 100


def rss_flatness(path, t0, t1):
    """VmRSS samples: min, max and least-squares trend over the second half of the run."""
    samples = []
    if Path(path).exists():
        for x in Path(path).read_text().splitlines():
            if x.strip():
                t, kb = x.split()
                samples.append((float(t) - t0, int(kb) / 1024))
    res = {"samples": len(samples), "second_half_min_mb": None, "second_half_max_mb": None, "spread_pct": None,
           "second_half_mb_per_million_rows": None}
    late = [(t, mb) for t, mb in samples if t >= (t1 - t0) / 2]
    if late:
        lo, hi = min(mb for _, mb in late), max(mb for _, mb in late)
        res.update(second_half_samples=len(late), second_half_min_mb=lo, second_half_max_mb=hi,
                   spread_pct=(hi - lo) / hi * 100 if hi else 0.0)
    if len(late) >= 3:
        mt, mm = statistics.fmean(t for t, _ in late), statistics.fmean(mb for _, mb in late)
        var = sum((t - mt) ** 2 for t, _ in late)
        if var > 0:  # MB per second, then per million rows (the rows assumed to go at an even pace)
            slope = sum((t - mt) * (mb - mm) for t, mb in late) / var
            res["second_half_mb_per_million_rows"] = slope * (t1 - t0) / rows * 1e6
    res["series_mb"] = [[round(t, 2), round(mb, 1)] for t, mb in samples]
    return res


rounds = {}
for x in lines:
    r = x["round"]
    rd = rounds.setdefault(r, {"round": r})
    if x["side"] == "pg":
        copy_wall = x["copy_wall"][1] - x["copy_wall"][0]
        geom_wall = x["geom_wall"][1] - x["geom_wall"][0]
        cc, gc = x["copy_cpu_ticks"], x["geom_cpu_ticks"]
        n, ngeom, nbytes = x["counts"]
        if n != rows or ngeom != rows:
            problems.append(f"round {r}: PostgreSQL has {n} rows and {ngeom} geometries; expected {rows}")
        rd["pg"] = {
            "order": x["order"], "copy_s": x["copy_s"], "geom_s": x["geom_s"], "total_s": x["copy_s"] + x["geom_s"],
            "copy_wall_s": copy_wall, "geom_wall_s": geom_wall, "rows": n, "geometries": ngeom,
            "table_bytes": nbytes, "cpu_s": (cc["pg"] + gc["pg"]) / tck,
            "other_load_pct": max(other_pct(cc["machine"], cc["pg"] / tck, copy_wall),
                                  other_pct(gc["machine"], gc["pg"] / tck, geom_wall)),
            "drop_checkpoint_after_s": x["checkpoint_after"][1] - x["checkpoint_after"][0],
        }
        continue
    step, base = x["step"], run / f"r{r}-leadmap-{x['step']}"
    t0, t1 = x["wall"]
    wall = t1 - t0
    tv = time_v(f"{base}.time")
    cpu = tv["user_s"] + tv["sys_s"]
    try:
        summary = json.loads(Path(f"{base}.json").read_text())
    except ValueError:
        summary = {}
        problems.append(f"round {r}: leadmap {step} printed no JSON summary")
    res = {"order": x["order"], "exit": x["exit"], "wall_s": wall, "rows_per_s": rows / wall, **tv, "cpu_s": cpu,
           "other_load_pct": other_pct(x["machine_cpu_ticks"], cpu, wall), "store_bytes": x["store_bytes"],
           "summary": summary}
    if summary:
        rej = summary.get("rejected", 0)
        if summary.get("read") != rows:
            problems.append(f"round {r}: leadmap {step} read {summary.get('read')} rows; expected {rows}")
        if step == "import" and summary.get("imported", 0) + rej != rows:
            problems.append(f"round {r}: leadmap imported {summary.get('imported')} + rejected {rej} != {rows}")
        if step == "reimport" and summary.get("unchanged", 0) + rej != rows:
            problems.append(f"round {r}: leadmap re-import: {summary.get('unchanged')} unchanged + {rej} rejected "
                            f"!= {rows}")
    if step == "import":
        res["rss"] = rss_flatness(f"{base}.rss", t0, t1)
    rd[step] = res

per_round = [rounds[k] for k in sorted(rounds)]


def med(xs):
    xs = [v for v in xs if v is not None]
    return statistics.median(xs) if xs else None


def m(side, key):
    return med(r[side].get(key) for r in per_round if side in r)


def m_rss(key):
    return med(r["import"]["rss"].get(key) for r in per_round if "import" in r)


agg = {
    "pg_copy_s": m("pg", "copy_s"), "pg_geom_s": m("pg", "geom_s"), "pg_total_s": m("pg", "total_s"),
    "pg_cpu_s": m("pg", "cpu_s"), "pg_table_bytes": m("pg", "table_bytes"),
    "leadmap_import_s": m("import", "wall_s"), "leadmap_rows_per_s": m("import", "rows_per_s"),
    "leadmap_cpu_s": m("import", "cpu_s"), "leadmap_peak_rss_mb": m("import", "max_rss_mb"),
    "leadmap_store_bytes": m("import", "store_bytes"),
    "leadmap_rss_second_half_min_mb": m_rss("second_half_min_mb"),
    "leadmap_rss_second_half_max_mb": m_rss("second_half_max_mb"),
    "leadmap_rss_second_half_mb_per_million_rows": m_rss("second_half_mb_per_million_rows"),
    "leadmap_reimport_s": m("reimport", "wall_s"), "leadmap_reimport_peak_rss_mb": m("reimport", "max_rss_mb"),
    "ratio_pg_total_over_leadmap": med(r["pg"]["total_s"] / r["import"]["wall_s"]
                                       for r in per_round if "pg" in r and "import" in r),
    "rejected": max((r["import"]["summary"].get("rejected", 0) for r in per_round if "import" in r), default=0),
}
unreliable = [f"round {r['round']} {k}" for r in per_round for k in ("pg", "import", "reimport")
              if k in r and r[k]["other_load_pct"] > 5]
ratio = agg["ratio_pg_total_over_leadmap"]
target = {"what": "leadmap import faster than PostgreSQL/PostGIS COPY + geometry (same file, same run)",
          "ratio": ratio, "met": ratio is not None and ratio > 1}
keys = ("when", "commit", "busy_before_pct", "machine", "csv", "rounds", "versions", "leadmap_bin",
        "leadmap_command", "pg_settings", "pg_initdb")
result = {**{k: meta[k] for k in keys}, "medians": agg, "target": target, "rounds_detail": per_round,
          "unreliable_steps": unreliable, "problems": problems}
out.parent.mkdir(parents=True, exist_ok=True)
out.write_text(json.dumps(result, indent=2) + "\n")


def f(v, d=2):
    return "-" if v is None else f"{v:.{d}f}"


def row(label, pg, imp, rei, ratio):
    rss = imp.get("rss") or {}
    lo, hi = rss.get("second_half_min_mb"), rss.get("second_half_max_mb")
    flat = "-" if lo is None else f"{lo:.0f}–{hi:.0f} ({(hi - lo) / hi * 100 if hi else 0:.0f} %)"
    rps = imp.get("rows_per_s")
    return [label, f"{rows:,}", f"{meta['csv']['bytes'] / 1e6:.0f}", f(pg.get("copy_s")), f(pg.get("geom_s")),
            f(pg.get("total_s")), f(imp.get("wall_s")), "-" if ratio is None else f"{ratio:.2f}x",
            "-" if rps is None else f"{rps:,.0f}", f(imp.get("max_rss_mb"), 0), flat, f(rei.get("wall_s"))]


p = print
v = meta["versions"]
p()
p(f"{rows:,} rows ({meta['csv']['bytes'] / 1e6:.0f} MB CSV, seed {meta['csv']['seed']}), {meta['rounds']} round(s)"
  f"{', medians' if meta['rounds'] > 1 else ''}; {ncpu} CPUs; {v['leadmap']}; PostgreSQL {v['postgresql']} + "
  f"PostGIS {v['postgis']}; temp dir on {meta['machine']['tmp_fs']}")
p("PostgreSQL settings: " + ", ".join(f"{k}={val}" for k, val in meta["pg_settings"].items()))
p()
hdr = ["", "rows", "file MB", "PG COPY s", "PG geom s", "PG total s", "leadmap s", "ratio", "rows/s",
       "peak RSS MB", "RSS 2nd half MB", "re-import s"]
table = [row(f"round {r['round']}", r.get("pg", {}), r.get("import", {}), r.get("reimport", {}),
             r["pg"]["total_s"] / r["import"]["wall_s"] if "pg" in r and "import" in r else None)
         for r in per_round]
if len(per_round) > 1:
    table.append(row("median", {"copy_s": agg["pg_copy_s"], "geom_s": agg["pg_geom_s"], "total_s": agg["pg_total_s"]},
                     {"wall_s": agg["leadmap_import_s"], "rows_per_s": agg["leadmap_rows_per_s"],
                      "max_rss_mb": agg["leadmap_peak_rss_mb"],
                      "rss": {"second_half_min_mb": agg["leadmap_rss_second_half_min_mb"],
                              "second_half_max_mb": agg["leadmap_rss_second_half_max_mb"]}},
                     {"wall_s": agg["leadmap_reimport_s"]}, ratio))
w = [max(len(h), *(len(t[i]) for t in table)) for i, h in enumerate(hdr)]
p("| " + " | ".join(c.ljust(w[i]) if i == 0 else c.rjust(w[i]) for i, c in enumerate(hdr)) + " |")
p("|" + "|".join("-" * (w[i] + 2) if i == 0 else "-" * (w[i] + 1) + ":" for i in range(len(hdr))) + "|")
for t in table:
    p("| " + " | ".join(c.ljust(w[i]) if i == 0 else c.rjust(w[i]) for i, c in enumerate(t)) + " |")
p()
p("ratio = PG total / leadmap import (above 1: leadmap is faster). PG: psql \\timing statement times, no index;")
p("leadmap: wall time of the process (start, store creation, indexes and the final checkpoint included).")
p(f"CPU (user + system): PostgreSQL cluster {f(agg['pg_cpu_s'], 1)} s, leadmap import {f(agg['leadmap_cpu_s'], 1)} s. "
  f"On disk: PG table {f((agg['pg_table_bytes'] or 0) / 1e6, 0)} MB, "
  f"leadmap store {f((agg['leadmap_store_bytes'] or 0) / 1e6, 0)} MB.")
p(f"leadmap VmRSS (every 0.5 s), second half of the import: {f(agg['leadmap_rss_second_half_min_mb'], 0)}–"
  f"{f(agg['leadmap_rss_second_half_max_mb'], 0)} MB, trend "
  f"{f(agg['leadmap_rss_second_half_mb_per_million_rows'], 1)} MB per million rows (flat memory: near 0).")
p(f"re-import (all unchanged): peak RSS {f(agg['leadmap_reimport_peak_rss_mb'], 0)} MB. Rejected rows: "
  f"{agg['rejected']}. Untimed PG DROP TABLE + CHECKPOINT after each PG side: "
  + ", ".join(f(r["pg"]["drop_checkpoint_after_s"], 1) + " s" for r in per_round if "pg" in r) + ".")
if meta["csv"]["generated_s"] is not None:
    p(f"The CSV was generated in this run: {meta['csv']['generated_s']} s.")
p()
p(f"{'MET   ' if target['met'] else 'MISSED'} leadmap import faster than PG COPY + geometry: {f(ratio)}x")
if unreliable:
    p()
    p("WARNING: other processes used more than 5 % of the machine during: " + ", ".join(unreliable)
      + "; those figures are unreliable; rerun on a quiet machine (--wait-quiet S).")
if meta["busy_before_pct"] > 10:
    p(f"WARNING: the machine was {meta['busy_before_pct']:.0f} % busy before the run started.")
for pr in problems:
    p(f"ROW COUNT WRONG: {pr}")
p()
p(f"summary: {out}")
sys.exit(3 if problems else 0)
PY
