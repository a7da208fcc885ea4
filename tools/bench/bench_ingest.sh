#!/usr/bin/env bash
# Ingest load benchmark for `leadmap serve` (POST /v1/events), with a crash-durability check; see --help.
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: tools/bench/bench_ingest.sh [options]

Measures issue 4's target: "POST /v1/events with 100-event batches under sustained load: at least
50,000 events per second, every one durable when acknowledged."

Starts `leadmap serve --data DIR/ingest.gpkg` on loopback with one `ingest` token (LEADMAP_TOKENS,
LEADMAP_LOG=warn) and a fresh, empty store, waits for /healthz, then runs wrk (tools/bench/bench_ingest.lua):
a warm-up, then the measured run, each connection POSTing JSON arrays of --batch events. Every event
has its own external_id (a per-run nonce, wrk's thread id and a counter), so each one is a real insert.
  events/s     201 answers x batch / wrk's measured duration (the target: >= 50,000)
  requests/s   all answers / duration; latency p50/p90/p99 from wrk
  server       CPU time of the server process during the measured run (/proc/PID/stat utime+stime)
               and its RSS (and peak RSS) right after it; wrk's CPU and everything else's, as in
               tools/bench/bench_http.sh (runs where other processes took over 5 % are flagged)
  durability   the moment the load ends the server is killed with SIGKILL (no graceful stop), the
               store is reopened, and the events stored (`leadmap events export --format csv`, rows;
               also sqlite3's count when sqlite3 is installed) must be at least the events
               acknowledged with 201 in the warm-up and the measured run together
Writes target/bench/ingest.json (the raw outputs in target/bench/ingest-run/) and prints a table.
Exit status: 0 measured, all answers 201 and every acknowledged event stored (whether or not the
throughput target was met: read the table); 2 usage, a missing tool or a server failure; 3 an answer
other than 201 (a sample body is printed) or fewer events stored than acknowledged; 130 interrupted.

Needs: wrk (Debian/Ubuntu: apt-get install -y wrk) and curl; sqlite3 optionally. Nothing is built or
installed by this script. The server listens on 127.0.0.1 only.

Options:
  --leadmap BIN       release leadmap binary (default target/release/leadmap; not built here)
  --duration S        seconds of measured load (default 20)
  --warmup S          seconds of load before it, not measured but checked for durability (default 3)
  --connections N     wrk connections (default 32)
  --threads N         wrk threads (default 2)
  --batch N           events per request, 1..10000 (default 100)
  --dates D           recent: each event dated within the 30 days up to today, as a live feed of field
                      contacts sends them (the default); history: dated uniformly over 2015-2021, a
                      back-fill, which writes all over the store's date index
  --port P            the server's port (default 18190)
  --dir DIR           make the store's directory in DIR (default $TMPDIR or /tmp); it must be a real
                      disk for the durability cost to count: tmpfs is flagged
  --keep              keep the store (its path is printed); by default it is deleted
  --wait-quiet S      first wait up to S seconds for the machine to be under 10 % busy
                      (default 0: measure at once; busy runs are flagged either way)
  --out FILE          JSON summary (default target/bench/ingest.json)
  -h, --help          this text

Example:
  tools/bench/bench_ingest.sh --leadmap /work/target-bench/release/leadmap --duration 30 --wait-quiet 120
EOF
}

BENCH=bench_ingest
# shellcheck source=tools/bench/bench_common.sh
source "$(dirname "${BASH_SOURCE[0]}")/bench_common.sh"

LEADMAP_BIN=$ROOT/target/release/leadmap
DURATION=20 WARMUP=3 CONNS=32 THREADS=2 BATCH=100 PORT=18190 WAIT_QUIET=0 KEEP=0 DATES=recent
BASE_DIR=${TMPDIR:-/tmp}
OUT=$ROOT/target/bench/ingest.json
TARGET_EPS=50000

while (($#)); do
  case $1 in
    -h | --help) usage; exit 0 ;;
    --leadmap) LEADMAP_BIN=${2:?}; shift ;;
    --duration) DURATION=${2:?}; shift ;;
    --warmup) WARMUP=${2:?}; shift ;;
    --connections) CONNS=${2:?}; shift ;;
    --threads) THREADS=${2:?}; shift ;;
    --batch) BATCH=${2:?}; shift ;;
    --dates) DATES=${2:?}; shift ;;
    --port) PORT=${2:?}; shift ;;
    --dir) BASE_DIR=${2:?}; shift ;;
    --keep) KEEP=1 ;;
    --wait-quiet) WAIT_QUIET=${2:?}; shift ;;
    --out) OUT=${2:?}; shift ;;
    *) usage >&2; die "unknown option $1" ;;
  esac
  shift
