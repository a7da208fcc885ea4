#!/usr/bin/env bash
# HTTP load benchmark for `leadmap serve`; see --help.
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: tools/bench/bench_http.sh [options]

Load-tests `leadmap serve` on loopback beside its two baselines, in one run, one server at a time,
with the same wrk settings:
  leadmap  GET /v1/eligibility   (LEADMAP_LOG=warn: the per-request info log line is off)
  ceiling  GET /ceiling          (tools/bench/http_ceiling.rs: bare axum, no layers or logging, a constant body)
  node     GET /v1/eligibility   (tools/baseline-node: Node http + @turf/boolean-point-in-polygon)
  leadmap  GET /v1/eligibility   with the default info logging (stderr to a file); --no-info skips it
Each request asks about the next of a fixed list of seeded points in and around the zones
(tools/bench/bench_http.lua), so nothing can be cached. The points come in two mixes (--mixes):
  outside  mostly outside the zones: 80 % uniform in the zones' bounding box widened by 25 % each side,
           20 % within 50 m of a zone edge (about 40 % of the points are in a zone)
  inside   all inside the zones' bounding boxes: each uniform in one zone's box, the zone picked in
           proportion to its box's area (about 90 % are in a zone, the rest close to one)
The eligibility servers run once per mix, with that mix's points; the ceiling, which ignores the
query, runs once per round (with the first mix's query strings). Before the load, leadmap's and node's
answers are compared on the first 2000 points of each mix (exit 3 if they differ). Then:
  batch       POST /v1/eligibility of 10,000 points (outside mix), N times: server time from /metrics
              (leadmap_http_request_duration_seconds sum/count delta), the server's CPU time,
              and curl's time_total and time_starttransfer
  cold start  exec of `leadmap serve` to the first 200 from /healthz, 5 runs, median
  memory      VmRSS of a fresh server, idle 1 s after start (and RSS/peak after the GET load)
Each GET run also records the CPU time of the server, of wrk and of everything else on the machine;
runs where other processes took over 5 % are flagged as unreliable.
Writes target/bench/http.json (and the raw outputs in target/bench/http-run/) and prints a table.
Exit status: 0 measured (whether or not the targets were met: read the table), 2 usage or a missing
tool or a server failure, 3 leadmap and node disagree, 130 interrupted.

Needs: wrk (Debian/Ubuntu: apt-get install -y wrk), curl, node >= 18 with
`npm ci` done in tools/baseline-node, and cargo unless both binaries are given.
Nothing is installed by this script. Everything listens on 127.0.0.1 only.

Options:
  --leadmap BIN       release leadmap binary (default: build it with cargo)
  --ceiling BIN       release http_ceiling example binary (default: build it with cargo)
                      (cargo builds into $CARGO_TARGET_DIR, default target/)
  --duration S        seconds of measured load per server (default 15)
  --warmup S          seconds of unmeasured load before each (default 3)
  --connections N     wrk connections (default 64)
  --threads N         wrk threads (default 2)
  --rounds N          repeat the GET runs (ceiling once, the others once per mix) N times, interleaved;
                      medians reported (default 1)
  --mixes LIST        comma-separated point mixes to measure, of outside and inside (default
                      outside,inside); the table and JSON give req/s, p99 and the ratios per mix
  --points N          seeded points of each mix the GET load cycles through (default 10000)
  --seed N            seed of those points (default 42)
  --at DATE           the contact date every request asks about (default 2019-06-01: the built-in
                      2018 zone set, which the node baseline loads, is in force then; without a date
                      leadmap answers for today, when no Portland program is in force)
  --batch-posts N     timed batch POSTs (default 20, after 2 untimed)
  --cold-runs N       cold-start runs (default 5)
  --port-base P       ports P (leadmap), P+1 (ceiling), P+2 (node), P+3 (cold start),
                      P+4 (leadmap, info logging) (default 18080)
  --no-info           skip the run with the default info logging
  --wait-quiet S      first wait up to S seconds for the machine to be under 10 % busy
                      (default 0: measure at once; busy runs are flagged either way)
  --out FILE          JSON summary (default target/bench/http.json)
  -h, --help          this text

Example:
  CARGO_TARGET_DIR=/work/target-bench tools/bench/bench_http.sh --rounds 3
EOF
}

BENCH=bench_http
# shellcheck source=tools/bench/bench_common.sh
source "$(dirname "${BASH_SOURCE[0]}")/bench_common.sh"

