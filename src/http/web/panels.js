// What the panels beside the map and the hexagon popup say, as HTML: the contacts by area, the equity
// table, a proposal in the list, its impact and monthly chart, the comparison of proposals, a hexagon's
// counts. Every text from the service is escaped here. Pure (no DOM, no state: the page puts the HTML in place); unit-tested in node
// (tests/browser/units.test.mjs).
import { count, escapeHtml, num, pct, prettyArea } from './format.js';
import { GI_LABELS, KIND_LABELS, RELATION_LABELS } from './legend.js';

/// A proposal in the list: its name, who saved it (or "this computer" when tokens are off) and the day.
export function proposalLabel(p) {
  return `${p.name} (${p.author || 'this computer'}, ${p.created_at.slice(0, 10)})`;
}

/// The comparison table (GET /v1/proposals/compare): `head`, a header row of the proposals' names, and
/// `body`, a row per measure (its name with spaces for underscores), values to two decimals, "–" for
/// none.
export function compareTable(comparison) {
  const head = `<tr><th scope="col">Measure</th>${comparison.columns.map((c) => `<th scope="col">${escapeHtml(c)}</th>`).join('')}</tr>`;
  const value = (v) => `<td>${v == null ? '–' : escapeHtml(num(Math.round(v * 100) / 100))}</td>`;
  const body = comparison.rows.map((r) =>
    `<tr><th scope="row">${escapeHtml(r.measure.replace(/_/g, ' '))}</th>${r.values.map(value).join('')}</tr>`).join('');
  return { head, body };
}

/// A table body of `[label, value]` rows, the label a row header.
export function tableRows(rows) {
  return rows.map(([k, v]) => `<tr><th scope="row">${escapeHtml(k)}</th><td>${escapeHtml(v)}</td></tr>`).join('');
}

/// The contacts-by-area table's body (GET /v1/coverage's totals): the zones by name, then inside,
/// outside and citywide.
export function areaRows(coverage) {
  const order = (a) => (a === 'inside' ? 1 : a === 'outside' ? 2 : a === 'citywide' ? 3 : 0);
  const rows = coverage.totals.slice().sort((x, y) => order(x.area) - order(y.area) || x.area.localeCompare(y.area));
  return rows.map((r) =>
    `<tr><td>${escapeHtml(prettyArea(r.area))}</td><td>${escapeHtml(count(r.contacts, r.suppressed))}</td><td>${escapeHtml(pct(r.diversion_rate))}</td></tr>`).join('');
}

/// The equity table's body (GET /v1/equity): the citywide row of each group, its rates and relative
/// rate indexes.
export function groupRows(equity) {
  const ratio = (x) => (x == null ? '–' : x.toFixed(2));
  return equity.rows.filter((r) => r.area === 'citywide').map((r) =>
    `<tr><td>${escapeHtml(prettyArea(r.group))}</td><td>${escapeHtml(count(r.contacts, r.suppressed))}</td>` +
    `<td>${escapeHtml(pct(r.referral_rate))}</td><td>${ratio(r.rri_referral)}</td>` +
    `<td>${escapeHtml(pct(r.diversion_rate))}</td><td>${ratio(r.rri_diversion)}</td></tr>`).join('');
}

/// A proposal's impact (GET /v1/proposals/{id}/impact, an analyst's exact answer or a planner's
/// perturbed one) as `[label, value]` rows.
export function impactRows(i) {
  const contacts = (c) => num(c.contacts);
  const gained = i.cells ? i.cells.gained : i.gained;
  const lost = i.cells ? i.cells.lost : i.lost;
  const rows = [
    ['Contacts inside the current areas', contacts(i.inside_current)],
    ["Contacts inside the proposal's areas", contacts(i.inside_proposal)],
    ['Newly inside', contacts(i.newly_inside)],
    ['Newly outside', contacts(i.newly_outside)],
    ['Net', (i.net > 0 ? '+' : '') + num(i.net)],
    ['Hexagons gained / lost', `${num(gained.length)} / ${num(lost.length)}`],
    ['Area gained / lost', `${(i.area_gained_km2 ?? i.cells.area_gained_km2).toFixed(2)} / ${(i.area_lost_km2 ?? i.cells.area_lost_km2).toFixed(2)} km²`],
  ];
  if (i.capacity && i.capacity.months_to_fill_proposal != null) rows.push(['Months to fill the capacity', `${i.capacity.months_to_fill_proposal.toFixed(1)} (of ${num(i.capacity.capacity)})`]);
  if (i.perturbed) rows.push(['Counts', 'sums of the perturbed hexagon counts the map shows']);
  return rows;
}

/// The monthly before/after chart (a 300 × 120 SVG's content): contacts inside the current areas and
/// inside the proposal's, a dashed line where a zone set starts. Empty for no months.
export function impactChart(months) {
  if (!months.length) return '';
  const max = Math.max(1, ...months.map((m) => Math.max(m.inside_current, m.inside_proposal)));
  const x = (k) => (months.length === 1 ? 150 : 5 + (290 * k) / (months.length - 1));
  const y = (v) => 115 - (110 * v) / max;
  const line = (key) => months.map((m, k) => `${x(k).toFixed(1)},${y(m[key]).toFixed(1)}`).join(' ');
  const marks = months.map((m, k) => ((m.launches || []).length ? `<line x1="${x(k)}" x2="${x(k)}" y1="0" y2="120" stroke="#999" stroke-dasharray="3 2"><title>${escapeHtml(m.launches.join(', '))} starts</title></line>` : '')).join('');
  return `${marks}<polyline class="current" fill="none" stroke-width="1.5" points="${line('inside_current')}"/>` +
    `<polyline class="proposal" fill="none" stroke-width="1.5" points="${line('inside_proposal')}"/>`;
}

/// A hexagon's popup: its id, then its area (`where`, or none), counts by kind, diversion rate (only
/// when `ratesKnown`: the data hold referrals), the zone holding its centre (`zoneName`) and its relation,
/// and in the hotspot layer its Gi* class and z.
export function popupHtml(p, { layer, where = null, zoneName = null, ratesKnown = true }) {
  const s = p.suppressed;
  const rows = [];
  if (where) rows.push(['Area', where]);
  rows.push(['All contacts', count(p.count, s)]);
  for (const k of Object.keys(KIND_LABELS)) rows.push([KIND_LABELS[k], count(p[k], s)]);
  const d = p.diversion_referral, a = p.arrest;
  const rate = ratesKnown && d != null && a != null && d + a > 0 ? pct(d / (d + a)) : '–';
  rows.push(['Diversion rate', rate]);
  const relation = RELATION_LABELS[p.relation] || p.relation;
  rows.push(['Zones', zoneName && p.relation !== 'outside' ? `${p.relation === 'boundary' ? 'On the boundary of' : 'Inside'} ${zoneName}` : relation]);
  if (layer === 'hotspots' && p.Gi_Bin_FDR != null) {
    rows.push(['Gi* class (FDR)', GI_LABELS[String(p.Gi_Bin_FDR)]]);
    if (p.GiZScore != null) rows.push(['z', Number(p.GiZScore).toFixed(2)]);
  }
  return `<strong>${escapeHtml(p.hex_id)}</strong><table>${tableRows(rows)}</table>`;
}
