#!/usr/bin/env node
// Baseline for tools/bench/bench_http.sh: a minimal Node `http` server (no framework) answering
//   GET /v1/eligibility?lon=LON&lat=LAT  ->  {"eligible": bool, "zone": {"id", "name"} | null}
// with @turf/boolean-point-in-polygon behind a per-zone bounding-box prefilter, over the same zones as
// leadmap's default set (geodata/portland-2018.geojson). Zones are tried in id order (byte-wise) and the
// first that contains the point wins; a point on an edge counts inside (turf's ignoreBoundary: false),
// as in leadmap.
//
// Usage: node server.js PORT [ZONES.geojson]   (listens on 127.0.0.1 only; prints "listening on ...")
'use strict';

const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const { booleanPointInPolygon } = require('@turf/boolean-point-in-polygon');

const port = Number(process.argv[2] || 18082);
const zonesPath = process.argv[3] || path.join(__dirname, '..', '..', 'geodata', 'portland-2018.geojson');
if (!Number.isInteger(port) || port <= 0 || port > 65535) {
  process.stderr.write(`usage: node server.js PORT [ZONES.geojson] (got port ${process.argv[2]})\n`);
  process.exit(2);
}

function bbox(geometry) {
  const b = [Infinity, Infinity, -Infinity, -Infinity];
  const polys = geometry.type === 'Polygon' ? [geometry.coordinates] : geometry.coordinates;
  for (const poly of polys) {
    for (const [x, y] of poly[0]) {
      if (x < b[0]) b[0] = x;
      if (y < b[1]) b[1] = y;
      if (x > b[2]) b[2] = x;
      if (y > b[3]) b[3] = y;
    }
  }
  return b;
}

const collection = JSON.parse(fs.readFileSync(zonesPath, 'utf8'));
const zones = collection.features
  .map((f) => {
    const id = String(f.id ?? f.properties.id);
    return { id, name: String(f.properties.name ?? id), geometry: f.geometry, bbox: bbox(f.geometry) };
  })
  .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));

function locate(lon, lat) {
  const pt = [lon, lat];
  for (const z of zones) {
    const b = z.bbox;
    if (lon < b[0] || lon > b[2] || lat < b[1] || lat > b[3]) continue;
    if (booleanPointInPolygon(pt, z.geometry, { ignoreBoundary: false })) return z;
  }
  return null;
}

function send(res, status, body, type) {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function problem(res, status, detail) {
  send(res, status, JSON.stringify({ status, detail }), 'application/problem+json');
}

const server = http.createServer((req, res) => {
  const q = req.url.indexOf('?');
  const route = q < 0 ? req.url : req.url.slice(0, q);
  if (route !== '/v1/eligibility') return problem(res, 404, `no route ${route}`);
  if (req.method !== 'GET') return problem(res, 405, `${req.method} is not allowed`);
  const params = new URLSearchParams(q < 0 ? '' : req.url.slice(q + 1));
  const lon = Number(params.get('lon') ?? NaN);
  const lat = Number(params.get('lat') ?? NaN);
  if (!(lon >= -180 && lon <= 180 && lat >= -90 && lat <= 90)) {
    return problem(res, 400, 'lon and lat must be WGS84 degrees (lon -180..180, lat -90..90)');
  }
  const zone = locate(lon, lat);
  const body = { eligible: zone !== null, zone: zone && { id: zone.id, name: zone.name } };
  return send(res, 200, JSON.stringify(body), 'application/json');
});
server.keepAliveTimeout = 60_000;

server.listen(port, '127.0.0.1', () => {
  process.stdout.write(`listening on http://127.0.0.1:${port} (${zones.length} zones from ${zonesPath})\n`);
});
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => server.close(() => process.exit(0)));