LEADMAP_BIN="" CEILING_BIN=""
DURATION=15 WARMUP=3 CONNS=64 THREADS=2 ROUNDS=1 NPOINTS=10000 SEED=42 AT=2019-06-01
BATCH_POSTS=20 BATCH_POINTS=10000 COLD_RUNS=5 PORT_BASE=18080 INFO=1 WAIT_QUIET=0 MIXES_ARG=outside,inside
OUT=$ROOT/target/bench/http.json

while (($#)); do
  case $1 in
    -h | --help) usage; exit 0 ;;
    --leadmap) LEADMAP_BIN=${2:?}; shift ;;
    --ceiling) CEILING_BIN=${2:?}; shift ;;
    --duration) DURATION=${2:?}; shift ;;
    --warmup) WARMUP=${2:?}; shift ;;
    --connections) CONNS=${2:?}; shift ;;
    --threads) THREADS=${2:?}; shift ;;
    --rounds) ROUNDS=${2:?}; shift ;;
    --mixes) MIXES_ARG=${2:?}; shift ;;
    --points) NPOINTS=${2:?}; shift ;;
    --seed) SEED=${2:?}; shift ;;
    --at) AT=${2:?}; shift ;;
    --batch-posts) BATCH_POSTS=${2:?}; shift ;;
    --cold-runs) COLD_RUNS=${2:?}; shift ;;
    --port-base) PORT_BASE=${2:?}; shift ;;
    --no-info) INFO=0 ;;
    --wait-quiet) WAIT_QUIET=${2:?}; shift ;;
    --out) OUT=${2:?}; shift ;;
    *) usage >&2; die "unknown option $1" ;;
  esac
  shift
done
# Paths given on the command line are relative to where the script was started; then work from the repo.
LEADMAP_BIN=$(abs "$LEADMAP_BIN") CEILING_BIN=$(abs "$CEILING_BIN") OUT=$(abs "$OUT")
cd "$ROOT"
whole DURATION=--duration WARMUP=--warmup CONNS=--connections THREADS=--threads ROUNDS=--rounds \
  NPOINTS=--points SEED=--seed BATCH_POSTS=--batch-posts COLD_RUNS=--cold-runs PORT_BASE=--port-base \
  WAIT_QUIET=--wait-quiet
