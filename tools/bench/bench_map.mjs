// The map page's performance targets (issue 6), in Debian's headless Chromium via playwright-core:
//
// 1. First render: a fresh browser context (empty cache) opens GET / of `leadmap serve --demo` and
//    waits until the resolution-9 hexagons are on the screen. Reported from the page's own clock
//    (performance.now(), 0 = navigation start): DOM ready; hexagons on screen (the page's
//    `leadmap:on-screen` mark: the first animation frame after the page has drawn the hexagons, with
//    the zones and candidates, i.e. once the browser has composited them; the page draws them as soon
//    as the data are in, before MapLibre has started, where the map will show them); MapLibre's first
//    frame (`leadmap:map-on-screen`: the map takes over, zoomable; without a GPU that includes reading
//    the frame back from SwiftShader); map idle (`data-state=ready`). Then the same tab reloaded (a second visit: files revalidated, compiled code
//    kept). Baseline, interleaved with the runs: MapLibre alone, an empty map of the same size from the
//    same server in a fresh context, on screen. Target: hexagons on screen under 1 s. Median of --runs.
// 2. Panning with 20 000 hexagons: the page is given 20 000 real res-10 cells of the study area
//    (/v1/cells?res=10&zeros=true) to draw, the map fits them, then pans by 3 px every animation frame
//    for --seconds; frames per second = frames / elapsed, and the 95th-percentile frame time. Baseline
//    in the same run: the same pan with no hexagons, and MapLibre alone panning its empty map (the
//    first-render baseline page). Target: 30+ frames per second.
//
// Chromium runs with --disable-gpu, so WebGL is SwiftShader on the CPU: the figures are for this
// 2-core machine without a GPU, a floor for a planner's laptop.
//
// With --basemap FILE.pmtiles (or --basemap test: the browser tests' raster archive, zooms 0-2 of
// one colour each, written to target/bench/test-basemap.pmtiles; or --basemap vector: the browser
// tests' vector archive in the Protomaps schema, land at zoom 10 and a place name in Old Town, drawn
// with the Protomaps style and the binary's glyphs) the page draws over that base map, served by
// leadmap; the baselines stay the same.
//
// Usage: node tools/bench/bench_map.mjs [--leadmap BIN] [--runs N] [--seconds S] [--hexagons N] [--basemap FILE|test|vector]
//   (run from the repository; playwright-core from tests/browser: `npm --prefix tests/browser ci` first)
// Writes target/bench/map.json (map-NAME.json with --basemap NAME.pmtiles).
import { mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const require = createRequire(path.join(ROOT, 'tests/browser/package.json'));
const { chromium } = require('playwright-core');
const { CHROMIUM_ARGS, startServer } = await import(path.join(ROOT, 'tests/browser/leadmap.mjs'));

const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith('--') ? acc.concat([[a.slice(2), all[i + 1]]]) : acc), []));
if ('help' in args || 'h' in args) {
  console.log('node tools/bench/bench_map.mjs [--leadmap BIN] [--runs N] [--seconds S] [--hexagons N] [--basemap FILE.pmtiles|test|vector]');
  process.exit(0);
}
const BIN = args.leadmap || path.join(process.env.CARGO_TARGET_DIR || path.join(ROOT, 'target'), 'release', 'leadmap');
const RUNS = Number(args.runs || 5);
const SECONDS = Number(args.seconds || 5);
const HEXAGONS = Number(args.hexagons || 20000);

// The first-render baseline: MapLibre alone, same files, same map size (1280 - the 380 px panel).
const EMPTY_MAP_PAGE = `<!doctype html><html><head><meta charset="utf-8">
<link rel="stylesheet" href="/map/vendor/maplibre-gl/maplibre-gl.css">
<style>html, body { margin: 0; height: 100%; } #map { position: absolute; left: 380px; right: 0; top: 0; bottom: 0; }</style>
<script type="module">
import * as maplibregl from '/map/vendor/maplibre-gl/maplibre-gl.mjs';
const map = window.map = new maplibregl.Map({ container: 'map', center: [-122.675, 45.522], zoom: 11,
  style: { version: 8, sources: {}, layers: [{ id: 'background', type: 'background', paint: { 'background-color': '#eef0ec' } }] } });
map.once('render', () => requestAnimationFrame(() => performance.mark('leadmap:on-screen')));
map.once('idle', () => { document.body.dataset.readyAt = String(Math.round(performance.now())); document.body.dataset.state = 'ready'; });
</script></head><body><div id="map"></div></body></html>`;

