// Unit tests, in node (no browser), of the map page's pure modules in src/http/web/: format.js,
// geometry.js, legend.js, panels.js, time.js and url.js. The page itself is tested end to end in map.test.mjs.
//
// Run: tools/browser_test.sh (runs this file first), or `node --test units.test.mjs` here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { count, escapeHtml, num, pct, prettyArea } from '../../src/http/web/format.js';
import { bboxOf, boxArea, centreOf, featureAt, firstView, labelAt, ringContains } from '../../src/http/web/geometry.js';
import { GI_COLOURS, SUPPRESSED, VIRIDIS, countBreaks, layerScale, legendHtml } from '../../src/http/web/legend.js';
import { areaRows, compareTable, groupRows, impactChart, impactRows, popupHtml, proposalLabel, tableRows } from '../../src/http/web/panels.js';
import { CHART, lastDay, periodFor, timelineMonths, timelineSvg, viewMonths, windowMonths } from '../../src/http/web/time.js';
import { FILTERS, figureQuery, impactQuery, periodChoices, searchOf, viewFromSearch } from '../../src/http/web/url.js';

// A square [x0, y0]..[x0 + d, y0 + d] as a closed ring, lon/lat.
const square = (x0, y0, d) => [[x0, y0], [x0 + d, y0], [x0 + d, y0 + d], [x0, y0 + d], [x0, y0]];
const polygon = (...rings) => ({ type: 'Polygon', coordinates: rings });
const cell = (x0, y0, n) => ({ geometry: polygon(square(x0, y0, 0.01)), properties: { count: n } });

test('format: thousands, percentages, counts that do not apply, escaping, area names', () => {
  assert.equal(num(0), '0');
  assert.equal(num(999), '999');
  assert.equal(num(1234567), '1,234,567');
  assert.equal(num(null), '–');
  assert.equal(pct(0.1234), '12.3 %');
  assert.equal(pct(0), '0.0 %');
  assert.equal(pct(undefined), '–');
  assert.equal(count(1200, false), '1,200');
  assert.equal(count(0, true), '0', 'a zero is a figure, even when others are withheld');
  assert.equal(count(null, true), 'withheld');
  assert.equal(count(null, false), '–');
  assert.equal(escapeHtml(`<a href="x">Tom & 'Jerry'</a>`), '&lt;a href=&quot;x&quot;&gt;Tom &amp; &#39;Jerry&#39;&lt;/a&gt;');
  assert.equal(escapeHtml(42), '42');
  assert.equal(prettyArea('old_town-chinatown'), 'Old Town Chinatown');
  assert.equal(prettyArea('no_program'), 'No Program');
});

test('geometry: boxes of any depth of coordinates, in lon/lat order', () => {
  assert.deepEqual(bboxOf({ type: 'Point', coordinates: [-122.68, 45.52] }), [-122.68, 45.52, -122.68, 45.52]);
  const multi = { type: 'MultiPolygon', coordinates: [[square(-122.7, 45.5, 0.1)], [square(-122.5, 45.4, 0.05)]] };
  const b = bboxOf(multi);
  assert.deepEqual(b.map((v) => Number(v.toFixed(6))), [-122.7, 45.4, -122.45, 45.6]);
  // Into an existing box: grown, never shrunk.
  const into = [-123, 45.55, -122.6, 45.56];
  bboxOf(multi, into);
  assert.deepEqual(into.map((v) => Number(v.toFixed(6))), [-123, 45.4, -122.45, 45.6]);
  assert.equal(Number(boxArea({ geometry: polygon(square(0, 0, 0.5)) }).toFixed(6)), 0.25);
});

