import { describe, expect, it } from "vitest";
import {
  convexHull, EARTH_RADIUS_KM, haversineKm, lineLengthKm, lineMidpoint, pointInPolygon, pointPolygonDistanceKm,
  ringAreaKm2, wkbLineString, wkbMultiPolygon,
} from "./geo.ts";

describe("geo", () => {
  it("haversine along a meridian is R·Δφ", () => {
    expect(haversineKm(10, 46, 10, 47)).toBeCloseTo((EARTH_RADIUS_KM * Math.PI) / 180, 9);
    expect(lineLengthKm([10, 46, 10, 46.5, 10, 47])).toBeCloseTo((EARTH_RADIUS_KM * Math.PI) / 180, 9);
    expect(lineMidpoint([10, 46, 10, 47])[1]).toBeCloseTo(46.5, 9);
  });

  it("ring area of a lat/lon rectangle matches the spherical formula", () => {
    const rad = Math.PI / 180;
    const want = EARTH_RADIUS_KM ** 2 * 0.1 * rad * (Math.sin(47 * rad) - Math.sin(46.9 * rad));
    expect(ringAreaKm2([10, 46.9, 10.1, 46.9, 10.1, 47, 10, 47, 10, 46.9])).toBeCloseTo(want, 9);
  });

  it("point in polygon honours holes, distance is 0 inside", () => {
    const p = { outer: [0, 0, 1, 0, 1, 1, 0, 1, 0, 0], inners: [[0.4, 0.4, 0.6, 0.4, 0.6, 0.6, 0.4, 0.6, 0.4, 0.4]] };
    expect(pointInPolygon(0.2, 0.2, p)).toBe(true);
    expect(pointInPolygon(0.5, 0.5, p)).toBe(false);
    expect(pointPolygonDistanceKm(0.2, 0.2, p)).toBe(0);
    expect(pointPolygonDistanceKm(1.01, 0.5, p)).toBeCloseTo(haversineKm(1, 0.5, 1.01, 0.5), 3);
  });

  it("convex hull drops interior points and flags degenerate input", () => {
    const hull = convexHull([0, 0, 1, 0, 1, 1, 0, 1, 0.5, 0.5]);
    expect(hull.degenerate).toBe(false);
    expect(hull.ring.length).toBe(10);
    expect(convexHull([0, 0, 1, 1, 2, 2]).degenerate).toBe(true);
  });

  it("writes little-endian WKB", () => {
    const line = Buffer.from(wkbLineString([1, 2, 3, 4]));
    expect([line[0], line.readUInt32LE(1), line.readUInt32LE(5), line.readDoubleLE(9), line.readDoubleLE(33)]).toEqual([1, 2, 2, 1, 4]);
    const mp = Buffer.from(wkbMultiPolygon([{ outer: [0, 0, 1, 0, 1, 1, 0, 0], inners: [] }]));
    expect([mp.readUInt32LE(1), mp.readUInt32LE(5), mp.readUInt32LE(10), mp.readUInt32LE(14), mp.readUInt32LE(18)]).toEqual([6, 1, 3, 1, 4]);
  });
});
