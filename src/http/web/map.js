// The planners' map: zones in force, H3 hexagons (contacts, hotspot classes or coverage), expansion
// candidates, and the coverage and equity figures for the same filters. Reads only the figure routes,
// with the token the user gave (kept in sessionStorage for this tab). Coordinates are lon, lat
// throughout (GeoJSON order). The view state lives in the URL: filters in the query, the map in the hash.
// This module holds the page's state, the map and the figure panels; the pure parts are modules of their
// own (format, geometry, legend, panels: the panels' and popup's HTML, time, url; unit-tested in node),
// and so are the API client (api) and the proposals panel (proposals).
import { fit, hexagons } from '/map/hexagons.js';
import { api, askToken, authHeaders, prefetch, settings as apiSettings, token } from './api.js';
import { escapeHtml, num, pct, prettyArea, withheld } from './format.js';
import { bboxOf, boxArea, centreOf, featureAt, firstView, labelAt } from './geometry.js';
import { layerScale, legendHtml } from './legend.js';
import { areaRows, groupRows, popupHtml } from './panels.js';
import { proposal, startProposals } from './proposals.js';
import { lastDay, periodFor, timelineMonths, timelineSvg, windowMonths } from './time.js';
import { FILTERS, figureQuery, periodChoices, searchOf, viewFromSearch } from './url.js';

// Whether the store holds referral data: without it every rate is unknown, never 0 (the coverage
// answer's rates_note says so).
let ratesKnown = true;

const $ = (sel) => document.querySelector(sel);
// Whether the link carried a map view (read before the map writes its own into the hash).
const linkedView = location.hash.includes('view=');
const form = $('#filters');
const statusLine = $('#status');
let me = { role: 'admin', perturbed: null, fixed_periods: false, max_res: 12, filters: FILTERS };
let config = { auth: false, basemap: null };
let cells = { type: 'FeatureCollection', features: [] };
let renders = 0;
let loadSeq = 0;

// ---- view state in the URL ----

/// The fixed periods planners choose from: all history (the form's first option), then each year from
/// this one back to 2011, its quarters and its months.
function fillPeriods() {
  const select = form.elements.period;
  for (const { year, options } of periodChoices(new Date().getFullYear())) {
    const group = document.createElement('optgroup');
    group.label = String(year);
    for (const [label, value] of options) group.append(new Option(label, value));
    select.append(group);
  }
}

function readUrl() {
  const { layer, filters } = viewFromSearch(location.search);
  for (const [name, value] of Object.entries(filters)) {
    const el = form.elements[name];
    if (el) el.value = value;
  }
  // Compared as values, never put into a selector: a URL like ?layer=x"] would otherwise throw and stop
  // the page.
  const radio = [...form.querySelectorAll('input[name=layer]')].find((r) => r.value === layer);
  if (radio) radio.checked = true;
}

function current() {
  const v = { layer: form.querySelector('input[name=layer]:checked').value };
  for (const name of FILTERS) {
    const el = form.elements[name];
    if (el && !el.closest('[hidden]') && el.value) v[name] = el.value;
  }
  return v;
}

function writeUrl() {
  history.replaceState(null, '', `${searchOf(current())}${location.hash}`);
}

/// The figure routes' query for the current filters (`keep`: which of them the route takes).
function query(extra = {}, keep = FILTERS) {
  return figureQuery(current(), me.filters.concat(['res']), extra, keep);
}

// ---- the map ----

