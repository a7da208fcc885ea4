#!/usr/bin/env bash
# GET /v1/cells over a large store: load time, cold (computed) and warm (cached) latency; see --help.
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: tools/bench/bench_cells_http.sh [options]

Measures issue 5's target: "GET /v1/cells at resolution 9 over 10 million events: p99 under 100 ms
with a warm cache."

1. A store of --rows synthetic events (tools/gen/gen_events.py, then `leadmap import`), made once under
   --dir and kept for reruns.
2. `leadmap serve --data STORE` on loopback (open, LEADMAP_LOG=warn): the seconds until /readyz answers
   (reading every event into the in-memory columns).
3. Cold: one request per resolution 5..12 that nothing has asked before (each computes, renders and
   caches its answer): curl's total time and the body size.
4. Warm: wrk --latency on /v1/cells?res=9 (GeoJSON; plain, and gzipped as browsers ask for it with
   Accept-Encoding) and ?res=9&f=csv, every request after the first answered from the cache:
   requests/s, p50, p99.
5. Baseline in the same run: wrk on /healthz (the HTTP stack alone), so the p99 of the cells route can be
   read against what the stack itself costs here.
Writes target/bench/cells_http.json and prints a table.

Needs: wrk, curl, python3. Options:
  --leadmap BIN     release binary (default ${CARGO_TARGET_DIR:-target}/release/leadmap; not built here)
  --rows N          events in the store (default 10000000)
  --duration S      seconds of each wrk run (default 10)
  --connections N   wrk connections (default 8)
  --port P          the server's port (default 18191)
  --dir DIR         where the store and its CSV live (default target/bench)
  -h, --help        this text
EOF
}

BENCH=bench_cells_http
# shellcheck source=tools/bench/bench_common.sh
source "$(dirname "${BASH_SOURCE[0]}")/bench_common.sh"

LEADMAP_BIN="${CARGO_TARGET_DIR:-target}/release/leadmap"
ROWS=10000000
DURATION=10
CONNS=8
PORT=18191
DIR=target/bench
while [ $# -gt 0 ]; do
  case "$1" in
    --leadmap) LEADMAP_BIN="$2"; shift 2 ;;
    --rows) ROWS="$2"; shift 2 ;;
    --duration) DURATION="$2"; shift 2 ;;
    --connections) CONNS="$2"; shift 2 ;;
    --port) PORT="$2"; shift 2 ;;
    --dir) DIR="$2"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
  esac
done
command -v wrk >/dev/null || die "wrk is missing (apt-get install -y wrk)"
command -v curl >/dev/null || die "curl is missing"
[ -x "$LEADMAP_BIN" ] || die "no leadmap binary at $LEADMAP_BIN (cargo build --release)"
mkdir -p "$DIR"
STORE="$DIR/cells-events-$ROWS.gpkg"
if [ ! -f "$STORE" ]; then
  CSV="$DIR/cells-events-$ROWS.csv"
  echo "making $STORE ($ROWS events; once)" >&2
  python3 tools/gen/gen_events.py --rows "$ROWS" --seed 5 -o "$CSV"
  "$LEADMAP_BIN" import "$CSV" --source bench --data "$STORE" -q >&2
  rm -f "$CSV"
fi

URL="http://127.0.0.1:$PORT"
LOG="$DIR/cells_http-serve.log"
start=$(date +%s.%N)
LEADMAP_LOG=warn "$LEADMAP_BIN" serve --data "$STORE" --addr "127.0.0.1:$PORT" >"$LOG" 2>&1 &
SPID=$!
trap 'kill "$SPID" 2>/dev/null || true' EXIT
until curl -fsS --max-time 1 -o /dev/null "$URL/readyz" 2>/dev/null; do
  kill -0 "$SPID" 2>/dev/null || die "leadmap exited (log: $LOG)"
  sleep 0.2
done
ready=$(python3 -c "print(round($(date +%s.%N) - $start, 1))")
rss_kb=$(awk '/VmRSS/ {print $2}' "/proc/$SPID/status")

cold_json="{"
for res in 5 6 7 8 9 10 11 12; do
  read -r t size < <(curl -fsS -o /dev/null -w '%{time_total} %{size_download}\n' "$URL/v1/cells?res=$res&f=csv")
  cold_json+="\"res$res\": {\"seconds\": $t, \"bytes\": $size},"
  printf 'cold res %-2s  %6.1f ms  %9s bytes\n' "$res" "$(python3 -c "print($t*1000)")" "$size"
done
cold_json="${cold_json%,}}"

wrk_p() { # url [header] -> "rps p50_ms p99_ms"
  wrk -t2 -c"$CONNS" -d"${DURATION}s" --latency ${2:+-H "$2"} "$1" | python3 -c '
import re, sys
t = sys.stdin.read()
def ms(v, u): return float(v) * {"us": 0.001, "ms": 1, "s": 1000}[u]
rps = re.search(r"Requests/sec:\s+([\d.]+)", t).group(1)
lat = dict((p, ms(v, u)) for p, v, u in re.findall(r"\s(50|99)(?:\.0+)?%\s+([\d.]+)(us|ms|s)", t))
print(rps, lat["50"], lat["99"])'
}
read -r geo_rps geo_p50 geo_p99 < <(wrk_p "$URL/v1/cells?res=9")
read -r gz_rps gz_p50 gz_p99 < <(wrk_p "$URL/v1/cells?res=9" "Accept-Encoding: gzip")
read -r csv_rps csv_p50 csv_p99 < <(wrk_p "$URL/v1/cells?res=9&f=csv")
read -r hz_rps hz_p50 hz_p99 < <(wrk_p "$URL/healthz")
kill "$SPID" 2>/dev/null || true

printf '\n%-28s %10s %9s %9s\n' "warm (cached), $CONNS conns" "req/s" "p50 ms" "p99 ms"
printf '%-28s %10s %9s %9s\n' "/v1/cells?res=9 (GeoJSON)" "$geo_rps" "$geo_p50" "$geo_p99"
printf '%-28s %10s %9s %9s\n' "  same, Accept-Encoding: gzip" "$gz_rps" "$gz_p50" "$gz_p99"
printf '%-28s %10s %9s %9s\n' "/v1/cells?res=9&f=csv" "$csv_rps" "$csv_p50" "$csv_p99"
printf '%-28s %10s %9s %9s\n' "/healthz (baseline)" "$hz_rps" "$hz_p50" "$hz_p99"
printf '\n%s events; ready in %s s; server RSS %s MB; load average: %s\n' "$ROWS" "$ready" "$((rss_kb / 1024))" \
  "$(cut -d' ' -f1-3 /proc/loadavg)"
cat >target/bench/cells_http.json <<EOF
{"events": $ROWS, "ready_seconds": $ready, "rss_mb": $((rss_kb / 1024)), "cold": $cold_json,
 "warm_res9_geojson": {"rps": $geo_rps, "p50_ms": $geo_p50, "p99_ms": $geo_p99},
 "warm_res9_geojson_gzip": {"rps": $gz_rps, "p50_ms": $gz_p50, "p99_ms": $gz_p99},
 "warm_res9_csv": {"rps": $csv_rps, "p50_ms": $csv_p50, "p99_ms": $csv_p99},
 "healthz_baseline": {"rps": $hz_rps, "p50_ms": $hz_p50, "p99_ms": $hz_p99}}
EOF
echo "wrote target/bench/cells_http.json" >&2
