import { describe, expect, it } from "vitest";
import { rect } from "../testing/model-fixtures.ts";
import { mergeIntoSites } from "./merge-into-sites.ts";
import type { SiteMembers } from "./site-relations.ts";
import type { Candidate } from "./ski-area-candidates.ts";

const members = (ways: number[], nodes: number[] = [], relations: number[] = []): SiteMembers => ({
  ways: new Set(ways), nodes: new Set(nodes), relations: new Set(relations), childSites: new Set(),
});
const site = (osmId: number, m: SiteMembers): Candidate => ({ osmType: "relation", osmId, tags: {}, polygons: [], isSite: true, members: m, merged: [], areaKm2: 0 });
const poly = (osmType: "way" | "relation", osmId: number, areaKm2 = 1): Candidate => ({
  osmType, osmId, tags: {}, polygons: [rect(0, 0, 1, 1)], isSite: false, merged: [], areaKm2,
});
// Way id → its representative point: 1–3 inside the unit square, 4–6 outside.
const points = new Map<number, [number, number]>([[1, [0.5, 0.5]], [2, [0.2, 0.2]], [3, [0.8, 0.8]], [4, [2, 2]], [5, [3, 3]], [6, [4, 4]]]);
const nodes = new Map<number, [number, number]>([[100, [0.5, 0.1]], [101, [5, 5]]]);
const data = { nodeLocation: (id: number) => nodes.get(id) };

describe("a landuse polygon merged into a site relation", () => {
  it("joins the lowest-id site that lists it as a member, wherever the site's lifts are", () => {
    const a = site(10, members([4, 20])); // lists way 20; its lift lies outside
    const b = site(11, members([1, 2], [], [20])); // lists relation 20; every lift inside
    const c = site(12, members([5, 20])); // lists way 20 too
    const wayPoly = poly("way", 20, 2.5), relPoly = poly("relation", 20);
    expect(mergeIntoSites([a, b, c], [wayPoly, relPoly], points, data)).toEqual([]);
    expect([a.merged, b.merged, c.merged]).toEqual([[wayPoly], [relPoly], []]);
    expect(a.areaKm2).toBe(2.5);
  });

  it("else joins the site with the largest share (at least half) of its members inside; nodes count, ties go to the lower id", () => {
    const half = site(10, members([1, 4])); // 1 of 2 inside
    const most = site(11, members([1, 2, 4], [100])); // 3 of 4 inside
    const alsoMost = site(12, members([2, 3, 5], [100])); // 3 of 4 inside
    const target = poly("way", 30);
    expect(mergeIntoSites([half, most, alsoMost], [target], points, data)).toEqual([]);
    expect(most.merged).toEqual([target]);
    expect(mergeIntoSites([half], [poly("way", 31)], points, data)).toEqual([]);
    expect(half.merged.map((m) => m.osmId)).toEqual([31]);
  });

  it("stays standalone when no site has half its located members inside (unlocated members do not count)", () => {
    const few = site(10, members([1, 4, 5], [101, 999])); // 1 of 4 located inside
    const none = site(11, members([7, 8], [999])); // nothing located
    const alone = poly("way", 40);
    expect(mergeIntoSites([few, none], [alone], points, data)).toEqual([alone]);
    expect([few.merged, none.merged]).toEqual([[], []]);
  });
});
