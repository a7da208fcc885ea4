// The planners' map: zones in force, H3 hexagons (contacts, hotspot classes or coverage), expansion
// candidates, and the coverage and equity figures for the same filters. Reads only the figure routes,
// with the token the user gave (kept in sessionStorage for this tab). Coordinates are lon, lat
// throughout (GeoJSON order). The view state lives in the URL: filters in the query, the map in the hash.
import { fit, hexagons } from '/map/hexagons.js';

const VIRIDIS = ['#440154', '#3b528b', '#21918c', '#5ec962', '#fde725'];
// Gi_Bin classes -3..3, ColorBrewer RdBu (colour-blind safe), cold blue to hot red.
const GI_COLOURS = { '-3': '#2166ac', '-2': '#67a9cf', '-1': '#d1e5f0', '0': '#f7f7f7', '1': '#fddbc7', '2': '#ef8a62', '3': '#b2182b' };
const GI_LABELS = { '3': 'Hot spot, 99 %', '2': 'Hot spot, 95 %', '1': 'Hot spot, 90 %', '0': 'Not significant', '-1': 'Cold spot, 90 %', '-2': 'Cold spot, 95 %', '-3': 'Cold spot, 99 %' };
// Okabe–Ito, colour-blind safe.
const RELATION_COLOURS = { inside: '#009e73', boundary: '#e69f00', outside: '#999999' };
const RELATION_LABELS = { inside: 'Inside a zone', boundary: 'On a zone boundary', outside: 'Outside every zone' };
const SUPPRESSED = '#c8c8c8';
const KIND_LABELS = {
  arrest: 'Arrests',
  diversion_referral: 'Diversion referrals',
  social_contact_referral: 'Social contact referrals',
  offense_report: 'Offense reports',
};
// Whether the store holds referral data: without it every rate is unknown, never 0 (the coverage
// answer's rates_note says so).
let ratesKnown = true;
const FILTERS = ['period', 'from', 'to', 'kind', 'res', 'group'];

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

// ---- token and API ----

function token() { return sessionStorage.getItem('leadmap-token'); }

function askToken(why) {
  const dialog = $('#token-dialog');
  if (why) $('#token-why').textContent = why;
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => {
      const t = new FormData($('#token-form')).get('token');
      if (t) sessionStorage.setItem('leadmap-token', String(t).trim());
      resolve();
    }, { once: true });
    dialog.showModal();
  });
}

class ApiProblem extends Error {
  constructor(status, detail) { super(detail); this.status = status; }
}

function authHeaders() { return token() ? { Authorization: `Bearer ${token()}` } : {}; }

// Answers asked for before MapLibre and the role were in hand (by path); api() takes each once, and asks
// again for any that did not come back 200.
const prefetched = new Map();
function prefetch(path) {
  prefetched.set(path, fetch(path, { headers: authHeaders() }).then((r) => (r.ok ? r.json() : null)).catch(() => null));
}

async function api(path, { raw = false } = {}) {
  const early = !raw && prefetched.get(path);
  if (early) {
    prefetched.delete(path);
    const answer = await early;
    if (answer) return answer;
  }
  for (let attempt = 0; attempt < 3; attempt++) {
    const r = await fetch(path, { headers: authHeaders() });
    if (r.status === 401 && config.auth) {
      const p = await r.json().catch(() => ({}));
      sessionStorage.removeItem('leadmap-token');
      await askToken(p.detail || 'The token was not accepted; enter another.');
      continue;
    }
    if (!r.ok) {
      const p = await r.json().catch(() => ({}));
      throw new ApiProblem(r.status, p.detail || `${path}: HTTP ${r.status}`);
    }
    return raw ? r : r.json();
  }
  throw new ApiProblem(401, 'no valid token');
}

/// Sends `body` (JSON) to `path` with `method`; the answer's JSON, or an ApiProblem with its detail.
async function send(method, path, body) {
  const r = await fetch(path, { method, headers: { ...authHeaders(), 'Content-Type': 'application/json' }, body: body == null ? undefined : JSON.stringify(body) });
  const answer = r.status === 204 ? null : await r.json().catch(() => ({}));
  if (!r.ok) throw new ApiProblem(r.status, (answer && answer.detail) || `${path}: HTTP ${r.status}`);
  return answer;
}

