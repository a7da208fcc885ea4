#!/usr/bin/env bash
# The tests of the planners' map: the page's pure modules in node (tests/browser/units.test.mjs), then
# the page end to end in a browser (tests/browser/map.test.mjs). Builds leadmap, installs
# playwright-core from the npm registry (the version pinned in tests/browser/package-lock.json; no
# browser download) and runs the tests in Debian's headless Chromium (/usr/bin/chromium, package
# `chromium`). Screenshots land in target/browser/ for a person to look at.
#
# Usage: tools/browser_test.sh            (LEADMAP_BIN=... to test another binary; CHROMIUM=... another browser)
set -euo pipefail
cd "$(dirname "$0")/.."

chromium_bin="${CHROMIUM:-/usr/bin/chromium}"
if [ ! -x "$chromium_bin" ]; then
  echo "browser_test: no Chromium at $chromium_bin; install Debian's: sudo apt-get install chromium" >&2
  exit 2
fi
command -v npm >/dev/null || { echo "browser_test: npm is missing (Debian: apt-get install npm)" >&2; exit 2; }

if [ -z "${LEADMAP_BIN:-}" ]; then
  cargo build --bin leadmap
fi
(cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)
(cd tests/browser && npm test)
