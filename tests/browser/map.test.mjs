// End-to-end tests of the planners' map at GET / of `leadmap serve --demo`, in Debian's headless
// Chromium driven by playwright-core (no browser download). Each test starts a real server on an
// ephemeral port and reads the page as a person would: waits for the hexagons, compares what is on the
// screen (pixels, against the legend) with /v1/cells for the same filters, changes a filter, clicks a
// hexagon, downloads the view.
//
// Run: tools/browser_test.sh (builds leadmap, installs playwright-core, runs this file).
// LEADMAP_BIN picks the binary (default target/debug/leadmap); CHROMIUM the browser (/usr/bin/chromium).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { CHROMIUM_ARGS, previewCamera, startServer } from './leadmap.mjs';
import { rasterArchive, vectorArchive } from './pmtiles.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BIN = process.env.LEADMAP_BIN || path.join(process.env.CARGO_TARGET_DIR || path.join(ROOT, 'target'), 'debug', 'leadmap');
const SHOTS = path.join(process.env.CARGO_TARGET_DIR || path.join(ROOT, 'target'), 'browser');
const PLANNER_TOKEN = 'planner-token-0123456789abcdef';

let browser;
let open;
let secured;
let withBasemap;
// A base map of one colour, the map's background (#eef0ec), served to the browser by the test: one
// 1×1 PNG for every tile.
const BASEMAP = 'http://tiles.leadmap.test/{z}/{x}/{y}.png';
const TILE = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGN49+ENAAWaAsvfYbuoAAAAAElFTkSuQmCC', 'base64');

let withArchive;
let withStyle;
// A PMTiles archive written by the test (pmtiles.mjs): zooms 0 to 2, one colour each; at the map's
// zooms MapLibre draws the zoom-2 tiles enlarged, so the base map is ARCHIVE_COLOURS[2] everywhere.
const ARCHIVE_COLOURS = [[255, 0, 0], [0, 160, 0], [150, 190, 255]];
const archiveDir = mkdtempSync(path.join(os.tmpdir(), 'leadmap-pmtiles-'));
const ARCHIVE = path.join(archiveDir, 'base.pmtiles');
// A vector archive in the Protomaps schema (zoom 12 only, drawn from zoom 12 on): land everywhere,
// and one neighbourhood's name on Mount Hood, far from every hexagon.
let withVector;
const VECTOR = path.join(archiveDir, 'vector.pmtiles');
const PLACE = [-121.7, 45.37];
const PLACE_NAME = 'Timberline Test';

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  writeFileSync(ARCHIVE, rasterArchive(ARCHIVE_COLOURS, {
    bounds: [-123.2, 45.2, -122.2, 45.8], center: [-122.67, 45.52, 12],
    attribution: '<a href="https://www.openstreetmap.org/copyright">© OpenStreetMap contributors</a>',
  }));
  writeFileSync(VECTOR, vectorArchive({ z: 12, place: PLACE, name: PLACE_NAME, center: [...PLACE, 12] }));
  [open, secured, withBasemap, withArchive, withStyle, withVector] = await Promise.all([
    startServer(BIN),
    startServer(BIN, { LEADMAP_TOKENS: `planning:planner:${PLANNER_TOKEN}` }),
    startServer(BIN, { LEADMAP_BASEMAP: BASEMAP }),
    startServer(BIN, { LEADMAP_BASEMAP: ARCHIVE }),
    startServer(BIN, { LEADMAP_BASEMAP: 'http://tiles.leadmap.test/style.json' }),
    startServer(BIN, { LEADMAP_BASEMAP: VECTOR }),
  ]);
  browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', args: CHROMIUM_ARGS });
});

after(async () => {
  await browser?.close();
  for (const s of [open, secured, withBasemap, withArchive, withStyle, withVector]) s?.child.kill('SIGTERM');
  rmSync(archiveDir, { recursive: true, force: true });
});

async function newPage(url) {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 }, acceptDownloads: true });
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.errors = errors;
  await page.goto(url);
  return page;
}

/// Waits until the page has drawn its `n`-th answer (the map idle after the data arrived).
async function rendered(page, n) {
  await page.waitForFunction((k) => document.body.dataset.state === 'ready' && Number(document.body.dataset.renders) >= k, n, { timeout: 30000 });
}

async function apiCollection(base, query, token) {
  const r = await fetch(`${base}/v1/cells?${query}`, { headers: token ? { Authorization: `Bearer ${token}` } : {} });
  assert.equal(r.status, 200, `/v1/cells?${query}`);
  return r.json();
}

async function apiCells(base, query, token) {
  const fc = await apiCollection(base, query, token);
  return Object.fromEntries(fc.features.map((f) => [f.properties.hex_id, f.properties.count]));
}

