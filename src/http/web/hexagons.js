// The map's hexagons, with the zones' and candidates' outlines over them, drawn by the page into one
// canvas in Web Mercator pixels at the map's zoom.
//
// As map features, a city of hexagons costs the browser every frame: each is a few triangles to set up
// and fill, and without a GPU that is most of the frame (20 000 res-10 hexagons as a MapLibre fill
// layer panned at 6 to 13 frames a second here). Drawn into a canvas they are one picture, redrawn
// only when the view settles at another zoom or leaves the drawing. Without a base map the canvas is
// the map's picture, under MapLibre's (hidden: nothing on it), and CSS moves and scales it as the map
// moves: a pan is a composited layer moving, no WebGL frame (60 frames a second). Over a base map the
// canvas is an image source in the map, over the base map. The outlines are in the same picture, so
// the first frame needs no tiles from MapLibre's worker, and the picture can be shown before MapLibre
// has started (`preview`, for the camera `fit` computes as the map's fitBounds will). Clicks find their
// hexagon here (point in polygon).
//
// Coordinates come in as GeoJSON (lon, lat) and are kept in Web Mercator in [0, 1], as MapLibre's world.
export const hexagons = {
  canvas: document.createElement('canvas'),
  map: null, // the MapLibre map, once made
  source: 'hexagons', // the id of its canvas source
  features: [],
  colourOf: () => '#c8c8c8',
  xy: new Float64Array(0), // every ring's vertices, Web Mercator in [0, 1] (x east, y south), x then y
  start: new Uint32Array(1), // feature i's vertices are xy[2 * start[i] .. 2 * start[i + 1]]
  box: new Float64Array(0), // per feature: min x, min y, max x, max y
  extent: [0, 0, 1, 1], // what the canvas shows (Web Mercator, [0, 1])
  zoom: null,
  // Outlines drawn over the hexagons (the zones, the candidates): [{ rings: [Float64Array x, y, ...],
  // colour, width (CSS px), dash (in widths, or null) }], in drawing order.
  outlines: [],
  showOutlines: true,
  selected: null, // the clicked hexagon (feature), outlined in black in the drawing (overlay only)
  overlay: false, // true: the canvas is in the page, under the map; false: an image source in the map
  opacity: 0.9,

  /// Lon/lat corners of the canvas for the map: top left, top right, bottom right, bottom left.
  corners() {
    const [x0, y0, x1, y1] = this.extent;
    return [[lonOf(x0), latOf(y0)], [lonOf(x1), latOf(y0)], [lonOf(x1), latOf(y1)], [lonOf(x0), latOf(y1)]];
  },

  /// New hexagons (GeoJSON features, lon/lat) and their colours; projected once.
  set(features, colourOf) {
    this.features = features;
    this.colourOf = colourOf;
    let n = 0;
    for (const f of features) n += f.geometry.coordinates[0].length;
    this.xy = new Float64Array(2 * n);
    this.start = new Uint32Array(features.length + 1);
    this.box = new Float64Array(4 * features.length);
    let k = 0;
    features.forEach((f, i) => {
      this.start[i] = k;
      let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
      for (const [lon, lat] of f.geometry.coordinates[0]) {
        const x = mercX(lon), y = mercY(lat);
        this.xy[2 * k] = x; this.xy[2 * k + 1] = y; k += 1;
        if (x < x0) x0 = x; if (x > x1) x1 = x; if (y < y0) y0 = y; if (y > y1) y1 = y;
      }
      this.box.set([x0, y0, x1, y1], 4 * i);
    });
    this.start[features.length] = k;
  },

  /// Polygon outlines to draw over the hexagons (or under them, `under`): `sets` is [{ features
  /// (GeoJSON polygons or multipolygons, lon/lat), colour, width, dash, under }].
  setOutlines(sets) {
    this.outlines = sets.map(({ features, colour, width, dash = null, under = false }) => {
      const rings = [];
      for (const f of features) {
        const g = f.geometry;
        const polygons = g.type === 'Polygon' ? [g.coordinates] : g.type === 'MultiPolygon' ? g.coordinates : [];
        for (const polygon of polygons) {
          for (const ring of polygon) rings.push(mercatorRing(ring));
        }
      }
      return { rings, colour, width, dash, under };
    });
  },

  /// Draws the hexagons and outlines around the map's view (the view and `margin` of it again on
  /// every side, at the map's zoom and the screen's pixel ratio) and hands the picture to the map.
  draw({ margin = 0.5 } = {}) {
    const map = this.map;
    if (!map) return;
    const c = map.getCenter();
    const box = map.getContainer();
    if (!this.drawAround({ lng: c.lng, lat: c.lat, zoom: map.getZoom(), width: box.clientWidth, height: box.clientHeight }, margin)) return;
    if (this.overlay) {
      if (!this.canvas.isConnected) this.show(box);
      this.place();
      return;
    }
    const source = map.getSource(this.source);
    if (source) {
      source.setCoordinates(this.corners());
      // A canvas source reads its canvas while it plays: once, for this picture.
      source.play();
      map.once('render', () => source.pause());
      map.triggerRepaint();
    }
  },

  /// Before the map exists: shows the drawing for `camera` (as the map will be, see `fit`) in
  /// `container`, under where the map will be. Over a base map, the map's first frame takes over
  /// (`unpreview`); without one, this is the drawing the map moves (`overlay`).
  preview(container, camera) {
    if (!this.drawAround(camera, 0)) return false;
    this.show(container);
    return true;
  },

  /// Puts the canvas in the page, under the map in `container` (its first child).
  show(container) {
    const style = this.canvas.style;
    style.position = 'absolute';
    style.left = '0';
    style.top = '0';
    style.transform = '';
    style.transformOrigin = '0 0';
    style.opacity = String(this.opacity);
    style.pointerEvents = 'none';
    container.prepend(this.canvas);
  },

  /// Puts the DOM canvas where the map's camera has the drawing now: a translation, and a scale while
  /// the map is between the drawing's zoom and its next.
  place() {
    const map = this.map;
    if (!map || !this.overlay || this.zoom == null) return;
    const p = map.project([lonOf(this.extent[0]), latOf(this.extent[1])]);
    const k = 2 ** (map.getZoom() - this.zoom);
    this.canvas.style.transform = k === 1 ? `translate(${p.x}px, ${p.y}px)` : `translate(${p.x}px, ${p.y}px) scale(${k})`;
  },

  unpreview() {
    if (this.canvas.parentNode) this.canvas.remove();
  },

  /// Draws around a camera: { lng, lat, zoom, width, height } (the view in CSS pixels), with `margin`
  /// of the view again on every side. False when there is no room to draw.
  drawAround(camera, margin) {
    const { zoom } = camera;
    const world = 512 * 2 ** zoom; // MapLibre's world size in CSS pixels at this zoom
    const dpr = window.devicePixelRatio || 1;
    // At most 4096 device pixels a side (what every WebGL implementation takes as a texture).
    const w = Math.min((1 + 2 * margin) * camera.width, 4096 / dpr), h = Math.min((1 + 2 * margin) * camera.height, 4096 / dpr);
    if (w < 1 || h < 1) return false; // a map with no room (e.g. laid out later) keeps its last drawing
    const cx = mercX(camera.lng) * world, cy = mercY(camera.lat) * world;
    const left = cx - w / 2, top = cy - h / 2; // world pixels, kept in doubles (the canvas has floats)
    this.extent = [left / world, top / world, (left + w) / world, (top + h) / world];
    this.zoom = zoom;
    const canvas = this.canvas;
    canvas.width = Math.round(w * dpr);
    canvas.height = Math.round(h * dpr);
    canvas.style.width = `${w}px`;
    canvas.style.height = `${h}px`;
    const ctx = canvas.getContext('2d');
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    const s = world * dpr, ox = left * dpr, oy = top * dpr;
    // Adds a ring (Web Mercator, x then y, vertices `from` to `to`) to `path`, in canvas pixels.
    const trace = (path, xy, from = 0, to = xy.length / 2) => {
      for (let k = from; k < to; k++) {
        const x = xy[2 * k] * s - ox, y = xy[2 * k + 1] * s - oy;
        if (k === from) path.moveTo(x, y); else path.lineTo(x, y);
      }
      path.closePath();
    };
    const stroke = (rings, colour, width, dash = null) => {
      const path = new Path2D();
      for (const r of rings) trace(path, r);
      ctx.strokeStyle = colour;
      ctx.lineWidth = width * dpr;
      ctx.setLineDash(dash ? dash.map((d) => d * width * dpr) : []);
      ctx.stroke(path);
    };
    ctx.lineJoin = 'round';
    // Outlines under the hexagons (context areas) first.
    if (this.showOutlines) for (const { rings, colour, width, dash } of this.outlines.filter((o) => o.under)) stroke(rings, colour, width, dash);
    ctx.setLineDash([]);
    const [ex0, ey0, ex1, ey1] = this.extent;
    // One path per colour: a few fills, not one per hexagon.
    const paths = new Map();
    let sizePx = 0;
    for (let i = 0; i < this.features.length; i++) {
      const b = 4 * i;
      if (this.box[b] > ex1 || this.box[b + 2] < ex0 || this.box[b + 1] > ey1 || this.box[b + 3] < ey0) continue;
      sizePx = Math.max(sizePx, (this.box[b + 2] - this.box[b]) * world);
      const colour = this.colourOf(this.features[i].properties);
      let path = paths.get(colour);
      if (!path) paths.set(colour, (path = new Path2D()));
      trace(path, this.xy, this.start[i], this.start[i + 1]);
    }
    for (const [colour, path] of paths) {
      ctx.fillStyle = colour;
      ctx.fill(path);
    }
    // The hexagons' own edges once they are big enough to tell apart (street zooms).
    if (sizePx > 24) {
      ctx.strokeStyle = 'rgba(255, 255, 255, 0.7)';
      ctx.lineWidth = 0.6 * dpr;
      for (const path of paths.values()) ctx.stroke(path);
    }
    if (this.showOutlines) for (const { rings, colour, width, dash } of this.outlines.filter((o) => !o.under)) stroke(rings, colour, width, dash);
    if (this.selected && this.overlay) stroke([mercatorRing(this.selected.geometry.coordinates[0])], '#000000', 2.5);
    ctx.setLineDash([]);
    return true;
  },

  /// Redraws when the view has left the drawing or settled at another zoom.
  follow(settled) {
    const map = this.map;
    if (!map || this.zoom == null) return;
    const b = map.getBounds();
    const [x0, y0, x1, y1] = this.extent;
    const inside = mercX(b.getWest()) >= x0 && mercX(b.getEast()) <= x1 && mercY(b.getNorth()) >= y0 && mercY(b.getSouth()) <= y1;
    if (!inside || (settled && Math.abs(map.getZoom() - this.zoom) > 1e-6)) this.draw();
  },

  /// The hexagon (feature) under a point (lon/lat), if any.
  at(lngLat) {
    const x = mercX(lngLat.lng), y = mercY(lngLat.lat);
    for (let i = 0; i < this.features.length; i++) {
      const b = 4 * i;
      if (x < this.box[b] || x > this.box[b + 2] || y < this.box[b + 1] || y > this.box[b + 3]) continue;
      let inside = false;
      for (let k = this.start[i], j = this.start[i + 1] - 1; k < this.start[i + 1]; j = k++) {
        const xk = this.xy[2 * k], yk = this.xy[2 * k + 1], xj = this.xy[2 * j], yj = this.xy[2 * j + 1];
        if ((yk > y) !== (yj > y) && x < ((xj - xk) * (y - yk)) / (yj - yk) + xk) inside = !inside;
      }
      if (inside) return this.features[i];
    }
    return null;
  },
};

