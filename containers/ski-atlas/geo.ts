/**
 * Geometry in TypeScript (DuckDB's spatial extension is not available offline). Coordinates are WGS84
 * degrees; lines and rings are flat arrays [lon0, lat0, lon1, lat1, …]; rings are closed (last = first).
 */

export type Coords = ArrayLike<number>;

export interface Polygon {
  outer: Coords;
  inners: Coords[];
}

export interface BBox {
  minLon: number;
  minLat: number;
  maxLon: number;
  maxLat: number;
}

/** Mean Earth radius (IUGG), used for every length and area. */
export const EARTH_RADIUS_KM = 6371.0088;
const RAD = Math.PI / 180;

export function haversineKm(lon1: number, lat1: number, lon2: number, lat2: number): number {
  const dLat = (lat2 - lat1) * RAD;
  const dLon = (lon2 - lon1) * RAD;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(lat1 * RAD) * Math.cos(lat2 * RAD) * Math.sin(dLon / 2) ** 2;
  return 2 * EARTH_RADIUS_KM * Math.asin(Math.min(1, Math.sqrt(h)));
}

/** Geodesic (haversine) length along a line, km. */
export function lineLengthKm(c: Coords): number {
  let km = 0;
  for (let i = 2; i + 1 < c.length; i += 2) km += haversineKm(c[i - 2], c[i - 1], c[i], c[i + 1]);
  return km;
}

/** The point halfway along the line (by haversine length). */
export function lineMidpoint(c: Coords): [number, number] {
  const half = lineLengthKm(c) / 2;
  let acc = 0;
  for (let i = 2; i + 1 < c.length; i += 2) {
    const seg = haversineKm(c[i - 2], c[i - 1], c[i], c[i + 1]);
    if (acc + seg >= half && seg > 0) {
      const t = (half - acc) / seg;
      return [c[i - 2] + t * (c[i] - c[i - 2]), c[i - 1] + t * (c[i + 1] - c[i - 1])];
    }
    acc += seg;
  }
  return [c[0], c[1]];
}

/**
 * Area of a ring on the sphere, km² (Chamberlain & Duquette, "Some algorithms for polygons on a sphere", 2007;
 * the formula turf uses). Exact for rings whose edges follow meridians and parallels.
 */
export function ringAreaKm2(c: Coords): number {
  const n = c.length / 2;
  if (n < 4) return 0;
  let sum = 0;
  for (let i = 0; i < n - 1; i++) {
    const lon1 = c[2 * i] * RAD, lat1 = c[2 * i + 1] * RAD;
    const lon2 = c[2 * i + 2] * RAD, lat2 = c[2 * i + 3] * RAD;
    sum += (lon2 - lon1) * (2 + Math.sin(lat1) + Math.sin(lat2));
  }
  return Math.abs((sum * EARTH_RADIUS_KM * EARTH_RADIUS_KM) / 2);
}

export function polygonAreaKm2(p: Polygon): number {
  return Math.max(0, ringAreaKm2(p.outer) - p.inners.reduce((s, r) => s + ringAreaKm2(r), 0));
}

/** Signed planar area in degree units (positive = counter-clockwise). */
export function signedRingArea(c: Coords): number {
  let s = 0;
  for (let i = 0; i + 3 < c.length; i += 2) s += c[i] * c[i + 3] - c[i + 2] * c[i + 1];
  return s / 2;
}

/** Area-weighted centroid of a ring (planar in lon/lat; fine at resort scale). */
export function ringCentroid(c: Coords): [number, number] {
  let a = 0, cx = 0, cy = 0;
  const x0 = c[0], y0 = c[1]; // shift for numeric stability
  for (let i = 0; i + 3 < c.length; i += 2) {
    const x1 = c[i] - x0, y1 = c[i + 1] - y0, x2 = c[i + 2] - x0, y2 = c[i + 3] - y0;
    const cross = x1 * y2 - x2 * y1;
    a += cross;
    cx += (x1 + x2) * cross;
    cy += (y1 + y2) * cross;
  }
  if (Math.abs(a) < 1e-18) return meanPoint(c);
  return [x0 + cx / (3 * a), y0 + cy / (3 * a)];
}

export function meanPoint(c: Coords): [number, number] {
  let x = 0, y = 0;
  const n = c.length / 2;
  for (let i = 0; i < c.length; i += 2) {
    x += c[i];
    y += c[i + 1];
  }
  return [x / n, y / n];
}