/// What the map shows, read off the screen. The outlines, labels and controls are hidden for the reading;
/// the map's pixels are taken from a screenshot. For every hexagon of `fc` (from the API) whose centre
/// (MapLibre's projection) is in view: the legend entry whose colour is on the screen there, and the
/// legend entry its count belongs to. Then `stray`: sampled pixels (every 9 px) that are coloured but
/// lie in no hexagon of `fc`. Returns { seen: {hex_id: legend label}, expected: {...}, stray: [...] }.
async function shown(page, fc, { preview = false, basemap = null } = {}) {
  // Labels and badges off for the reading (the rule below), the map's own layers too once it exists.
  await page.evaluate(() => document.body.classList.add('reading'));
  if (!preview) await page.evaluate(async () => {
    const { map } = window.leadmap;
    if (map.getLayer('cells-selected')) map.setLayoutProperty('cells-selected', 'visibility', 'none');
    window.leadmap.hexagons.showOutlines = false;
    window.leadmap.hexagons.draw();
    document.body.classList.add('reading');
    // One more map frame, and the next animation frame once it is on the screen.
    map.triggerRepaint();
    await new Promise((r) => map.once('render', () => requestAnimationFrame(r)));
  });
  const style = await page.addStyleTag({ content: 'body.reading .zone-label, body.reading .context-label, body.reading .landmark, body.reading #demo-badge, body.reading #basemap-notice, body.reading .maplibregl-control-container, body.reading .maplibregl-popup { display: none !important; }' });
  const png = await page.locator('#map').screenshot();
  const camera = preview ? await page.evaluate(previewCamera) : null;
  const out = await page.evaluate(async ({ png, fc, camera, basemap }) => {
    const { map } = window.leadmap;
    // Screen position of a lon/lat, and back: MapLibre's, or (before the map exists) the camera the
    // page's preview was drawn for.
    let project = (ll) => map.project(ll), unproject = (p) => map.unproject(p);
    if (camera) {
      const c = camera;
      const world = 512 * 2 ** c.zoom;
      const mx = (lon) => (lon + 180) / 360;
      const my = (lat) => { const s = Math.sin((lat * Math.PI) / 180); return 0.5 - Math.log((1 + s) / (1 - s)) / (4 * Math.PI); };
      project = ([lon, lat]) => ({ x: (mx(lon) - mx(c.lng)) * world + c.width / 2, y: (my(lat) - my(c.lat)) * world + c.height / 2 });
      unproject = ([x, y]) => {
        const X = (x - c.width / 2) / world + mx(c.lng), Y = (y - c.height / 2) / world + my(c.lat);
        return { lng: X * 360 - 180, lat: (Math.atan(Math.sinh(Math.PI * (1 - 2 * Y))) * 180) / Math.PI };
      };
    }
    const bitmap = await createImageBitmap(new Blob([Uint8Array.from(atob(png), (c) => c.charCodeAt(0))], { type: 'image/png' }));
    const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
    const ctx = canvas.getContext('2d');
    ctx.drawImage(bitmap, 0, 0);
    const px = ctx.getImageData(0, 0, bitmap.width, bitmap.height).data;
    const rgb = (x, y) => { const i = 4 * (Math.round(y) * bitmap.width + Math.round(x)); return [px[i], px[i + 1], px[i + 2]]; };
    const hex = (c) => { const v = parseInt(c.slice(1), 16); return [(v >> 16) & 255, (v >> 8) & 255, v & 255]; };
    const css = (c) => c.startsWith('#') ? hex(c) : c.match(/\d+/g).slice(0, 3).map(Number);
    // What is under the hexagons: the map's background, or a base map of one colour drawn over it at
    // the page's base-map opacity (0.8).
    const page = css(getComputedStyle(document.querySelector('#map')).backgroundColor);
    const background = basemap ? basemap.map((v, i) => 0.8 * v + 0.2 * page[i]) : page;
    const opacity = window.leadmap.cellOpacity();
    // The legend's entries: colour (as drawn over the background), label, and the counts it covers.
    const legend = [...document.querySelectorAll('#legend .item')].map((el) => {
      const label = el.textContent.trim();
      const c = css(getComputedStyle(el.querySelector('.swatch')).backgroundColor);
      const n = (t) => Number(t.replace(/,/g, ''));
      let m, range = null;
      if (/withheld/.test(label)) range = 'withheld';
      else if ((m = label.match(/^([\d,]+) to ([\d,]+)$/))) range = [n(m[1]), n(m[2])];
      else if ((m = label.match(/^([\d,]+) or more$/))) range = [n(m[1]), Infinity];
      else if ((m = label.match(/^([\d,]+)$/))) range = [n(m[1]), n(m[1])];
      return { label, range, drawn: c.map((v, i) => opacity * v + (1 - opacity) * background[i]) };
    }).filter((e) => e.range);
    const entryOf = (count) => legend.find((e) => (count == null ? e.range === 'withheld' : e.range !== 'withheld' && count >= e.range[0] && count <= e.range[1]));
    const nearest = (c) => {
      let best = null, bestD = Infinity;
      for (const e of legend) { const d = Math.hypot(...e.drawn.map((v, i) => v - c[i])); if (d < bestD) { bestD = d; best = e; } }
      return bestD < 12 ? best.label : `rgb(${c.join(',')})`;
    };
    const seen = {}, expected = {};
    const w = bitmap.width, h = bitmap.height;
    for (const f of fc.features) {
      const ring = f.geometry.coordinates[0].slice(0, -1);
      const p = project([ring.reduce((s, c) => s + c[0], 0) / ring.length, ring.reduce((s, c) => s + c[1], 0) / ring.length]);
      if (p.x < 3 || p.y < 3 || p.x > w - 4 || p.y > h - 4) continue;
      seen[f.properties.hex_id] = nearest(rgb(p.x, p.y));
      expected[f.properties.hex_id] = entryOf(f.properties.count)?.label ?? 'no legend entry';
    }
    // Coloured pixels outside every hexagon of the answer (3 px of slack at the edges: the drawing's
    // antialiasing and the map's resampling of it).
    const inside = (lon, lat) => fc.features.some((f) => {
      const r = f.geometry.coordinates[0];
      let k = false;
      for (let i = 0, j = r.length - 1; i < r.length; j = i++) {
        if ((r[i][1] > lat) !== (r[j][1] > lat) && lon < ((r[j][0] - r[i][0]) * (lat - r[i][1])) / (r[j][1] - r[i][1]) + r[i][0]) k = !k;
      }
      return k;
    });
    const stray = [];
    for (let y = 4; y < h - 4; y += 9) for (let x = 4; x < w - 4; x += 9) {
      const c = rgb(x, y);
      if (Math.hypot(...c.map((v, i) => v - background[i])) < 12) continue;
      const near = [[0, 0], [3, 0], [-3, 0], [0, 3], [0, -3], [2, 2], [2, -2], [-2, 2], [-2, -2]].some(([dx, dy]) => { const g = unproject([x + dx, y + dy]); return inside(g.lng, g.lat); });
      if (!near) stray.push([x, y, c]);
    }
    return { seen, expected, stray };
  }, { png: png.toString('base64'), fc, camera, basemap });
  await style.evaluate((el) => el.remove());
  if (!preview) await page.evaluate(() => {
    document.body.classList.remove('reading');
    const { map, hexagons } = window.leadmap;
    if (map.getLayer('cells-selected')) map.setLayoutProperty('cells-selected', 'visibility', 'visible');
    hexagons.showOutlines = true;
    hexagons.draw();
  });
  return out;
}

