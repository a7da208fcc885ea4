#!/usr/bin/env bash
# Updates the two scripts the map page loads for a PMTiles base map (serve --basemap FILE.pmtiles), from
# the npm registry, with their licences:
#   src/http/web/vendor/pmtiles/pmtiles.js                 pmtiles (Protomaps; BSD-3-Clause), its
#       browser bundle (global `pmtiles`), which includes fflate (MIT) for gzip
#   src/http/web/vendor/protomaps-basemaps/basemaps.js     @protomaps/basemaps (BSD-3-Clause), the
#       basemap style's layers (global `basemaps`) for archives in the Protomaps schema
# Neither npm package ships its licence file: LICENSE.txt in each folder holds the BSD-3-Clause text
# of the project's repository (github.com/protomaps/PMTiles, github.com/protomaps/basemaps, both
# "Copyright 2021 Protomaps LLC") and is kept; fflate's MIT licence is taken from its npm package.
# Source-map comments are dropped (the maps are not shipped). Rebuild leadmap afterwards and run
# tools/browser_test.sh.
#
# Usage: tools/assets/update_pmtiles.sh [PMTILES_VERSION [BASEMAPS_VERSION]]   e.g. tools/assets/update_pmtiles.sh 4.5.0 5.7.2
set -euo pipefail
case "${1:-}" in
  -h | --help) sed -n "2,14s/^# \{0,1\}//p" "$0"; exit 0 ;;
  -*) echo "$(basename "$0"): unknown option $1 (see --help)" >&2; exit 2 ;;
esac
cd "$(dirname "$0")/../.."
web=src/http/web/vendor
pm_version="${1:-$(cat "$web/pmtiles/VERSION")}"
bm_version="${2:-$(cat "$web/protomaps-basemaps/VERSION")}"
command -v npm >/dev/null || { echo "update_pmtiles: npm is missing" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fetch() { # package version dir
  mkdir -p "$work/$3"
  (cd "$work/$3" && npm pack --silent "$1@$2" >/dev/null && tar xzf ./*.tgz)
}
fetch pmtiles "$pm_version" pm
fetch @protomaps/basemaps "$bm_version" bm
fflate_version=$(node -e "console.log(require('$work/pm/package/package.json').dependencies.fflate.replace(/^[^0-9]*/, ''))")
fetch fflate "$fflate_version" ff
mkdir -p "$web/pmtiles" "$web/protomaps-basemaps"
for f in "$work/pm/package/dist/pmtiles.js" "$work/bm/package/dist/basemaps.js"; do
  [ -s "$f" ] || { echo "update_pmtiles: $f is missing from the package" >&2; exit 1; }
done
sed '/^\/\/# sourceMappingURL=/d' "$work/pm/package/dist/pmtiles.js" > "$web/pmtiles/pmtiles.js"
sed '/^\/\/# sourceMappingURL=/d' "$work/bm/package/dist/basemaps.js" > "$web/protomaps-basemaps/basemaps.js"
cp "$work/ff/package/LICENSE" "$web/pmtiles/LICENSE-fflate.txt"
echo "$pm_version" > "$web/pmtiles/VERSION"
echo "$bm_version" > "$web/protomaps-basemaps/VERSION"
for d in pmtiles protomaps-basemaps; do
  [ -s "$web/$d/LICENSE.txt" ] || { echo "update_pmtiles: $web/$d/LICENSE.txt (BSD-3-Clause, Protomaps LLC) is missing" >&2; exit 1; }
done
echo "pmtiles $pm_version (with fflate $fflate_version) and @protomaps/basemaps $bm_version in $web:"
ls -l "$web/pmtiles" "$web/protomaps-basemaps"
