# Shared by the tools/bench/bench_*.sh scripts (source it first, with BENCH set to the script's name; it
# runs nothing): errors, paths, stopping processes, how busy the machine is and waiting for it to go
# quiet before measuring (the machine is shared; a busy run is flagged, not hidden), long commands that
# an interrupt can stop, and a throwaway PostgreSQL cluster.

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

# Around a load run by a child of this shell (wrk), in the script's own shell (not in $(...): a subshell
# has no children of its own): `cpu_start SERVER_PID`, the run, then `cpu_report SERVER_PID FILE` appends
# to FILE "CPUJSON {...}": elapsed seconds, CPUs, and the CPU seconds of the server, of the load
# generator and of everything else on the machine meanwhile (other load makes the figures unreliable).
# Both need RUN, the run's directory.
TCK=$(getconf CLK_TCK) # clock ticks a second (/proc's CPU times)
CPU_AT=()
cpu_start() {
  times >"$RUN/.times"
  CPU_AT=("$(busy_ticks)" "$(proc_ticks "$1")" "$(child_cpu_s)" "$EPOCHREALTIME")
}
cpu_report() {
  local b1 s1 w1 t1
  times >"$RUN/.times"
  b1=$(busy_ticks) s1=$(proc_ticks "$1") w1=$(child_cpu_s) t1=$EPOCHREALTIME
  awk -v b="$((b1 - CPU_AT[0]))" -v s="$((s1 - CPU_AT[1]))" -v w0="${CPU_AT[2]}" -v w1="$w1" -v t0="${CPU_AT[3]}" \
    -v t1="$t1" -v tck="$TCK" -v n="$(nproc)" 'BEGIN {
      wrk = w1 - w0; srv = s / tck; busy = b / tck; other = busy - srv - wrk; if (other < 0) other = 0
      printf "CPUJSON {\"elapsed_s\":%.3f,\"cpus\":%d,\"server_cpu_s\":%.2f,\"wrk_cpu_s\":%.2f,\"other_cpu_s\":%.2f}\n",
        t1 - t0, n, srv, wrk, other
    }' >>"$2"
}
# child_cpu_s: user+system seconds of this shell's finished children, from `times` >"$RUN/.times".
child_cpu_s() {
  awk 'NR == 2 {
    s = 0
    for (i = 1; i <= 2; i++) { split($i, a, "m"); sub("s", "", a[2]); s += a[1] * 60 + a[2] }
    print s
  }' "$RUN/.times"
}