/// Asserts that the screen shows every hexagon of `fc` in view in its legend colour and nothing else;
/// returns what was seen (hex_id -> legend label).
async function assertShows(page, fc, what, options = {}) {
  const { seen, expected, stray } = await shown(page, fc, options);
  const n = Object.keys(expected).length;
  // All the hexagons in view, unless the view was moved (`some`: a part of them).
  assert.ok(n > (options.some ? 0.2 : 0.9) * fc.features.length, `${what}: ${n} of ${fc.features.length} hexagons in view`);
  assert.deepEqual(seen, expected, `${what}: each hexagon on the screen in the colour of its count's legend entry`);
  assert.deepEqual(stray, [], `${what}: no colour on the screen outside the API's hexagons`);
  // And the page holds exactly the API's hexagons and counts (what its popups read).
  const held = await page.evaluate(() => Object.fromEntries(window.leadmap.cells.features.map((f) => [f.properties.hex_id, f.properties.count])));
  assert.deepEqual(held, Object.fromEntries(fc.features.map((f) => [f.properties.hex_id, f.properties.count])), `${what}: the page's hexagons`);
  return seen;
}

test('the map draws the hexagons /v1/cells gives, follows a filter change, and keeps the view in the URL', async () => {
  const page = await newPage(`${open.url}/`);
  await rendered(page, 1);
  const all = await apiCollection(open.url, 'res=9');
  assert.ok(all.features.length > 500, 'the demo data fills the city');
  const first = await assertShows(page, all, 'res 9');
  await page.screenshot({ path: path.join(SHOTS, 'map.png') });
  // Panned (the drawing moves with the map, not redrawn) and zoomed (redrawn): still in place.
  const view = await page.evaluate(() => ({ center: window.leadmap.map.getCenter().toArray(), zoom: window.leadmap.map.getZoom() }));
  await page.evaluate(async () => {
    const { map } = window.leadmap;
    map.panBy([170, -90], { animate: false });
    await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
  });
  await assertShows(page, all, 'panned', { some: true });
  await page.evaluate(async () => {
    const { map } = window.leadmap;
    map.zoomTo(map.getZoom() + 0.6, { animate: false });
    await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
  });
  await assertShows(page, all, 'zoomed in', { some: true });
  await page.evaluate(async (v) => {
    window.leadmap.map.jumpTo(v);
    await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
  }, view);

  // A filter: arrests only. The map redraws from /v1/cells?kind=arrest.
  await page.selectOption('select[name=kind]', 'arrest');
  await rendered(page, 2);
  const arrests = await apiCollection(open.url, 'res=9&kind=arrest');
  const now = await assertShows(page, arrests, 'arrests');
  assert.notDeepEqual(now, first, 'the map changed with the filter');
  assert.match(page.url(), /kind=arrest/);
  assert.match(await page.textContent('#legend'), /Arrests per hexagon/);

  // The URL is the view: a new tab on it shows the same filters and the same hexagons.
  const again = await newPage(page.url());
  await rendered(again, 1);
  assert.equal(await again.inputValue('select[name=kind]'), 'arrest');
  assert.deepEqual(await assertShows(again, arrests, 'the shared link'), now);

  // Resolution 8: fewer, bigger hexagons.
  await page.selectOption('select[name=res]', '8');
  await rendered(page, 3);
  await assertShows(page, await apiCollection(open.url, 'res=8&kind=arrest'), 'res 8');
  assert.deepEqual(page.errors, []);
  assert.deepEqual(again.errors, []);
  await again.close();
  await page.close();
});

test('the page survives any URL: a layer or filter value that is not one of its own is ignored', async () => {
  for (const q of ['?layer=x%22%5D', '?layer=%27)%3Balert(1)%2F%2F&res=%3Cb%3E', '?period=%22%5D%5B&kind=%5C']) {
    const page = await newPage(`${open.url}/${q}`);
    await rendered(page, 1);
    assert.deepEqual(page.errors, [], q);
    assert.equal(await page.evaluate(() => document.querySelector('input[name=layer]:checked').value), 'counts', q);
    await page.close();
  }
});

test('the hexagons are on the screen before MapLibre has started, where the map then shows them', async () => {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  // No outlines over the hexagons (this test reads the hexagons), and MapLibre held back until the
  // page has shown them.
  const none = { type: 'FeatureCollection', features: [] };
  await page.route('**/v1/zones?*', (r) => r.fulfill({ json: none }));
  await page.route('**/v1/hotspots/candidates?*', (r) => r.fulfill({ json: none }));
  let release;
  const gate = new Promise((r) => { release = r; });
  await page.route('**/maplibre-gl.mjs', async (r) => { await gate; await r.continue(); });
  await page.goto(`${open.url}/`);
  await page.waitForFunction(() => performance.getEntriesByName('leadmap:on-screen').length, null, { timeout: 30000 });
  assert.equal(await page.evaluate(() => window.leadmap.map), undefined, 'MapLibre has not started');
  const fc = await apiCollection(open.url, 'res=9');
  await assertShows(page, fc, 'before MapLibre', { preview: true });

  release();
  await rendered(page, 1);
  // No base map: the page's drawing stays as the map's, and MapLibre's own canvas (nothing on it) is hidden.
  assert.deepEqual(await page.evaluate(() => [window.leadmap.hexagons.canvas.isConnected, window.leadmap.map.getCanvas().style.visibility]), [true, 'hidden']);
  await assertShows(page, fc, 'MapLibre');
  // The preview's camera is the map's (zoom, centre).
  const c = await page.evaluate(previewCamera);
  const fitted = [c.zoom, c.lng, c.lat];
  const mapped = await page.evaluate(() => { const { map } = window.leadmap; return [map.getZoom(), map.getCenter().lng, map.getCenter().lat]; });
  fitted.forEach((v, i) => assert.ok(Math.abs(v - mapped[i]) < 1e-6, `camera ${fitted} against the map's ${mapped}`));
  assert.deepEqual(errors, []);
  await page.close();
});

