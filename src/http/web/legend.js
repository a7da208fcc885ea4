// Colours and legends of the hexagon layers: palettes (colour-blind safe), class breaks for counts, each
// layer's colour and legend entries, the legend's HTML. Pure (no DOM, no state); unit-tested in node
// (tests/browser/units.test.mjs).
import { escapeHtml, num } from './format.js';

export const VIRIDIS = ['#440154', '#3b528b', '#21918c', '#5ec962', '#fde725'];

// Gi_Bin classes -3..3, ColorBrewer RdBu (colour-blind safe), cold blue to hot red.
export const GI_COLOURS = { '-3': '#2166ac', '-2': '#67a9cf', '-1': '#d1e5f0', '0': '#f7f7f7', '1': '#fddbc7', '2': '#ef8a62', '3': '#b2182b' };

export const GI_LABELS = { '3': 'Hot spot, 99 %', '2': 'Hot spot, 95 %', '1': 'Hot spot, 90 %', '0': 'Not significant', '-1': 'Cold spot, 90 %', '-2': 'Cold spot, 95 %', '-3': 'Cold spot, 99 %' };

// Okabe–Ito, colour-blind safe.
export const RELATION_COLOURS = { inside: '#009e73', boundary: '#e69f00', outside: '#999999' };

export const RELATION_LABELS = { inside: 'Inside a zone', boundary: 'On a zone boundary', outside: 'Outside every zone' };

export const SUPPRESSED = '#c8c8c8';

export const KIND_LABELS = {
  arrest: 'Arrests',
  diversion_referral: 'Diversion referrals',
  social_contact_referral: 'Social contact referrals',
  offense_report: 'Offense reports',
};

// Class breaks for counts: geometric steps from 1 to the largest count, so a skewed city (a few busy
// blocks, many quiet ones) still shows its gradient.
export function countBreaks(features) {
  let max = 0;
  for (const f of features) if (f.properties.count != null) max = Math.max(max, f.properties.count);
  const breaks = [1];
  for (let i = 1; i < VIRIDIS.length; i++) {
    const b = Math.round(max ** (i / VIRIDIS.length));
    if (b > breaks[breaks.length - 1]) breaks.push(b);
  }
  return breaks;
}

/// A layer's colour, as a function of a hexagon's properties, and its legend: `{ colour, title, items }`,
/// items `[colour, label]` in legend order. `features` are the hexagons shown (the count classes follow
/// their largest count), `kind` the kind filter (or none).
export function layerScale(layer, features, kind) {
  const items = [];
  if (layer === 'hotspots') {
    const colour = (p) => (p.Gi_Bin_FDR == null ? SUPPRESSED : GI_COLOURS[String(p.Gi_Bin_FDR)] || SUPPRESSED);
    for (const bin of ['3', '2', '1', '0', '-1', '-2', '-3']) items.push([GI_COLOURS[bin], GI_LABELS[bin]]);
    return { colour, title: 'Gi* class after FDR control (k-ring 1)', items };
  }
  if (layer === 'coverage') {
    const colour = (p) => RELATION_COLOURS[p.relation] || SUPPRESSED;
    for (const rel of Object.keys(RELATION_COLOURS)) items.push([RELATION_COLOURS[rel], RELATION_LABELS[rel]]);
    return { colour, title: 'Where contacts happen, against the zones in force', items };
  }
  const breaks = countBreaks(features);
  const colours = breaks.map((_, i) => VIRIDIS[breaks.length === 1 ? VIRIDIS.length - 1 : Math.round((i * (VIRIDIS.length - 1)) / (breaks.length - 1))]);
  // Withheld counts (null) grey, zeros white, then one viridis class per break.
  const colour = (p) => {
    if (p.count == null) return SUPPRESSED;
    if (p.count <= 0) return '#ffffff';
    let c = colours[0];
    for (let i = 0; i < breaks.length && p.count >= breaks[i]; i++) c = colours[i];
    return c;
  };
  breaks.forEach((b, i) => {
    const hi = i + 1 < breaks.length ? breaks[i + 1] - 1 : null;
    items.push([colours[i], hi == null ? `${num(b)} or more` : hi === b ? num(b) : `${num(b)} to ${num(hi)}`]);
  });
  return { colour, title: `${kind ? KIND_LABELS[kind] : 'Contacts'} per hexagon`, items };
}

/// The legend's HTML: the title, one swatch per item, the zones' and candidates' outlines, and for
/// perturbed counts (`perturbed`: the role's `zero_up_to` and `max_noise`) a line saying so.
export function legendHtml(title, items, perturbed) {
  return `<div class="title">${escapeHtml(title)}</div>` +
    items.map(([c, label]) => `<div class="item"><span class="swatch" style="background:${c}"></span>${escapeHtml(label)}</div>`).join('') +
    '<div class="item"><span class="swatch" style="background:#fff;border:2px solid #111"></span>LEAD zones in force</div>' +
    '<div class="item"><span class="swatch" style="background:#fff;border:2px dashed #cc79a7"></span>Expansion candidates</div>' +
    (perturbed ? `<p class="note">Counts are perturbed: 1 to ${perturbed.zero_up_to} shown as 0, others within ±${perturbed.max_noise} of the true count.</p>` : '');
}
