import { describe, expect, it } from "vitest";
import { haversineKm } from "../geo.ts";
import { LAT, LON, memberArea, northCoords, rect } from "../testing/model-fixtures.ts";
import { footprintDistanceKm, memberFootprint, polygonFootprint } from "./footprint.ts";
import type { SiteMembers } from "./site-relations.ts";

describe("a ski area's footprint", () => {
  it("is its polygons, centred on their area-weighted centroid", () => {
    const small = rect(0, 0, 1, 1), large = rect(2, 0, 5, 1); // three times the area, centred at x 3.5
    const { footprint, center } = polygonFootprint([small, large]);
    expect(footprint).toMatchObject({ kind: "polygon", bbox: { minLon: 0, minLat: 0, maxLon: 5, maxLat: 1 } });
    expect(center![0]).toBeCloseTo((0.5 * 1 + 3.5 * 3) / 4, 2);
  });

  it("else is the convex hull of its members' geometry, or their points when they lie on one line, or none", () => {
    const hull = memberArea("relation/1", northCoords(LON, LAT, 1), northCoords(LON + 0.01, LAT, 1));
    expect(hull.area.footprint.kind).toBe("member_hull");
    expect(hull.area.lon).toBeCloseTo(LON + 0.005, 6);
    const line = memberArea("relation/2", northCoords(LON, LAT, 1, 3));
    expect(line.area.footprint).toMatchObject({ kind: "member_points", polygons: [] });
    expect(line.area.footprint.points).toHaveLength(6);
    const nodes: SiteMembers = { ways: new Set([9]), nodes: new Set([1]), relations: new Set(), childSites: new Set() };
    expect(memberFootprint(nodes, { ways: new Map(), nodeLocation: () => [LON, LAT] })).toMatchObject({ footprint: { kind: "member_points", points: [LON, LAT] }, center: [LON, LAT] });
    expect(memberFootprint(nodes, { ways: new Map(), nodeLocation: () => undefined })).toEqual({ footprint: { kind: "none", polygons: [], points: [], bbox: null }, center: null });
  });

  it("measures 0 inside, the distance to the nearest edge or point outside, Infinity for none", () => {
    const { footprint } = polygonFootprint([rect(LON, LAT, LON + 0.01, LAT + 0.01)]);
    expect(footprintDistanceKm(LON + 0.005, LAT + 0.005, footprint)).toBe(0);
    expect(footprintDistanceKm(LON + 0.005, LAT - 0.01, footprint)).toBeCloseTo(haversineKm(LON, LAT, LON, LAT - 0.01), 3);
    const line = memberArea("relation/2", northCoords(LON, LAT, 1, 3)).area.footprint;
    expect(footprintDistanceKm(LON, LAT + 0.001, line)).toBeCloseTo(0, 6);
    expect(footprintDistanceKm(LON, LAT - 0.01, line)).toBeCloseTo(haversineKm(LON, LAT, LON, LAT - 0.01), 3);
    expect(footprintDistanceKm(LON, LAT, { kind: "none", polygons: [], points: [], bbox: null })).toBe(Infinity);
  });
});
