import { describe, expect, it } from "vitest";
import { polygonAreaKm2, type Polygon } from "../geo.ts";
import { kmToDegLat } from "../synthetic-osm.ts";
import { LAT, LON, rect } from "../testing/model-fixtures.ts";
import { mergeParts } from "./merge-parts.ts";
import type { Candidate } from "./ski-area-candidates.ts";

const poly = (osmId: number, p: Polygon, name?: string): Candidate => ({
  osmType: "way", osmId, tags: name ? { name } : {}, polygons: [p], isSite: false, merged: [], areaKm2: polygonAreaKm2(p),
});
const site = (osmId: number, merged: Candidate[] = []): Candidate => ({
  osmType: "relation", osmId, tags: {}, polygons: [], isSite: true, merged, areaKm2: merged.reduce((s, m) => s + m.areaKm2, 0),
});
/** A 0.02° square whose south edge lies `gapKm` north of the square at LAT (same longitudes). */
const northOf = (gapKm: number) => rect(LON, LAT + 0.02 + kmToDegLat(gapKm), LON + 0.02, LAT + 0.04 + kmToDegLat(gapKm));
const base = rect(LON, LAT, LON + 0.02, LAT + 0.02);
const rows = (cs: Candidate[]) => cs.map((c) => [c.osmId, c.merged.map((m) => m.osmId)]);

describe("nested and multi-part polygons", () => {
  it("make a polygon inside a larger one part of it; the larger is the row", () => {
    const big = poly(1, rect(LON, LAT, LON + 0.05, LAT + 0.05), "Big"), kids = poly(2, rect(LON + 0.01, LAT + 0.01, LON + 0.02, LAT + 0.02), "Kids");
    expect(rows(mergeParts([], [kids, big]))).toEqual([[1, [2]]]);
  });

  it("join parts with the same name (any case) within SAME_NAME_KM, not parts with other names", () => {
    expect(rows(mergeParts([], [poly(1, base, "Twin Peaks"), poly(2, northOf(0.5), " twin peaks ")]))).toEqual([[1, [2]]]);
    expect(rows(mergeParts([], [poly(1, base, "Twin"), poly(2, northOf(1.5), "Twin")]))).toEqual([[1, []], [2, []]]);
    expect(rows(mergeParts([], [poly(1, base, "East"), poly(2, northOf(0), "West")]))).toEqual([[1, []], [2, []]]);
  });

  it("join an unnamed part touching another (TOUCH_KM), not one 50 m away", () => {
    expect(rows(mergeParts([], [poly(1, base, "Resort"), poly(2, northOf(0))]))).toEqual([[1, [2]]]);
    expect(rows(mergeParts([], [poly(1, base, "Resort"), poly(2, northOf(0.05))]))).toEqual([[1, []], [2, []]]);
  });

  it("keep the larger part as the row (equal areas: the lower id), its own name and the absorbed parts", () => {
    const small = poly(5, rect(LON, LAT, LON + 0.01, LAT + 0.02), "Twin"), large = poly(6, northOf(0.5), "Twin");
    expect(rows(mergeParts([], [small, large]))).toEqual([[6, [5]]]);
    expect(rows(mergeParts([], [poly(8, base, "Twin"), poly(7, rect(LON + 0.03, LAT, LON + 0.05, LAT + 0.02), "Twin")]))).toEqual([[7, [8]]]);
  });

  it("make a site relation the row of what it absorbs, list sites without polygons first, and never merge two sites", () => {
    const polyOfA = poly(1, rect(LON, LAT, LON + 0.05, LAT + 0.05)), polyOfB = poly(2, rect(LON + 0.01, LAT + 0.01, LON + 0.04, LAT + 0.04));
    const a = site(100, [polyOfA]), b = site(101, [polyOfB]), bare = site(102);
    const inside = poly(3, rect(LON + 0.001, LAT + 0.001, LON + 0.005, LAT + 0.005), "Kids");
    expect(rows(mergeParts([a, b, bare], [inside]))).toEqual([[102, []], [100, [1, 3]], [101, [2]]]);
  });
});