test('over a base map the hexagons are an image in the map, under its tiles\' opacity, and in place', async () => {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  let tiles = 0;
  await page.route('http://tiles.leadmap.test/**', (r) => { tiles += 1; r.fulfill({ contentType: 'image/png', body: TILE }); });
  await page.goto(`${withBasemap.url}/`);
  await rendered(page, 1);
  assert.ok(tiles > 0, 'the base map was asked for');
  assert.deepEqual(await page.evaluate(() => [window.leadmap.hexagons.overlay, window.leadmap.hexagons.canvas.isConnected, window.leadmap.map.getStyle().layers.map((l) => l.id)]),
    [false, false, ['basemap', 'cells']], 'the drawing is a layer over the base map; the preview has gone');
  const fc = await apiCollection(withBasemap.url, 'res=9');
  await assertShows(page, fc, 'over the base map');
  await page.evaluate(async () => {
    window.leadmap.map.panBy([-120, 60], { animate: false });
    await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
  });
  await assertShows(page, fc, 'over the base map, panned', { some: true });
  assert.deepEqual(errors, []);
  await page.close();
});

test('a PMTiles archive on the server is the base map: its tiles under the hexagons, credited, read by range requests', async () => {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  const ranges = [];
  const elsewhere = [];
  page.on('request', (r) => {
    const u = r.url();
    if (u.endsWith('/map/basemap.pmtiles')) ranges.push(r.headers().range);
    else if (!u.startsWith(withArchive.url) && !/^(data|blob):/.test(u)) elsewhere.push(u);
  });
  await page.goto(`${withArchive.url}/?res=9`);
  await rendered(page, 1);
  await page.waitForFunction(() => window.leadmap.map.isSourceLoaded('basemap'));
  assert.ok(ranges.length >= 2 && ranges.every((r) => /^bytes=\d+-\d+$/.test(r)), `range reads of the archive: ${ranges}`);
  assert.deepEqual(elsewhere, [], 'nothing fetched from another host');
  assert.deepEqual(await page.evaluate(() => window.leadmap.map.getStyle().layers.map((l) => l.id)), ['basemap', 'cells'], 'the tiles under the hexagons');
  // Every hexagon in its legend colour over the zoom-2 tile's colour, and that colour everywhere else.
  const fc = await apiCollection(withArchive.url, 'res=9');
  await assertShows(page, fc, 'over the archive', { basemap: ARCHIVE_COLOURS[2] });
  assert.match(await page.textContent('.maplibregl-ctrl-attrib'), /© OpenStreetMap contributors/);
  assert.equal(await page.isHidden('#basemap-notice'), true);
  await page.screenshot({ path: path.join(SHOTS, 'map-pmtiles.png') });
  assert.deepEqual(errors, []);
  await page.close();
});

test('a vector archive in the Protomaps schema is drawn in its style, its place names in glyphs the binary serves', async () => {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  const glyphs = [];
  const elsewhere = [];
  page.on('response', (r) => {
    const u = r.url();
    if (u.includes('/map/glyphs/')) glyphs.push(`${decodeURIComponent(new URL(u).pathname)} ${r.status()}`);
    else if (!u.startsWith(withVector.url) && !/^(data|blob):/.test(u)) elsewhere.push(u);
  });
  await page.goto(`${withVector.url}/?res=9`);
  await rendered(page, 1);
  const layers = await page.evaluate(() => window.leadmap.map.getStyle().layers.map((l) => l.id));
  assert.ok(layers.includes('basemap-earth') && layers.includes('basemap-places_subplace'), `the Protomaps layers: ${layers}`);
  assert.equal(layers.at(-1), 'cells', 'the hexagons over the base map');
  // To the place, at zoom 13: its name is placed (MapLibre places a label only once its glyphs are in).
  await page.evaluate((c) => new Promise((r) => { window.leadmap.map.once('idle', r); window.leadmap.map.jumpTo({ center: c, zoom: 13 }); }), PLACE);
  await page.waitForFunction(() => window.leadmap.map.queryRenderedFeatures({ layers: ['basemap-places_subplace'] }).length > 0, null, { timeout: 15000 });
  const names = await page.evaluate(() => window.leadmap.map.queryRenderedFeatures({ layers: ['basemap-places_subplace'] }).map((f) => f.properties.name));
  assert.ok(names.includes(PLACE_NAME), `placed: ${names}`);
  assert.ok(glyphs.length > 0 && glyphs.every((g) => /^\/map\/glyphs\/Noto Sans Regular\/\d+-\d+\.pbf 200$/.test(g)), `glyphs: ${glyphs}`);
  assert.deepEqual(elsewhere, [], 'nothing fetched from another host');
  // On the screen: the style's land colour (#e2dfda) everywhere, and the name's grey letters
  // (#8f8f8f) at the place and nowhere else.
  const at = await page.evaluate((c) => { const p = window.leadmap.map.project(c); const b = window.leadmap.map.getContainer().getBoundingClientRect(); return { x: b.left + p.x, y: b.top + p.y }; }, PLACE);
  const read = async (clip) => {
    const png = await page.screenshot({ clip });
    return page.evaluate(async (b64) => {
      const img = new Image();
      img.src = `data:image/png;base64,${b64}`;
      await img.decode();
      const c = new OffscreenCanvas(img.width, img.height);
      const g = c.getContext('2d');
      g.drawImage(img, 0, 0);
      const d = g.getImageData(0, 0, img.width, img.height).data;
      let land = 0, letters = 0;
      for (let i = 0; i < d.length; i += 4) {
        if (Math.abs(d[i] - 0xe2) <= 3 && Math.abs(d[i + 1] - 0xdf) <= 3 && Math.abs(d[i + 2] - 0xda) <= 3) land += 1;
        if (d[i] < 180 && d[i + 1] < 180 && d[i + 2] < 180) letters += 1;
      }
      return { land, letters, all: d.length / 4 };
    }, png.toString('base64'));
  };
  const label = await read({ x: at.x - 120, y: at.y - 20, width: 240, height: 40 });
  const away = await read({ x: at.x - 120, y: at.y + 150, width: 240, height: 40 });
  assert.ok(label.letters >= 40, `the name's letters at the place: ${JSON.stringify(label)}`);
  assert.deepEqual([away.letters, away.land], [0, away.all], `land and no letters away from it: ${JSON.stringify(away)}`);
  await page.screenshot({ path: path.join(SHOTS, 'map-vector.png') });
  assert.deepEqual(errors, []);
  await page.close();
});