// ---- view state in the URL ----

/// The fixed periods planners choose from: all history, then each year from this one back to 2011 (LEAD's
/// start), its quarters and its months.
function fillPeriods() {
  const select = form.elements.period;
  const months = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];
  for (let y = new Date().getFullYear(); y >= 2011; y -= 1) {
    const group = document.createElement('optgroup');
    group.label = String(y);
    group.append(new Option(`${y} (whole year)`, String(y)));
    for (let q = 1; q <= 4; q += 1) group.append(new Option(`${y} Q${q}`, `${y}-Q${q}`));
    months.forEach((m, i) => group.append(new Option(`${m} ${y}`, `${y}-${String(i + 1).padStart(2, '0')}`)));
    select.append(group);
  }
}

function readUrl() {
  const q = new URLSearchParams(location.search);
  for (const name of FILTERS) {
    const el = form.elements[name];
    if (el && q.has(name)) el.value = q.get(name);
  }
  // Compared as values, never put into a selector: a URL like ?layer=x"] would otherwise throw and stop
  // the page.
  const layer = q.get('layer');
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
  const q = new URLSearchParams(current());
  history.replaceState(null, '', `?${q}${location.hash}`);
}

/// The figure routes' query for the current filters (`keep`: which of them the route takes).
function query(extra = {}, keep = ['period', 'from', 'to', 'kind', 'res', 'group']) {
  const v = current();
  const q = new URLSearchParams();
  for (const name of keep) if (v[name] && me.filters.concat(['res']).includes(name)) q.set(name, v[name]);
  for (const [k, val] of Object.entries(extra)) q.set(k, val);
  return q.toString();
}

// ---- formatting ----

const pct = (x) => (x == null ? '–' : `${(x * 100).toFixed(1)} %`);
// Thousands separated by commas (en-US), without Intl: its first use costs tens of milliseconds.
const num = (x) => (x == null ? '–' : String(x).replace(/\B(?=(\d{3})+(?!\d))/g, ','));
// Counts from the service are never withheld now (planners' are perturbed, 1 to k shown as 0); a null
// is a figure that does not apply.
const withheld = () => 'withheld';
function count(x, suppressed) {
  if (x == null) return suppressed ? withheld() : '–';
  return num(x);
}
function escapeHtml(s) {
  return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
}
function prettyArea(a) { return a.replace(/[-_]/g, ' ').replace(/\b\w/g, (c) => c.toUpperCase()); }

// ---- the map ----

function baseStyle() {
  const style = {
    version: 8,
    transition: { duration: 0, delay: 0 },
    sources: {},
    // No background layer: the map's container is painted by CSS (map.css) and the canvas left clear,
    // one full-screen pass and one GPU program less a frame.
    layers: [],
  };
  const url = config.basemap;
  if (url && url.includes('{z}')) {
    style.sources.basemap = { type: 'raster', tiles: [url], tileSize: 256, attribution: 'Base map: see the operator of ' + new URL(url.replace(/[{}]/g, '')).host };
    style.layers.push({ id: 'basemap', type: 'raster', source: 'basemap', paint: { 'raster-opacity': 0.8 } });
  }
  return url && !url.includes('{z}') ? url : style;
}

let maplibregl;
let map;
let popup;

const EMPTY = { type: 'FeatureCollection', features: [] };

const FIT_PADDING = 30;

/// How opaque the hexagons are: over a base map they let it show through.
function cellOpacity() { return config.basemap ? 0.7 : 0.9; }

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
  const extra = dataLayers();
  const base = baseStyle();
  const inline = typeof base !== 'string';
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
    if (f) popup.setLngLat(e.lngLat).setHTML(popupHtml(f.properties, current().layer)).addTo(map);
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
  return new Promise((resolve) => map.once('load', resolve));
}

