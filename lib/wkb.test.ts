import { describe, expect, it } from "vitest";
import { wkbLineString, wkbMultiPolygon, wkbPoint, wkbPolygon } from "../containers/ski-atlas/geo.ts";
import { wkbToGeoJson } from "./wkb.ts";

describe("wkbToGeoJson", () => {
  it("GIVEN the geometries the ski-atlas writes WHEN read THEN the GeoJSON has the same coordinates", () => {
    expect(wkbToGeoJson(wkbPoint(1.5, 42.5))).toEqual({ type: "Point", coordinates: [1.5, 42.5] });
    expect(wkbToGeoJson(wkbLineString([1, 2, 3, 4, 5, 6]))).toEqual({ type: "LineString", coordinates: [[1, 2], [3, 4], [5, 6]] });
    const ring = [0, 0, 1, 0, 1, 1, 0, 0];
    const hole = [0.2, 0.2, 0.3, 0.2, 0.3, 0.3, 0.2, 0.2];
    const polygon = [[[0, 0], [1, 0], [1, 1], [0, 0]], [[0.2, 0.2], [0.3, 0.2], [0.3, 0.3], [0.2, 0.2]]];
    expect(wkbToGeoJson(wkbPolygon({ outer: ring, inners: [hole] }))).toEqual({ type: "Polygon", coordinates: polygon });
    expect(wkbToGeoJson(wkbMultiPolygon([{ outer: ring, inners: [hole] }, { outer: ring, inners: [] }]))).toEqual({
      type: "MultiPolygon",
      coordinates: [polygon, [polygon[0]]],
    });
  });

  it("GIVEN a big-endian point with a Z ordinate WHEN read THEN x and y are kept", () => {
    const b = Buffer.alloc(1 + 4 + 24);
    b.writeUInt8(0, 0);
    b.writeUInt32BE(1001, 1); // ISO Point Z
    b.writeDoubleBE(7.25, 5);
    b.writeDoubleBE(46.5, 13);
    b.writeDoubleBE(2000, 21);
    expect(wkbToGeoJson(b)).toEqual({ type: "Point", coordinates: [7.25, 46.5] });
  });

  it("GIVEN an unknown geometry type WHEN read THEN it says so", () => {
    const b = Buffer.from([1, 99, 0, 0, 0]);
    expect(() => wkbToGeoJson(b)).toThrow(/type 99 is not supported/);
  });
});
