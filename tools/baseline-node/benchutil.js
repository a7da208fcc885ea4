#!/usr/bin/env node
// Helpers for tools/bench/bench_http.sh (Node's standard library only; no npm packages needed):
//
//   benchutil.js points --n N --seed S [--mix outside|inside] [--zones Z] (--lines FILE | --json FILE)
//       Seeded points in and around the zones (its own PRNG, mulberry32), one of two mixes:
//         outside (the default; mostly outside the zones): 80 % uniform in the zones' bounding box widened
//           by 25 % of its width/height on each side, 20 % within ±50 m (perpendicular) of a random zone
//           edge, edges weighted by length, shuffled together (the mix of tools/gen/gen_points.py, but not
//           the same points);
//         inside (all inside the zones' bounding boxes): each point uniform in the bounding box of one
//           zone (feature), the zone picked with probability proportional to its bounding box's area
//           (m²), so most points are in a zone and the rest close to one.
//       --lines writes "lon lat" per line (shortest round-trip decimals) for tools/bench/bench_http.lua;
//       --json writes a JSON array of [lon, lat] pairs for POST /v1/eligibility.
//   benchutil.js check --n N --seed S [--mix outside|inside] [--query '&at=DATE'] URL_A URL_B
//       GETs URL?lon=..&lat=.. on both servers for the first N points of that mix and compares
//       `eligible` and `zone.id`; prints the counts per zone; exit 3 if any answer differs.
//   benchutil.js coldstart --bin LEADMAP --port P [--runs 5] [--idle-ms 1000]
//       Spawns `LEADMAP serve --addr 127.0.0.1:P` RUNS times (LEADMAP_LOG=info, the default) and times
//       exec to the first 200 from /healthz (polled every ~1 ms); then, idle for IDLE_MS, reads VmRSS
//       from /proc/PID/status. Prints one JSON object.
//   benchutil.js report DIR OUT.json
//       Reads what bench_http.sh left in DIR, writes OUT.json and prints the table.
'use strict';

const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const { spawn } = require('node:child_process');

const REPO = path.join(__dirname, '..', '..');

function die(msg, code = 2) {
  process.stderr.write(`benchutil: ${msg}\n`);
  process.exit(code);
}

function opts(argv) {
  const o = { _: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a.startsWith('--')) {
      if (i + 1 >= argv.length) die(`${a} needs a value`);
      o[a.slice(2)] = argv[++i];
    } else o._.push(a);
  }
  return o;
}

// ---- seeded points -------------------------------------------------------------------------------

function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function rings(geometry) {
  const polys = geometry.type === 'Polygon' ? [geometry.coordinates] : geometry.coordinates;
  return polys.flat();
}

const MIXES = ['outside', 'inside'];
const MIX_DESCRIPTION = {
  outside: '80 % uniform in the zones\' bounding box widened by 25 % each side, 20 % within 50 m of an edge',
  inside: 'uniform in one zone\'s bounding box, the zone picked in proportion to the box\'s area',
};

// The first row whose cumulative weight (its element 4) reaches `target`: a draw weighted by the rows'
// own weights, by binary search.
function pickCumulative(rows, target) {
  let lo = 0;
  let hi = rows.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (rows[mid][4] < target) lo = mid + 1;
    else hi = mid;
  }
  return rows[lo];
}

