import { describe, expect, it } from "vitest";
import { polygonAreaKm2, type Polygon } from "../geo.ts";
import type { OsmRelation } from "../osm-data.ts";
import { LAT, LON, rect } from "../testing/model-fixtures.ts";
import type { SiteMembers } from "./site-relations.ts";
import type { Candidate } from "./ski-area-candidates.ts";
import { outermostParts, skiAreasOf } from "./ski-area-rows.ts";

const poly = (osmType: "way" | "relation", osmId: number, p: Polygon, tags: Record<string, string> = {}): Candidate => ({
  osmType, osmId, tags: { landuse: "winter_sports", ...tags }, polygons: [p], isSite: false, merged: [], areaKm2: polygonAreaKm2(p),
});
const noData = { ways: new Map(), nodeLocation: () => undefined };
const big = rect(LON, LAT, LON + 0.05, LAT + 0.05), kids = rect(LON + 0.01, LAT + 0.01, LON + 0.02, LAT + 0.02);

describe("one ski area per row", () => {
  it("keeps only the outermost parts: a nested part adds nothing to the geometry or the area", () => {
    const apart = rect(LON + 0.1, LAT, LON + 0.11, LAT + 0.01);
    expect(outermostParts([kids, big, apart])).toEqual([big, apart]);
    const row = poly("way", 1, big, { name: "Big" });
    row.merged.push(poly("way", 2, kids));
    const [area] = skiAreasOf([row], noData, new Map(), []).skiAreas;
    expect(area.areaKm2).toBeCloseTo(polygonAreaKm2(big), 9);
    expect(area.footprint.polygons).toEqual([big]);
    expect(area.osmIds).toEqual(["way/1", "way/2"]);
  });

  it("is named by its own object, else by its largest named part; records how it was mapped and every merged id", () => {
    const site: Candidate = { osmType: "relation", osmId: 9, tags: { site: "piste" }, polygons: [], isSite: true, merged: [], areaKm2: 0 };
    site.merged.push(poly("way", 4, kids, { name: "Small" }), poly("way", 3, big, { name: "Large" }), poly("relation", 2, big));
    const [area] = skiAreasOf([site], noData, new Map(), []).skiAreas;
    expect(area).toMatchObject({ id: "relation/9", name: "Large", sources: ["landuse=winter_sports", "site=piste"], osmIds: ["relation/2", "relation/9", "way/3", "way/4"] });
    const alone: Candidate = { ...site, merged: [], tags: { site: "piste", name: "Own" } };
    expect(skiAreasOf([alone], noData, new Map(), []).skiAreas[0]).toMatchObject({ name: "Own", sources: ["site=piste"] });
  });

  it("takes its status from site or landuse, its group from the agglomeration listing it, its country from its centre", () => {
    const group: OsmRelation = { id: 50, tags: { site: "piste", name: "Ski Group" }, members: [] };
    const members: SiteMembers = { ways: new Set([7]), nodes: new Set(), relations: new Set(), childSites: new Set() };
    const site: Candidate = { osmType: "relation", osmId: 9, tags: { site: "piste", disused: "yes" }, polygons: [], isSite: true, members, merged: [], areaKm2: 0 };
    const data = { ways: new Map([[7, { id: 7, tags: {}, refs: [], coords: Float64Array.of(LON, LAT, LON, LAT + 0.01) }]]), nodeLocation: () => undefined };
    const { skiAreas, membersOf } = skiAreasOf([site, poly("way", 1, big, { landuse: "abandoned", abandoned: "winter_sports" })], data, new Map([[9, group]]), []);
    expect(skiAreas.map((a) => [a.id, a.status, a.groupId, a.groupName, a.country])).toEqual([
      ["relation/9", "disused", "relation/50", "Ski Group", "AT"],
      ["way/1", "abandoned", null, null, "AT"],
    ]);
    expect(membersOf.get("relation/9")).toBe(members);
  });

  it("gets no geometry, and a warning, when none of its members is in the extract", () => {
    const members: SiteMembers = { ways: new Set([7]), nodes: new Set([8]), relations: new Set(), childSites: new Set() };
    const site: Candidate = { osmType: "relation", osmId: 9, tags: { site: "piste" }, polygons: [], isSite: true, members, merged: [], areaKm2: 0 };
    const warnings: string[] = [];
    const [area] = skiAreasOf([site], noData, new Map(), warnings).skiAreas;
    expect(area).toMatchObject({ footprint: { kind: "none" }, areaKm2: null, lon: null, lat: null, country: null });
    expect(warnings).toEqual(["relation/9: none of its members are in the extract; it gets no geometry"]);
  });
});
