// Plain geometry on GeoJSON, coordinates [lon, lat] (x, y; WGS84 degrees): bounding boxes, the first
// view, where to write an area's name, point in polygon, a hexagon's centre. Pure (no DOM, no map);
// unit-tested in node (tests/browser/units.test.mjs).

export function bboxOf(geometry, into = [Infinity, Infinity, -Infinity, -Infinity]) {
  const walk = (c) => {
    if (typeof c[0] === 'number') {
      into[0] = Math.min(into[0], c[0]); into[1] = Math.min(into[1], c[1]);
      into[2] = Math.max(into[2], c[0]); into[3] = Math.max(into[3], c[1]);
    } else c.forEach(walk);
  };
  walk(geometry.coordinates);
  return into;
}

/// Where the map first looks: the zones and the busiest hexagons, those holding 95 % of the contacts
/// (not the few far outliers, which would shrink the program's areas to a thumbnail); null when there
/// is nothing to show.
export function firstView(cellFeatures, zoneFeatures, share = 0.95) {
  const b = [Infinity, Infinity, -Infinity, -Infinity];
  for (const z of zoneFeatures) bboxOf(z.geometry, b);
  const busiest = cellFeatures.filter((f) => f.properties.count > 0).sort((x, y) => y.properties.count - x.properties.count);
  const total = busiest.reduce((n, f) => n + f.properties.count, 0);
  let seen = 0;
  for (const f of busiest) {
    if (seen >= share * total) break;
    bboxOf(f.geometry, b);
    seen += f.properties.count;
  }
  if (b[0] > b[2] && cellFeatures.length) for (const f of cellFeatures) bboxOf(f.geometry, b);
  return b[0] <= b[2] ? b : null;
}

/// Where to write an area's name: the service's label point (inside the area), else its box centre.
export function labelAt(f) {
  const p = f.properties && f.properties.label_point;
  if (Array.isArray(p) && p.length === 2) return p;
  const b = bboxOf(f.geometry);
  return [(b[0] + b[2]) / 2, (b[1] + b[3]) / 2];
}

/// An area's size for placing names, larger first: its box in square degrees.
export function boxArea(f) { const b = bboxOf(f.geometry); return (b[2] - b[0]) * (b[3] - b[1]); }

export function ringContains(ring, [x, y]) {
  let inside = false;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    const [xi, yi] = ring[i], [xj, yj] = ring[j];
    if ((yi > y) !== (yj > y) && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

/// The first feature of `fc` (polygons, lon/lat) holding `point` [lon, lat], or null.
export function featureAt(fc, point) {
  for (const f of fc.features || []) {
    const g = f.geometry;
    const polygons = g.type === 'Polygon' ? [g.coordinates] : g.type === 'MultiPolygon' ? g.coordinates : [];
    for (const rings of polygons) {
      if (ringContains(rings[0], point) && !rings.slice(1).some((h) => ringContains(h, point))) return f;
    }
  }
  return null;
}

/// The centre of a hexagon (the mean of its corners).
export function centreOf(f) {
  const ring = f.geometry.coordinates[0].slice(0, -1);
  return [ring.reduce((s, c) => s + c[0], 0) / ring.length, ring.reduce((s, c) => s + c[1], 0) / ring.length];
}