test('geometry: point in polygon honours holes and every part of a MultiPolygon', () => {
  const ring = square(0, 0, 10);
  assert.equal(ringContains(ring, [5, 5]), true);
  assert.equal(ringContains(ring, [11, 5]), false);
  assert.equal(ringContains(ring, [-0.001, 5]), false);
  const holed = { properties: { name: 'holed' }, geometry: polygon(ring, square(4, 4, 2)) };
  const multi = { properties: { name: 'multi' }, geometry: { type: 'MultiPolygon', coordinates: [[square(20, 0, 1)], [square(30, 0, 1)]] } };
  const line = { properties: { name: 'line' }, geometry: { type: 'LineString', coordinates: [[0, 0], [50, 50]] } };
  const fc = { features: [line, holed, multi] };
  assert.equal(featureAt(fc, [1, 1]).properties.name, 'holed');
  assert.equal(featureAt(fc, [5, 5]), null, 'inside the hole');
  assert.equal(featureAt(fc, [30.5, 0.5]).properties.name, 'multi', 'the second part');
  assert.equal(featureAt(fc, [25, 0.5]), null);
  assert.equal(featureAt({}, [1, 1]), null);
});

test("geometry: a hexagon's centre, an area's label point", () => {
  // A regular hexagon around (2, 3): the mean of its corners, the closing corner counted once.
  const corners = [...Array(6).keys()].map((i) => [2 + Math.cos((i * Math.PI) / 3), 3 + Math.sin((i * Math.PI) / 3)]);
  const [x, y] = centreOf({ geometry: polygon([...corners, corners[0]]) });
  assert.ok(Math.abs(x - 2) < 1e-12 && Math.abs(y - 3) < 1e-12, `${x}, ${y}`);
  const area = { geometry: polygon(square(0, 0, 4)), properties: {} };
  assert.deepEqual(labelAt(area), [2, 2], 'no label point: the box centre');
  area.properties.label_point = [1, 3];
  assert.deepEqual(labelAt(area), [1, 3], "the service's label point");
  area.properties.label_point = [1];
  assert.deepEqual(labelAt(area), [2, 2], 'a malformed label point is not used');
});

test('geometry: the first view holds the zones and the busiest hexagons, not a far quiet one', () => {
  const zones = [{ geometry: polygon(square(-122.7, 45.5, 0.05)) }];
  const cells = [cell(-122.69, 45.51, 500), cell(-122.60, 45.52, 400), cell(-121.0, 44.0, 1), cell(-120.0, 44.0, 0)];
  const b = firstView(cells, zones).map((v) => Number(v.toFixed(6)));
  assert.deepEqual(b, [-122.7, 45.5, -122.59, 45.55]);
  // Every hexagon counts when the share asked for is all of them.
  assert.deepEqual(firstView(cells, zones, 1).map((v) => Number(v.toFixed(6))), [-122.7, 44, -120.99, 45.55]);
  // Nothing counted and no zones: every hexagon; nothing at all: no view.
  assert.deepEqual(firstView([cell(1, 2, 0)], []).map((v) => Number(v.toFixed(6))), [1, 2, 1.01, 2.01]);
  assert.equal(firstView([], []), null);
});

test('legend: count classes are geometric steps from 1 to the largest count', () => {
  assert.deepEqual(countBreaks([]), [1]);
  assert.deepEqual(countBreaks([{ properties: { count: 0 } }, { properties: { count: null } }]), [1]);
  assert.deepEqual(countBreaks([{ properties: { count: 100 } }, { properties: { count: 3 } }]), [1, 3, 6, 16, 40]);
  // Small counts: fewer classes, no two alike (3^(k/5) rounds to 1, 2, 2, 2).
  assert.deepEqual(countBreaks([{ properties: { count: 3 } }]), [1, 2]);
});

