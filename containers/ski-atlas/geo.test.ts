import { describe, expect, it } from "vitest";
import {
  convexHull, EARTH_RADIUS_KM, haversineKm, lineLengthKm, lineMidpoint, pointInPolygon, pointPolygonDistanceKm,
  ringAreaKm2, wkbLineString, wkbMultiPolygon,
} from "./geo.ts";
import { assembleRings, resolveMembers } from "./ski-model.ts";
import { OsmData } from "./osm-data.ts";
import { parseOplLine } from "./testing/osmium-opl.ts";

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

describe("OSM parsing and relations", () => {
  function data(lines: string[]): OsmData {
    const d = new OsmData();
    for (const l of lines) parseOplLine(l, d);
    d.finish();
    return d;
  }

  it("parses OPL with escapes, unsorted nodes and missing locations", () => {
    const d = data([
      "n2 Tname=Caf%e9%%20%Bar,amenity=cafe x1.5 y2.5",
      "n1 T x1 y2",
      "n3 T x y",
      "w10 Taerialway=chair_lift Nn1,n2,n3",
      "r20 Tsite=piste Mw10@,n1@station,r21@",
    ]);
    expect(d.taggedNodes[0].tags).toEqual({ name: "Café Bar", amenity: "cafe" });
    expect(Array.from(d.ways.get(10)!.coords)).toEqual([1, 2, 1.5, 2.5]);
    expect(d.relations.get(20)!.members[1]).toEqual({ type: "n", ref: 1, role: "station" });
  });

  it("joins ring pieces in either direction", () => {
    const d = data(["n1 T x0 y0", "n2 T x1 y0", "n3 T x1 y1", "n4 T x0 y1", "w1 T Nn1,n2,n3", "w2 T Nn1,n4,n3"]);
    const { rings, open } = assembleRings([d.ways.get(1)!, d.ways.get(2)!]);
    expect(open).toBe(0);
    expect(rings).toHaveLength(1);
    expect(rings[0].length).toBe(10);
  });

  it("resolves members recursively and survives cycles", () => {
    const d = data(["r1 Tsite=piste Mw1@,r2@", "r2 Troute=piste Mw2@,r1@,r3@", "r3 T Mn5@,r2@"]);
    const m = resolveMembers(1, d);
    expect([...m.ways].sort()).toEqual([1, 2]);
    expect([...m.nodes]).toEqual([5]);
    expect([...m.relations].sort()).toEqual([2, 3]);
  });
});