function baseStyle() {
  const style = {
    version: 8,
    transition: { duration: 0, delay: 0 },
    sources: {},
    // No background layer: the map's container is painted by CSS (map.css) and the canvas left clear,
    // one full-screen pass and one GPU program less a frame.
    layers: [],
    // Label glyphs from the binary (DejaVu Sans, tools/assets/make_glyphs.rs): a vector base map's names.
    glyphs: `${location.origin}/map/glyphs/{fontstack}/{range}.pbf`,
  };
  const url = config.basemap;
  const archive = config.basemap_archive;
  // MapLibre's attribution control takes HTML: the credit is text.
  const credit = (fallback) => escapeHtml(config.basemap_attribution || fallback);
  if (url && url.includes('{z}')) {
    style.sources.basemap = { type: 'raster', tiles: [url], tileSize: 256, attribution: credit('Base map: see the operator of ' + new URL(url.replace(/[{}]/g, '')).host) };
    style.layers.push({ id: 'basemap', type: 'raster', source: 'basemap', paint: { 'raster-opacity': 0.8 } });
  } else if (archive) {
    // The archive leadmap serves, read by range requests (pmtiles.js, registered in createMap).
    const source = { url: `pmtiles://${location.origin}${archive.url}`, attribution: credit('Base map: this service') };
    if (archive.type === 'raster') {
      style.sources.basemap = { type: 'raster', tileSize: 256, ...source };
      style.layers.push({ id: 'basemap', type: 'raster', source: 'basemap', paint: { 'raster-opacity': 0.8 } });
    } else {
      style.sources.basemap = { type: 'vector', ...source };
      style.layers.push(...vectorBasemapLayers(archive));
    }
  }
  return url && !url.includes('{z}') ? url : style;
}

/// The layers of a vector archive: the Protomaps basemap style (light, English names, in the glyphs
/// the binary serves) for one in the Protomaps schema, else every layer of the archive as faint fills
/// and lines. No sprite is served: the layers that are only icons (road shields, one-way arrows) are
/// left out, and the others' icons are blank (createMap). So are the base map's neighbourhood names
/// when the page names areas itself (serve --context).
const ICON_LAYERS = ['roads_shields', 'roads_oneway'];
function vectorBasemapLayers(archive) {
  const layers = archive.protomaps && window.basemaps
    ? window.basemaps.layers('basemap', window.basemaps.namedFlavor('light'), { lang: 'en' })
      .filter((l) => !ICON_LAYERS.includes(l.id) && !(config.context && l.id === 'places_subplace'))
    : archive.vector_layers.flatMap((id) => [
      { id, type: 'fill', 'source-layer': id, filter: ['==', ['geometry-type'], 'Polygon'], paint: { 'fill-color': '#dfe3dc', 'fill-outline-color': '#c8cdc4' } },
      { id: `${id}-lines`, type: 'line', 'source-layer': id, filter: ['==', ['geometry-type'], 'LineString'], paint: { 'line-color': '#b9bdb5', 'line-width': 0.8 } },
    ]);
  // The page's own layer names stay free: every base-map layer is `basemap-...` on source `basemap`.
  return layers.map((l) => ({ ...l, id: `basemap-${l.id}`, ...(l.type === 'background' ? {} : { source: 'basemap' }) }));
}

/// The scripts a PMTiles base map needs (the archive reader; for vector archives the Protomaps style),
/// loaded only when there is one.
function loadScript(src) {
  return new Promise((resolve, reject) => {
    const el = document.createElement('script');
    el.src = src;
    el.onload = resolve;
    el.onerror = () => reject(new Error(`${src} did not load`));
    document.head.append(el);
  });
}

/// Says on the map that the base map failed, once; the hexagons and zones are drawn without it.
function basemapFailed(why) {
  const notice = $('#basemap-notice');
  if (!notice.hidden) return;
  notice.textContent = `The base map could not be loaded${why ? ` (${why})` : ''}: the figures are drawn without it.`;
  notice.hidden = false;
}

let maplibregl;
let map;
let popup;

const EMPTY = { type: 'FeatureCollection', features: [] };

const FIT_PADDING = 30;

/// How opaque the hexagons are: over a base map they let it show through.
function cellOpacity() { return config.basemap || config.basemap_archive ? 0.7 : 0.9; }

/// The camera a shared link carries (`#view=zoom/lat/lon`, MapLibre's hash), for a map in `box`.
function cameraInLink(box) {
  const m = location.hash.match(/view=([-\d.]+)\/([-\d.]+)\/([-\d.]+)(\/([-\d.]+))?/);
  if (!m || (m[5] && Number(m[5]) !== 0)) return null;
  return { zoom: Number(m[1]), lat: Number(m[2]), lng: Number(m[3]), width: box.clientWidth, height: box.clientHeight };
}

