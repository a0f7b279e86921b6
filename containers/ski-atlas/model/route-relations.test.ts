import { describe, expect, it } from "vitest";
import type { OsmRelation } from "../osm-data.ts";
import { routeTagsOfWays, withRouteTags } from "./route-relations.ts";

const route = (id: number, ways: number[], tags: Record<string, string>): OsmRelation => ({
  id, tags: { type: "route", route: "piste", ...tags }, members: ways.map((ref) => ({ type: "w", ref, role: "" })),
});

describe("route=piste relations", () => {
  it("give member ways the trail's piste tags, name and lifecycle tags; the way's own tags win", () => {
    const routes = routeTagsOfWays([route(10, [1], { "piste:type": "nordic", "piste:difficulty": "easy", name: "Loipe", disused: "yes", ref: "7" })]);
    expect(routes.get(1)).toEqual({ routeId: 10, tags: { "piste:type": "nordic", "piste:difficulty": "easy", name: "Loipe", disused: "yes" } });
    expect(withRouteTags({ tags: { highway: "track", name: "Own" } }, routes.get(1))).toEqual({
      "piste:type": "nordic", "piste:difficulty": "easy", name: "Own", disused: "yes", highway: "track",
    });
    expect(withRouteTags({ tags: { highway: "path" } }, undefined)).toEqual({ highway: "path" });
  });

  it("take each key from the lowest relation id that has it, and record that relation", () => {
    const routes = routeTagsOfWays([
      route(10, [1], { "piste:type": "nordic" }),
      route(11, [1, 2], { "piste:type": "downhill", "piste:difficulty": "advanced" }),
    ]);
    expect(routes.get(1)).toEqual({ routeId: 10, tags: { "piste:type": "nordic", "piste:difficulty": "advanced" } });
    expect(routes.get(2)).toEqual({ routeId: 11, tags: { "piste:type": "downhill", "piste:difficulty": "advanced" } });
  });

  it("ignore other relations, a multipolygon tagged route=piste, and node or relation members", () => {
    const mp = route(12, [3], { type: "multipolygon", "piste:type": "downhill" });
    const other: OsmRelation = { id: 13, tags: { type: "route", route: "hiking", name: "Trail" }, members: [{ type: "w", ref: 4, role: "" }] };
    const nodes: OsmRelation = { id: 14, tags: { route: "piste", name: "N" }, members: [{ type: "n", ref: 5, role: "" }, { type: "r", ref: 12, role: "" }] };
    expect([...routeTagsOfWays([mp, other, nodes]).keys()]).toEqual([]);
  });
});
