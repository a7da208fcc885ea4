#!/usr/bin/env bash
# Updates the MapLibre GL JS files the map page embeds (src/http/web/vendor/maplibre-gl/) from the npm
# registry: the ES module, its worker, the stylesheet and the licence, at the version given (default:
# the one pinned now). Source-map comments are dropped (the maps are not shipped). Rebuild leadmap
# afterwards and run tools/browser_test.sh.
#
# Usage: tools/assets/update_maplibre.sh [VERSION]     e.g. tools/assets/update_maplibre.sh 6.17.0
set -euo pipefail
case "${1:-}" in
  -h | --help) sed -n "2,7s/^# \{0,1\}//p" "$0"; exit 0 ;;
  -*) echo "$(basename "$0"): unknown option $1 (see --help)" >&2; exit 2 ;;
esac
cd "$(dirname "$0")/../.."
dest=src/http/web/vendor/maplibre-gl
version="${1:-$(cat "$dest/VERSION")}"
command -v npm >/dev/null || { echo "update_maplibre: npm is missing" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "maplibre-gl@$version" >/dev/null && tar xzf "maplibre-gl-$version.tgz")
for f in maplibre-gl.mjs maplibre-gl-worker.mjs maplibre-gl.css; do
  [ -s "$work/package/dist/$f" ] || { echo "update_maplibre: maplibre-gl@$version has no dist/$f" >&2; exit 1; }
  sed '/^\/\/# sourceMappingURL=/d' "$work/package/dist/$f" > "$dest/$f"
done
cp "$work/package/LICENSE.txt" "$dest/LICENSE.txt"
echo "$version" > "$dest/VERSION"
echo "MapLibre GL JS $version in $dest:"
ls -l "$dest"