test('legend: a hexagon has the colour its legend entry shows', () => {
  const features = [10, 100, 0, null].map((n) => ({ properties: { count: n } }));
  const { colour, title, items } = layerScale('cells', features, 'arrest');
  assert.equal(title, 'Arrests per hexagon');
  assert.deepEqual(items.map(([, label]) => label), ['1 to 2', '3 to 5', '6 to 15', '16 to 39', '40 or more']);
  assert.deepEqual(items.map(([c]) => c), VIRIDIS);
  assert.equal(colour({ count: null }), SUPPRESSED);
  assert.equal(colour({ count: 0 }), '#ffffff');
  assert.equal(colour({ count: 1 }), VIRIDIS[0]);
  assert.equal(colour({ count: 2 }), VIRIDIS[0]);
  assert.equal(colour({ count: 3 }), VIRIDIS[1]);
  assert.equal(colour({ count: 40 }), VIRIDIS[4]);
  assert.equal(colour({ count: 1e6 }), VIRIDIS[4]);
  // One class: the brightest colour, "1 or more".
  const one = layerScale('cells', [{ properties: { count: 1 } }], undefined);
  assert.equal(one.title, 'Contacts per hexagon');
  assert.deepEqual(one.items, [[VIRIDIS[4], '1 or more']]);
  // Counts with thousands: the top class starts at 1e7^(4/5).
  assert.equal(layerScale('cells', [{ properties: { count: 1e7 } }]).items.at(-1)[1], '398,107 or more');
});

test('legend: hotspot classes and relations; unknown values are grey, never a class colour', () => {
  const hot = layerScale('hotspots', [], undefined);
  assert.equal(hot.items.length, 7);
  assert.equal(hot.colour({ Gi_Bin_FDR: 3 }), GI_COLOURS['3']);
  assert.equal(hot.colour({ Gi_Bin_FDR: -2 }), GI_COLOURS['-2']);
  assert.equal(hot.colour({ Gi_Bin_FDR: null }), SUPPRESSED);
  assert.equal(hot.colour({ Gi_Bin_FDR: 9 }), SUPPRESSED);
  const cov = layerScale('coverage', [], undefined);
  assert.deepEqual(cov.items.map(([, l]) => l), ['Inside a zone', 'On a zone boundary', 'Outside every zone']);
  assert.equal(cov.colour({ relation: 'inside' }), cov.items[0][0]);
  assert.equal(cov.colour({ relation: 'nowhere' }), SUPPRESSED);
});

test("legend: the HTML escapes every label and says how a planner's counts are perturbed", () => {
  const html = legendHtml('<b>title</b>', [['#123456', 'a < b']], null);
  assert.ok(html.includes('&lt;b&gt;title&lt;/b&gt;') && html.includes('a &lt; b') && !html.includes('<b>'));
  assert.ok(html.includes('background:#123456'));
  assert.ok(!html.includes('perturbed'));
  const planner = legendHtml('t', [], { zero_up_to: 10, max_noise: 2 });
  assert.ok(planner.includes('Counts are perturbed: 1 to 10 shown as 0, others within ±2 of the true count.'));
});

test('time: months summed over the zones, outside and no program, in order', () => {
  const months = timelineMonths({
    months: [
      { month: '2019-02', area: 'downtown', contacts: 3 },
      { month: '2019-01', area: 'outside', contacts: 5 },
      { month: '2019-02', area: 'lloyd', contacts: 4 },
      { month: '2019-02', area: 'no_program', contacts: 1 },
      { month: '2019-01', area: 'downtown', contacts: null },
    ],
  });
  assert.deepEqual(months, [
    { month: '2019-01', inside: 0, outside: 5, none: 0 },
    { month: '2019-02', inside: 7, outside: 0, none: 1 },
  ]);
});

test('time: the smallest fixed period holding a range, and the last day of a month', () => {
  assert.equal(periodFor('2019-06', '2019-06'), '2019-06');
  assert.equal(periodFor('2019-04', '2019-06'), '2019-Q2');
  assert.equal(periodFor('2019-03', '2019-04'), '2019');
  assert.equal(periodFor('2019-01', '2019-12'), '2019');
  assert.equal(periodFor('2018-12', '2019-01'), '', 'across years: all history');
  assert.equal(lastDay('2020-02'), '2020-02-29');
  assert.equal(lastDay('2019-02'), '2019-02-28');
  assert.equal(lastDay('2100-02'), '2100-02-28');
  assert.equal(lastDay('2019-12'), '2019-12-31');
  assert.equal(lastDay('2019-04'), '2019-04-30');
});

