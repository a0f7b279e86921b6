import { describe, expect, it } from "vitest";
import { signedRingArea } from "../geo.ts";
import type { OsmRelation, OsmWay } from "../osm-data.ts";
import { assembleRings, isClosed, multipolygonOf, oriented } from "./rings.ts";

/** A way over nodes placed at `points` (node id → [lon, lat]). */
const points: Record<number, [number, number]> = {
  1: [0, 0], 2: [1, 0], 3: [1, 1], 4: [0, 1], 5: [0.4, 0.4], 6: [0.6, 0.4], 7: [0.6, 0.6], 8: [0.4, 0.6], 9: [5, 5],
  11: [3, 3], 12: [4, 3], 13: [4, 4], 14: [3, 4],
};
const way = (id: number, refs: number[]): OsmWay => ({ id, tags: {}, refs, coords: Float64Array.from(refs.flatMap((r) => points[r] ?? [])) });

describe("rings and multipolygons", () => {
  it("join ring pieces drawn in either direction", () => {
    const { rings, open } = assembleRings([way(1, [1, 2, 3]), way(2, [1, 4, 3])]);
    expect(open).toBe(0);
    expect(rings).toHaveLength(1);
    expect(Array.from(rings[0])).toEqual([0, 0, 1, 0, 1, 1, 0, 1, 0, 0]);
  });

  it("count a chain that does not close, and a way missing a node location, as open", () => {
    expect(assembleRings([way(1, [1, 2, 3])]).open).toBe(1);
    expect(assembleRings([way(1, [1, 2, 10, 1])]).open).toBe(1);
  });

  it("know a closed way: first node last, every node located, at least a triangle", () => {
    expect(isClosed(way(1, [1, 2, 3, 1]))).toBe(true);
    expect(isClosed(way(1, [1, 2, 1]))).toBe(false);
    expect(isClosed(way(1, [1, 2, 3]))).toBe(false);
    expect(isClosed(way(1, [1, 2, 10, 1]))).toBe(false);
  });

  it("orient outer rings counter-clockwise and inner rings clockwise", () => {
    const cw = [0, 0, 0, 1, 1, 1, 1, 0, 0, 0];
    expect(signedRingArea(oriented(cw, true))).toBeGreaterThan(0);
    expect(signedRingArea(oriented(cw, false))).toBeLessThan(0);
  });

  it("make a multipolygon's inner rings holes of the outer ring holding them; warn of what does not fit", () => {
    const ways = new Map([way(1, [1, 2, 3]), way(2, [3, 4, 1]), way(3, [5, 6, 7, 8, 5]), way(4, [9, 2])].map((w) => [w.id, w]));
    const rel: OsmRelation = {
      id: 7, tags: { type: "multipolygon", landuse: "winter_sports" },
      members: [{ type: "w", ref: 1, role: "outer" }, { type: "w", ref: 2, role: "" }, { type: "w", ref: 3, role: "inner" }, { type: "w", ref: 4, role: "outer" }, { type: "w", ref: 99, role: "outer" }],
    };
    const warnings: string[] = [];
    const polygons = multipolygonOf(rel, ways, warnings);
    expect(polygons).toHaveLength(1);
    expect(polygons[0].inners).toHaveLength(1);
    expect(signedRingArea(polygons[0].inners[0])).toBeLessThan(0);
    expect(warnings).toEqual(["relation/7: 1 member way chain(s) do not close into rings; ignored"]);

    const stray: string[] = [];
    const outside = new Map([way(1, [1, 2, 3, 4, 1]), way(3, [11, 12, 13, 14, 11])].map((w) => [w.id, w]));
    const holed = { ...rel, members: [{ type: "w" as const, ref: 1, role: "outer" }, { type: "w" as const, ref: 3, role: "inner" }] };
    expect(multipolygonOf(holed, outside, stray)[0].inners).toEqual([]);
    expect(stray).toEqual(["relation/7: an inner ring lies in no outer ring; ignored"]);
  });
});