function bboxOf(geometry, into = [Infinity, Infinity, -Infinity, -Infinity]) {
  const walk = (c) => {
    if (typeof c[0] === 'number') {
      into[0] = Math.min(into[0], c[0]); into[1] = Math.min(into[1], c[1]);
      into[2] = Math.max(into[2], c[0]); into[3] = Math.max(into[3], c[1]);
    } else c.forEach(walk);
  };
  walk(geometry.coordinates);
  return into;
}

// Class breaks for counts: geometric steps from 1 to the largest count, so a skewed city (a few busy
// blocks, many quiet ones) still shows its gradient.
function countBreaks(features) {
  let max = 0;
  for (const f of features) if (f.properties.count != null) max = Math.max(max, f.properties.count);
  const breaks = [1];
  for (let i = 1; i < VIRIDIS.length; i++) {
    const b = Math.round(max ** (i / VIRIDIS.length));
    if (b > breaks[breaks.length - 1]) breaks.push(b);
  }
  return breaks;
}

/// The hexagons' colour for a layer, as a function of a hexagon's properties; draws its legend beside
/// the map.
function colourBy(layer) {
  let colour;
  const legend = [];
  if (layer === 'hotspots') {
    colour = (p) => (p.Gi_Bin_FDR == null ? SUPPRESSED : GI_COLOURS[String(p.Gi_Bin_FDR)] || SUPPRESSED);
    for (const bin of ['3', '2', '1', '0', '-1', '-2', '-3']) legend.push([GI_COLOURS[bin], GI_LABELS[bin]]);
    legendTitle('Gi* class after FDR control (k-ring 1)', legend);
  } else if (layer === 'coverage') {
    colour = (p) => RELATION_COLOURS[p.relation] || SUPPRESSED;
    for (const rel of Object.keys(RELATION_COLOURS)) legend.push([RELATION_COLOURS[rel], RELATION_LABELS[rel]]);
    legendTitle('Where contacts happen, against the zones in force', legend);
  } else {
    const breaks = countBreaks(cells.features);
    const colours = breaks.map((_, i) => VIRIDIS[breaks.length === 1 ? VIRIDIS.length - 1 : Math.round((i * (VIRIDIS.length - 1)) / (breaks.length - 1))]);
    // Withheld counts (null) grey, zeros white, then one viridis class per break.
    colour = (p) => {
      if (p.count == null) return SUPPRESSED;
      if (p.count <= 0) return '#ffffff';
      let c = colours[0];
      for (let i = 0; i < breaks.length && p.count >= breaks[i]; i++) c = colours[i];
      return c;
    };
    breaks.forEach((b, i) => {
      const hi = i + 1 < breaks.length ? breaks[i + 1] - 1 : null;
      legend.push([colours[i], hi == null ? `${num(b)} or more` : hi === b ? num(b) : `${num(b)} to ${num(hi)}`]);
    });
    const kind = current().kind;
    legendTitle(`${kind ? KIND_LABELS[kind] : 'Contacts'} per hexagon`, legend);
  }
  renderLegend(legend);
  return colour;
}

let legendHeading = '';
function legendTitle(t) { legendHeading = t; }
function renderLegend(items) {
  const el = $('#legend');
  el.innerHTML = `<div class="title">${escapeHtml(legendHeading)}</div>` +
    items.map(([c, label]) => `<div class="item"><span class="swatch" style="background:${c}"></span>${escapeHtml(label)}</div>`).join('') +
    '<div class="item"><span class="swatch" style="background:#fff;border:2px solid #111"></span>LEAD zones in force</div>' +
    '<div class="item"><span class="swatch" style="background:#fff;border:2px dashed #cc79a7"></span>Expansion candidates</div>' +
    (me.perturbed ? `<p class="note">Counts are perturbed: 1 to ${me.perturbed.zero_up_to} shown as 0, others within ±${me.perturbed.max_noise} of the true count.</p>` : '');
}

// ---- popups ----