test("time: the months a view's dates or period cover, as indexes into the chart", () => {
  assert.deepEqual(viewMonths({}), [null, null]);
  assert.deepEqual(viewMonths({ from: '2019-02-15', to: '2019-05-01' }), ['2019-02', '2019-05']);
  assert.deepEqual(viewMonths({ period: '2019' }), ['2019-01', '2019-12']);
  assert.deepEqual(viewMonths({ period: '2019-Q4' }), ['2019-10', '2019-12']);
  assert.deepEqual(viewMonths({ period: '2019-07' }), ['2019-07', '2019-07']);
  const months = ['2018-11', '2018-12', '2019-01', '2019-03', '2019-04', '2019-05', '2019-10'];
  assert.equal(windowMonths({}, months), null, 'no dates: no window');
  assert.deepEqual(windowMonths({ period: '2019-Q1' }, months), [2, 3]);
  assert.deepEqual(windowMonths({ from: '2018-12-01' }, months), [1, 6], 'open end');
  assert.deepEqual(windowMonths({ to: '2019-02-28' }, months), [0, 2], 'open start');
  assert.deepEqual(windowMonths({ period: '2019-Q3' }, months), null, 'a period between months held');
  assert.equal(windowMonths({ period: '2020' }, months), null, 'after every month');
  assert.equal(windowMonths({ to: '2017-01-31' }, months), null, 'before every month');
});

test('url: a link sets only the known filters and the layer; a view makes the link back', () => {
  const v = viewFromSearch('?layer=hotspots&kind=arrest&res=8&token=secret&from=2019-01-01&x%22%5D=1');
  assert.deepEqual(v, { layer: 'hotspots', filters: { from: '2019-01-01', kind: 'arrest', res: '8' } });
  assert.deepEqual(viewFromSearch(''), { layer: null, filters: {} });
  // A hostile value is kept as text (the page compares it, never puts it in a selector).
  assert.equal(viewFromSearch('?layer=x%22%5D').layer, 'x"]');
  const link = searchOf({ layer: 'cells', period: '2019-Q2', kind: '', group: 'black' });
  assert.equal(link, '?layer=cells&period=2019-Q2&group=black', 'empty filters are left out');
  const back = viewFromSearch(link);
  assert.deepEqual(back, { layer: 'cells', filters: { period: '2019-Q2', group: 'black' } });
  assert.equal(searchOf({ layer: 'cells', from: '2019-01-01', to: '2019-12-31' }), '?layer=cells&from=2019-01-01&to=2019-12-31');
  assert.equal(searchOf({ kind: 'a b&c' }), '?kind=a+b%26c', 'values are encoded');
});

test("url: a figure route's query holds only what the route takes and the role may use", () => {
  const view = { layer: 'cells', from: '2019-01-01', to: '2019-12-31', kind: 'arrest', res: '8', group: 'black' };
  // A planner may not filter by group: it never reaches the query, whatever the form holds.
  const planner = ['period', 'from', 'to', 'kind', 'res'];
  assert.equal(figureQuery(view, planner), 'from=2019-01-01&to=2019-12-31&kind=arrest&res=8');
  assert.equal(figureQuery(view, FILTERS), 'from=2019-01-01&to=2019-12-31&kind=arrest&res=8&group=black');
  assert.equal(figureQuery(view, FILTERS, {}, ['kind', 'group']), 'kind=arrest&group=black');
  assert.equal(figureQuery(view, planner, { f: 'csv' }, ['period', 'from', 'to']), 'from=2019-01-01&to=2019-12-31&f=csv');
  assert.equal(figureQuery({ layer: 'cells' }, FILTERS), '');
});

test("url: a proposal's impact is asked over a planner's fixed period, or anyone else's dates", () => {
  const view = { period: '2019-Q2', from: '2019-01-01', to: '2019-06-30', kind: 'arrest', res: '9' };
  assert.equal(impactQuery(view, true), 'period=2019-Q2');
  assert.equal(impactQuery(view, false), 'from=2019-01-01&to=2019-06-30');
  assert.equal(impactQuery({ from: '2019-01-01' }, false), 'from=2019-01-01');
  assert.equal(impactQuery({ from: '2019-01-01' }, true), '', 'a planner never sends dates');
  assert.equal(impactQuery({}, false), '');
});