export function pointInRing(lon: number, lat: number, c: Coords): boolean {
  let inside = false;
  for (let i = 0, j = c.length - 2; i < c.length; j = i, i += 2) {
    const xi = c[i], yi = c[i + 1], xj = c[j], yj = c[j + 1];
    if (yi > lat !== yj > lat && lon < ((xj - xi) * (lat - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

export function pointInPolygon(lon: number, lat: number, p: Polygon): boolean {
  return pointInRing(lon, lat, p.outer) && !p.inners.some((r) => pointInRing(lon, lat, r));
}

/** Distance from a point to a segment, km, in a local equirectangular projection around the point. */
export function pointSegmentKm(lon: number, lat: number, ax: number, ay: number, bx: number, by: number): number {
  const kx = Math.cos(lat * RAD) * RAD * EARTH_RADIUS_KM;
  const ky = RAD * EARTH_RADIUS_KM;
  const x1 = (ax - lon) * kx, y1 = (ay - lat) * ky, x2 = (bx - lon) * kx, y2 = (by - lat) * ky;
  const dx = x2 - x1, dy = y2 - y1;
  const len2 = dx * dx + dy * dy;
  const t = len2 === 0 ? 0 : Math.max(0, Math.min(1, -(x1 * dx + y1 * dy) / len2));
  return Math.hypot(x1 + t * dx, y1 + t * dy);
}

export function pointRingDistanceKm(lon: number, lat: number, c: Coords): number {
  let best = Infinity;
  for (let i = 2; i + 1 < c.length; i += 2) {
    const d = pointSegmentKm(lon, lat, c[i - 2], c[i - 1], c[i], c[i + 1]);
    if (d < best) best = d;
  }
  if (c.length === 2) best = haversineKm(lon, lat, c[0], c[1]);
  return best;
}

/** 0 inside the polygon, else the distance to its nearest edge (outer or inner), km. */
export function pointPolygonDistanceKm(lon: number, lat: number, p: Polygon): number {
  if (pointInPolygon(lon, lat, p)) return 0;
  let best = pointRingDistanceKm(lon, lat, p.outer);
  for (const r of p.inners) best = Math.min(best, pointRingDistanceKm(lon, lat, r));
  return best;
}

/** Convex hull (Andrew's monotone chain) of a point set; a closed counter-clockwise ring, or the
 * distinct points themselves (not closed) when fewer than 3 are not collinear. */
export function convexHull(points: Coords): { ring: number[]; degenerate: boolean } {
  const pts: [number, number][] = [];
  for (let i = 0; i < points.length; i += 2) pts.push([points[i], points[i + 1]]);
  pts.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const uniq = pts.filter((p, i) => i === 0 || p[0] !== pts[i - 1][0] || p[1] !== pts[i - 1][1]);
  const cross = (o: number[], a: number[], b: number[]) => (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]);
  const lower: [number, number][] = [];
  for (const p of uniq) {
    while (lower.length >= 2 && cross(lower[lower.length - 2], lower[lower.length - 1], p) <= 0) lower.pop();
    lower.push(p);
  }
  const upper: [number, number][] = [];
  for (let i = uniq.length - 1; i >= 0; i--) {
    const p = uniq[i];
    while (upper.length >= 2 && cross(upper[upper.length - 2], upper[upper.length - 1], p) <= 0) upper.pop();
    upper.push(p);
  }
  const hull = lower.slice(0, -1).concat(upper.slice(0, -1));
  if (hull.length < 3) return { ring: uniq.flat(), degenerate: true };
  hull.push(hull[0]);
  return { ring: hull.flat(), degenerate: false };
}

export function bboxOf(c: Coords, into?: BBox): BBox {
  const b = into ?? { minLon: Infinity, minLat: Infinity, maxLon: -Infinity, maxLat: -Infinity };
  for (let i = 0; i < c.length; i += 2) {
    if (c[i] < b.minLon) b.minLon = c[i];
    if (c[i] > b.maxLon) b.maxLon = c[i];
    if (c[i + 1] < b.minLat) b.minLat = c[i + 1];
    if (c[i + 1] > b.maxLat) b.maxLat = c[i + 1];
  }
  return b;
}

/** The bbox grown by `km` on every side. */
export function expandBBox(b: BBox, km: number): BBox {
  const dLat = km / (EARTH_RADIUS_KM * RAD);
  const maxAbsLat = Math.min(89, Math.max(Math.abs(b.minLat), Math.abs(b.maxLat)) + dLat);
  const dLon = km / (EARTH_RADIUS_KM * RAD * Math.cos(maxAbsLat * RAD));
  return { minLon: b.minLon - dLon, minLat: b.minLat - dLat, maxLon: b.maxLon + dLon, maxLat: b.maxLat + dLat };
}

export function inBBox(lon: number, lat: number, b: BBox): boolean {
  return lon >= b.minLon && lon <= b.maxLon && lat >= b.minLat && lat <= b.maxLat;
}

// ---------------------------------------------------------------------------------------------- WKB

/** Little-endian ISO WKB writer (2D). */
class WkbWriter {
  private parts: Buffer[] = [];
  header(type: number) {
    const b = Buffer.alloc(5);
    b.writeUInt8(1, 0);
    b.writeUInt32LE(type, 1);
    this.parts.push(b);
  }
  uint(n: number) {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(n, 0);
    this.parts.push(b);
  }
  coords(c: Coords) {
    const b = Buffer.alloc(c.length * 8);
    for (let i = 0; i < c.length; i++) b.writeDoubleLE(c[i], i * 8);
    this.parts.push(b);
  }
  points(c: Coords) {
    this.uint(c.length / 2);
    this.coords(c);
  }
  done(): Uint8Array {
    return Buffer.concat(this.parts);
  }
}

export function wkbPoint(lon: number, lat: number): Uint8Array {
  const w = new WkbWriter();
  w.header(1);
  w.coords([lon, lat]);
  return w.done();
}

export function wkbLineString(c: Coords): Uint8Array {
  const w = new WkbWriter();
  w.header(2);
  w.points(c);
  return w.done();
}

function writePolygon(w: WkbWriter, p: Polygon) {
  w.header(3);
  w.uint(1 + p.inners.length);
  w.points(p.outer);
  for (const r of p.inners) w.points(r);
}

export function wkbPolygon(p: Polygon): Uint8Array {
  const w = new WkbWriter();
  writePolygon(w, p);
  return w.done();
}

export function wkbMultiPolygon(ps: Polygon[]): Uint8Array {
  const w = new WkbWriter();
  w.header(6);
  w.uint(ps.length);
  for (const p of ps) writePolygon(w, p);
  return w.done();
}