((ROUNDS >= 1 && DURATION >= 1 && BATCH_POSTS >= 1 && COLD_RUNS >= 1)) || die "rounds, duration, batch posts and cold runs must be at least 1"
IFS=, read -r -a MIXES <<<"$MIXES_ARG"
((${#MIXES[@]})) || die "--mixes needs at least one of outside, inside"
declare -A SEEN_MIX=()
for m in "${MIXES[@]}"; do
  [[ $m == outside || $m == inside ]] || die "--mixes: unknown mix '$m' (outside, inside)"
  [[ -z ${SEEN_MIX[$m]:-} ]] || die "--mixes: $m given twice"
  SEEN_MIX[$m]=1
done

# ---- prerequisites (nothing is installed here) ------------------------------------------------------
command -v wrk >/dev/null || die "wrk is not installed. On Debian/Ubuntu: apt-get install -y wrk"
command -v curl >/dev/null || die "curl is not installed. On Debian/Ubuntu: apt-get install -y curl"
command -v node >/dev/null || die "node is not installed (Node.js >= 18; Debian/Ubuntu: apt-get install -y nodejs npm)"
NODE_DIR=tools/baseline-node
[[ -d $NODE_DIR/node_modules/@turf/boolean-point-in-polygon ]] ||
  die "the Node baseline's packages are missing: (cd $NODE_DIR && npm ci)"
if [[ -z $LEADMAP_BIN || -z $CEILING_BIN ]]; then
  command -v cargo >/dev/null || die "cargo not found: give --leadmap BIN and --ceiling BIN"
  echo "building release binaries (cargo build --release --bin leadmap --example http_ceiling)..." >&2
  run timeout 3600 cargo build --release --quiet --bin leadmap --example http_ceiling
  TD=${CARGO_TARGET_DIR:-target}
  LEADMAP_BIN=${LEADMAP_BIN:-$TD/release/leadmap}
  CEILING_BIN=${CEILING_BIN:-$TD/release/examples/http_ceiling}
fi
# The source the binaries were built from (when this script built them; else the checkout's state).
COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
git diff --quiet HEAD -- src tools/bench/http_ceiling.rs Cargo.toml Cargo.lock 2>/dev/null || COMMIT="$COMMIT+dirty"
[[ -x $LEADMAP_BIN ]] || die "not an executable: $LEADMAP_BIN"
[[ -x $CEILING_BIN ]] || die "not an executable: $CEILING_BIN"

P_LEADMAP=$PORT_BASE P_CEILING=$((PORT_BASE + 1)) P_NODE=$((PORT_BASE + 2))
P_COLD=$((PORT_BASE + 3)) P_INFO=$((PORT_BASE + 4))
for p in $P_LEADMAP $P_CEILING $P_NODE $P_COLD $P_INFO; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then die "port $p is in use; pick another --port-base"; fi
done

# How busy the machine is before we start (other builds or tests make every figure unreliable):
# percent of all CPUs busy over one second; with --wait-quiet, wait for it to drop under 10 %.
wait_quiet bench_http "$WAIT_QUIET"

RUN=target/bench/http-run
rm -rf "$RUN"
mkdir -p "$RUN" "$(dirname "$OUT")"

# ---- servers, always stopped on exit --------------------------------------------------------------
declare -A SPID=() # server name -> pid, while it runs
stop_server() { # NAME
  if [[ -n ${SPID[$1]:-} ]]; then
    stop_pids "${SPID[$1]}"
    unset "SPID[$1]"
  fi
}
cleanup() {
  if [[ -n $CHILD ]]; then stop_pids "$CHILD"; fi
  if ((${#SPID[@]})); then stop_pids "${SPID[@]}"; fi
  SPID=()
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Servers run without tokens (open, loopback only): drop any token settings from the environment.
SERVER_ENV=(env -u LEADMAP_TOKENS -u LEADMAP_TOKENS_FILE -u LEADMAP_ADDR)

wait_ready() { # URL PID NAME
  local i
  for i in $(seq 200); do
    if curl -fsS --max-time 1 -o /dev/null "$1" 2>/dev/null; then return 0; fi
    kill -0 "$2" 2>/dev/null || die "$3 exited before answering $1 (log: $RUN/$3.log)"
    sleep 0.05
  done
  die "$3 did not answer $1 within 10 s (log: $RUN/$3.log)"
}

# (env execs the binary, so $! is the server's own pid, whose /proc entry gives its CPU time.)
"${SERVER_ENV[@]}" LEADMAP_LOG=warn "$LEADMAP_BIN" serve --addr "127.0.0.1:$P_LEADMAP" >"$RUN/leadmap.log" 2>&1 &
SPID[leadmap]=$!
PID_LEADMAP=$!
"$CEILING_BIN" "127.0.0.1:$P_CEILING" >"$RUN/ceiling.log" 2>&1 &
SPID[ceiling]=$!
node "$NODE_DIR/server.js" "$P_NODE" geodata/portland-2018.geojson >"$RUN/node.log" 2>&1 &
SPID[node]=$!
SERVERS=(leadmap ceiling node)
wait_ready "http://127.0.0.1:$P_LEADMAP/healthz" "${SPID[leadmap]}" leadmap
wait_ready "http://127.0.0.1:$P_CEILING/ceiling" "${SPID[ceiling]}" ceiling
wait_ready "http://127.0.0.1:$P_NODE/v1/eligibility?lon=-122.6793&lat=45.5189" "${SPID[node]}" node
if ((INFO)); then
  # The default log level, stderr to a file as under a service manager.
  "${SERVER_ENV[@]}" -u LEADMAP_LOG "$LEADMAP_BIN" serve --addr "127.0.0.1:$P_INFO" >"$RUN/leadmap_info.log" 2>&1 &
  SPID[leadmap_info]=$!
  SERVERS+=(leadmap_info)
  wait_ready "http://127.0.0.1:$P_INFO/healthz" "${SPID[leadmap_info]}" leadmap_info
fi

declare -A URL=(
  [leadmap]="http://127.0.0.1:$P_LEADMAP" [ceiling]="http://127.0.0.1:$P_CEILING"
  [node]="http://127.0.0.1:$P_NODE" [leadmap_info]="http://127.0.0.1:$P_INFO"
)
declare -A ROUTE=([leadmap]=/v1/eligibility [ceiling]=/ceiling [node]=/v1/eligibility [leadmap_info]=/v1/eligibility)

# ---- points and the answer check, per mix -----------------------------------------------------------
CHECKS_JSON=""
for m in "${MIXES[@]}"; do
  node "$NODE_DIR/benchutil.js" points --mix "$m" --n "$NPOINTS" --seed "$SEED" --lines "$RUN/points-$m.txt"
  echo "checking leadmap's answers against node's on 2000 of the $m points..." >&2
  run timeout 300 node "$NODE_DIR/benchutil.js" check --mix "$m" --n 2000 --seed "$SEED" \
    --query "&at=$AT" "${URL[leadmap]}/v1/eligibility" "${URL[node]}/v1/eligibility" >"$RUN/check-$m.json" || {
    echo "bench_http: leadmap and the node baseline disagree on the $m points (or a server failed); see above" >&2
    exit 3
  }
  echo "  $(<"$RUN/check-$m.json")" >&2
  CHECKS_JSON+="\"$m\": $(<"$RUN/check-$m.json"),"
done
# The single-mix key "check" of earlier summaries: the outside mix's, else the first mix's.
if [[ -n ${SEEN_MIX[outside]:-} ]]; then CHECK=$(<"$RUN/check-outside.json"); else CHECK=$(<"$RUN/check-${MIXES[0]}.json"); fi

# ---- GET load -------------------------------------------------------------------------------------
# One wrk run; appends a line "CPUJSON {...}": CPU seconds of the server, of wrk, and of everything
# else on the machine during the run (other load makes the figures unreliable).
wrk_run() { # NAME SECONDS OUTFILE POINTS_FILE
  cpu_start "${SPID[$1]}"
  run timeout $(($2 + 60)) wrk -t"$THREADS" -c"$CONNS" -d"${2}s" --timeout 2s --latency \
    -s tools/bench/bench_http.lua "${URL[$1]}" -- "$4" "${ROUTE[$1]}" "&at=$AT" >"$3" ||
    die "wrk failed against $1 (${URL[$1]}${ROUTE[$1]}); output in $3, server log in $RUN/$1.log"
  kill -0 "${SPID[$1]}" 2>/dev/null || die "$1 died under load; log: $RUN/$1.log"
  cpu_report "${SPID[$1]}" "$3"
}
# Per round, for each mix: leadmap, ceiling (with the first mix only), node, leadmap_info.
for r in $(seq "$ROUNDS"); do
  for m in "${MIXES[@]}"; do
    for s in "${SERVERS[@]}"; do
      if [[ $s == ceiling ]]; then
        [[ $m == "${MIXES[0]}" ]] || continue
        tag=ceiling-r$r what="ceiling GET ${ROUTE[$s]}"
      else
        tag=$s-$m-r$r what="$s GET ${ROUTE[$s]}, $m points"
      fi
      echo "round $r/$ROUNDS: $what: ${WARMUP}s warm-up, ${DURATION}s measured..." >&2
      ((WARMUP > 0)) && wrk_run "$s" "$WARMUP" "$RUN/warmup-$tag.txt" "$RUN/points-$m.txt"
      wrk_run "$s" "$DURATION" "$RUN/wrk-$tag.txt" "$RUN/points-$m.txt"
      grep -E 'Requests/sec|Non-2xx|Socket errors' "$RUN/wrk-$tag.txt" | sed 's/^/  /' >&2 || true
    done
  done
done
read -r AFTER_RSS_KB AFTER_HWM_KB < <(awk '/^VmRSS:/{r=$2} /^VmHWM:/{h=$2} END{print r, h}' "/proc/$PID_LEADMAP/status")
# Only leadmap (warn) is needed from here on.
stop_server ceiling
stop_server node
if ((INFO)); then
  stop_server leadmap_info
  INFO_LOG_BYTES=$(stat -c %s "$RUN/leadmap_info.log")
  echo "  info logging wrote $((INFO_LOG_BYTES / 1024 / 1024)) MB of log lines; file removed" >&2
  rm -f "$RUN/leadmap_info.log"
else
  INFO_LOG_BYTES=0
fi

# ---- batch POST -----------------------------------------------------------------------------------
echo "batch: POST /v1/eligibility with $BATCH_POINTS points, 2 untimed + $BATCH_POSTS timed..." >&2
BATCH=$RUN/batch.json
node "$NODE_DIR/benchutil.js" points --n "$BATCH_POINTS" --seed $((SEED + 1)) --json "$BATCH"
post() {
  # No "Expect: 100-continue": curl would wait for the server's 100 before sending the body.
  curl -sS --max-time 10 -o "$RUN/batch-answer.json" -H 'content-type: application/json' -H 'Expect:' \
    --data-binary "@$BATCH" -w '%{http_code} %{time_starttransfer} %{time_total}\n' \
    "${URL[leadmap]}/v1/eligibility?at=$AT"
}
metric() { # sum|count
  curl -fsS --max-time 5 "${URL[leadmap]}/metrics" |
    awk -v k="leadmap_http_request_duration_seconds_$1{route=\"/v1/eligibility\",method=\"POST\"}" '$1 == k {print $2}'
}
post >/dev/null
post >/dev/null
SUM0=$(metric sum) COUNT0=$(metric count) CPU0=$(proc_ticks "$PID_LEADMAP")
: >"$RUN/batch-curl.txt"
for _ in $(seq "$BATCH_POSTS"); do post >>"$RUN/batch-curl.txt"; done
CPU1=$(proc_ticks "$PID_LEADMAP") SUM1=$(metric sum) COUNT1=$(metric count)
[[ -n $SUM0 && -n $COUNT0 && -n $SUM1 && -n $COUNT1 ]] ||
  fail "leadmap's /metrics has no duration of POST /v1/eligibility (was the metric renamed?)"
printf '{"sum_before":%s,"count_before":%s,"sum_after":%s,"count_after":%s,"server_cpu_s":%s}\n' \
  "$SUM0" "$COUNT0" "$SUM1" "$COUNT1" "$(awk -v t=$((CPU1 - CPU0)) -v k="$TCK" 'BEGIN {print t / k}')" \
  >"$RUN/batch-metrics.json"
BATCH_REQ_BYTES=$(stat -c %s "$BATCH")
BATCH_RES_BYTES=$(stat -c %s "$RUN/batch-answer.json")

# ---- cold start and idle memory -------------------------------------------------------------------
echo "cold start: $COLD_RUNS runs of leadmap serve, exec to first 200 from /healthz..." >&2
run timeout 300 node "$NODE_DIR/benchutil.js" coldstart --bin "$LEADMAP_BIN" --port "$P_COLD" \
  --runs "$COLD_RUNS" --idle-ms 1000 >"$RUN/coldstart.json"

# ---- summary --------------------------------------------------------------------------------------
cleanup
CPU_MODEL=$(awk -F': ' '/^model name/{print $2; exit}' /proc/cpuinfo)
SERVERS_JSON=$(printf '"%s",' "${SERVERS[@]}")
MIXES_JSON=$(printf '"%s",' "${MIXES[@]}")
cat >"$RUN/meta.json" <<EOF
{
  "when": $(jstr "$(date -u +%Y-%m-%dT%H:%M:%SZ)"),
  "commit": $(jstr "$COMMIT"),
  "busy_before_pct": $BUSY_BEFORE,
  "machine": {"cpus": $(nproc), "cpu": $(jstr "$CPU_MODEL"), "kernel": $(jstr "$(uname -r)")},
  "versions": {"wrk": $(jstr "$(wrk -v 2>&1 | head -1)"), "node": $(jstr "$(node --version)"), "curl": $(jstr "$(curl --version | head -1 | cut -d' ' -f1-2)"),
               "turf": $(jstr "$(node -p "require('./$NODE_DIR/node_modules/@turf/boolean-point-in-polygon/package.json').version")"),
               "leadmap": $(jstr "$("$LEADMAP_BIN" --version 2>/dev/null || echo unknown)")},
  "settings": {"connections": $CONNS, "threads": $THREADS, "duration_s": $DURATION, "warmup_s": $WARMUP,
               "points": $NPOINTS, "seed": $SEED, "mixes": [${MIXES_JSON%,}], "leadmap_log": "warn",
               "leadmap_info_log_bytes": $INFO_LOG_BYTES},
  "servers": [${SERVERS_JSON%,}],
  "mixes": [${MIXES_JSON%,}],
  "rounds": $ROUNDS,
  "check": $CHECK,
  "checks": {${CHECKS_JSON%,}},
  "batch_points": $BATCH_POINTS,
  "batch_request_bytes": $BATCH_REQ_BYTES,
  "batch_response_bytes": $BATCH_RES_BYTES,
  "memory": {"after_load_rss_mb": $(awk -v k="$AFTER_RSS_KB" 'BEGIN{print k/1024}'),
             "after_load_hwm_mb": $(awk -v k="$AFTER_HWM_KB" 'BEGIN{print k/1024}')}
}
EOF
node "$NODE_DIR/benchutil.js" report "$RUN" "$OUT"
