// Small PMTiles v3 archives for the browser tests, written here (no download): raster PNG tiles, one
// solid colour per zoom, every tile of a zoom sharing its image (one directory entry with a run
// length); and a vector archive in the Protomaps schema with one named place. The format: https://github.com/protomaps/PMTiles/blob/main/spec/v3/spec.md
import zlib from 'node:zlib';

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(buf) {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type, data) {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
}

/// A `size`×`size` PNG of one RGB colour.
export function solidPng([r, g, b], size = 256) {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(size, 0);
  ihdr.writeUInt32BE(size, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  const row = Buffer.alloc(1 + 3 * size);
  for (let x = 0; x < size; x++) row.set([r, g, b], 1 + 3 * x);
  const raw = Buffer.concat(Array.from({ length: size }, () => row));
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr), chunk('IDAT', zlib.deflateSync(raw)), chunk('IEND', Buffer.alloc(0)),
  ]);
}

function varints(values) {
  const out = [];
  for (let v of values) {
    while (v >= 0x80) { out.push((v & 0x7f) | 0x80); v = Math.floor(v / 128); }
    out.push(v);
  }
  return Buffer.from(out);
}

/// A raster archive: `colours[z]` is zoom z's colour (zooms 0 to colours.length - 1); `bounds`
/// [west, south, east, north] and `center` [lon, lat, zoom] in degrees; `attribution` in the metadata.
export function rasterArchive(colours, { bounds = [-180, -85, 180, 85], center = [0, 0, 0], attribution } = {}) {
  // One entry per zoom: its first tile id ((4^z - 1) / 3) and all 4^z tiles of the zoom.
  return writeArchive({
    tiles: colours.map((c) => solidPng(c)),
    entries: colours.map((_, z) => ({ id: (4 ** z - 1) / 3, run: 4 ** z, tile: z })),
    type: 2, minzoom: 0, maxzoom: colours.length - 1, bounds, center,
    metadata: attribution ? { attribution } : {},
  });
}

/// The PMTiles tile id of z/x/y: tiles of lower zooms first, then the Hilbert curve's index.
export function tileId(z, x, y) {
  let d = 0;
  const xy = [x, y];
  for (let s = 2 ** (z - 1); s >= 1; s /= 2) {
    const rx = (xy[0] & s) > 0 ? 1 : 0;
    const ry = (xy[1] & s) > 0 ? 1 : 0;
    d += s * s * ((3 * rx) ^ ry);
    if (ry === 0) {
      if (rx === 1) { xy[0] = s - 1 - xy[0]; xy[1] = s - 1 - xy[1]; }
      xy.reverse();
    }
  }
  return (4 ** z - 1) / 3 + d;
}

/// The tile z/x/y holding the point lon/lat (degrees), and the point's position in it (0 to 1).
export function tileOf(z, [lon, lat]) {
  const n = 2 ** z;
  const fx = ((lon + 180) / 360) * n;
  const r = (lat * Math.PI) / 180;
  const fy = ((1 - Math.log(Math.tan(r) + 1 / Math.cos(r)) / Math.PI) / 2) * n;
  return { x: Math.floor(fx), y: Math.floor(fy), at: [fx - Math.floor(fx), fy - Math.floor(fy)] };
}

/// A vector archive in the Protomaps basemap schema at one zoom `z`: every tile land (`earth`, one
/// polygon over the tile), and the tile holding `place` ([lon, lat]) also a neighbourhood point named
/// `name` in layer `places`. MapLibre draws it at zoom z and above.
export function vectorArchive({ z, place, name, bounds = [-180, -85, 180, 85], center = [0, 0, z], attribution }) {
  const EXTENT = 4096;
  const land = { type: 3, props: { kind: 'earth' }, geometry: [cmd(1, 1), zz(0), zz(0), cmd(2, 3), zz(EXTENT), zz(0), zz(0), zz(EXTENT), zz(-EXTENT), zz(0), cmd(7, 1)] };
  const t = tileOf(z, place);
  const px = Math.round(t.at[0] * EXTENT), py = Math.round(t.at[1] * EXTENT);
  const point = { type: 1, props: { kind: 'neighbourhood', name, 'name:en': name, min_zoom: z }, geometry: [cmd(1, 1), zz(px), zz(py)] };
  const plain = mvt([['earth', [land]]], EXTENT);
  const named = mvt([['earth', [land]], ['places', [point]]], EXTENT);
  const first = (4 ** z - 1) / 3, id = tileId(z, t.x, t.y), last = first + 4 ** z;
  const entries = [
    { id: first, run: id - first, tile: 0 },
    { id, run: 1, tile: 1 },
    { id: id + 1, run: last - id - 1, tile: 0 },
  ].filter((e) => e.run > 0);
  return writeArchive({
    tiles: [plain, named], entries, type: 1, minzoom: z, maxzoom: z, bounds, center,
    metadata: {
      ...(attribution ? { attribution } : {}),
      vector_layers: ['earth', 'water', 'roads', 'places'].map((id) => ({ id, fields: {} })),
    },
  });
}

