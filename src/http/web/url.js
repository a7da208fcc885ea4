// The view in the URL and the figure routes' queries: which filters a link sets, the link for a view,
// the query a figure route gets for a role, the window a proposal's impact is asked over, and the fixed
// periods planners choose from. Pure (no DOM, no state); unit-tested in node
// (tests/browser/units.test.mjs).

/// The filters the page's form has, in the order links and queries list them.
export const FILTERS = ['period', 'from', 'to', 'kind', 'res', 'group'];

/// What a link's query string (`location.search`) asks for: its `layer` (or null) and the values of the
/// known filters it sets; anything else in it is ignored.
export function viewFromSearch(search) {
  const q = new URLSearchParams(search);
  const filters = {};
  for (const name of FILTERS) if (q.has(name)) filters[name] = q.get(name);
  return { layer: q.get('layer'), filters };
}

/// The query string (with its `?`) of a view: `{ layer, ...filters }`, the empty ones left out.
export function searchOf(view) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(view)) if (v) q.set(k, v);
  return `?${q}`;
}

/// A figure route's query for a view: the filters in `keep` (the ones the route takes) that the view
/// sets and the role may use (`allowed`), then `extra`.
export function figureQuery(view, allowed, extra = {}, keep = FILTERS) {
  const q = new URLSearchParams();
  for (const name of keep) if (view[name] && allowed.includes(name)) q.set(name, view[name]);
  for (const [k, val] of Object.entries(extra)) q.set(k, val);
  return q.toString();
}

/// The window a proposal's impact is asked over: the view's fixed period for roles that choose from
/// fixed periods (planners), else its dates (`from`, `to`); nothing when the view sets none.
export function impactQuery(view, fixedPeriods) {
  const q = new URLSearchParams();
  if (fixedPeriods) {
    if (view.period) q.set('period', view.period);
  } else {
    if (view.from) q.set('from', view.from);
    if (view.to) q.set('to', view.to);
  }
  return q.toString();
}

const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];

/// The fixed periods planners choose from, by year from `thisYear` back to 2011 (LEAD's start): each
/// `{ year, options }`, options `[label, value]`: the whole year, its quarters, its months.
export function periodChoices(thisYear) {
  const years = [];
  for (let y = thisYear; y >= 2011; y -= 1) {
    const options = [[`${y} (whole year)`, String(y)]];
    for (let q = 1; q <= 4; q += 1) options.push([`${y} Q${q}`, `${y}-Q${q}`]);
    MONTHS.forEach((m, i) => options.push([`${m} ${y}`, `${y}-${String(i + 1).padStart(2, '0')}`]));
    years.push({ year: y, options });
  }
  return years;
}