/// In the page: pans its map (the page's, or the baseline page's) by 3 px every animation frame for
/// `seconds`, turning back every 60 frames; frames a second and the 95th-percentile frame time.
async function panFor(seconds) {
  const map = window.leadmap ? window.leadmap.map : window.map;
  const times = [];
  let dir = 1;
  const start = performance.now();
  await new Promise((resolve) => {
    const frame = (t) => {
      times.push(t);
      if (times.length % 60 === 0) dir = -dir;
      map.panBy([3 * dir, 0], { animate: false });
      if (t - start < seconds * 1000) requestAnimationFrame(frame); else resolve();
    };
    requestAnimationFrame(frame);
  });
  const gaps = times.slice(1).map((t, i) => t - times[i]).sort((a, b) => a - b);
  return { fps: (times.length - 1) / ((times[times.length - 1] - times[0]) / 1000), p95_frame_ms: gaps[Math.floor(gaps.length * 0.95)], frames: times.length };
}

const median = (xs) => { const s = xs.slice().sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };

let BASEMAP = args.basemap || null;
if (BASEMAP === 'test') {
  const { rasterArchive } = await import(path.join(ROOT, 'tests/browser/pmtiles.mjs'));
  mkdirSync(path.join(ROOT, 'target/bench'), { recursive: true });
  BASEMAP = path.join(ROOT, 'target/bench/test-basemap.pmtiles');
  writeFileSync(BASEMAP, rasterArchive([[255, 0, 0], [0, 160, 0], [150, 190, 255]], { bounds: [-123.2, 45.2, -122.2, 45.8], center: [-122.67, 45.52, 12] }));
} else if (BASEMAP === 'vector') {
  const { vectorArchive } = await import(path.join(ROOT, 'tests/browser/pmtiles.mjs'));
  mkdirSync(path.join(ROOT, 'target/bench'), { recursive: true });
  BASEMAP = path.join(ROOT, 'target/bench/test-vector.pmtiles');
  writeFileSync(BASEMAP, vectorArchive({ z: 10, place: [-122.673, 45.526], name: 'Old Town', center: [-122.67, 45.52, 12] }));
}
const OUT = BASEMAP ? `map-${path.basename(BASEMAP, '.pmtiles')}.json` : 'map.json';
const server = await startServer(BIN, BASEMAP ? { LEADMAP_BASEMAP: BASEMAP } : {});
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', args: CHROMIUM_ARGS });
try {
  // Warm the server's figure cache once, as a running service would be (the bench is about the page).
  await fetch(`${server.url}/v1/cells?res=9`);

  const first = [];
  const emptyMap = [];
  const measure = (page) => page.evaluate(() => ({
    dom: performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd,
    idle: Number(document.body.dataset.readyAt),
    on_screen: performance.getEntriesByName('leadmap:on-screen')[0].startTime,
    hexagons: window.leadmap ? window.leadmap.cells.features.length : 0,
    marks: Object.fromEntries(performance.getEntriesByType('mark').map((m) => [m.name.replace('leadmap:', ''), Math.round(m.startTime)])),
  }));
  const onScreen = () => document.body.dataset.state === 'ready' && performance.getEntriesByName('leadmap:on-screen').length;
  for (let i = 0; i < RUNS; i++) {
    // Baseline: MapLibre alone, from the same server, in a fresh context: an empty map of the same
    // size (the page's map area) with a background layer, on screen.
    const base = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const bpage = await base.newPage();
    await bpage.route('**/bench-empty-map.html', (r) => r.fulfill({ contentType: 'text/html', body: EMPTY_MAP_PAGE }));
    await bpage.goto(`${server.url}/bench-empty-map.html`);
    await bpage.waitForFunction(onScreen, null, { timeout: 30000 });
    emptyMap.push(await measure(bpage));
    await base.close();

    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    await page.goto(`${server.url}/`);
    await page.waitForFunction(onScreen, null, { timeout: 30000 });
    const cold = await measure(page);
    // The same tab again (a planner's second visit): files revalidated from the cache, compiled code kept.
    await page.reload();
    await page.waitForFunction(onScreen, null, { timeout: 30000 });
    cold.again = await measure(page);
    first.push(cold);
    await context.close();
  }

  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  await page.goto(`${server.url}/?res=10`);
  await page.waitForFunction(() => document.body.dataset.state === 'ready', null, { timeout: 30000 });
  const loaded = await page.evaluate(async (n) => {
    const fc = await fetch('/v1/cells?res=10&zeros=true').then((r) => r.json());
    fc.features = fc.features.slice(0, n);
    window.__bench = fc;
    return fc.features.length;
  }, HEXAGONS);
  const pan = (withCells) => page.evaluate(async ({ withCells }) => {
    const { map } = window.leadmap;
    const fc = withCells ? window.__bench : { type: 'FeatureCollection', features: [] };
    await window.leadmap.drawCells(fc);
    if (withCells) {
      const b = [Infinity, Infinity, -Infinity, -Infinity];
      for (const f of fc.features) for (const c of f.geometry.coordinates[0]) { b[0] = Math.min(b[0], c[0]); b[1] = Math.min(b[1], c[1]); b[2] = Math.max(b[2], c[0]); b[3] = Math.max(b[3], c[1]); }
      map.fitBounds(b, { animate: false, padding: 20 });
    }
    map.triggerRepaint();
    await new Promise((r) => map.once('idle', r));
    // Hexagons in view: those whose every vertex is inside the map's bounds.
    const v = map.getBounds();
    return withCells ? fc.features.filter((f) => f.geometry.coordinates[0].every(([x, y]) => x >= v.getWest() && x <= v.getEast() && y >= v.getSouth() && y <= v.getNorth())).length : 0;
  }, { withCells }).then(async (drawn) => ({ ...(await page.evaluate(panFor, SECONDS)), drawn }));
  const baseline = await pan(false);
  const loadedPan = await pan(true);
  await context.close();
  // MapLibre alone, its empty map (the first-render baseline page), panned the same way.
  const bare = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const bpage = await bare.newPage();
  await bpage.route('**/bench-empty-map.html', (r) => r.fulfill({ contentType: 'text/html', body: EMPTY_MAP_PAGE }));
  await bpage.goto(`${server.url}/bench-empty-map.html`);
  await bpage.waitForFunction(() => document.body.dataset.state === 'ready', null, { timeout: 30000 });
  const emptyPan = await bpage.evaluate(panFor, SECONDS);
  await bare.close();

  const result = {
    first_render: {
      runs: first,
      median_dom_ms: median(first.map((r) => r.dom)),
      median_idle_ms: median(first.map((r) => r.idle)),
      median_on_screen_ms: median(first.map((r) => r.on_screen)),
      median_map_on_screen_ms: median(first.map((r) => r.marks['map-on-screen'])),
      median_on_screen_again_ms: median(first.map((r) => r.again.on_screen)),
      hexagons: first[0].hexagons,
      baseline_empty_map: { runs: emptyMap, median_on_screen_ms: median(emptyMap.map((r) => r.on_screen)) },
    },
    pan: { hexagons_loaded: loaded, hexagons_drawn: loadedPan.drawn, with_hexagons: loadedPan, baseline_no_hexagons: baseline, baseline_maplibre_empty_map: emptyPan },
  };
  mkdirSync(path.join(ROOT, 'target/bench'), { recursive: true });
  writeFileSync(path.join(ROOT, 'target/bench', OUT), JSON.stringify({ basemap: BASEMAP, ...result }, null, 1));
  console.log(`first render (res 9, ${result.first_render.hexagons} hexagons, fresh context, median of ${RUNS}): DOM ready ${result.first_render.median_dom_ms.toFixed(0)} ms, hexagons on screen ${result.first_render.median_on_screen_ms.toFixed(0)} ms, MapLibre's first frame ${result.first_render.median_map_on_screen_ms.toFixed(0)} ms, map idle ${result.first_render.median_idle_ms.toFixed(0)} ms`);
  console.log(`  the same tab reloaded (files revalidated, code cached): hexagons on screen ${result.first_render.median_on_screen_again_ms.toFixed(0)} ms`);
  console.log(`  baseline, MapLibre alone (empty map, fresh context):   on screen ${result.first_render.baseline_empty_map.median_on_screen_ms.toFixed(0)} ms`);
  console.log('first render phases (ms from navigation start, last run):', JSON.stringify(first[first.length - 1].marks));
  console.log(`pan, ${loaded} hexagons loaded (${loadedPan.drawn} in view): ${loadedPan.fps.toFixed(1)} frames/s, p95 frame ${loadedPan.p95_frame_ms.toFixed(1)} ms`);
  console.log(`pan, the page with no hexagons (baseline): ${baseline.fps.toFixed(1)} frames/s, p95 frame ${baseline.p95_frame_ms.toFixed(1)} ms`);
  console.log(`pan, MapLibre alone, empty map (baseline): ${emptyPan.fps.toFixed(1)} frames/s, p95 frame ${emptyPan.p95_frame_ms.toFixed(1)} ms`);
  console.log(`wrote target/bench/${OUT}`);
} finally {
  await browser.close();
  server.child.kill('SIGTERM');
}