test('url: planners choose from every year back to 2011, each whole, by quarter and by month', () => {
  const years = periodChoices(2021);
  assert.deepEqual(years.map((y) => y.year), [2021, 2020, 2019, 2018, 2017, 2016, 2015, 2014, 2013, 2012, 2011]);
  const y2019 = years.find((y) => y.year === 2019).options;
  assert.equal(y2019.length, 1 + 4 + 12);
  assert.deepEqual(y2019.slice(0, 3), [['2019 (whole year)', '2019'], ['2019 Q1', '2019-Q1'], ['2019 Q2', '2019-Q2']]);
  assert.deepEqual(y2019.at(-1), ['December 2019', '2019-12']);
  assert.deepEqual(y2019[5], ['January 2019', '2019-01']);
  // Every value is a period the service reads, and the timeline reads it back to the same months.
  for (const { options } of years) {
    for (const [, value] of options) assert.match(value, /^\d{4}(-Q[1-4]|-\d{2})?$/);
  }
  assert.deepEqual(viewMonths({ period: y2019[2][1] }), ['2019-04', '2019-06']);
});

// The cells of an HTML table body, row by row (the panels' markup is simple: no nested tables).
const cellsOf = (html) => [...html.matchAll(/<tr>(.*?)<\/tr>/g)].map(([, row]) => [...row.matchAll(/<t[hd][^>]*>(.*?)<\/t[hd]>/g)].map(([, c]) => c));

test('panels: contacts by area, zones first, then inside, outside and citywide; withheld and rates', () => {
  const html = areaRows({
    totals: [
      { area: 'citywide', contacts: 12000, diversion_rate: 0.25, suppressed: false },
      { area: 'outside', contacts: 9000, diversion_rate: null, suppressed: false },
      { area: 'old-town', contacts: null, diversion_rate: null, suppressed: true },
      { area: 'inside', contacts: 3000, diversion_rate: 0.5, suppressed: false },
      { area: 'downtown', contacts: 2500, diversion_rate: 0.125, suppressed: false },
    ],
  });
  assert.deepEqual(cellsOf(html), [
    ['Downtown', '2,500', '12.5 %'],
    ['Old Town', 'withheld', '–'],
    ['Inside', '3,000', '50.0 %'],
    ['Outside', '9,000', '–'],
    ['Citywide', '12,000', '25.0 %'],
  ]);
});

test("panels: the equity table holds each group's citywide row, escaped", () => {
  const html = groupRows({
    rows: [
      { area: 'citywide', group: 'black', contacts: 120, referral_rate: 0.2, rri_referral: 1.5, diversion_rate: 0.1, rri_diversion: null, suppressed: false },
      { area: 'downtown', group: 'black', contacts: 60, referral_rate: 0.3, rri_referral: 2, diversion_rate: 0.1, rri_diversion: 1, suppressed: false },
      { area: 'citywide', group: '<script>', contacts: 5, referral_rate: null, rri_referral: null, diversion_rate: null, rri_diversion: null, suppressed: false },
    ],
  });
  assert.deepEqual(cellsOf(html), [
    ['Black', '120', '20.0 %', '1.50', '10.0 %', '–'],
    ['&lt;Script&gt;', '5', '–', '–', '–', '–'],
  ]);
  assert.ok(!html.includes('<script>'));
});