done
# Paths given on the command line are relative to where the script was started; then work from the repo.
LEADMAP_BIN=$(abs "$LEADMAP_BIN") OUT=$(abs "$OUT") BASE_DIR=$(abs "$BASE_DIR")
cd "$ROOT"
whole DURATION=--duration WARMUP=--warmup CONNS=--connections THREADS=--threads BATCH=--batch PORT=--port \
  WAIT_QUIET=--wait-quiet
((DURATION >= 1)) || die "--duration must be at least 1"
((THREADS >= 1 && CONNS >= THREADS)) || die "--connections must be at least --threads (at least 1)"
((BATCH >= 1 && BATCH <= 10000)) || die "--batch must be 1..10000 (the server's default --max-batch)"
((PORT >= 1 && PORT <= 65535)) || die "--port must be 1..65535"

# ---- prerequisites (nothing is built or installed here) -------------------------------------------
command -v wrk >/dev/null || die "wrk is not installed. On Debian/Ubuntu: apt-get install -y wrk"
command -v curl >/dev/null || die "curl is not installed. On Debian/Ubuntu: apt-get install -y curl"
[[ -x $LEADMAP_BIN ]] || die "not an executable: $LEADMAP_BIN (build it: cargo build --release, or give --leadmap BIN)"
[[ -d $BASE_DIR ]] || die "--dir $BASE_DIR is not a directory"
HAVE_SQLITE=0
command -v sqlite3 >/dev/null && HAVE_SQLITE=1
# The source the binary was built from is unknown; this is the checkout's state.
COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
git diff --quiet HEAD -- src Cargo.toml Cargo.lock 2>/dev/null || COMMIT="$COMMIT+dirty"
if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then die "port $PORT is in use; pick another --port"; fi

# How busy the machine is before we start: percent of all CPUs busy over one second; with
# --wait-quiet, wait for it to drop under 10 %.
wait_quiet bench_ingest "$WAIT_QUIET"

RUN=target/bench/ingest-run
rm -rf "$RUN"
mkdir -p "$RUN" "$(dirname "$OUT")"
DATA_DIR=$(mktemp -d "$BASE_DIR/leadmap-bench-ingest.XXXXXX")
STORE=$DATA_DIR/ingest.gpkg
STORE_FS=$(stat -f -c %T "$DATA_DIR")
case $STORE_FS in
  tmpfs | ramfs)
    echo "bench_ingest: WARNING: the store is on $STORE_FS, where fsync costs nothing: use --dir on a disk" >&2 ;;
esac

