// The proposals panel: a boundary change tested against the stored history. Analysts upload a zone
// file, planners pick hexagons; the panel saves the proposal, shows its impact (the table, the monthly
// chart, the hexagons gained and lost) and compares the latest proposals side by side. Its state
// (`proposal`) is what the map draws; the page (map.js) hands it the view, the status line and a redraw.
import { api, send } from './api.js';
import { compareTable, impactChart, impactRows, proposalLabel, tableRows } from './panels.js';
import { impactQuery } from './url.js';

const $ = (sel) => document.querySelector(sel);
const EMPTY = { type: 'FeatureCollection', features: [] };

/// What the page gives the panel: the role (`me`), the view (`view()`: the filters in the URL), the
/// status line (`status(text, error)`) and a redraw of the outlines after the state changed.
let page = { me: { role: null, fixed_periods: false }, view: () => ({}), status: () => {}, redraw: () => {} };

/// The panel's state, drawn by the map: the hexagons the impact shown gains and loses, and the
/// hexagons a planner has picked (while `picking`, a click on a hexagon adds or removes it).
export const proposal = {
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
    page.redraw();
  },
};

const windowQuery = () => impactQuery(page.view(), page.me.fixed_periods);

async function loadProposals(select = null) {
  const { proposals } = await api('/v1/proposals');
  const list = $('#proposal-list');
  list.innerHTML = '';
  for (const p of proposals) list.add(new Option(proposalLabel(p), p.id));
  if (select) list.value = select;
  $('#show-impact').disabled = !proposals.length;
  return proposals;
}

function showImpact(i) {
  proposal.impact = i;
  proposal.changes = (i.cells && i.cells.geojson) || i.geojson || EMPTY;
  $('#impact tbody').innerHTML = tableRows(impactRows(i));
  drawChart(i.months || []);
  page.redraw();
}

/// The monthly before/after line: contacts inside the current areas and inside the proposal's.
function drawChart(months) {
  const svg = $('#impact-chart');
  $('#impact-figure').hidden = !months.length;
  svg.innerHTML = impactChart(months);
  if (!months.length) return;
  svg.dataset.months = String(months.length);
}

async function impactOf(id) {
  page.status('Computing the impact…');
  try {
    showImpact(await api(`/v1/proposals/${encodeURIComponent(id)}/impact?${windowQuery()}`));
    page.status('Impact shown: gained hexagons green, lost red.');
  } catch (e) { page.status(e.message, true); }
}

async function saveProposal(body) {
  try {
    const created = await send('POST', '/v1/proposals', body);
    await loadProposals(created.id);
    await impactOf(created.id);
  } catch (e) { page.status(e.message, true); }
}

/// The latest eight proposals side by side (GET /v1/proposals/compare).
async function compareAll() {
  const ids = [...$('#proposal-list').options].map((o) => o.value).slice(-8);
  if (!ids.length) return;
  try {
    const { comparison } = await api(`/v1/proposals/compare?ids=${ids.map(encodeURIComponent).join(',')}&${windowQuery()}`);
    const { head, body } = compareTable(comparison);
    $('#compare thead').innerHTML = head;
    $('#compare tbody').innerHTML = body;
  } catch (e) { page.status(e.message, true); }
}

/// Shows the panel to roles that may use it (analysts upload zone files, planners pick hexagons) when
/// the service keeps proposals; `host` is what the page gives the panel (see `page`).
export async function startProposals(host) {
  page = host;
  try { await loadProposals(); } catch { return; } // no store: no panel
  const analyst = page.me.role === 'analyst' || page.me.role === 'admin';
  $('#proposals').hidden = false;
  $('#proposal-upload').hidden = !analyst;
  $('#proposal-pick').hidden = analyst;
  $('#compare-proposals').hidden = !analyst;
  $('#proposal-file').addEventListener('change', async (e) => {
    const file = e.target.files[0];
    if (!file) return;
    let zones;
    try { zones = JSON.parse(await file.text()); } catch { page.status(`${file.name} is not JSON`, true); return; }
    await saveProposal({ name: $('#proposal-name').value.trim() || file.name, zones });
  });
  $('#pick-cells').addEventListener('click', (e) => {
    proposal.picking = !proposal.picking;
    e.target.setAttribute('aria-pressed', String(proposal.picking));
    page.status(proposal.picking ? 'Click hexagons to add or remove them.' : '');
  });
  $('#save-cells').addEventListener('click', async () => {
    await saveProposal({ name: $('#proposal-name').value.trim() || 'Hexagons', cells: [...proposal.picked.keys()] });
    proposal.picked.clear();
    $('#picked').textContent = '0';
  });
  $('#show-impact').addEventListener('click', () => { const id = $('#proposal-list').value; if (id) impactOf(id); });
  $('#compare-proposals').addEventListener('click', compareAll);
}