test('a base map that fails is reported on the map, and the page works without it', async () => {
  // Tiles that never come (a tile server down), and a style URL that does not load.
  for (const [server, what] of [[withBasemap, 'tiles'], [withStyle, 'style']]) {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.route('http://tiles.leadmap.test/**', (r) => r.abort('connectionrefused'));
    await page.goto(`${server.url}/?res=9`);
    await rendered(page, 1);
    const notice = page.locator('#basemap-notice');
    await notice.waitFor({ state: 'visible' });
    assert.match(await notice.textContent(), /The base map could not be loaded.*the figures are drawn without it/, what);
    const fc = await apiCollection(server.url, 'res=9');
    await assertShows(page, fc, `without the base map (${what})`);
    // And it still follows a filter.
    await page.selectOption('select[name=res]', '8');
    await rendered(page, 2);
    await assertShows(page, await apiCollection(server.url, 'res=8'), `without the base map (${what}), res 8`);
    assert.deepEqual(errors, [], what);
    await page.close();
  }
});

/// Clicks the busiest hexagon drawn at its centre; its properties and the popup's text.
async function clickBusiest(page) {
  const target = await page.evaluate(async () => {
    const { map } = window.leadmap;
    const f = window.leadmap.cells.features.slice().sort((a, b) => b.properties.count - a.properties.count)[0];
    const ring = f.geometry.coordinates[0].slice(0, -1);
    const lon = ring.reduce((s, c) => s + c[0], 0) / ring.length;
    const lat = ring.reduce((s, c) => s + c[1], 0) / ring.length;
    // Brought into view first if the view has moved away from it.
    if (!map.getBounds().contains([lon, lat])) {
      await new Promise((r) => { map.once('idle', r); map.jumpTo({ center: [lon, lat] }); });
    }
    const p = map.project([lon, lat]);
    const box = map.getContainer().getBoundingClientRect();
    return { x: box.left + p.x, y: box.top + p.y, props: f.properties };
  });
  await page.mouse.click(target.x, target.y);
  const popup = page.locator('.maplibregl-popup-content');
  await popup.waitFor();
  return { p: target.props, text: await popup.textContent() };
}

test('made-up demo data say so on the map and beside every headline figure', async () => {
  const page = await newPage(`${open.url}/?res=9`);
  await rendered(page, 1);
  const badge = page.locator('#demo-badge');
  assert.ok(await badge.isVisible());
  assert.equal((await badge.textContent()).trim(), 'Made-up demo data');
  // The badge is on the map, inside its box.
  const [m, bb] = [await page.locator('#map').boundingBox(), await badge.boundingBox()];
  assert.ok(bb.x >= m.x && bb.x + bb.width <= m.x + m.width && bb.y >= m.y && bb.y + bb.height <= m.y + m.height);
  for (const id of ['share-inside', 'rate-inside']) {
    assert.match(await page.locator(`dd:has(#${id})`).innerText(), /made-up demo data/i, id);
  }
  assert.match(await page.locator('#areas caption').innerText(), /made-up demo data/i);
  assert.ok(await page.locator('#groups caption').isVisible());
  await page.close();
});

test('clicking a hexagon shows its counts and rates', async () => {
  const page = await newPage(`${open.url}/?res=9`);
  await rendered(page, 1);
  const { p, text } = await clickBusiest(page);
  assert.ok(text.includes(p.hex_id), text);
  assert.ok(text.includes(`All contacts${p.count.toLocaleString('en-US')}`), text);
  assert.ok(text.includes(`Arrests${p.arrest.toLocaleString('en-US')}`), text);
  const rate = ((p.diversion_referral / (p.diversion_referral + p.arrest)) * 100).toFixed(1);
  assert.ok(text.includes(`Diversion rate${rate} %`), text);
  await page.screenshot({ path: path.join(SHOTS, 'map-popup.png') });
  await page.close();
});