# whole NAME=--option...: each variable NAME holds a whole number, else a usage error naming the option
# it came from (`whole ROWS=--rows SEED=--seed`).
whole() {
  local pair name
  for pair in "$@"; do
    name=${pair%%=*}
    [[ ${!name} =~ ^[0-9]+$ ]] || die "${pair#*=} must be a whole number (got ${!name})"
  done
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

# ---- long commands ---------------------------------------------------------------------------------

# run [-g] [-o FILE] CMD...: CMD in the background, waited for: a trapped Ctrl-C/SIGTERM interrupts
# `wait` at once (a foreground child would delay it until the child ends), and the script's cleanup
# stops CHILD, its pid while it runs. -o FILE sends its output to FILE (a redirection on the call itself
# would also redirect the trap's and cleanup's messages); -g starts it in its own process group
# (setsid), so that cleanup can stop all of it with `kill -- -$CHILD`.
CHILD=""
run() {
  local out="" rc=0
  local -a pre=()
  while [[ ${1:-} == -g || ${1:-} == -o ]]; do
    if [[ $1 == -g ]]; then
      pre=(setsid)
      shift
    else
      out=$2
      shift 2
    fi
  done
  if [[ -n $out ]]; then
    "${pre[@]}" "$@" >"$out" 2>&1 &
  else
    "${pre[@]}" "$@" &
  fi
  CHILD=$!
  wait "$CHILD" || rc=$?
  CHILD=""
  return "$rc"
}

# ---- a throwaway PostgreSQL cluster (bench_import.sh, bench_impact.sh) ------------------------------

# pg_require [EXTENSION...]: PostgreSQL 15's initdb, pg_ctl, psql and pg_config in PG_BIN, PostGIS 3
# and each EXTENSION installed, or a usage error naming the Debian package. PostgreSQL refuses to run
# as root: as root its commands run as the postgres user (AS_PG, a command prefix, not a function, so
# `run` can stop it by its pid); PG_OWNER is the user the server runs as.
pg_require() {
  local b ext
  for b in initdb pg_ctl psql pg_config; do
    [[ -x $PG_BIN/$b ]] ||
      die "PostgreSQL 15 is not installed ($PG_BIN/$b missing). On Debian/Ubuntu:" \
        "apt-get install -y postgresql-15 (or give --pg-bin DIR)"
  done
  local share lib
  share=$("$PG_BIN/pg_config" --sharedir) lib=$("$PG_BIN/pg_config" --pkglibdir)
  if [[ ! -f $share/extension/postgis.control ]] || ! compgen -G "$lib/postgis-3*.so" >/dev/null; then
    die "PostGIS 3 for PostgreSQL 15 is not installed (no $share/extension/postgis.control or" \
      "$lib/postgis-3.so). On Debian/Ubuntu: apt-get install -y postgresql-15-postgis-3"
  fi
  for ext in "$@"; do
    [[ -f $share/extension/$ext.control ]] || die "the PostgreSQL extension $ext is missing (postgresql-contrib)"
  done
  if ((EUID == 0)); then
    id -u postgres >/dev/null 2>&1 ||
      die "running as root but there is no postgres user (the postgresql-15 package creates it)"
    command -v runuser >/dev/null || die "runuser not found (util-linux)"
    AS_PG=(runuser -u postgres --)
    PG_OWNER=postgres
  else
    AS_PG=()
    PG_OWNER=$(id -un)
  fi
}

# pg_start DIR LOGDIR [SETTING...]: a new cluster in DIR/pgdata listening only on a Unix socket in
# DIR/sock (port 5432 there, no TCP), each SETTING line appended to its postgresql.conf (the packaged
# defaults otherwise), started; initdb's and pg_ctl's output in LOGDIR. Sets PGDATA and SOCK (for
# pg_stop), PSQL (a psql command for the postgres database: "${PSQL[@]}" -c ...) and psql_at (PSQL -At).
PGDATA="" SOCK="" PGPORT=5432
pg_start() {
  local dir=$1 logs=$2
  shift 2
  PGDATA=$dir/pgdata SOCK=$dir/sock
  mkdir -p "$PGDATA" "$SOCK"
  chmod 700 "$PGDATA"
  if ((EUID == 0)); then chown postgres: "$PGDATA" "$SOCK"; fi
  ((${#SOCK} < 90)) || die "the socket path $SOCK is too long for a Unix socket: give a shorter --tmpdir"
  echo "initdb in $PGDATA (as $PG_OWNER) ..." >&2
  run -o "$logs/initdb.log" "${AS_PG[@]}" "$PG_BIN/initdb" -D "$PGDATA" -U postgres -A trust -E UTF8 \
    --locale=C.UTF-8 || fail "initdb failed; see $logs/initdb.log"
  {
    printf '\n# %s\nlisten_addresses = '\'\''\nunix_socket_directories = '\''%s'\''\nport = %s\n' \
      "$BENCH" "$SOCK" "$PGPORT"
    local line
    for line in "$@"; do printf '%s\n' "$line"; done
  } >>"$PGDATA/postgresql.conf"
  run -o "$logs/pg_ctl.log" "${AS_PG[@]}" "$PG_BIN/pg_ctl" -D "$PGDATA" -l "$PGDATA/server.log" -w -t 120 start ||
    fail "the PostgreSQL server did not start; see $PGDATA/server.log (--keep keeps it)"
  PSQL=("${AS_PG[@]}" "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$SOCK" -p "$PGPORT" -U postgres -d postgres)
}
psql_at() { "${PSQL[@]}" -At "$@"; }

# pg_stop: the cluster pg_start started, if it runs: a fast shutdown (open transactions, a running COPY,
# rolled back), then its postmaster by its own pid if it is still there.
pg_stop() {
  [[ -n $PGDATA && -f $PGDATA/postmaster.pid ]] || return 0
  local pm
  pm=$(head -1 "$PGDATA/postmaster.pid" 2>/dev/null || true)
  [[ $pm =~ ^[0-9]+$ ]] || pm=""
  if "${AS_PG[@]}" "$PG_BIN/pg_ctl" -D "$PGDATA" -m fast -w -t 60 stop >/dev/null 2>&1; then
    # pg_ctl returns once the pid file is gone; the postmaster exits a moment later
    for _ in $(seq 100); do [[ -n $pm ]] && alive "$pm" || break; sleep 0.1; done
  fi
  if [[ -n $pm ]] && alive "$pm"; then
    echo "${BENCH:-bench}: pg_ctl stop did not stop the server; sending SIGTERM, then SIGKILL, to $pm" >&2
    kill -TERM "$pm" 2>/dev/null || true
    for _ in $(seq 100); do alive "$pm" || break; sleep 0.1; done
    kill -KILL "$pm" 2>/dev/null || true
  fi
}