function popupHtml(p, layer) {
  const s = p.suppressed;
  const rows = [['All contacts', count(p.count, s)]];
  for (const k of Object.keys(KIND_LABELS)) rows.push([KIND_LABELS[k], count(p[k], s)]);
  const d = p.diversion_referral, a = p.arrest;
  const rate = ratesKnown && d != null && a != null && d + a > 0 ? pct(d / (d + a)) : '–';
  rows.push(['Diversion rate', rate]);
  rows.push(['Zones', RELATION_LABELS[p.relation] || p.relation]);
  if (layer === 'hotspots' && p.Gi_Bin_FDR != null) {
    rows.push(['Gi* class (FDR)', GI_LABELS[String(p.Gi_Bin_FDR)]]);
    if (p.GiZScore != null) rows.push(['z', Number(p.GiZScore).toFixed(2)]);
  }
  return `<strong>${escapeHtml(p.hex_id)}</strong><table>` +
    rows.map(([k, v]) => `<tr><th scope="row">${escapeHtml(k)}</th><td>${escapeHtml(v)}</td></tr>`).join('') + '</table>';
}


// ---- labels: zones and landmarks, as HTML markers (no glyph server needed) ----

let zoneMarkers = [];
function labelZones(fc) {
  zoneMarkers.forEach((m) => m.remove());
  zoneMarkers = fc.features.map((f) => {
    const b = bboxOf(f.geometry);
    const el = document.createElement('div');
    el.className = 'zone-label';
    el.textContent = f.properties.name || f.properties.id;
    return new maplibregl.Marker({ element: el }).setLngLat([(b[0] + b[2]) / 2, (b[1] + b[3]) / 2]).addTo(map);
  });
}

// Landmarks only from street-level zooms up, where they do not crowd the zones' names.
const landmarkEls = [];
function showLandmarks() {
  const show = map.getZoom() >= 13;
  for (const el of landmarkEls) el.style.visibility = show ? 'visible' : 'hidden';
}
function labelLandmarks(fc) {
  for (const f of fc.features || []) {
    const el = document.createElement('div');
    el.className = 'landmark';
    el.textContent = f.properties.name;
    landmarkEls.push(el);
    new maplibregl.Marker({ element: el, anchor: 'left' }).setLngLat(f.geometry.coordinates).addTo(map);
  }
  showLandmarks();
  map.on('zoomend', showLandmarks);
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
  const order = (a) => (a === 'inside' ? 1 : a === 'outside' ? 2 : a === 'citywide' ? 3 : 0);
  const rows = c.totals.slice().sort((x, y) => order(x.area) - order(y.area) || x.area.localeCompare(y.area));
  $('#areas tbody').innerHTML = rows.map((r) =>
    `<tr><td>${escapeHtml(prettyArea(r.area))}</td><td>${escapeHtml(count(r.contacts, r.suppressed))}</td><td>${escapeHtml(pct(r.diversion_rate))}</td></tr>`).join('');
}

function showEquity(e) {
  $('#ref-group').textContent = prettyArea(e.reference_group || 'white');
  const rows = e.rows.filter((r) => r.area === 'citywide');
  $('#groups tbody').innerHTML = rows.map((r) => `<tr><td>${escapeHtml(prettyArea(r.group))}</td><td>${escapeHtml(count(r.contacts, r.suppressed))}</td>` +
    `<td>${escapeHtml(pct(r.referral_rate))}</td><td>${r.rri_referral == null ? '–' : r.rri_referral.toFixed(2)}</td>` +
    `<td>${escapeHtml(pct(r.diversion_rate))}</td><td>${r.rri_diversion == null ? '–' : r.rri_diversion.toFixed(2)}</td></tr>`).join('');
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
    li.append(`${p.cells} cells, ${p.suppressed ? withheld() : num(p.contacts)} contacts `, b);
    list.append(li);
  }
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
        const bounds = cells.features.length ? cells.features.reduce((b, f) => bboxOf(f.geometry, b), [Infinity, Infinity, -Infinity, -Infinity]) : null;
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
    showEquity(equity);
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

// ---- proposals: a boundary change tested against the stored history ----