test('police offense reports are counted as such, and with no referral data every rate is unknown, saying why', async () => {
  // The Police Bureau's open data through the ppb preset: offense reports, no arrest, no referral.
  const dir = mkdtempSync(path.join(os.tmpdir(), 'leadmap-ppb-'));
  const store = path.join(dir, 'ppb.gpkg');
  const file = path.join(ROOT, '../shared/data/portland/ppb-drug-offenses-2015-2021.csv');
  const imported = spawnSync(BIN, ['import', file, '--preset', 'ppb', '--data', store, '-q']);
  // 3: some rows have no coordinates and are rejected.
  assert.equal(imported.status, 3, imported.stderr.toString());
  const ppb = await startServer(BIN, {}, ['--data', store]);
  try {
    const page = await newPage(`${ppb.url}/?res=9`);
    await rendered(page, 1);
    // The first view shows the program: every zone, and the busiest hexagons holding 95 % of the
    // contacts, not the Bureau's far outliers (which would shrink the zones to a thumbnail).
    const view = await page.evaluate(async () => {
      const { map } = window.leadmap;
      const zones = window.leadmap.zones;
      const b = map.getBounds();
      const inView = ([x, y]) => x >= b.getWest() && x <= b.getEast() && y >= b.getSouth() && y <= b.getNorth();
      const centre = (f) => {
        const ring = f.geometry.coordinates[0].slice(0, -1);
        return [ring.reduce((s, c) => s + c[0], 0) / ring.length, ring.reduce((s, c) => s + c[1], 0) / ring.length];
      };
      const zoneCorners = zones.features.flatMap((f) => f.geometry.coordinates.flat(f.geometry.type === 'Polygon' ? 1 : 2));
      const cells = window.leadmap.cells.features.slice().sort((x, y) => y.properties.count - x.properties.count);
      const total = cells.reduce((n, f) => n + f.properties.count, 0);
      let seen = 0;
      let busiestOut = 0;
      for (const f of cells) {
        if (seen >= 0.95 * total) break;
        seen += f.properties.count;
        if (!inView(centre(f))) busiestOut += 1;
      }
      return {
        zonesOut: zoneCorners.filter((c) => !inView(c)).length,
        zoneCorners: zoneCorners.length,
        busiestOut,
        cellsOut: cells.filter((f) => !inView(centre(f))).length,
      };
    });
    assert.ok(view.zoneCorners > 0 && view.zonesOut === 0, JSON.stringify(view));
    assert.equal(view.busiestOut, 0, JSON.stringify(view));
    assert.ok(view.cellsOut > 0, `the outliers are left out of the first view: ${JSON.stringify(view)}`);
    assert.ok(await page.locator('#demo-badge').isHidden(), 'real data carry no demo label');
    const note = page.locator('#rates-note');
    await note.waitFor({ state: 'visible', timeout: 30000 });
    assert.match(await note.textContent(), /no referral .* unknown, not 0/);
    assert.equal(await page.textContent('#rate-inside'), '–');
    const { p, text } = await clickBusiest(page);
    assert.ok(p.offense_report > 0 && p.arrest === 0, JSON.stringify(p));
    assert.ok(text.includes(`Offense reports${p.offense_report.toLocaleString('en-US')}`), text);
    assert.ok(text.includes('Diversion rate–'), text);
    await page.screenshot({ path: path.join(SHOTS, 'map-offense-reports.png') });
    assert.deepEqual(page.errors, []);
    await page.close();
  } finally {
    ppb.child.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
});

test('context areas are outlined and named under the hexagons, no two names overlap, and places are named by them', async () => {
  const file = path.join(ROOT, '../shared/data/portland/neighborhoods-regions-2021.geojson');
  // Over the vector base map: its own neighbourhood names give way to the context's.
  const ctx = await startServer(BIN, { LEADMAP_BASEMAP: VECTOR }, ['--demo', '--context', file, '--context-name', 'MAPLABEL']);
  try {
    const page = await newPage(`${ctx.url}/?res=9`);
    await rendered(page, 1);
    const layers = await page.evaluate(() => window.leadmap.map.getStyle().layers.map((l) => l.id));
    assert.ok(layers.includes('basemap-places_locality') && !layers.includes('basemap-places_subplace'), `${layers}`);
    await page.waitForFunction(() => document.querySelectorAll('.context-label').length === 98, null, { timeout: 30000 });
    for (const zoom of [null, 14]) {
      if (zoom) {
        await page.evaluate((z) => new Promise((r) => { window.leadmap.map.once('moveend', r); window.leadmap.map.jumpTo({ zoom: z }); }), zoom);
        await page.waitForTimeout(100);
      }
      const labels = await page.evaluate(() => {
        const box = document.querySelector('#map').getBoundingClientRect();
        return [...document.querySelectorAll('.zone-label, .context-label, .landmark')]
          .filter((el) => getComputedStyle(el).visibility === 'visible')
          .map((el) => { const r = el.getBoundingClientRect(); return { cls: el.className, text: el.textContent, l: r.left, r: r.right, t: r.top, b: r.bottom }; })
          .filter((r) => r.r > box.left && r.l < box.right && r.b > box.top && r.t < box.bottom);
      });
      const context = labels.filter((x) => x.cls.includes('context-label'));
      assert.ok(context.length >= 3, `some neighbourhood names show at zoom ${zoom}: ${JSON.stringify(context.map((x) => x.text))}`);
      for (let i = 0; i < labels.length; i++) {
        for (let j = i + 1; j < labels.length; j++) {
          const [a, b] = [labels[i], labels[j]];
          const apart = a.r <= b.l || b.r <= a.l || a.b <= b.t || b.b <= a.t;
          assert.ok(apart, `"${a.text}" and "${b.text}" overlap at zoom ${zoom}`);
        }
      }
    }
    // Each zone's name is written inside its zone.
    const zoneNames = await page.evaluate(async () => {
      const { map } = window.leadmap;
      const zones = window.leadmap.zones;
      const inside = (ring, [x, y]) => {
        let s = false;
        for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
          const [xi, yi] = ring[i], [xj, yj] = ring[j];
          if ((yi > y) !== (yj > y) && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) s = !s;
        }
        return s;
      };
      const box = map.getContainer().getBoundingClientRect();
      return [...document.querySelectorAll('.zone-label')].map((el) => {
        const r = el.getBoundingClientRect();
        const p = map.unproject([(r.left + r.right) / 2 - box.left, (r.top + r.bottom) / 2 - box.top]);
        const z = zones.features.find((f) => (f.properties.name || f.properties.id) === el.textContent);
        const polys = z.geometry.type === 'Polygon' ? [z.geometry.coordinates] : z.geometry.coordinates;
        return { name: el.textContent, inside: polys.some((rings) => inside(rings[0], [p.lng, p.lat])) };
      });
    });
    assert.ok(zoneNames.length >= 3 && zoneNames.every((z) => z.inside), JSON.stringify(zoneNames));
    // The clicked hexagon names its area and its zone; the candidates are named by their area.
    const { text } = await clickBusiest(page);
    assert.match(text, /Area[A-Z]/, text);
    assert.match(text, /Zones(Inside|On the boundary of|Outside every zone)/, text);
    const items = await page.locator('#candidate-list li').allTextContents();
    assert.ok(items.some((t) => /^[A-Z][^,]+, \d+ cells, [\d,]+ contacts/.test(t)), JSON.stringify(items));
    await page.screenshot({ path: path.join(SHOTS, 'map-context.png') });
    assert.deepEqual(page.errors, []);
    await page.close();
  } finally {
    ctx.child.kill('SIGTERM');
  }
});