/// The camera MapLibre's `fitBounds` gives a map of `width` × `height` CSS pixels, north up, for
/// `bounds` ([west, south, east, north], lon/lat) with `padding` pixels on every side.
export function fit(bounds, width, height, padding) {
  const x0 = mercX(bounds[0]), x1 = mercX(bounds[2]), y0 = mercY(bounds[3]), y1 = mercY(bounds[1]);
  const scale = Math.min((width - 2 * padding) / ((x1 - x0) * 512), (height - 2 * padding) / ((y1 - y0) * 512));
  const zoom = Math.min(Math.max(Math.log2(scale), 0), 22);
  return { lng: lonOf((x0 + x1) / 2), lat: latOf((y0 + y1) / 2), zoom, width, height };
}

// Web Mercator in [0, 1], as MapLibre's world: x east from 180° W, y south from 85.05° N.
function mercX(lon) { return (lon + 180) / 360; }
function mercY(lat) {
  const s = Math.sin((lat * Math.PI) / 180);
  return 0.5 - Math.log((1 + s) / (1 - s)) / (4 * Math.PI);
}
/// A ring of lon/lat positions as Web Mercator x, y, x, y, ...
function mercatorRing(ring) { return Float64Array.from(ring.flatMap(([lon, lat]) => [mercX(lon), mercY(lat)])); }
function lonOf(x) { return x * 360 - 180; }
function latOf(y) { return (Math.atan(Math.sinh(Math.PI * (1 - 2 * y))) * 180) / Math.PI; }