function points(n, seed, zonesPath, mix = 'outside') {
  const fc = JSON.parse(fs.readFileSync(zonesPath, 'utf8'));
  if (mix === 'inside') return pointsInside(n, seed, fc);
  if (mix !== 'outside') die(`unknown mix ${mix} (${MIXES.join(' or ')})`);
  const rnd = mulberry32(seed);
  let [minx, miny, maxx, maxy] = [Infinity, Infinity, -Infinity, -Infinity];
  const edges = []; // [x0, y0, x1, y1, cumulative length m]
  let total = 0;
  for (const f of fc.features) {
    for (const ring of rings(f.geometry)) {
      for (let i = 0; i + 1 < ring.length; i++) {
        const [x0, y0] = ring[i];
        const [x1, y1] = ring[i + 1];
        minx = Math.min(minx, x0);
        miny = Math.min(miny, y0);
        maxx = Math.max(maxx, x0);
        maxy = Math.max(maxy, y0);
        const ky = 111_320;
        const kx = ky * Math.cos((((y0 + y1) / 2) * Math.PI) / 180);
        const len = Math.hypot((x1 - x0) * kx, (y1 - y0) * ky);
        if (len > 0) edges.push([x0, y0, x1, y1, (total += len)]);
      }
    }
  }
  const w = maxx - minx;
  const h = maxy - miny;
  const nNear = Math.round(n * 0.2);
  const out = [];
  for (let i = 0; i < n - nNear; i++) {
    out.push([minx - 0.25 * w + rnd() * 1.5 * w, miny - 0.25 * h + rnd() * 1.5 * h]);
  }
  for (let i = 0; i < nNear; i++) {
    const [x0, y0, x1, y1] = pickCumulative(edges, rnd() * total);
    const t = rnd();
    const x = x0 + t * (x1 - x0);
    const y = y0 + t * (y1 - y0);
    const ky = 111_320;
    const kx = ky * Math.cos((y * Math.PI) / 180);
    const dx = (x1 - x0) * kx;
    const dy = (y1 - y0) * ky;
    const len = Math.hypot(dx, dy);
    const off = (rnd() * 2 - 1) * 50; // metres, perpendicular
    out.push([x + ((-dy / len) * off) / kx, y + ((dx / len) * off) / ky]);
  }
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

// The `inside` mix: uniform in one zone's bounding box, the zone picked in proportion to the box's area.
function pointsInside(n, seed, fc) {
  const rnd = mulberry32(seed);
  const boxes = []; // [minx, miny, maxx, maxy, cumulative area m²]
  let total = 0;
  for (const f of fc.features) {
    let [minx, miny, maxx, maxy] = [Infinity, Infinity, -Infinity, -Infinity];
    for (const ring of rings(f.geometry)) {
      for (const [x, y] of ring) {
        minx = Math.min(minx, x);
        miny = Math.min(miny, y);
        maxx = Math.max(maxx, x);
        maxy = Math.max(maxy, y);
      }
    }
    const ky = 111_320;
    const kx = ky * Math.cos((((miny + maxy) / 2) * Math.PI) / 180);
    const area = (maxx - minx) * kx * (maxy - miny) * ky;
    if (area > 0) boxes.push([minx, miny, maxx, maxy, (total += area)]);
  }
  if (!boxes.length) die('no zone with a bounding box of positive area');
  const out = [];
  for (let i = 0; i < n; i++) {
    const [minx, miny, maxx, maxy] = pickCumulative(boxes, rnd() * total);
    out.push([minx + rnd() * (maxx - minx), miny + rnd() * (maxy - miny)]);
  }
  return out;
}

function pointsArgs(o) {
  const n = Number(o.n ?? 10000);
  const seed = Number(o.seed ?? 42);
  if (!Number.isInteger(n) || n <= 0 || !Number.isInteger(seed)) die('--n and --seed must be integers');
  const mix = o.mix ?? 'outside';
  if (!MIXES.includes(mix)) die(`--mix must be ${MIXES.join(' or ')} (got ${mix})`);
  return points(n, seed, o.zones ?? path.join(REPO, 'geodata', 'portland-2018.geojson'), mix);
}

function cmdPoints(o) {
  const pts = pointsArgs(o);
  if (o.lines) fs.writeFileSync(o.lines, pts.map(([x, y]) => `${x} ${y}\n`).join(''));
  if (o.json) fs.writeFileSync(o.json, JSON.stringify(pts));
  if (!o.lines && !o.json) die('give --lines FILE and/or --json FILE');
}

// ---- answer check --------------------------------------------------------------------------------

function getJson(url, timeoutMs = 5000) {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (body += c));
      res.on('end', () => {
        if (res.statusCode !== 200) return reject(new Error(`${url}: HTTP ${res.statusCode}: ${body}`));
        try {
          resolve(JSON.parse(body));
        } catch (e) {
          reject(new Error(`${url}: ${e.message}`));
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error(`${url}: timed out`)));
    req.on('error', reject);
  });
}

