// Time on the page: the monthly contacts chart's data, the months a view's dates or period cover, and the
// smallest fixed period holding a brushed range. Pure (no DOM, no state); unit-tested in node
// (tests/browser/units.test.mjs). Months are 'YYYY-MM', days 'YYYY-MM-DD'.

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
