/**
 * WKB → GeoJSON geometry, for the console's map. Hand-written because nothing installed reads WKB: DuckDB's
 * spatial extension (ST_AsGeoJSON) is downloaded on first use, and the console must work offline. Reads ISO and
 * EWKB 2D/3D (Z, M and ZM ordinates are dropped), both byte orders; the published files use 2D little-endian.
 */
export type GeoJsonGeometry =
  | { type: "Point"; coordinates: number[] }
  | { type: "LineString" | "MultiPoint"; coordinates: number[][] }
  | { type: "Polygon" | "MultiLineString"; coordinates: number[][][] }
  | { type: "MultiPolygon"; coordinates: number[][][][] }
  | { type: "GeometryCollection"; geometries: GeoJsonGeometry[] };

const EWKB_Z = 0x80000000;
const EWKB_M = 0x40000000;
const EWKB_SRID = 0x20000000;

export function wkbToGeoJson(bytes: Uint8Array): GeoJsonGeometry {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 0;

  const geometry = (): GeoJsonGeometry => {
    const little = view.getUint8(at) === 1;
    at += 1;
    const raw = view.getUint32(at, little);
    at += 4;
    let dims = 2;
    if (raw & EWKB_Z) dims++;
    if (raw & EWKB_M) dims++;
    if (raw & EWKB_SRID) at += 4;
    const iso = raw & 0x0fffffff;
    const base = iso % 1000;
    const isoDims = Math.floor(iso / 1000); // 1: Z, 2: M, 3: ZM
    if (isoDims === 1 || isoDims === 2) dims = 3;
    if (isoDims === 3) dims = 4;

    const u32 = () => {
      const v = view.getUint32(at, little);
      at += 4;
      return v;
    };
    const point = () => {
      const xy = [view.getFloat64(at, little), view.getFloat64(at + 8, little)];
      at += 8 * dims;
      return xy;
    };
    const points = () => Array.from({ length: u32() }, point);
    const rings = () => Array.from({ length: u32() }, points);
    const parts = () => Array.from({ length: u32() }, geometry);

    switch (base) {
      case 1:
        return { type: "Point", coordinates: point() };
      case 2:
        return { type: "LineString", coordinates: points() };
      case 3:
        return { type: "Polygon", coordinates: rings() };
      case 4:
        return { type: "MultiPoint", coordinates: parts().map((g) => g.type === "Point" ? g.coordinates : []) };
      case 5:
        return { type: "MultiLineString", coordinates: parts().map((g) => (g.type === "LineString" ? g.coordinates : [])) };
      case 6:
        return { type: "MultiPolygon", coordinates: parts().map((g) => (g.type === "Polygon" ? g.coordinates : [])) };
      case 7:
        return { type: "GeometryCollection", geometries: parts() };
      default:
        throw new Error(`WKB geometry type ${raw} is not supported`);
    }
  };
  return geometry();
}
