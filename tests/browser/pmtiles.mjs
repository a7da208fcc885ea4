// A small PMTiles v3 archive for the browser tests, written here (no download): raster PNG tiles, one
// solid colour per zoom, every tile of a zoom sharing its image (one directory entry with a run
// length). The format: https://github.com/protomaps/PMTiles/blob/main/spec/v3/spec.md
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
  const tiles = colours.map((c) => solidPng(c));
  // One entry per zoom: its first tile id ((4^z - 1) / 3) and all 4^z tiles of the zoom.
  const entries = [];
  let offset = 0;
  tiles.forEach((png, z) => {
    entries.push({ id: (4 ** z - 1) / 3, run: 4 ** z, length: png.length, offset });
    offset += png.length;
  });
  let last = 0;
  const root = Buffer.concat([
    varints([entries.length]),
    varints(entries.map((e) => { const d = e.id - last; last = e.id; return d; })),
    varints(entries.map((e) => e.run)),
    varints(entries.map((e) => e.length)),
    // 0: right after the previous entry's data.
    varints(entries.map((e, i) => (i > 0 && e.offset === entries[i - 1].offset + entries[i - 1].length ? 0 : e.offset + 1))),
  ]);
  const metadata = Buffer.from(JSON.stringify(attribution ? { attribution } : {}));
  const data = Buffer.concat(tiles);
  const h = Buffer.alloc(127);
  h.write('PMTiles', 0, 'ascii');
  h[7] = 3;
  const rootAt = 127, metaAt = rootAt + root.length, dataAt = metaAt + metadata.length;
  const u64 = (at, v) => h.writeBigUInt64LE(BigInt(v), at);
  u64(8, rootAt); u64(16, root.length);
  u64(24, metaAt); u64(32, metadata.length);
  u64(40, dataAt); u64(48, 0);
  u64(56, dataAt); u64(64, data.length);
  u64(72, entries.reduce((n, e) => n + e.run, 0)); u64(80, entries.length); u64(88, tiles.length);
  h[96] = 1; // clustered
  h[97] = 1; // internal compression: none
  h[98] = 1; // tile compression: none
  h[99] = 2; // PNG
  h[100] = 0;
  h[101] = colours.length - 1;
  const e7 = (at, deg) => h.writeInt32LE(Math.round(deg * 1e7), at);
  e7(102, bounds[0]); e7(106, bounds[1]); e7(110, bounds[2]); e7(114, bounds[3]);
  h[118] = center[2];
  e7(119, center[0]); e7(123, center[1]);
  return Buffer.concat([h, root, metadata, data]);
}