/// The zones and candidates, outlined over the hexagons (in their drawing, see hexagons.js).
let lastOutlines = { zones: EMPTY, candidates: EMPTY };
function outline({ zones = EMPTY, candidates = EMPTY }) {
  lastOutlines = { zones, candidates };
  const changed = proposal.changes.features;
  hexagons.setOutlines([
    { features: contextAreas.features, colour: '#7d847a', width: 1, under: true },
    { features: zones.features, colour: '#111111', width: 2.5 },
    { features: candidates.features, colour: '#cc79a7', width: 3, dash: [2, 1] },
    { features: changed.filter((f) => f.properties.change === 'gained'), colour: '#009e73', width: 2 },
    { features: changed.filter((f) => f.properties.change === 'lost'), colour: '#d55e00', width: 2 },
    { features: proposal.pickedFeatures(), colour: '#0072b2', width: 2, dash: [1, 1] },
  ]);
}

/// The map's sources and layers over the base style: the hexagons, zones and candidates (an image the
/// page draws, see hexagons.js). The selected hexagon's outline is added at the first click.
function dataLayers() {
  // Without a base map the page's canvas is the map (hexagons.overlay): MapLibre draws nothing.
  if (hexagons.overlay) return { sources: {}, layers: [] };
  return {
    sources: {
      hexagons: { type: 'canvas', canvas: hexagons.canvas, coordinates: hexagons.corners(), animate: false },
    },
    layers: [
      { id: 'cells', type: 'raster', source: 'hexagons', paint: { 'raster-opacity': cellOpacity(), 'raster-fade-duration': 0 } },
    ],
  };
}

/// Outlines the clicked hexagon (nothing: `f` null).
function select(f) {
  if (hexagons.overlay) {
    if (f === hexagons.selected) return;
    hexagons.selected = f;
    hexagons.draw();
    return;
  }
  const data = f ? { type: 'FeatureCollection', features: [f] } : EMPTY;
  if (map.getSource('selected')) map.getSource('selected').setData(data);
  else if (f) {
    map.addSource('selected', { type: 'geojson', data });
    map.addLayer({ id: 'cells-selected', type: 'line', source: 'selected', paint: { 'line-color': '#000', 'line-width': 2.5 } });
  }
}

