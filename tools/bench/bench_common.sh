# Shared by the tools/bench_*.sh scripts (source it first, with BENCH set to the script's name; it runs
# nothing): errors, paths, stopping processes, how busy the machine is, and waiting for it to go quiet
# before measuring. The machine is shared; a busy run is flagged, not hidden.

# The repository's root (this file is tools/bench/bench_common.sh).
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

# die MESSAGE: a usage or setup error (exit 2). fail MESSAGE: the benchmark itself failed (exit 1).
die() {
  echo "${BENCH:-bench}: $*" >&2
  exit 2
}
fail() {
  echo "${BENCH:-bench}: $*" >&2
  exit 1
}

# abs PATH: PATH made absolute (against the directory the script was started in); empty stays empty.
abs() { [[ -z $1 || $1 == /* ]] && printf '%s' "$1" || printf '%s/%s' "$PWD" "$1"; }

# jstr TEXT: TEXT as a JSON string (quotes, backslashes, line breaks and tabs escaped; other control
# characters dropped): `leadmap --version` prints several lines.
jstr() {
  local s=$1
  s=${s//\\/\\\\}
  s=${s//\"/\\\"}
  s=${s//$'\n'/\\n}
  s=${s//$'\r'/\\r}
  s=${s//$'\t'/\\t}
  s=${s//[$'\001'-$'\037']/}
  printf '"%s"' "$s"
}

# stop_pids PID...: SIGTERM, then SIGKILL after 5 s.
stop_pids() {
  local pid
  for pid in "$@"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "$@"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
}

# alive PID: running (not gone, not a zombie).
alive() {
  local st
  st=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null) || return 1
  [[ ${st%% *} != Z ]]
}

# proc_ticks PID: the process's user+system CPU ticks so far.
proc_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# Busy CPU ticks since boot (user, nice, system, irq, softirq, steal).
busy_ticks() { awk '$1 == "cpu" {print $2 + $3 + $4 + $7 + $8 + $9}' /proc/stat; }

# Busy and total CPU ticks since boot.
cpu_busy_total() {
  awk '$1 == "cpu" {print $2 + $3 + $4 + $7 + $8 + $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9}' /proc/stat
}

# Percent of all cores busy over the next second.
busy_pct() {
  local b0 t0 b1 t1
  read -r b0 t0 < <(cpu_busy_total)
  sleep 1
  read -r b1 t1 < <(cpu_busy_total)
  awk -v b=$((b1 - b0)) -v t=$((t1 - t0)) 'BEGIN {printf "%.1f", (t > 0 ? 100 * b / t : 0)}'
}

# Whether a busy percentage counts as quiet (under 10 %).
quiet() { awk -v b="$1" 'BEGIN {exit !(b < 10)}'; }

# wait_quiet NAME SECONDS: waits up to SECONDS for the machine to be quiet, warns as NAME when it is not;
# sets BUSY_BEFORE (percent) and LOAD_BEFORE (the load averages).
wait_quiet() {
  local name=$1 wait=$2 deadline
  BUSY_BEFORE=$(busy_pct)
  if ! quiet "$BUSY_BEFORE" && ((wait > 0)); then
    echo "the machine is ${BUSY_BEFORE} % busy; waiting up to ${wait}s for it to go quiet..." >&2
    deadline=$((SECONDS + wait))
    while ! quiet "$BUSY_BEFORE" && ((SECONDS < deadline)); do BUSY_BEFORE=$(busy_pct); done
  fi
  quiet "$BUSY_BEFORE" ||
    echo "$name: WARNING: the machine is already ${BUSY_BEFORE} % busy; the figures will be noisy" >&2
  LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
}
