// Numbers, rates and text for the page: thousands separators, percentages, counts that may not apply,
// HTML escaping, area names. Pure (no DOM, no state); unit-tested in node (tests/browser/units.test.mjs).

export const pct = (x) => (x == null ? '–' : `${(x * 100).toFixed(1)} %`);

// Thousands separated by commas (en-US), without Intl: its first use costs tens of milliseconds.
export const num = (x) => (x == null ? '–' : String(x).replace(/\B(?=(\d{3})+(?!\d))/g, ','));

// Counts from the service are never withheld now (planners' are perturbed, 1 to k shown as 0); a null
// is a figure that does not apply.
export const withheld = () => 'withheld';

export function count(x, suppressed) {
  if (x == null) return suppressed ? withheld() : '–';
  return num(x);
}

export function escapeHtml(s) {
  return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
}

export function prettyArea(a) { return a.replace(/[-_]/g, ' ').replace(/\b\w/g, (c) => c.toUpperCase()); }