/// Makes the map (once MapLibre's module is in) over the hexagons' drawing (hexagons.js, with the
/// zones and candidates outlined in it). `bounds`: where to look, unless the link carried a view.
async function createMap(bounds) {
  maplibregl = await maplibreRequest;
  performance.mark('leadmap:maplibre');
  if (config.basemap_archive) {
    try {
      await loadScript('/map/vendor/pmtiles/pmtiles.js');
      if (config.basemap_archive.type === 'vector' && config.basemap_archive.protomaps) await loadScript('/map/vendor/protomaps-basemaps/basemaps.js');
      maplibregl.addProtocol('pmtiles', new window.pmtiles.Protocol().tile);
    } catch (e) {
      config.basemap_archive = null;
      basemapFailed(e.message);
    }
  }
  const extra = dataLayers();
  const base = baseStyle();
  let inline = typeof base !== 'string';
  const view = bounds && !linkedView ? { bounds, fitBoundsOptions: { padding: FIT_PADDING } } : { center: [-122.675, 45.522], zoom: 12.5 };
  if (inline) {
    Object.assign(base.sources, extra.sources);
    base.layers.push(...extra.layers);
  }
  map = hexagons.map = new maplibregl.Map({
    container: 'map',
    style: base,
    ...view,
    hash: 'view',
    attributionControl: { compact: true },
    fadeDuration: 0,
    // North up and flat: a planning map, and the hexagons' drawing is a flat north-up picture.
    dragRotate: false,
    pitchWithRotate: false,
    touchPitch: false,
  });
  map.touchZoomRotate.disableRotation();
  map.keyboard.disableRotation();
  // With nothing of its own to draw, MapLibre's canvas is hidden: the browser then composites the
  // page's canvas as the map moves instead of reading a WebGL frame back every time (map.css gives the
  // canvas's container the map's size, for the mouse).
  if (hexagons.overlay) map.getCanvas().style.visibility = 'hidden';
  // The map's first frame has the hexagons (drawn into their canvas for it when the style loads, the
  // view alone): it replaces the preview; the margin around the view is drawn when the browser is next
  // idle.
  let styled = false;
  const onRender = () => {
    if (!styled) return;
    map.off('render', onRender);
    if (!hexagons.overlay) hexagons.unpreview();
    // The next animation frame comes once this one is on the screen.
    requestAnimationFrame(() => {
      if (!performance.getEntriesByName('leadmap:on-screen').length) performance.mark('leadmap:on-screen');
      performance.mark('leadmap:map-on-screen');
      (window.requestIdleCallback || setTimeout)(() => hexagons.draw(), { timeout: 1000 });
    });
  };
  map.on('render', onRender);
  // A base map that fails (a style or archive that does not load, tiles that never come) is reported
  // on the map; the page goes on without it. A style URL that fails is replaced by the page's own.
  let basemapTiles = 0;
  let basemapErrors = 0;
  map.on('sourcedata', (e) => { if (e.sourceId === 'basemap' && e.tile) basemapTiles += 1; });
  map.on('error', (e) => {
    const id = e.sourceId || (e.source && e.source.id);
    const why = e.error && e.error.message ? e.error.message : '';
    if (!inline && !styled && !id) {
      inline = true;
      basemapFailed(why);
      const bare = { version: 8, sources: { ...extra.sources }, layers: [...extra.layers] };
      map.setStyle(bare);
      return;
    }
    if (id !== 'basemap') return;
    basemapErrors += 1;
    // A tile's error with others drawn is a hole in the base map; none drawn at all, or the archive's
    // header failing (no tile), is a base map that does not work.
    if (!e.tile) basemapFailed(why);
  });
  map.on('idle', () => { if (basemapErrors && !basemapTiles) basemapFailed('no tile arrived'); });
  // A base-map icon (no sprite is served) is blank: its label is drawn without it.
  map.on('styleimagemissing', (e) => {
    if (!map.hasImage(e.id)) map.addImage(e.id, { width: 1, height: 1, data: new Uint8Array(4) });
  });
  map.addControl(new maplibregl.NavigationControl({ showCompass: false }), 'top-right');
  map.addControl(new maplibregl.ScaleControl({ unit: 'metric' }), 'bottom-left');
  popup = new maplibregl.Popup({ closeButton: true, maxWidth: '320px' });
  map.on('click', (e) => {
    const f = hexagons.at(e.lngLat);
    if (proposal.picking) {
      if (f) proposal.toggle(f);
      return;
    }
    select(f);
    if (f) popup.setLngLat(e.lngLat).setHTML(hexagonPopup(f, current().layer)).addTo(map);
    else popup.remove();
  });
  map.on('mousemove', (e) => { map.getCanvas().style.cursor = hexagons.at(e.lngLat) ? 'pointer' : ''; });
  map.on('moveend', () => hexagons.follow(true));
  map.on('move', () => { hexagons.place(); hexagons.follow(false); });
  map.on('resize', () => hexagons.draw());
  map.once('style.load', () => {
    // A base map given as a style URL: our layers go on top once it has loaded.
    if (!inline) {
      for (const [id, source] of Object.entries(extra.sources)) map.addSource(id, source);
      for (const layer of extra.layers) map.addLayer(layer);
    }
    hexagons.draw({ margin: 0 });
    styled = true;
  });
  landmarksRequest.then(labelLandmarks);
  contextRequest.then((fc) => {
    if (!fc.features || !fc.features.length) return;
    labelContext(fc);
    outline(lastOutlines);
    hexagons.draw();
  });
  map.on('moveend', placeLabels);
  return new Promise((resolve) => map.once('load', resolve));
}

/// The hexagons' colour for a layer, as a function of a hexagon's properties; draws its legend beside
/// the map.
function colourBy(layer) {
  const { colour, title, items } = layerScale(layer, cells.features, current().kind);
  $('#legend').innerHTML = legendHtml(title, items, me.perturbed);
  return colour;
}

// ---- popups ----

