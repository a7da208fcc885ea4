#!/usr/bin/env bash
# Coverage-guided fuzzing of every reader of outside bytes (cargo-fuzz, libFuzzer); see --help.
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: tools/fuzz.sh [--seconds S] [TARGET ...]

Builds the cargo-fuzz targets in tools/fuzz/ and runs each for S seconds (default 60), one after
another; with no TARGET, all of them:
  events_csv events_geojson events_geojsonl events_fgb   event files, as `leadmap import` reads them
  zones_geojson                                          zone files
  rules_json                                             rule files
  http_request                                           the real router: query strings of every route,
                                                         batch bodies of POST /v1/eligibility
A finding is a panic, a `500`, an input slower than 10 s or one needing over 2 GB. libFuzzer saves it
under tools/fuzz/artifacts/TARGET/; the script prints its path and exits 1. Make it a regression
test (geodata/fixtures/fuzz/ and tests/integration/fuzz.rs), then fix it.

Runs on the stable toolchain: `-s none` builds with libFuzzer's coverage instrumentation but no
sanitizer (AddressSanitizer needs nightly; leadmap has no unsafe code of its own, so the findings
that matter are panics, hangs and memory blow-ups, which need none). Needs cargo-fuzz:
  cargo install cargo-fuzz --locked
and a C++ compiler (libFuzzer is built from source). The corpus grows across runs in
$CARGO_TARGET_DIR/fuzz-corpus/TARGET (default target/), starting from tools/fuzz/seeds/TARGET.

Examples:
  tools/fuzz.sh --seconds 15               # what .ci/run does: 15 s a target
  tools/fuzz.sh --seconds 3600 events_fgb  # one target for an hour
USAGE
}

SECONDS_PER=60
TARGETS=()
while (($#)); do
  case $1 in
    --seconds) SECONDS_PER=${2:?--seconds needs a number}; shift ;;
    -h | --help) usage; exit 0 ;;
    -*) echo "fuzz.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    *) TARGETS+=("$1") ;;
  esac
  shift
done
[[ $SECONDS_PER =~ ^[0-9]+$ && $SECONDS_PER -gt 0 ]] || { echo "fuzz.sh: --seconds must be a positive whole number" >&2; exit 2; }
cd "$(dirname "$0")/.."
command -v cargo-fuzz >/dev/null || { echo "fuzz.sh: cargo-fuzz is missing: cargo install cargo-fuzz --locked" >&2; exit 2; }
ALL=$(sed -n 's/^name = "\(.*\)"$/\1/p' tools/fuzz/Cargo.toml | grep -v '^leadmap-fuzz$')
((${#TARGETS[@]})) || mapfile -t TARGETS <<<"$ALL"
for t in "${TARGETS[@]}"; do
  grep -qx "$t" <<<"$ALL" || { echo "fuzz.sh: no target $t; the targets are:" $ALL >&2; exit 2; }
done
TD=${CARGO_TARGET_DIR:-target}
mkdir -p "$TD"
echo "building the fuzz targets (the first build takes a few minutes)..." >&2
if ! cargo fuzz build --fuzz-dir tools/fuzz -s none -O >"$TD/fuzz-build.log" 2>&1; then
  tail -n 20 "$TD/fuzz-build.log" >&2
  echo "fuzz.sh: building the fuzz targets failed (log: $TD/fuzz-build.log)" >&2
  exit 2
fi
failed=()
for t in "${TARGETS[@]}"; do
  corpus="$TD/fuzz-corpus/$t"
  mkdir -p "$corpus"
  echo "fuzzing $t for ${SECONDS_PER}s..." >&2
  log="$TD/fuzz-corpus/$t.log"
  if cargo fuzz run --fuzz-dir tools/fuzz -s none -O "$t" "$corpus" "tools/fuzz/seeds/$t" -- \
    -max_total_time="$SECONDS_PER" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 >"$log" 2>&1; then
    awk '/^stat::number_of_executed_units/ {r = $2} /^stat::new_units_added/ {n = $2}
      END {printf "  %s runs, %s new inputs in the corpus\n", r, n}' "$log" >&2
  else
    echo "  FINDING in $t:" >&2
    grep -E "panicked|ERROR: libFuzzer|SUMMARY|Test unit written to|artifact_prefix" "$log" | head -n 8 | sed 's/^/    /' >&2
    failed+=("$t")
  fi
done
if ((${#failed[@]})); then
  echo "fuzz.sh: findings in: ${failed[*]} (inputs under tools/fuzz/artifacts/)" >&2
  exit 1
fi
echo "fuzz.sh: no findings in ${#TARGETS[@]} target(s), ${SECONDS_PER}s each" >&2
