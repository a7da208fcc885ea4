# Shared by the tools/bench_*.sh scripts (source it; it runs nothing): how busy the machine is, and
# waiting for it to go quiet before measuring. The machine is shared; a busy run is flagged, not hidden.

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