/// A hexagon's popup: its counts (panels.js), named by the context area and the zone holding its centre.
function hexagonPopup(f, layer) {
  const centre = centreOf(f);
  const zone = featureAt(lastOutlines.zones, centre);
  const zoneName = zone && (zone.properties.name || zone.properties.id);
  return popupHtml(f.properties, { layer, where: placeName(centre), zoneName, ratesKnown });
}

// ---- labels: zones and landmarks, as HTML markers (no glyph server needed) ----

// Every name on the map is an HTML marker (no glyph server needed), placed by the page so that no two
// overlap: the zones' names first (at their pole of inaccessibility, inside them), then the context
// areas' names, each the larger areas first, then the landmarks (street zooms only); a name that would
// touch one already placed is hidden until the view leaves room for it (zoom in).
let zoneMarkers = [];
let contextLabels = []; // { el, area }
const landmarkEls = [];

/// A name on the map: a `div` of class `className` at `lngLat`, as a MapLibre marker.
function labelMarker(className, text, lngLat, anchor = 'center') {
  const el = document.createElement('div');
  el.className = className;
  el.textContent = text;
  return { el, marker: new maplibregl.Marker({ element: el, anchor }).setLngLat(lngLat).addTo(map) };
}

function labelZones(fc) {
  zoneMarkers.forEach((m) => m.remove());
  zoneMarkers = fc.features.slice().sort((x, y) => boxArea(y) - boxArea(x))
    .map((f) => labelMarker('zone-label', f.properties.name || f.properties.id, labelAt(f)).marker);
  placeLabels();
}

function labelContext(fc) {
  for (const f of fc.features || []) {
    contextLabels.push({ el: labelMarker('context-label', f.properties.name, labelAt(f)).el, area: boxArea(f) });
  }
  contextLabels.sort((a, b) => b.area - a.area);
  placeLabels();
}

function labelLandmarks(fc) {
  for (const f of fc.features || []) landmarkEls.push(labelMarker('landmark', f.properties.name, f.geometry.coordinates, 'left').el);
  placeLabels();
}

/// Shows each name that fits beside those placed before it, hides the rest (see above).
function placeLabels() {
  if (!map) return;
  const placed = [];
  const box = map.getContainer().getBoundingClientRect();
  const fits = (el) => {
    const r = el.getBoundingClientRect();
    // Whole on the map: a name cut by the map's edge is not shown.
    const onMap = r.left >= box.left && r.right <= box.right && r.top >= box.top && r.bottom <= box.bottom;
    const free = placed.every((p) => r.right + 2 < p.left || r.left - 2 > p.right || r.bottom + 2 < p.top || r.top - 2 > p.bottom);
    return onMap && free ? r : null;
  };
  const place = (el, allowed = true) => {
    const r = allowed ? fits(el) : null;
    el.style.visibility = r ? 'visible' : 'hidden';
    if (r) placed.push(r);
  };
  for (const m of zoneMarkers) place(m.getElement());
  for (const { el } of contextLabels) place(el);
  for (const el of landmarkEls) place(el, map.getZoom() >= 13);
}

// ---- naming: which zone and which context area a place is in ----

let contextAreas = EMPTY;

/// The context area holding most of a geometry's polygons' centres (a candidate's hexagons), or null.
function areaOfMost(geometry) {
  const polygons = geometry.type === 'Polygon' ? [geometry.coordinates] : geometry.type === 'MultiPolygon' ? geometry.coordinates : [];
  const votes = new Map();
  for (const rings of polygons) {
    const name = placeName(centreOf({ geometry: { coordinates: rings } }));
    if (name) votes.set(name, (votes.get(name) || 0) + 1);
  }
  let best = null;
  for (const [name, n] of votes) if (!best || n > votes.get(best)) best = name;
  return best;
}

/// The context area's name at `point`, or null.
function placeName(point) {
  const f = featureAt(contextAreas, point);
  return f ? f.properties.name : null;
}

// ---- figures beside the map ----