# ---- the server, always stopped on exit -----------------------------------------------------------
SPID=""
stop_pid() { # PID: SIGTERM, then SIGKILL after 5 s
  kill -TERM "$1" 2>/dev/null || true
  for _ in $(seq 50); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
  { kill -KILL "$1"; wait "$1"; } 2>/dev/null || true
}
cleanup() {
  if [[ -n $CHILD ]]; then stop_pid "$CHILD"; fi
  if [[ -n $SPID ]]; then stop_pid "$SPID"; fi
  SPID=""
  if ((KEEP)); then
    echo "bench_ingest: the store is kept: $STORE" >&2
  else
    rm -rf "$DATA_DIR"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A bearer token for this run only (the server accepts 16 characters or more).
TOKEN=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
URL=http://127.0.0.1:$PORT
# (env execs the binary, so $! is the server's own pid, whose /proc entry gives its CPU time.)
env -u LEADMAP_TOKENS_FILE -u LEADMAP_ADDR -u LEADMAP_DATA \
  LEADMAP_TOKENS="bench:ingest:$TOKEN" LEADMAP_LOG=warn \
  "$LEADMAP_BIN" serve --addr "127.0.0.1:$PORT" --data "$STORE" >"$RUN/leadmap.log" 2>&1 &
SPID=$!
for i in $(seq 200); do
  if curl -fsS --max-time 1 -o /dev/null "$URL/healthz" 2>/dev/null; then break; fi
  kill -0 "$SPID" 2>/dev/null || die "leadmap exited before answering /healthz (log: $RUN/leadmap.log)"
  ((i < 200)) || die "leadmap did not answer /healthz within 10 s (log: $RUN/leadmap.log)"
  sleep 0.05
done

# ---- load -----------------------------------------------------------------------------------------
kv() { # KEY FILE: a value from the WRKKV line
  awk -v k="$1" '$1 == "WRKKV" { for (i = 2; i <= NF; i++) { split($i, a, "="); if (a[1] == k) print a[2] } }' "$2"
}
NONCE=$(date -u +%Y%m%dT%H%M%S)-$$
case $DATES in
  recent) DATES=recent:$(date -u +%Y-%m-%d) ;;
  history) ;;
  *) die "--dates must be recent or history" ;;
esac
# One wrk run; appends "CPUJSON {...}": CPU seconds of the server, of wrk and of everything else.
# The timeout lets the server's own 10 s request timeout answer (503) before wrk gives up on a request.
wrk_run() { # SECONDS NONCE OUTFILE
  cpu_start "$SPID"
  run timeout $(($1 + 60)) wrk -t"$THREADS" -c"$CONNS" -d"${1}s" --timeout 12s --latency \
    -s tools/bench/bench_ingest.lua "$URL" -- "$2" "$BATCH" "$TOKEN" /v1/events "$DATES" >"$3" ||
    die "wrk failed; output in $3, server log in $RUN/leadmap.log"
  kill -0 "$SPID" 2>/dev/null || die "leadmap died under load; log: $RUN/leadmap.log"
  cpu_report "$SPID" "$3"
  grep -q '^WRKKV ' "$3" || die "wrk printed no results; output in $3"
}
WARM_OK=0 WARM_OTHER=0 WARM_INSERTED=0
if ((WARMUP > 0)); then
  echo "warm-up: ${WARMUP}s of POST /v1/events, $BATCH events per request, $CONNS connections..." >&2
  wrk_run "$WARMUP" "$NONCE-w" "$RUN/warmup.txt"
  WARM_OK=$(kv ok "$RUN/warmup.txt") WARM_OTHER=$(kv other "$RUN/warmup.txt")
  WARM_INSERTED=$(kv inserted "$RUN/warmup.txt")
fi
echo "measured: ${DURATION}s of POST /v1/events, $BATCH events per request, $CONNS connections..." >&2
wrk_run "$DURATION" "$NONCE-m" "$RUN/wrk.txt"

# ---- crash: SIGKILL the moment the load ends, then count what the store holds ---------------------
read -r RSS_KB HWM_KB < <(awk '/^VmRSS:/{r=$2} /^VmHWM:/{h=$2} END{print r, h}' "/proc/$SPID/status")
# (Inside the braces, so that bash's "Killed" notice of its job goes to /dev/null too.)
{ kill -KILL "$SPID"; wait "$SPID"; } 2>/dev/null || true
SPID=""
STORE_BYTES=$(stat -c %s "$STORE" 2>/dev/null || echo 0)
WAL_BYTES=$(stat -c %s "$STORE-wal" 2>/dev/null || echo 0)
grep -E 'Requests/sec|Non-2xx|Socket errors' "$RUN/wrk.txt" | sed 's/^/  /' >&2 || true