test('a monthly chart beside the map equals /v1/coverage, marks the zone sets\' starts, and a brushed range sets the dates', async () => {
  const page = await newPage(`${open.url}/?res=9`);
  await rendered(page, 1);
  await page.waitForSelector('#time-chart[data-state=ready]');
  const bars = await page.$$eval('#time-chart g.month', (gs) => gs.map((g) => ({
    month: g.dataset.month, inside: Number(g.dataset.inside), outside: Number(g.dataset.outside), none: Number(g.dataset.none),
  })));
  const cov = await (await fetch(`${open.url}/v1/coverage`)).json();
  const want = new Map();
  for (const r of cov.months) {
    const m = want.get(r.month) || { month: r.month, inside: 0, outside: 0, none: 0 };
    m[r.area === 'outside' ? 'outside' : r.area === 'no_program' ? 'none' : 'inside'] += r.contacts;
    want.set(r.month, m);
  }
  assert.deepEqual(bars, [...want.values()].sort((a, b) => a.month.localeCompare(b.month)));
  assert.ok(bars.length >= 12 && bars.some((b) => b.inside > 0) && bars.some((b) => b.outside > 0));
  // Each zone set starting within the data is marked at its month.
  const config = await (await fetch(`${open.url}/map/config.json`)).json();
  const starts = await page.$$eval('#time-chart line.start', (ls) => ls.map((l) => l.dataset.starts));
  const inData = config.zone_sets.filter((z) => z.effective_from && bars.some((b) => b.month === z.effective_from.slice(0, 7)));
  assert.ok(inData.length > 0);
  assert.deepEqual(starts.sort(), inData.map((z) => z.name).sort());

  // Drag from the 3rd month to the 7th: those months become the dates, and the map follows.
  await page.locator('#time-chart').scrollIntoViewIfNeeded();
  const box = await page.locator('#time-chart').boundingBox();
  const x = (k) => box.x + ((k + 0.5) / bars.length) * box.width;
  await page.mouse.move(x(2), box.y + box.height / 2);
  await page.mouse.down();
  await page.mouse.move(x(4), box.y + box.height / 2, { steps: 3 });
  await page.mouse.move(x(6), box.y + box.height / 2, { steps: 3 });
  await page.mouse.up();
  await rendered(page, 2);
  const url = new URL(page.url());
  const [y, m] = bars[6].month.split('-').map(Number);
  const last = new Date(Date.UTC(y, m, 0)).getUTCDate();
  assert.equal(url.searchParams.get('from'), `${bars[2].month}-01`);
  assert.equal(url.searchParams.get('to'), `${bars[6].month}-${String(last).padStart(2, '0')}`);
  const brushed = await apiCollection(open.url, `res=9&from=${url.searchParams.get('from')}&to=${url.searchParams.get('to')}`);
  await assertShows(page, brushed, 'the brushed months');
  assert.match(await page.textContent('#time-range'), new RegExp(`${bars[2].month} to ${bars[6].month}`));
  assert.deepEqual(page.errors, []);
  await page.screenshot({ path: path.join(SHOTS, 'map-timeline.png') });
  await page.close();
});

test('the figures beside the map and the downloads follow the filters', async () => {
  const page = await newPage(`${open.url}/?kind=social_contact_referral&res=9`);
  await rendered(page, 1);
  const coverage = await (await fetch(`${open.url}/v1/coverage?kind=social_contact_referral`)).json();
  assert.equal(await page.textContent('#share-inside'), `${(coverage.share_inside * 100).toFixed(1)} %`);
  const candidates = await (await fetch(`${open.url}/v1/hotspots/candidates?res=9&kind=social_contact_referral`)).json();
  const items = await page.locator('#candidate-list li').count();
  assert.equal(items, Math.max(1, candidates.features.length));
  if (candidates.features.length) {
    const before = await page.evaluate(() => window.leadmap.map.getCenter().toArray());
    await page.locator('#candidate-list button').first().click();
    await page.waitForFunction((b) => { const c = window.leadmap.map.getCenter().toArray(); return Math.abs(c[0] - b[0]) + Math.abs(c[1] - b[1]) > 1e-4; }, before);
  }
  // CSV download of the view: the same cells as /v1/cells for these filters.
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#downloads button[data-format=csv]')]);
  assert.match(download.suggestedFilename(), /^leadmap-cells-res9-social_contact_referral\.csv$/);
  const csv = readFileSync(await download.path(), 'utf8').trim().split('\n');
  assert.equal(csv[0].split(',')[0], 'hex_id');
  const expected = await apiCells(open.url, 'res=9&kind=social_contact_referral');
  assert.equal(csv.length - 1, Object.keys(expected).length);
  const [fgb] = await Promise.all([page.waitForEvent('download'), page.click('#downloads button[data-format=fgb]')]);
  const magic = readFileSync(await fgb.path()).subarray(0, 3);
  assert.deepEqual([...magic], [0x66, 0x67, 0x62], 'a FlatGeobuf file');
  assert.deepEqual(page.errors, []);
  await page.close();
});

test('with tokens, the page asks once, keeps the token for the tab, and a planner sees perturbed counts for fixed periods', async () => {
  const page = await newPage(`${secured.url}/`);
  const dialog = page.locator('#token-dialog');
  await dialog.waitFor({ state: 'visible' });
  await page.fill('#token-dialog input[name=token]', PLANNER_TOKEN);
  await page.click('#token-dialog button[type=submit]');
  await rendered(page, 1);
  assert.match(await page.textContent('#who'), /planner: counts are perturbed .* from 1 to 10 is shown as 0/);
  assert.equal(await page.isHidden('#group-control'), true, 'planners do not filter by group');
  assert.equal(await page.isDisabled('select[name=res] option[value="10"]'), true, 'planners see resolution 9 at most');
  // Fixed periods instead of free dates.
  assert.equal(await page.isHidden('#window-control'), true, 'no free date window for planners');
  assert.equal(await page.isVisible('#period-control'), true);
  const planner = await apiCollection(secured.url, 'res=9', PLANNER_TOKEN);
  const seen = await assertShows(page, planner, 'planner');
  assert.ok(planner.features.every((f) => f.properties.count === 0 || f.properties.count > 10), 'no published 1..10');
  assert.ok(Object.keys(seen).length > 0);
  assert.match(await page.textContent('#legend'), /Counts are perturbed: 1 to 10 shown as 0, others within ±2/);
  const asked = [];
  page.on('request', (r) => { if (r.url().includes('/v1/')) asked.push(r.url()); });
  await page.selectOption('select[name=period]', '2019-Q2');
  await rendered(page, 2);
  assert.ok(asked.some((u) => u.includes('/v1/cells') && u.includes('period=2019-Q2')), asked.join('\n'));
  assert.ok(asked.every((u) => !/[?&](from|to)=/.test(u)), asked.join('\n'));
  assert.match(page.url(), /period=2019-Q2/);
  // The token is kept for the session: a reload asks nothing.
  await page.reload();
  await rendered(page, 1);
  assert.equal(await dialog.isVisible(), false);
  assert.deepEqual(page.errors, []);
  await page.close();
});