const proposal = {
  changes: EMPTY, // the cells gained and lost by the impact shown (GeoJSON hexagons)
  picking: false,
  picked: new Map(), // hex id -> feature
  impact: null,
  pickedFeatures() { return [...this.picked.values()]; },
  toggle(f) {
    const id = f.properties.hex_id;
    if (this.picked.has(id)) this.picked.delete(id); else this.picked.set(id, f);
    $('#picked').textContent = String(this.picked.size);
    $('#save-cells').disabled = this.picked.size === 0;
    redrawOutlines();
  },
};

function redrawOutlines() {
  outline(lastOutlines);
  hexagons.draw();
  if (map) map.triggerRepaint();
}

/// The window an impact is asked over: the view's period (planners) or dates.
function impactQuery() {
  const v = current();
  const q = new URLSearchParams();
  if (me.fixed_periods) { if (v.period) q.set('period', v.period); } else {
    if (v.from) q.set('from', v.from);
    if (v.to) q.set('to', v.to);
  }
  return q.toString();
}

async function loadProposals(select = null) {
  const { proposals } = await api('/v1/proposals');
  const list = $('#proposal-list');
  list.innerHTML = '';
  for (const p of proposals) list.add(new Option(`${p.name} (${p.author || 'this computer'}, ${p.created_at.slice(0, 10)})`, p.id));
  if (select) list.value = select;
  $('#show-impact').disabled = !proposals.length;
  return proposals;
}

const kinds = (c) => `${num(c.contacts)}`;
function showImpact(i) {
  proposal.impact = i;
  proposal.changes = (i.cells && i.cells.geojson) || i.geojson || EMPTY;
  const cellsOf = (list) => num(list.length);
  const gained = i.cells ? i.cells.gained : i.gained;
  const lost = i.cells ? i.cells.lost : i.lost;
  const rows = [
    ['Contacts inside the current areas', kinds(i.inside_current)],
    ["Contacts inside the proposal's areas", kinds(i.inside_proposal)],
    ['Newly inside', kinds(i.newly_inside)],
    ['Newly outside', kinds(i.newly_outside)],
    ['Net', (i.net > 0 ? '+' : '') + num(i.net)],
    ['Hexagons gained / lost', `${cellsOf(gained)} / ${cellsOf(lost)}`],
    ['Area gained / lost', `${(i.area_gained_km2 ?? i.cells.area_gained_km2).toFixed(2)} / ${(i.area_lost_km2 ?? i.cells.area_lost_km2).toFixed(2)} km²`],
  ];
  if (i.capacity && i.capacity.months_to_fill_proposal != null) rows.push(['Months to fill the capacity', `${i.capacity.months_to_fill_proposal.toFixed(1)} (of ${num(i.capacity.capacity)})`]);
  if (i.perturbed) rows.push(['Counts', 'sums of the perturbed hexagon counts the map shows']);
  $('#impact tbody').innerHTML = rows.map(([k, v]) => `<tr><th scope="row">${escapeHtml(k)}</th><td>${escapeHtml(v)}</td></tr>`).join('');
  drawChart(i.months || []);
  redrawOutlines();
}

/// The monthly before/after line: contacts inside the current areas and inside the proposal's.
function drawChart(months) {
  const svg = $('#impact-chart');
  $('#impact-figure').hidden = !months.length;
  if (!months.length) { svg.innerHTML = ''; return; }
  const max = Math.max(1, ...months.map((m) => Math.max(m.inside_current, m.inside_proposal)));
  const x = (k) => (months.length === 1 ? 150 : 5 + (290 * k) / (months.length - 1));
  const y = (v) => 115 - (110 * v) / max;
  const line = (key) => months.map((m, k) => `${x(k).toFixed(1)},${y(m[key]).toFixed(1)}`).join(' ');
  const marks = months.map((m, k) => ((m.launches || []).length ? `<line x1="${x(k)}" x2="${x(k)}" y1="0" y2="120" stroke="#999" stroke-dasharray="3 2"><title>${escapeHtml(m.launches.join(', '))} starts</title></line>` : '')).join('');
  svg.innerHTML = `${marks}<polyline class="current" fill="none" stroke-width="1.5" points="${line('inside_current')}"/>` +
    `<polyline class="proposal" fill="none" stroke-width="1.5" points="${line('inside_proposal')}"/>`;
  svg.dataset.months = String(months.length);
}