function showCoverage(c) {
  $('#share-inside').textContent = pct(c.share_inside);
  $('#rate-inside').textContent = pct(c.diversion_rate_inside);
  ratesKnown = c.rates_note == null;
  const note = $('#rates-note');
  note.hidden = ratesKnown;
  note.textContent = ratesKnown ? '' : 'No rates: the loaded data hold no referral (diversion or social contact), so ' +
    'referral and diversion rates are unknown, not 0. Police open data are offense reports, not arrests.';
  $('#areas tbody').innerHTML = areaRows(c);
}

function showEquity(e) {
  $('#ref-group').textContent = prettyArea(e.reference_group || 'white');
  $('#groups tbody').innerHTML = groupRows(e);
  const select = form.elements.group;
  if (select.options.length <= 1) {
    for (const g of [...new Set(e.rows.map((r) => r.group))].sort()) select.add(new Option(prettyArea(g), g));
    const q = new URLSearchParams(location.search);
    if (q.has('group')) select.value = q.get('group');
  }
}

function showCandidates(fc) {
  const list = $('#candidate-list');
  list.innerHTML = '';
  if (!fc.features.length) {
    list.innerHTML = '<li>None at these filters.</li>';
    return;
  }
  for (const f of fc.features) {
    const p = f.properties;
    const li = document.createElement('li');
    const b = document.createElement('button');
    b.type = 'button';
    b.textContent = 'Show';
    b.setAttribute('aria-label', `Show candidate ${p.rank} on the map`);
    b.addEventListener('click', () => map.fitBounds(bboxOf(f.geometry), { padding: 60, maxZoom: 15 }));
    const where = areaOfMost(f.geometry);
    li.append(`${where ? `${where}, ` : ''}${p.cells} cells, ${p.suppressed ? withheld() : num(p.contacts)} contacts `, b);
    list.append(li);
  }
}

// ---- time: contacts a month, brushed to set the dates ----

const timeline = { key: null, months: [], from: null, to: null };

/// Redraws the chart when the kind or group changed (else only its brushed window).
async function updateTimeline() {
  const svg = $('#time-chart');
  const path = `/v1/coverage?${query({}, ['kind', 'group'])}`;
  if (timeline.key !== path) {
    svg.dataset.state = 'loading';
    try {
      timeline.months = timelineMonths(await api(path));
      timeline.key = path;
    } catch (e) { svg.dataset.state = 'error'; return; }
  }
  drawTimeline();
  svg.dataset.state = 'ready';
}

function drawTimeline(brush = null) {
  const svg = $('#time-chart');
  const months = timeline.months;
  if (!months.length) { svg.innerHTML = ''; svg.dataset.months = '0'; return; }
  const range = brush || windowMonths(current(), months.map((m) => m.month));
  svg.innerHTML = timelineSvg(months, config.zone_sets || [], range);
  svg.dataset.months = String(months.length);
  $('#time-range').textContent = range ? `Shown: ${months[range[0]].month} to ${months[range[1]].month}.` : '';
}

/// Drag across the chart: the months under the drag become the view's dates (planners: the smallest
/// fixed period holding them), and the map and figures follow.
function brushTimeline() {
  const svg = $('#time-chart');
  const at = (e) => {
    const r = svg.getBoundingClientRect();
    const k = Math.floor(((e.clientX - r.left) / r.width) * timeline.months.length);
    return Math.min(Math.max(k, 0), timeline.months.length - 1);
  };
  let start = null;
  svg.addEventListener('pointerdown', (e) => {
    if (!timeline.months.length) return;
    start = at(e);
    svg.setPointerCapture(e.pointerId);
    drawTimeline([start, start]);
  });
  svg.addEventListener('pointermove', (e) => {
    if (start == null) return;
    const k = at(e);
    drawTimeline([Math.min(start, k), Math.max(start, k)]);
  });
  svg.addEventListener('pointerup', (e) => {
    if (start == null) return;
    const k = at(e);
    const [a, b] = [Math.min(start, k), Math.max(start, k)].map((i) => timeline.months[i].month);
    start = null;
    if (me.fixed_periods) {
      form.elements.period.value = periodFor(a, b);
    } else {
      form.elements.from.value = `${a}-01`;
      form.elements.to.value = lastDay(b);
    }
    refresh();
  });
}