test('an analyst uploads a proposal and sees its impact, the hexagons it loses outlined on the map, and a comparison', async () => {
  const page = await newPage(`${open.url}/?res=9`);
  await rendered(page, 1);
  await page.locator('#proposals').waitFor();
  // The 2017 areas against the set in force at the view's end (the 2018 areas): the Central Eastside
  // is lost.
  await page.fill('#proposal-name', 'The 2017 areas');
  await page.setInputFiles('#proposal-file', path.join(ROOT, 'geodata/portland-2017.geojson'));
  await page.waitForFunction(() => document.querySelectorAll('#impact tbody tr').length > 4, null, { timeout: 60000 });
  const id = await page.locator('#proposal-list').inputValue();
  const api = await (await fetch(`${open.url}/v1/proposals/${id}/impact`)).json();
  const row = async (name) => (await page.locator('#impact tbody tr', { hasText: name }).locator('td').textContent()).trim();
  assert.equal(await row('Newly inside'), api.newly_inside.contacts.toLocaleString('en-US'));
  assert.equal(await row('Newly outside'), api.newly_outside.contacts.toLocaleString('en-US'));
  // The cells gained and lost are the map's outlines, green and red, read off the screen: a lost
  // hexagon's edge is drawn in the lost colour.
  const changes = await page.evaluate(() => window.leadmap.proposal.changes.features.length);
  assert.equal(changes, api.cells.gained.length + api.cells.lost.length);
  assert.ok(changes > 0, 'the demo proposal changes some hexagons');
  const edge = await page.evaluate(async () => {
    const { map, proposal, hexagons } = window.leadmap;
    const f = proposal.changes.features.find((x) => x.properties.change === 'lost');
    const idle = new Promise((r) => map.once('idle', r));
    map.jumpTo({ center: f.geometry.coordinates[0][0], zoom: 15 });
    await idle;
    hexagons.draw();
    map.triggerRepaint();
    await new Promise((r) => map.once('render', () => requestAnimationFrame(r)));
    const [a, b] = f.geometry.coordinates[0];
    const p = map.project([(a[0] + b[0]) / 2, (a[1] + b[1]) / 2]);
    return { x: Math.round(p.x), y: Math.round(p.y) };
  });
  const shot = await page.locator('#map').screenshot();
  const red = await page.evaluate(async ({ png, x, y }) => {
    const bitmap = await createImageBitmap(new Blob([Uint8Array.from(atob(png), (c) => c.charCodeAt(0))], { type: 'image/png' }));
    const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
    const ctx = canvas.getContext('2d');
    ctx.drawImage(bitmap, 0, 0);
    const near = (px) => Math.abs(px[0] - 0xd5) < 60 && Math.abs(px[1] - 0x5e) < 60 && Math.abs(px[2] - 0x00) < 60;
    const dpr = bitmap.width / ctx.canvas.width;
    for (let dx = -2; dx <= 2; dx++) for (let dy = -2; dy <= 2; dy++) {
      if (near(ctx.getImageData(Math.round((x + dx) * dpr), Math.round((y + dy) * dpr), 1, 1).data)) return true;
    }
    return false;
  }, { png: shot.toString('base64'), ...edge });
  assert.ok(red, `a lost hexagon's edge at ${edge.x},${edge.y} is drawn red`);
  // The monthly before/after line has a point a month.
  assert.equal(Number(await page.locator('#impact-chart').getAttribute('data-months')), api.months.length);
  // Several saved proposals side by side.
  await page.click('#compare-proposals');
  await page.waitForFunction(() => document.querySelectorAll('#compare tbody tr').length > 5, null, { timeout: 60000 });
  assert.ok((await page.locator('#compare thead').textContent()).includes('The 2017 areas'));
  await page.screenshot({ path: path.join(SHOTS, 'map-proposal.png') });
  assert.deepEqual(page.errors, []);
  await page.close();
});

test('a planner picks hexagons on the map, saves them as a proposal and sees sums of the published counts', async () => {
  const page = await newPage(`${secured.url}/?period=2019`);
  await page.locator('#token-dialog').waitFor({ state: 'visible' });
  await page.fill('#token-dialog input[name=token]', PLANNER_TOKEN);
  await page.click('#token-dialog button[type=submit]');
  await rendered(page, 1);
  await page.locator('#proposal-pick').waitFor();
  assert.equal(await page.isHidden('#proposal-upload'), true, 'planners submit hexagons, not polygons');
  assert.equal(await page.isHidden('#compare-proposals'), true);
  await page.click('#pick-cells');
  // The three busiest hexagons, clicked at their centres.
  const targets = await page.evaluate(() => {
    const { map, cells } = window.leadmap;
    return cells.features.slice().sort((a, b) => b.properties.count - a.properties.count).slice(0, 3).map((f) => {
      const ring = f.geometry.coordinates[0].slice(0, -1);
      const p = map.project([ring.reduce((s, c) => s + c[0], 0) / ring.length, ring.reduce((s, c) => s + c[1], 0) / ring.length]);
      const box = map.getContainer().getBoundingClientRect();
      return { x: box.left + p.x, y: box.top + p.y, id: f.properties.hex_id, count: f.properties.count };
    });
  });
  for (const t of targets) await page.mouse.click(t.x, t.y);
  assert.equal(await page.textContent('#picked'), '3');
  await page.fill('#proposal-name', 'Three hexagons');
  await page.click('#save-cells');
  await page.waitForFunction(() => document.querySelectorAll('#impact tbody tr').length > 4, null, { timeout: 60000 });
  const inside = (await page.locator('#impact tbody tr', { hasText: "proposal's areas" }).locator('td').textContent()).trim();
  const published = targets.reduce((s, t) => s + t.count, 0);
  assert.equal(inside, published.toLocaleString('en-US'), 'the sum of the hexagons\' published counts');
  assert.ok((await page.textContent('#impact')).includes('sums of the perturbed hexagon counts'));
  assert.deepEqual(page.errors, []);
  await page.close();
});

test('the page and its files come from the binary, with no request leaving the machine', async () => {
  const page = await browser.newPage();
  const hosts = new Set();
  page.on('request', (r) => hosts.add(new URL(r.url()).host));
  await page.goto(`${open.url}/`);
  await rendered(page, 1);
  const own = new URL(open.url).host;
  assert.deepEqual([...hosts].filter((h) => h && h !== own), []);
  const license = await (await fetch(`${open.url}/map/vendor/maplibre-gl/LICENSE.txt`)).text();
  assert.match(license, /MapLibre contributors/);
  await page.close();
});