async function cmdCheck(o) {
  const [a, b] = o._;
  if (!a || !b) die('check needs URL_A URL_B');
  const pts = pointsArgs(o);
  const counts = {};
  let diffs = 0;
  for (const [x, y] of pts) {
    const q = `?lon=${x}&lat=${y}${o.query ?? ''}`;
    const [ra, rb] = await Promise.all([getJson(a + q), getJson(b + q)]);
    const za = ra.eligible ? ra.zone.id : 'outside';
    const zb = rb.eligible ? rb.zone.id : 'outside';
    counts[za] = (counts[za] ?? 0) + 1;
    if (za !== zb || ra.eligible !== rb.eligible) {
      if (diffs < 10) process.stderr.write(`differ at lon=${x} lat=${y}: ${za} vs ${zb}\n`);
      diffs++;
    }
  }
  process.stdout.write(`${JSON.stringify({ mix: o.mix ?? 'outside', points: pts.length, differ: diffs, counts })}\n`);
  if (diffs) process.exit(3);
}

// ---- cold start ----------------------------------------------------------------------------------

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function healthz(port) {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/healthz', agent: false, timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(0));
  });
}

function status(pid) {
  const s = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k) => Number((s.match(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm')) ?? [])[1]);
  return { rss_mb: kb('VmRSS') / 1024, hwm_mb: kb('VmHWM') / 1024 };
}

function stop(child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const kill = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

async function coldOnce(bin, port, idleMs) {
  if ((await healthz(port)) !== 0) die(`port ${port} is already answering; pick another`);
  let log = '';
  const t0 = process.hrtime.bigint();
  const child = spawn(bin, ['serve', '--addr', `127.0.0.1:${port}`], {
    env: { ...process.env, LEADMAP_LOG: 'info', NO_COLOR: '1' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  child.stderr.on('data', (c) => (log += c));
  const deadline = Date.now() + 10_000;
  let ms = null;
  while (Date.now() < deadline && child.exitCode === null) {
    if ((await healthz(port)) === 200) {
      ms = Number(process.hrtime.bigint() - t0) / 1e6;
      break;
    }
    await sleep(1);
  }
  if (ms === null) {
    await stop(child);
    die(`leadmap serve did not answer /healthz within 10 s (exit ${child.exitCode}); log:\n${log}`, 1);
  }
  await sleep(idleMs);
  const mem = status(child.pid);
  await stop(child);
  // eslint-disable-next-line no-control-regex
  const plain = log.replace(/\x1b\[[0-9;]*m/g, '');
  const m = plain.match(/startup_ms=(\d+)/);
  return { ms, log_startup_ms: m ? Number(m[1]) : null, ...mem };
}

const median = (xs) => {
  const s = xs.filter((x) => x !== null && Number.isFinite(x)).sort((a, b) => a - b);
  if (!s.length) return null;
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function cmdColdstart(o) {
  const bin = o.bin ?? die('--bin is required');
  const port = Number(o.port ?? die('--port is required'));
  const runs = Number(o.runs ?? 5);
  const idleMs = Number(o['idle-ms'] ?? 1000);
  const out = [];
  for (let i = 0; i < runs; i++) out.push(await coldOnce(bin, port, idleMs));
  const res = {
    runs: out,
    median_ms: median(out.map((r) => r.ms)),
    median_log_startup_ms: median(out.map((r) => r.log_startup_ms)),
    median_idle_rss_mb: median(out.map((r) => r.rss_mb)),
    idle_ms: idleMs,
  };
  process.stdout.write(`${JSON.stringify(res)}\n`);
}

// ---- report --------------------------------------------------------------------------------------

function wrkResult(file) {
  const text = fs.readFileSync(file, 'utf8');
  const line = text.split('\n').find((l) => l.startsWith('WRKJSON '));
  if (!line) die(`${file}: no WRKJSON line (did wrk fail?)`, 1);
  const r = JSON.parse(line.slice(8));
  const errors = Object.values(r.errors).reduce((a, b) => a + b, 0);
  const cpuLine = text.split('\n').find((l) => l.startsWith('CPUJSON '));
  const c = cpuLine ? JSON.parse(cpuLine.slice(8)) : null;
  const cpu = c && {
    server_us_per_req: (c.server_cpu_s / r.requests) * 1e6,
    wrk_us_per_req: (c.wrk_cpu_s / r.requests) * 1e6,
    other_load_pct: (c.other_cpu_s / (c.elapsed_s * c.cpus)) * 100,
    ...c,
  };
  return {
    rps: r.requests / (r.duration_us / 1e6),
    requests: r.requests,
    p50_ms: r.latency_us.p50 / 1000,
    p90_ms: r.latency_us.p90 / 1000,
    p99_ms: r.latency_us.p99 / 1000,
    max_ms: r.latency_us.max / 1000,
    errors,
    error_kinds: r.errors,
    server_cpu_us_per_req: cpu ? cpu.server_us_per_req : null,
    wrk_cpu_us_per_req: cpu ? cpu.wrk_us_per_req : null,
    other_load_pct: cpu ? cpu.other_load_pct : null,
    cpu,
  };
}

function cmdReport(o) {
  const [dir, outFile] = o._;
  if (!dir || !outFile) die('report needs DIR OUT.json');
  const meta = JSON.parse(fs.readFileSync(path.join(dir, 'meta.json'), 'utf8'));
  const names = meta.servers; // e.g. ["leadmap", "ceiling", "node", "leadmap_info"]
  const mixes = meta.mixes ?? ['outside'];
  const perMix = names.filter((n) => n !== 'ceiling'); // run once per mix; the ceiling once per round
  // rows[r][mix][name]; the ceiling's one run of round r is in every mix's row of that round.
  const rows = [];
  for (let r = 1; r <= meta.rounds; r++) {
    const ceiling = wrkResult(path.join(dir, `wrk-ceiling-r${r}.txt`));
    const row = {};
    for (const m of mixes) {
      row[m] = { ceiling };
      for (const n of perMix) row[m][n] = wrkResult(path.join(dir, `wrk-${n}-${m}-r${r}.txt`));
    }
    rows.push(row);
  }
  const aggregate = (results) => {
    const keys = ['rps', 'p50_ms', 'p90_ms', 'p99_ms', 'max_ms', 'server_cpu_us_per_req', 'wrk_cpu_us_per_req'];
    const a = Object.fromEntries(keys.map((k) => [k, median(results.map((x) => x[k]))]));
    a.errors = results.reduce((s, x) => s + x.errors, 0);
    a.max_other_load_pct = Math.max(...results.map((x) => x.other_load_pct ?? 0));
    return a;
  };
  const ceiling = aggregate(rows.map((row) => row[mixes[0]].ceiling));
  const hasInfo = perMix.includes('leadmap_info');
  const byMix = {};
  for (const m of mixes) {
    const agg = Object.fromEntries(perMix.map((n) => [n, aggregate(rows.map((row) => row[m][n]))]));
    // Ratios are medians of the same-round ratios.
    const ratio = (a, b) => median(rows.map((row) => row[m][a].rps / row[m][b].rps));
    const ratios = {
      leadmap_info_over_ceiling: hasInfo ? ratio('leadmap_info', 'ceiling') : null,
      leadmap_warn_over_ceiling: ratio('leadmap', 'ceiling'),
      leadmap_info_over_node: hasInfo ? ratio('leadmap_info', 'node') : null,
      leadmap_warn_over_node: ratio('leadmap', 'node'),
      leadmap_info_over_warn: hasInfo ? ratio('leadmap_info', 'leadmap') : null,
    };
    const check = meta.checks?.[m] ?? null;
    const inZone = check ? ((check.points - (check.counts.outside ?? 0)) / check.points) * 100 : null;
    const targets = [];
    for (const [n, v] of hasInfo ? [['leadmap_info', 'info'], ['leadmap', 'warn']] : [['leadmap', 'warn']]) {
      targets.push(
        [`${m}: leadmap ${v} rps >= 90% of ceiling`, ratios[`leadmap_${v}_over_ceiling`] * 100, '>=', 90, '%', n],
        [`${m}: leadmap ${v} p99 < 5 ms at ${meta.settings.connections} conns`, agg[n].p99_ms, '<', 5, 'ms', n],
        [`${m}: leadmap ${v} rps >= 1.5x node`, ratios[`leadmap_${v}_over_node`], '>=', 1.5, 'x', n],
      );
    }
    byMix[m] = {
      points: MIX_DESCRIPTION[m],
      check,
      in_zone_pct: inZone,
      get_eligibility: agg,
      ratios,
      rounds: rows.map((row) => Object.fromEntries(perMix.map((n) => [n, row[m][n]]))),
      targets: targets.map(([what, value, op, target, unit, server]) => ({
        what,
        mix: m,
        server,
        value,
        target,
        unit,
        met: op === '>=' ? value >= target : value < target,
      })),
    };
  }

  // Batch: curl timings (seconds) and the /metrics deltas.
  const batchLines = fs.readFileSync(path.join(dir, 'batch-curl.txt'), 'utf8').trim().split('\n');
  // curl 7.x stamps time_starttransfer when a POST body starts to go out, not at the first response
  // byte, so it is reported but not used; time_total includes sending and receiving the bodies.
  const ttfb = [];
  const totals = [];
  for (const l of batchLines) {
    const [code, st, tt] = l.trim().split(/\s+/);
    if (code !== '200') die(`batch POST answered HTTP ${code}`, 1);
    ttfb.push(Number(st) * 1000);
    totals.push(Number(tt) * 1000);
  }
  const m = JSON.parse(fs.readFileSync(path.join(dir, 'batch-metrics.json'), 'utf8'));
  const batch = {
    points: meta.batch_points,
    mix: 'outside',
    posts: batchLines.length,
    server_mean_ms: ((m.sum_after - m.sum_before) / (m.count_after - m.count_before)) * 1000,
    metrics_count_delta: m.count_after - m.count_before,
    server_cpu_ms_per_post: (m.server_cpu_s / batchLines.length) * 1000,
    curl_ttfb_median_ms: median(ttfb),
    curl_ttfb_min_ms: Math.min(...ttfb),
    curl_total_median_ms: median(totals),
    curl_total_min_ms: Math.min(...totals),
    curl_version: meta.versions.curl,
    request_bytes: meta.batch_request_bytes,
    response_bytes: meta.batch_response_bytes,
  };
  const cold = JSON.parse(fs.readFileSync(path.join(dir, 'coldstart.json'), 'utf8'));
  const idle = cold.median_idle_rss_mb;
  const common = [
    ['batch 10k server time < 5 ms', batch.server_mean_ms, '<', 5, 'ms'],
    ['cold start < 200 ms (median)', cold.median_ms, '<', 200, 'ms'],
    ['idle RSS < 50 MB (median)', idle, '<', 50, 'MB'],
  ].map(([what, value, op, target, unit]) => ({
    what,
    value,
    target,
    unit,
    met: op === '>=' ? value >= target : value < target,
  }));
  const targets = [...mixes.flatMap((mx) => byMix[mx].targets), ...common];
  // Runs where other processes took over 5 % of the machine: "ceiling", "leadmap:inside", ...
  const unreliable = [
    ...(ceiling.max_other_load_pct > 5 ? ['ceiling'] : []),
    ...mixes.flatMap((mx) =>
      perMix.filter((n) => byMix[mx].get_eligibility[n].max_other_load_pct > 5).map((n) => `${n}:${mx}`),
    ),
  ];
  const res = {
    when: meta.when,
    busy_before_pct: meta.busy_before_pct,
    commit: meta.commit,
    machine: meta.machine,
    settings: meta.settings,
    versions: meta.versions,
    mix_names: mixes,
    ceiling: { ...ceiling, rounds: rows.map((row) => row[mixes[0]].ceiling) },
    mixes: byMix,
  };
  // The keys of the single-mix reports, for the `outside` mix when it was measured.
  if (byMix.outside) {
    const bo = byMix.outside;
    res.check = bo.check;
    res.get_eligibility = { ...bo.get_eligibility, ceiling };
    res.ratios = {
      leadmap_over_node: bo.ratios.leadmap_warn_over_node,
      leadmap_over_ceiling: bo.ratios.leadmap_warn_over_ceiling,
      ...(hasInfo ? { leadmap_info_over_leadmap: bo.ratios.leadmap_info_over_warn } : {}),
    };
    res.rounds = rows.map((row) => row.outside);
  }
  Object.assign(res, { batch, cold_start: cold, memory: meta.memory, targets, unreliable_runs: unreliable });
  fs.mkdirSync(path.dirname(outFile), { recursive: true });
  fs.writeFileSync(outFile, `${JSON.stringify(res, null, 2)}\n`);

  const f = (x, d = 2) => (x === null || x === undefined || Number.isNaN(x) ? '-' : Number(x).toFixed(d));
  const s = meta.settings;
  const p = (l) => process.stdout.write(`${l}\n`);
  p('');
  p(`GET load: wrk -t${s.threads} -c${s.connections} -d${s.duration_s}s (after ${s.warmup_s}s warm-up), ` +
    `${s.points} seeded points cycled, ${meta.rounds} round(s), medians; loopback, ${meta.machine.cpus} CPUs shared with wrk`);
  p('point mixes:');
  for (const mx of mixes) {
    p(`  ${mx.padEnd(7)} ${MIX_DESCRIPTION[mx]}; ${f(byMix[mx].in_zone_pct, 0)} % of the checked points are in a zone`);
  }
  p('');
  p('| mix     | server                                         |    req/s | p50 ms | p90 ms | p99 ms | max ms | errors | server CPU µs/req | wrk CPU µs/req | other load |');
  p('|---------|------------------------------------------------|---------:|-------:|-------:|-------:|-------:|-------:|------------------:|---------------:|-----------:|');
  const label = {
    leadmap: 'leadmap GET /v1/eligibility (LEADMAP_LOG=warn)',
    ceiling: 'ceiling GET /ceiling (bare axum)',
    node: 'node + turf GET /v1/eligibility',
    leadmap_info: 'leadmap, default info logging',
  };
  const line = (mx, n, a) =>
    p(`| ${mx.padEnd(7)} | ${(label[n] ?? n).padEnd(46)} | ${f(a.rps, 0).padStart(8)} | ${f(a.p50_ms).padStart(6)} | ` +
      `${f(a.p90_ms).padStart(6)} | ${f(a.p99_ms).padStart(6)} | ${f(a.max_ms).padStart(6)} | ${String(a.errors).padStart(6)} | ` +
      `${f(a.server_cpu_us_per_req, 1).padStart(17)} | ${f(a.wrk_cpu_us_per_req, 1).padStart(14)} | ` +
      `${(f(a.max_other_load_pct, 0) + ' %').padStart(10)} |`);
  line('-', 'ceiling', ceiling);
  const order = ['leadmap', 'leadmap_info', 'node'].filter((n) => perMix.includes(n));
  for (const mx of mixes) for (const n of order) line(mx, n, byMix[mx].get_eligibility[n]);
  if (unreliable.length) {
    p('');
    p(`WARNING: other processes used more than 5 % of the machine during the ${unreliable.join(', ')} run(s) ` +
      '(column "other load"): those figures are unreliable; rerun on a quiet machine.');
  }
  p('');
  p('leadmap req/s as a share of the ceiling and as a multiple of node (same-round ratios, medians);');
  p('info = default info logging, warn = LEADMAP_LOG=warn; targets: >= 90 % of ceiling, >= 1.5x node, p99 < 5 ms');
  p('');
  p('| mix     | info / ceiling | warn / ceiling | info / node | warn / node | info p99 ms | warn p99 ms |');
  p('|---------|---------------:|---------------:|------------:|------------:|------------:|------------:|');
  for (const mx of mixes) {
    const r = byMix[mx].ratios;
    const g = byMix[mx].get_eligibility;
    const pct = (x) => (x === null ? '-' : `${f(x * 100, 1)} %`);
    const times = (x) => (x === null ? '-' : `${f(x)}x`);
    p(`| ${mx.padEnd(7)} | ${pct(r.leadmap_info_over_ceiling).padStart(14)} | ${pct(r.leadmap_warn_over_ceiling).padStart(14)} | ` +
      `${times(r.leadmap_info_over_node).padStart(11)} | ${times(r.leadmap_warn_over_node).padStart(11)} | ` +
      `${(hasInfo ? f(g.leadmap_info.p99_ms) : '-').padStart(11)} | ${f(g.leadmap.p99_ms).padStart(11)} |`);
  }
  p('');
  p(`batch POST /v1/eligibility, ${batch.points} points (outside mix) x ${batch.posts}: server mean ${f(batch.server_mean_ms)} ms ` +
    `(/metrics sum/count), ` +
    `server CPU ${f(batch.server_cpu_ms_per_post, 1)} ms a post; curl time_total median ${f(batch.curl_total_median_ms)} ms (min ${f(batch.curl_total_min_ms)}; ` +
    `${(batch.request_bytes / 1e6).toFixed(2)} MB up, ${(batch.response_bytes / 1e6).toFixed(2)} MB down); ` +
    `curl time_starttransfer median ${f(batch.curl_ttfb_median_ms)} ms (curl 7.x: upload start, not server time)`);
  p(`cold start (exec -> first 200 /healthz), ${cold.runs.length} runs: median ${f(cold.median_ms, 1)} ms ` +
    `[${cold.runs.map((r) => f(r.ms, 1)).join(', ')}]; startup_ms in the log: ${f(cold.median_log_startup_ms, 0)}`);
  p(`idle RSS ${cold.idle_ms} ms after start: median ${f(idle, 1)} MB; ` +
    `after the GET load: RSS ${f(meta.memory.after_load_rss_mb, 1)} MB, peak ${f(meta.memory.after_load_hwm_mb, 1)} MB`);
  p('');
  for (const t of targets) {
    // A mix's target rests on the ceiling's, that leadmap's and node's runs; the others on any run.
    const relevant = t.mix ? ['ceiling', `${t.server}:${t.mix}`, `node:${t.mix}`] : unreliable;
    const bad = unreliable.filter((u) => relevant.includes(u));
    const noisy = bad.length ? `   (unreliable: other load during ${bad.join(', ')})` : '';
    p(`${t.met ? 'MET   ' : 'MISSED'} ${t.what.padEnd(50)} ${f(t.value)} ${t.unit}${noisy}`);
  }
  if (meta.busy_before_pct > 10) {
    p('');
    p(`WARNING: the machine was ${f(meta.busy_before_pct, 0)} % busy before the run started.`);
  }
  p('');
  p(`summary: ${outFile}`);
}

// ---- main ----------------------------------------------------------------------------------------

const [cmd, ...rest] = process.argv.slice(2);
const o = opts(rest);
const run = { points: cmdPoints, check: cmdCheck, coldstart: cmdColdstart, report: cmdReport }[cmd];
if (!run) die('usage: benchutil.js points|check|coldstart|report ... (see the comment at the top)');
Promise.resolve(run(o)).catch((e) => die(e.stack ?? String(e), 1));