// ---- loading ----

function setStatus(text, error = false) {
  statusLine.textContent = text;
  statusLine.classList.toggle('error', error);
}

/// The figure routes for the current filters: cells (or hotspots), coverage, equity, candidates.
function figurePaths() {
  const cellsPath = current().layer === 'hotspots' ? `/v1/hotspots?${query()}` : `/v1/cells?${query()}`;
  return [
    cellsPath,
    `/v1/coverage?${query({}, ['period', 'from', 'to', 'kind', 'group'])}`,
    `/v1/equity?${query({}, ['period', 'from', 'to'])}`,
    `/v1/hotspots/candidates?${query({}, ['period', 'from', 'to', 'kind', 'res', 'group'])}`,
  ];
}

function fetchFigures() {
  return Promise.all(figurePaths().map((path) => api(path)));
}

let zonesRequest = Promise.resolve(EMPTY);
// The map, once made (by the first answer, or the first failure).
let mapReady = null;

async function refresh({ figures = null } = {}) {
  const seq = ++loadSeq;
  document.body.dataset.state = 'loading';
  writeUrl();
  const layer = current().layer;
  setStatus('Loading…');
  try {
    const [cellData, coverage, equity, candidates] = await (figures || fetchFigures());
    if (seq !== loadSeq) return; // a newer request is on its way
    performance.mark('leadmap:data');
    cells = cellData;
    const zones = await zonesRequest;
    if (seq !== loadSeq) return;
    hexagons.set(cells.features, colourBy(layer));
    outline({ zones, candidates });
    if (!mapReady) {
      mapReady = (async () => {
        const bounds = firstView(cells.features, zones.features);
        // The hexagons on the screen at once, drawn where the map will show them; the map (MapLibre
        // starting, a few hundred milliseconds without a GPU) takes over with its first frame.
        const box = $('#map');
        const camera = linkedView ? cameraInLink(box) : bounds && fit(bounds, box.clientWidth, box.clientHeight, FIT_PADDING);
        if (camera && hexagons.preview(box, camera)) requestAnimationFrame(() => performance.mark('leadmap:on-screen'));
        await createMap(bounds);
        labelZones(zones);
      })();
      await mapReady;
    } else {
      await mapReady;
      if (seq !== loadSeq) return;
      hexagons.draw();
      select(null);
      popup.remove();
    }
    showCoverage(coverage);
    updateTimeline();
    showEquity(equity);
    await contextRequest;
    showCandidates(candidates);
    const shown = cells.features.filter((f) => layer === 'hotspots' || f.properties.count !== 0).length;
    setStatus(`${num(shown)} hexagons at resolution ${cells.resolution}.`);
    map.once('idle', () => {
      if (seq !== loadSeq) return;
      renders += 1;
      document.body.dataset.renders = String(renders);
      // When the first view was complete and the map idle, on the page's clock (0 = navigation start).
      if (!document.body.dataset.readyAt) {
        performance.mark('leadmap:drawn');
        document.body.dataset.readyAt = String(Math.round(performance.now()));
      }
      document.body.dataset.state = 'ready';
    });
    map.triggerRepaint();
  } catch (e) {
    if (seq !== loadSeq) return;
    setStatus(e.message, true);
    document.body.dataset.state = 'error';
    // The zones are worth showing even when the figures cannot be had.
    if (!mapReady) {
      mapReady = zonesRequest.then(async (zones) => {
        outline({ zones });
        await createMap(null);
        labelZones(zones);
      });
    }
  }
}

// ---- proposals (proposals.js): the map draws the panel's hexagons ----

function redrawOutlines() {
  outline(lastOutlines);
  hexagons.draw();
  if (map) map.triggerRepaint();
}

async function download(format) {
  const ext = { csv: 'csv', geojson: 'geojson', fgb: 'fgb' }[format];
  try {
    const r = await api(`/v1/cells?${query({ f: format })}`, { raw: true });
    const blob = await r.blob();
    const a = document.createElement('a');
    a.href = URL.createObjectURL(blob);
    const v = current();
    a.download = `leadmap-cells-res${v.res || 9}${v.kind ? `-${v.kind}` : ''}${v.from ? `-from-${v.from}` : ''}${v.to ? `-to-${v.to}` : ''}.${ext}`;
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 10000);
  } catch (e) {
    setStatus(e.message, true);
  }
}