echo "killed the server (SIGKILL); reopening the store to count the events..." >&2
# leadmap's own reader: one CSV row per event (no field of these events holds a newline).
# (The CSV goes beside the store, which is deleted at the end unless --keep.)
run timeout 600 "$LEADMAP_BIN" events export --data "$STORE" --format csv -o "$DATA_DIR/stored.csv" 2>"$RUN/export.log" ||
  die "leadmap events export failed on the killed server's store; see $RUN/export.log"
STORED=$(($(wc -l <"$DATA_DIR/stored.csv") - 1))
((STORED >= 0)) || STORED=0
rm -f "$DATA_DIR/stored.csv"
STORED_SQLITE=null
if ((HAVE_SQLITE)); then
  STORED_SQLITE=$(sqlite3 "$STORE" "SELECT count(*) FROM events WHERE source = 'bench-ingest'" 2>"$RUN/sqlite.log") ||
    die "sqlite3 could not read the killed server's store; see $RUN/sqlite.log"
fi

# ---- summary --------------------------------------------------------------------------------------
W=$RUN/wrk.txt
OK=$(kv ok "$W") OTHER=$(kv other "$W") REQUESTS=$(kv requests "$W") DUR_US=$(kv duration_us "$W")
INSERTED=$(kv inserted "$W") UPDATED=$(kv updated "$W") UNCHANGED=$(kv unchanged "$W")
ACKED=$(((WARM_OK + OK) * BATCH))
ACK_INSERTED=$((WARM_INSERTED + INSERTED))
WRKJSON=$(sed -n 's/^WRKJSON //p' "$W")
CPUJSON=$(sed -n 's/^CPUJSON //p' "$W")
WARMJSON=null
((WARMUP > 0)) && WARMJSON=$(sed -n 's/^WRKJSON //p' "$RUN/warmup.txt")
SAMPLE_ERR=$(cat "$W" "$RUN/warmup.txt" 2>/dev/null | sed -n 's/^WRKERR //p' | head -1 || true)
read -r SRV_CPU WRK_CPU OTHER_CPU ELAPSED < <(printf '%s\n' "$CPUJSON" |
  sed 's/[{}"]//g; s/,/ /g' | awk '{for (i = 1; i <= NF; i++) {split($i, a, ":"); v[a[1]] = a[2]}
    print v["server_cpu_s"], v["wrk_cpu_s"], v["other_cpu_s"], v["elapsed_s"]}')

FAIL=()
((OTHER + WARM_OTHER == 0)) || FAIL+=("$((OTHER + WARM_OTHER)) answers were not 201")
((STORED >= ACKED)) || FAIL+=("only $STORED events stored of $ACKED acknowledged")
if [[ $STORED_SQLITE != null ]] && ((STORED_SQLITE < ACKED)); then
  FAIL+=("sqlite3 counts only $STORED_SQLITE events stored of $ACKED acknowledged")
fi
# Every acknowledged event was new (unique ids): fewer inserted means ids collided or the store was not empty.
((ACK_INSERTED == ACKED)) ||
  echo "bench_ingest: WARNING: the 201 answers say $ACK_INSERTED inserted of $ACKED events sent" >&2