const cmd = (id, count) => (count << 3) | id;
const zz = (v) => (v << 1) ^ (v >> 31);

/// Protocol buffer pieces: a varint field, a length-delimited field, packed varints.
function pbVarint(field, v) { return Buffer.concat([varints([field << 3]), varints([v])]); }
function pbBytes(field, bytes) { return Buffer.concat([varints([(field << 3) | 2]), varints([bytes.length]), bytes]); }

/// A Mapbox vector tile: `layers` [[name, features]], each feature { type (1 point, 3 polygon),
/// props (strings and numbers), geometry (command integers) }.
function mvt(layers, extent) {
  return Buffer.concat(layers.map(([name, features]) => {
    const keys = [];
    const values = [];
    const index = (list, v) => { const i = list.indexOf(v); return i >= 0 ? i : list.push(v) - 1; };
    const encoded = features.map((f, n) => {
      const tags = Object.entries(f.props).flatMap(([k, v]) => [index(keys, k), index(values, v)]);
      return pbBytes(2, Buffer.concat([
        pbVarint(1, n + 1),
        pbBytes(2, varints(tags)),
        pbVarint(3, f.type),
        pbBytes(4, varints(f.geometry)),
      ]));
    });
    const layer = Buffer.concat([
      pbVarint(15, 2),
      pbBytes(1, Buffer.from(name)),
      ...encoded,
      ...keys.map((k) => pbBytes(3, Buffer.from(k))),
      // Value: string_value 1, sint_value 6.
      ...values.map((v) => pbBytes(4, typeof v === 'number' ? pbVarint(6, zz(v)) : pbBytes(1, Buffer.from(v)))),
      pbVarint(5, extent),
    ]);
    return pbBytes(3, layer);
  }));
}

/// A PMTiles v3 file: `tiles` (their bytes), `entries` [{ id, run, tile }] in id order pointing at
/// them, tile `type` (1 MVT, 2 PNG), zooms, bounds and centre, and the metadata object.
function writeArchive({ tiles, entries, type, minzoom, maxzoom, bounds, center, metadata }) {
  const offsets = [];
  let at = 0;
  for (const t of tiles) { offsets.push(at); at += t.length; }
  const placed = entries.map((e) => ({ ...e, offset: offsets[e.tile], length: tiles[e.tile].length }));
  let last = 0;
  const root = Buffer.concat([
    varints([placed.length]),
    varints(placed.map((e) => { const d = e.id - last; last = e.id; return d; })),
    varints(placed.map((e) => e.run)),
    varints(placed.map((e) => e.length)),
    // 0: right after the previous entry's data.
    varints(placed.map((e, i) => (i > 0 && e.offset === placed[i - 1].offset + placed[i - 1].length ? 0 : e.offset + 1))),
  ]);
  const meta = Buffer.from(JSON.stringify(metadata));
  const data = Buffer.concat(tiles);
  const h = Buffer.alloc(127);
  h.write('PMTiles', 0, 'ascii');
  h[7] = 3;
  const rootAt = 127, metaAt = rootAt + root.length, dataAt = metaAt + meta.length;
  const u64 = (o, v) => h.writeBigUInt64LE(BigInt(v), o);
  u64(8, rootAt); u64(16, root.length);
  u64(24, metaAt); u64(32, meta.length);
  u64(40, dataAt); u64(48, 0);
  u64(56, dataAt); u64(64, data.length);
  u64(72, placed.reduce((n, e) => n + e.run, 0)); u64(80, placed.length); u64(88, tiles.length);
  h[96] = 0; // not clustered: entries may point back at shared tile data
  h[97] = 1; // internal compression: none
  h[98] = 1; // tile compression: none
  h[99] = type;
  h[100] = minzoom;
  h[101] = maxzoom;
  const e7 = (o, deg) => h.writeInt32LE(Math.round(deg * 1e7), o);
  e7(102, bounds[0]); e7(106, bounds[1]); e7(110, bounds[2]); e7(114, bounds[3]);
  h[118] = center[2];
  e7(119, center[0]); e7(123, center[1]);
  return Buffer.concat([h, root, meta, data]);
}