// Everything the first view needs is asked for at once, before MapLibre (1.1 MB) is parsed: the page's
// config, who we are (with the tab's token, if any), the zones, the landmarks and the figures for the
// filters in the URL. Answers that are not 200 are asked for again, in order, once the role is known.
const configRequest = fetch('/map/config.json').then((r) => r.json());
const meRequest = fetch('/v1/me', { headers: authHeaders() });
fillPeriods();
readUrl();
for (const path of figurePaths()) prefetch(path);
// The zones the figures are classified by: in force today, else the newest set (config's zones_at).
const zonesPath = (c) => (c.zones_at ? `/v1/zones?at=${c.zones_at}` : '/v1/zones');
configRequest.then((c) => prefetch(zonesPath(c))).catch(() => {});
const landmarksRequest = fetch('/map/landmarks.geojson').then((r) => r.json()).catch(() => ({ features: [] }));
// Named areas under the hexagons (serve --context): their outlines, names, and the names of places.
const contextRequest = fetch('/map/context.geojson').then((r) => r.json()).catch(() => EMPTY)
  .then((fc) => { contextAreas = fc; return fc; });
const maplibreRequest = import('/map/vendor/maplibre-gl/maplibre-gl.mjs');

async function start() {
  config = await configRequest;
  apiSettings.auth = config.auth;
  apiSettings.onWait = (text) => setStatus(text);
  performance.mark('leadmap:config');
  // Without a base map the page's drawing is the map's picture; over one, an image in the map.
  hexagons.overlay = !config.basemap && !config.basemap_archive;
  hexagons.opacity = cellOpacity();
  $('#ml-version').textContent = config.maplibre_version || '';
  // Made-up data say so on the map and beside every headline figure, not only in the footer.
  for (const el of document.querySelectorAll('#demo-badge, .demo-tag')) el.hidden = !config.demo;
  if (config.auth && !token()) await askToken();
  try {
    const early = await meRequest.catch(() => null);
    me = early && early.ok && (token() || !config.auth) ? await early.json() : await api('/v1/me');
    performance.mark('leadmap:me');
  } catch (e) {
    setStatus(e.status === 403 ? `${e.message}. The map needs a planner, analyst or admin token.` : e.message, true);
    document.body.dataset.state = 'error';
    if (e.status === 403) { sessionStorage.removeItem('leadmap-token'); }
    return;
  }
  $('#window-control').hidden = !!me.fixed_periods;
  $('#period-control').hidden = !me.fixed_periods;
  $('#who').textContent = me.perturbed
    ? `Signed in as ${me.role}: counts are perturbed to protect the people in them. ${me.perturbed.note}`
    : `Role: ${me.role}${config.auth ? '' : ' (open service on this computer)'}: exact counts.`;
  $('#group-control').hidden = !me.filters.includes('group');
  for (const o of form.elements.res.options) o.disabled = Number(o.value) > me.max_res;
  const figures = fetchFigures();
  figures.catch(() => {}); // refresh reports a failure
  zonesRequest = api(zonesPath(config)).catch((e) => { setStatus(e.message, true); return EMPTY; });
  form.addEventListener('change', () => refresh());
  brushTimeline();
  for (const b of document.querySelectorAll('#downloads button')) b.addEventListener('click', () => download(b.dataset.format));
  await refresh({ figures });
  await startProposals({ get me() { return me; }, view: current, status: setStatus, redraw: redrawOutlines });
}

/// Draws `fc` as the hexagons (for tools/bench/bench_map.mjs: a given set of hexagons to pan over).
async function drawCells(fc) {
  cells = fc;
  hexagons.set(fc.features, colourBy(current().layer));
  hexagons.draw();
}

window.leadmap = { get map() { return map; }, hexagons, cellOpacity, current, refresh, drawCells, firstView, get cells() { return cells; }, get zones() { return lastOutlines.zones; }, get me() { return me; }, proposal };
start();