# Strings reach awk through the environment (awk -v would undo their JSON escapes).
export J_WHEN J_COMMIT J_CPU J_KERNEL J_WRKV J_LEADMAPV J_BIN J_WRK J_WARM J_CPUJSON J_SAMPLE
J_WHEN=$(date -u +%Y-%m-%dT%H:%M:%SZ) J_COMMIT=$(jstr "$COMMIT")
J_CPU=$(jstr "$(awk -F': ' '/^model name/{print $2; exit}' /proc/cpuinfo)") J_KERNEL=$(jstr "$(uname -r)")
J_WRKV=$(jstr "$(wrk -v 2>&1 | head -1)") J_LEADMAPV=$(jstr "$("$LEADMAP_BIN" --version 2>/dev/null || echo unknown)")
J_BIN=$(jstr "$LEADMAP_BIN") J_WRK=$WRKJSON J_WARM=$WARMJSON J_CPUJSON=$CPUJSON
J_SAMPLE=null
[[ -n $SAMPLE_ERR ]] && J_SAMPLE=$(jstr "$SAMPLE_ERR")
awk -v ok="$OK" -v other="$OTHER" -v req="$REQUESTS" -v dur_us="$DUR_US" -v batch="$BATCH" \
  -v ins="$INSERTED" -v upd="$UPDATED" -v unch="$UNCHANGED" -v target="$TARGET_EPS" \
  -v srv="$SRV_CPU" -v wrkc="$WRK_CPU" -v oth="$OTHER_CPU" -v el="$ELAPSED" -v ncpu="$(nproc)" \
  -v rss="$RSS_KB" -v hwm="$HWM_KB" -v acked="$ACKED" -v stored="$STORED" -v sq="$STORED_SQLITE" \
  -v warm_ok="$WARM_OK" -v warm_other="$WARM_OTHER" -v ack_ins="$ACK_INSERTED" \
  -v store_b="$STORE_BYTES" -v wal_b="$WAL_BYTES" -v busy="$BUSY_BEFORE" -v fs="$STORE_FS" \
  -v conns="$CONNS" -v threads="$THREADS" -v duration="$DURATION" -v warmup="$WARMUP" \
  -v p50="$(kv p50_us "$W")" -v p90="$(kv p90_us "$W")" -v p99="$(kv p99_us "$W")" -v pmax="$(kv max_us "$W")" \
  -v sockerr="$(($(kv connect "$W") + $(kv read "$W") + $(kv write "$W")))" -v timeouts="$(kv timeout "$W")" \
  -v nfail="${#FAIL[@]}" -v out="$OUT" -v table="$RUN/table.txt" '
  function b(x) { return x ? "true" : "false" }
  BEGIN {
    s = dur_us / 1e6
    eps = s > 0 ? ok * batch / s : 0
    rps = s > 0 ? req / s : 0
    lat["p50"] = p50 / 1000; lat["p90"] = p90 / 1000; lat["p99"] = p99 / 1000; lat["max"] = pmax / 1000
    unreliable = el > 0 && oth / (el * ncpu) > 0.05
    durable = stored >= acked && (sq == "null" || sq >= acked)
    printf "{\n" >out
    printf "  \"when\": \"%s\",\n  \"commit\": %s,\n  \"busy_before_pct\": %s,\n", ENVIRON["J_WHEN"], ENVIRON["J_COMMIT"], busy >out
    printf "  \"machine\": {\"cpus\": %d, \"cpu\": %s, \"kernel\": %s},\n", ncpu, ENVIRON["J_CPU"], ENVIRON["J_KERNEL"] >out
    printf "  \"versions\": {\"wrk\": %s, \"leadmap\": %s, \"leadmap_bin\": %s},\n", ENVIRON["J_WRKV"], ENVIRON["J_LEADMAPV"], ENVIRON["J_BIN"] >out
    printf "  \"settings\": {\"connections\": %d, \"threads\": %d, \"duration_s\": %d, \"warmup_s\": %d, \"batch\": %d, \"leadmap_log\": \"warn\", \"store_fs\": \"%s\"},\n", conns, threads, duration, warmup, batch, fs >out
    printf "  \"target\": {\"events_per_s\": %d, \"met\": %s},\n", target, b(eps >= target && nfail == 0) >out
    printf "  \"events_per_s\": %.1f,\n  \"requests_per_s\": %.1f,\n", eps, rps >out
    printf "  \"latency_ms\": {\"p50\": %.3f, \"p90\": %.3f, \"p99\": %.3f, \"max\": %.3f},\n", lat["p50"], lat["p90"], lat["p99"], lat["max"] >out
    printf "  \"responses\": {\"created_201\": %d, \"other\": %d, \"warmup_created_201\": %d, \"warmup_other\": %d},\n", ok, other, warm_ok, warm_other >out
    printf "  \"server\": {\"cpu_s\": %.2f, \"cpu_cores\": %.2f, \"cpu_ms_per_1000_events\": %.2f, \"rss_mb\": %.1f, \"peak_rss_mb\": %.1f},\n", srv, (s > 0 ? srv / s : 0), (ok > 0 ? 1e6 * srv / (ok * batch) : 0), rss / 1024, hwm / 1024 >out
    printf "  \"cpu\": %s,\n  \"unreliable\": %s,\n", ENVIRON["J_CPUJSON"], b(unreliable) >out
    printf "  \"durability\": {\"stop\": \"SIGKILL\", \"acknowledged_events\": %d, \"acknowledged_inserted\": %d, \"stored_events\": %d, \"stored_events_sqlite\": %s, \"durable\": %s, \"store_bytes\": %d, \"wal_bytes\": %d},\n", acked, ack_ins, stored, sq, b(durable), store_b, wal_b >out
    printf "  \"measured\": {\"inserted\": %d, \"updated\": %d, \"unchanged\": %d},\n", ins, upd, unch >out
    printf "  \"sample_error\": %s,\n", ENVIRON["J_SAMPLE"] >out
    printf "  \"wrk\": %s,\n  \"wrk_warmup\": %s\n}\n", ENVIRON["J_WRK"], ENVIRON["J_WARM"] >out

    printf "POST /v1/events, %d events per request, %d connections, %d s (after %d s warm-up)\n", batch, conns, duration, warmup >table
    printf "%-28s %16s   %s\n", "", "measured", "target" >table
    printf "%-28s %16.0f   >= %d %s\n", "events/s (201 x batch)", eps, target, (eps >= target ? "met" : "NOT met") >table
    printf "%-28s %16.1f\n", "requests/s", rps >table
    printf "%-28s %16.2f\n", "latency p50 ms", lat["p50"] >table
    printf "%-28s %16.2f\n", "latency p99 ms", lat["p99"] >table
    printf "%-28s %16s\n", "answers 201 / other", ok " / " other >table
    line = sprintf("%-28s %16s   %s", "socket errors / timeouts", sockerr " / " timeouts, (sockerr + timeouts > 0 ? "(requests not acknowledged)" : ""))
    sub(/ +$/, "", line); print line >table
    printf "%-28s %16.2f   (%.2f cores; %.2f ms per 1000 events)\n", "server CPU s", srv, (s > 0 ? srv / s : 0), (ok > 0 ? 1e6 * srv / (ok * batch) : 0) >table
    printf "%-28s %16.2f\n", "wrk CPU s", wrkc >table
    line = sprintf("%-28s %16.2f   %s", "other CPU s", oth, (unreliable ? "UNRELIABLE: the machine was busy" : ""))
    sub(/ +$/, "", line); print line >table
    printf "%-28s %16.1f   (peak %.1f)\n", "server RSS MB after load", rss / 1024, hwm / 1024 >table
    printf "%-28s %16d   (warm-up + measured, 201 x batch)\n", "events acknowledged", acked >table
    printf "%-28s %16d   %s\n", "events stored after SIGKILL", stored, (durable ? "all durable" : "LOST EVENTS") >table
    if (sq != "null") printf "%-28s %16d\n", "  (sqlite3 count)", sq >table
    printf "%-28s %16.1f\n", "store + WAL MB", (store_b + wal_b) / 1048576 >table
  }'
cat "$RUN/table.txt"
echo "wrote $OUT" >&2
if ((${#FAIL[@]})); then
  for f in "${FAIL[@]}"; do echo "bench_ingest: FAILED: $f" >&2; done
  [[ -n $SAMPLE_ERR ]] && echo "bench_ingest: a sample error answer: $SAMPLE_ERR" >&2
  exit 3
fi
exit 0