test("panels: a proposal's impact, an analyst's and a planner's answer alike", () => {
  const counts = (n) => ({ contacts: n });
  const analyst = impactRows({
    inside_current: counts(1000), inside_proposal: counts(1500), newly_inside: counts(600), newly_outside: counts(100),
    net: 500, gained: ['a', 'b', 'c'], lost: ['d'], area_gained_km2: 0.456, area_lost_km2: 0.1,
    capacity: { months_to_fill_proposal: 2.345, capacity: 300 },
  });
  assert.deepEqual(analyst, [
    ['Contacts inside the current areas', '1,000'],
    ["Contacts inside the proposal's areas", '1,500'],
    ['Newly inside', '600'],
    ['Newly outside', '100'],
    ['Net', '+500'],
    ['Hexagons gained / lost', '3 / 1'],
    ['Area gained / lost', '0.46 / 0.10 km²'],
    ['Months to fill the capacity', '2.3 (of 300)'],
  ]);
  // A planner's answer keeps its hexagons and areas under `cells`, and says its counts are perturbed.
  const planner = impactRows({
    inside_current: counts(10), inside_proposal: counts(8), newly_inside: counts(0), newly_outside: counts(2),
    net: -2, cells: { gained: [], lost: ['x', 'y'], area_gained_km2: 0, area_lost_km2: 0.2 }, perturbed: true,
  });
  assert.deepEqual(planner.slice(4), [
    ['Net', '-2'],
    ['Hexagons gained / lost', '0 / 2'],
    ['Area gained / lost', '0.00 / 0.20 km²'],
    ['Counts', 'sums of the perturbed hexagon counts the map shows'],
  ]);
  assert.equal(tableRows([['a<b', 'c&d']]), '<tr><th scope="row">a&lt;b</th><td>c&amp;d</td></tr>');
});

test('panels: a proposal in the list, and the comparison of proposals, escaped', () => {
  assert.equal(proposalLabel({ name: 'East <b>', author: 'plan', created_at: '2026-12-01T10:00:00Z' }), 'East <b> (plan, 2026-12-01)');
  assert.equal(proposalLabel({ name: 'West', author: null, created_at: '2026-12-02T00:00:00Z' }), 'West (this computer, 2026-12-02)');
  const { head, body } = compareTable({
    columns: ['East', '<i>West</i>'],
    rows: [
      { measure: 'newly_inside', values: [1234, 5] },
      { measure: 'months_to_fill', values: [2.345, null] },
    ],
  });
  assert.equal(head, '<tr><th scope="col">Measure</th><th scope="col">East</th><th scope="col">&lt;i&gt;West&lt;/i&gt;</th></tr>');
  assert.deepEqual(cellsOf(body), [['newly inside', '1,234', '5'], ['months to fill', '2.35', '–']]);
});

test('panels: the impact chart draws both lines to scale and marks each start', () => {
  assert.equal(impactChart([]), '');
  const svg = impactChart([
    { month: '2018-04', inside_current: 0, inside_proposal: 10, launches: [] },
    { month: '2018-05', inside_current: 5, inside_proposal: 20, launches: ['portland-lead-2018'] },
    { month: '2018-06', inside_current: 10, inside_proposal: 0 },
  ]);
  // x from 5 to 295, y from 115 (0) to 5 (the largest count, 20).
  assert.ok(svg.includes('class="current" fill="none" stroke-width="1.5" points="5.0,115.0 150.0,87.5 295.0,60.0"'), svg);
  assert.ok(svg.includes('class="proposal" fill="none" stroke-width="1.5" points="5.0,60.0 150.0,5.0 295.0,115.0"'), svg);
  assert.equal((svg.match(/<line /g) || []).length, 1);
  assert.ok(svg.includes('x1="150"') && svg.includes('<title>portland-lead-2018 starts</title>'));
  // One month: in the middle; all zeros: flat at the bottom, no division by zero.
  assert.ok(impactChart([{ inside_current: 0, inside_proposal: 0 }]).includes('points="150.0,115.0"'));
});