async function impactOf(id) {
  setStatus('Computing the impact…');
  try {
    showImpact(await api(`/v1/proposals/${encodeURIComponent(id)}/impact?${impactQuery()}`));
    setStatus('Impact shown: gained hexagons green, lost red.');
  } catch (e) { setStatus(e.message, true); }
}

async function saveProposal(body) {
  try {
    const created = await send('POST', '/v1/proposals', body);
    await loadProposals(created.id);
    await impactOf(created.id);
  } catch (e) { setStatus(e.message, true); }
}

async function compareAll() {
  const ids = [...$('#proposal-list').options].map((o) => o.value).slice(-8);
  if (!ids.length) return;
  try {
    const { comparison } = await api(`/v1/proposals/compare?ids=${ids.map(encodeURIComponent).join(',')}&${impactQuery()}`);
    $('#compare thead').innerHTML = `<tr><th scope="col">Measure</th>${comparison.columns.map((c) => `<th scope="col">${escapeHtml(c)}</th>`).join('')}</tr>`;
    $('#compare tbody').innerHTML = comparison.rows.map((r) => `<tr><th scope="row">${escapeHtml(r.measure.replace(/_/g, ' '))}</th>${r.values.map((v) => `<td>${v == null ? '–' : escapeHtml(num(Math.round(v * 100) / 100))}</td>`).join('')}</tr>`).join('');
  } catch (e) { setStatus(e.message, true); }
}

/// Shows the panel to roles that may use it (analysts upload zone files, planners pick hexagons) when
/// the service keeps proposals.
async function startProposals() {
  try { await loadProposals(); } catch { return; } // no store: no panel
  const analyst = me.role === 'analyst' || me.role === 'admin';
  $('#proposals').hidden = false;
  $('#proposal-upload').hidden = !analyst;
  $('#proposal-pick').hidden = analyst;
  $('#compare-proposals').hidden = !analyst;
  $('#proposal-file').addEventListener('change', async (e) => {
    const file = e.target.files[0];
    if (!file) return;
    let zones;
    try { zones = JSON.parse(await file.text()); } catch { setStatus(`${file.name} is not JSON`, true); return; }
    await saveProposal({ name: $('#proposal-name').value.trim() || file.name, zones });
  });
  $('#pick-cells').addEventListener('click', (e) => {
    proposal.picking = !proposal.picking;
    e.target.setAttribute('aria-pressed', String(proposal.picking));
    setStatus(proposal.picking ? 'Click hexagons to add or remove them.' : '');
  });
  $('#save-cells').addEventListener('click', async () => {
    await saveProposal({ name: $('#proposal-name').value.trim() || 'Hexagons', cells: [...proposal.picked.keys()] });
    proposal.picked.clear();
    $('#picked').textContent = '0';
  });
  $('#show-impact').addEventListener('click', () => { const id = $('#proposal-list').value; if (id) impactOf(id); });
  $('#compare-proposals').addEventListener('click', compareAll);
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
const maplibreRequest = import('/map/vendor/maplibre-gl/maplibre-gl.mjs');

async function start() {
  config = await configRequest;
  performance.mark('leadmap:config');
  // Without a base map the page's drawing is the map's picture; over one, an image in the map.
  hexagons.overlay = !config.basemap;
  hexagons.opacity = cellOpacity();
  $('#ml-version').textContent = config.maplibre_version || '';
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
  for (const b of document.querySelectorAll('#downloads button')) b.addEventListener('click', () => download(b.dataset.format));
  await refresh({ figures });
  await startProposals();
}

/// Draws `fc` as the hexagons (for tools/bench_map.mjs: a given set of hexagons to pan over).
async function drawCells(fc) {
  cells = fc;
  hexagons.set(fc.features, colourBy(current().layer));
  hexagons.draw();
}

window.leadmap = { get map() { return map; }, hexagons, cellOpacity, current, refresh, drawCells, get cells() { return cells; }, get me() { return me; }, proposal };
start();
