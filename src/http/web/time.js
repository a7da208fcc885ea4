// Time on the page: the monthly contacts chart's data and drawing, the months a view's dates or period
// cover, and the smallest fixed period holding a brushed range. Pure (no DOM, no state); unit-tested in
// node (tests/browser/units.test.mjs). Months are 'YYYY-MM', days 'YYYY-MM-DD'.
import { escapeHtml, num } from './format.js';

/// The chart's data: /v1/coverage over all history for the kind and group filters, per month, summed
/// over the zones (inside), outside and no_program.
export function timelineMonths(coverage) {
  const by = new Map();
  for (const r of coverage.months) {
    if (!by.has(r.month)) by.set(r.month, { month: r.month, inside: 0, outside: 0, none: 0 });
    const m = by.get(r.month);
    const n = r.contacts || 0;
    if (r.area === 'outside') m.outside += n; else if (r.area === 'no_program') m.none += n; else m.inside += n;
  }
  return [...by.values()].sort((a, b) => a.month.localeCompare(b.month));
}

/// The smallest fixed period (month, quarter, year, or all history) holding months `a`..`b`.
export function periodFor(a, b) {
  if (a === b) return a;
  if (a.slice(0, 4) !== b.slice(0, 4)) return '';
  const q = (m) => Math.ceil(Number(m.slice(5, 7)) / 3);
  return q(a) === q(b) ? `${a.slice(0, 4)}-Q${q(a)}` : a.slice(0, 4);
}

/// The last day (YYYY-MM-DD) of `month` (YYYY-MM).
export function lastDay(month) {
  const [y, m] = month.split('-').map(Number);
  return `${month}-${String(new Date(Date.UTC(y, m, 0)).getUTCDate()).padStart(2, '0')}`;
}

/// The first and last month ('YYYY-MM') a view's `from`/`to` dates or fixed `period` (2019, 2019-Q2,
/// 2019-06) cover; either may be null (open).
export function viewMonths({ from = null, to = null, period = null } = {}) {
  let a = from ? from.slice(0, 7) : null, b = to ? to.slice(0, 7) : null;
  if (period) {
    const p = period;
    if (/^\d{4}$/.test(p)) { a = `${p}-01`; b = `${p}-12`; }
    else if (/^\d{4}-Q[1-4]$/.test(p)) { const q = Number(p[6]); a = `${p.slice(0, 4)}-${String(3 * q - 2).padStart(2, '0')}`; b = `${p.slice(0, 4)}-${String(3 * q).padStart(2, '0')}`; }
    else if (/^\d{4}-\d{2}$/.test(p)) { a = p; b = p; }
  }
  return [a, b];
}

/// The indexes [first, last] into `months` (sorted 'YYYY-MM') of those the view covers, or null when it
/// sets no dates or covers none of them.
export function windowMonths(view, months) {
  const [from, to] = viewMonths(view);
  if (!from && !to) return null;
  const a = from ? months.findIndex((m) => m >= from) : 0;
  let b = to ? months.length - 1 - [...months].reverse().findIndex((m) => m <= to) : months.length - 1;
  if (b >= months.length) b = -1;
  return a >= 0 && b >= a ? [a, b] : null;
}

/// The chart's size in SVG units: bars from `top` to `bottom`, years below.
export const CHART = { w: 300, h: 110, top: 4, bottom: 96 };

/// The chart's SVG content: a stacked bar a month (inside, outside, no program in force), each with its
/// title; a line where each of `zoneSets` starts (those that start within the months); the years along
/// the bottom; and the brushed `range` ([first, last] month index, or null).
export function timelineSvg(months, zoneSets = [], range = null) {
  const n = months.length;
  const bw = CHART.w / n;
  const max = Math.max(1, ...months.map((m) => m.inside + m.outside + m.none));
  const hOf = (v) => ((CHART.bottom - CHART.top) * v) / max;
  const parts = [];
  months.forEach((m, k) => {
    let y = CHART.bottom;
    const bar = (cls, v) => {
      if (!v) return '';
      const h = hOf(v);
      y -= h;
      return `<rect class="${cls}" x="${(k * bw).toFixed(2)}" y="${y.toFixed(2)}" width="${Math.max(bw - 0.3, 0.3).toFixed(2)}" height="${h.toFixed(2)}"/>`;
    };
    const title = `${m.month}: ${num(m.inside)} inside, ${num(m.outside)} outside${m.none ? `, ${num(m.none)} with no program in force` : ''}`;
    parts.push(`<g class="month" data-month="${m.month}" data-inside="${m.inside}" data-outside="${m.outside}" data-none="${m.none}"><title>${escapeHtml(title)}</title>` +
      `<rect x="${(k * bw).toFixed(2)}" y="0" width="${bw.toFixed(2)}" height="${CHART.bottom}" fill="transparent"/>${bar('inside', m.inside)}${bar('outside', m.outside)}${bar('none', m.none)}</g>`);
  });
  for (const set of zoneSets) {
    if (!set.effective_from) continue;
    const k = months.findIndex((m) => m.month === set.effective_from.slice(0, 7));
    if (k < 0) continue;
    parts.push(`<line class="start" x1="${(k * bw).toFixed(2)}" x2="${(k * bw).toFixed(2)}" y1="0" y2="${CHART.bottom}" data-starts="${escapeHtml(set.name)}"><title>${escapeHtml(`${set.title || set.name} starts ${set.effective_from}`)}</title></line>`);
  }
  months.forEach((m, k) => { if (m.month.endsWith('-01') || k === 0) parts.push(`<text x="${(k * bw + 1).toFixed(1)}" y="${CHART.h - 3}">${m.month.slice(0, 4)}</text>`); });
  if (range) parts.push(`<rect class="brush" x="${(range[0] * bw).toFixed(2)}" y="0" width="${((range[1] - range[0] + 1) * bw).toFixed(2)}" height="${CHART.bottom}"/>`);
  return parts.join('');
}