test("panels: a hexagon's popup names its area and zone, and gives no rate the data cannot have", () => {
  const p = { hex_id: '8928d542c17ffff', count: 12, arrest: 8, diversion_referral: 2, social_contact_referral: 2, offense_report: 0, relation: 'boundary', suppressed: false };
  const html = popupHtml(p, { layer: 'cells', where: 'Old Town', zoneName: 'Downtown' });
  assert.ok(html.startsWith('<strong>8928d542c17ffff</strong><table>'));
  const rows = cellsOf(html);
  assert.deepEqual(rows, [
    ['Area', 'Old Town'],
    ['All contacts', '12'],
    ['Arrests', '8'],
    ['Diversion referrals', '2'],
    ['Social contact referrals', '2'],
    ['Offense reports', '0'],
    ['Diversion rate', '20.0 %'],
    ['Zones', 'On the boundary of Downtown'],
  ]);
  // Without referral data, no rate; outside every zone, no zone name; a hotspot's class and z.
  const hot = cellsOf(popupHtml({ ...p, relation: 'outside', Gi_Bin_FDR: 2, GiZScore: 2.2345 }, { layer: 'hotspots', zoneName: 'Downtown', ratesKnown: false }));
  assert.deepEqual(hot.slice(0, 1), [['All contacts', '12']], 'no area row without an area');
  assert.deepEqual(hot.slice(-4), [['Diversion rate', '–'], ['Zones', 'Outside every zone'], ['Gi* class (FDR)', 'Hot spot, 95 %'], ['z', '2.23']]);
  // Counts withheld, and a hostile id, stay text.
  const withheldHtml = popupHtml({ hex_id: '<img src=x>', count: null, suppressed: true, relation: 'inside' }, { layer: 'cells', zoneName: 'Lloyd' });
  assert.ok(withheldHtml.startsWith('<strong>&lt;img src=x&gt;</strong>'));
  assert.deepEqual(cellsOf(withheldHtml).slice(0, 2), [['All contacts', 'withheld'], ['Arrests', 'withheld']]);
  assert.deepEqual(cellsOf(withheldHtml).at(-1), ['Zones', 'Inside Lloyd']);
});

test('time: the chart draws a stacked bar a month, zone-set starts, years and the brush', () => {
  const months = [
    { month: '2018-11', inside: 3, outside: 1, none: 0 },
    { month: '2018-12', inside: 0, outside: 0, none: 0 },
    { month: '2019-01', inside: 6, outside: 2, none: 2 },
  ];
  const sets = [
    { name: 'portland-2019', title: 'Portland <2019>', effective_from: '2019-01-15' },
    { name: 'before', effective_from: '2010-01-01' },
    { name: 'open' },
  ];
  const svg = timelineSvg(months, sets, [1, 2]);
  assert.equal((svg.match(/<g class="month"/g) || []).length, 3, 'one group a month');
  assert.match(svg, /data-month="2019-01" data-inside="6" data-outside="2" data-none="2"><title>2019-01: 6 inside, 2 outside, 2 with no program in force<\/title>/);
  assert.match(svg, /<title>2018-12: 0 inside, 0 outside<\/title>/, 'no "no program" clause when there is none');
  // The tallest month (10) fills the bars' height; an empty month draws no bar.
  const heights = [...svg.matchAll(/<rect class="(inside|outside|none)"[^>]* height="([\d.]+)"/g)].map((m) => Number(m[2]));
  assert.equal(heights.length, 5, 'bars only where there are contacts');
  assert.ok(Math.abs(heights.slice(2).reduce((a, b) => a + b, 0) - (CHART.bottom - CHART.top)) < 0.02, `${heights}`);
  // Only the set that starts within the months is marked, its title escaped.
  assert.equal((svg.match(/<line class="start"/g) || []).length, 1);
  assert.match(svg, /data-starts="portland-2019"><title>Portland &lt;2019&gt; starts 2019-01-15<\/title>/);
  assert.deepEqual([...svg.matchAll(/<text [^>]*>(\d{4})<\/text>/g)].map((m) => m[1]), ['2018', '2019'], 'the first month and each January');
  assert.match(svg, /<rect class="brush" x="100.00" y="0" width="200.00"/, 'months 1 to 2 of 3: two thirds from a third');
  assert.ok(!timelineSvg(months).includes('class="brush"'), 'no brush without a range');
});
