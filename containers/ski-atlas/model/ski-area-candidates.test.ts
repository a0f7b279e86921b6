import { describe, expect, it } from "vitest";
import { OsmBuilder } from "../synthetic-osm.ts";
import { LAT, LON } from "../testing/model-fixtures.ts";
import { byId } from "./osm-ids.ts";
import { siteRelations } from "./site-relations.ts";
import { landuseCandidates, landuseIsSkiing, siteCandidates } from "./ski-area-candidates.ts";

describe("ski area candidates", () => {
  it("take landuse=winter_sports as a resort unless sport names something else (SkiAreaFormatter.ts)", () => {
    expect(landuseIsSkiing({ landuse: "winter_sports" })).toBe(true);
    expect(landuseIsSkiing({ sport: "Skiing;Ski_Jumping" })).toBe(true);
    expect(landuseIsSkiing({ sport: "ski" })).toBe(true);
    expect(landuseIsSkiing({ sport: "ice_skating" })).toBe(false);
    expect(landuseIsSkiing({ sport: "ski_jumping" })).toBe(false);
  });

  it("are the landuse multipolygons then the closed landuse ways, in id order, with warnings for what has no inside", () => {
    const b = new OsmBuilder();
    const closed = b.way(b.rect(LON, LAT, LON + 0.01, LAT + 0.01), { landuse: "winter_sports", name: "Closed" });
    const open = b.way(b.northLine(LON + 0.1, LAT, 1, 3), { landuse: "winter_sports" });
    b.way(b.rect(LON + 0.2, LAT, LON + 0.21, LAT + 0.01), { landuse: "winter_sports", sport: "ice_skating" });
    const outer = b.way(b.rect(LON + 0.3, LAT, LON + 0.31, LAT + 0.01), {});
    const mp = b.relationId();
    b.relation(mp, [{ type: "way", ref: outer, role: "outer" }], { type: "multipolygon", landuse: "winter_sports" });
    const ringless = b.relationId();
    b.relation(ringless, [{ type: "way", ref: open, role: "outer" }], { type: "multipolygon", landuse: "winter_sports" });
    const siteWithLanduse = b.relationId();
    b.relation(siteWithLanduse, [{ type: "way", ref: closed }], { type: "site", site: "piste", landuse: "winter_sports" });
    const data = b.toOsmData();
    const warnings: string[] = [];
    const candidates = landuseCandidates([...data.relations.values()].sort(byId), data, warnings);
    expect(candidates.map((c) => `${c.osmType}/${c.osmId}`)).toEqual([`relation/${mp}`, `way/${closed}`]);
    expect(candidates[1]).toMatchObject({ isSite: false, merged: [] });
    expect(candidates[1].areaKm2).toBeGreaterThan(0);
    expect(warnings).toEqual([
      `relation/${ringless}: 1 member way chain(s) do not close into rings; ignored`,
      `relation/${ringless} (landuse=winter_sports) has no closed ring; skipped`,
      `way/${open} (landuse=winter_sports) is not a closed way; skipped`,
      "1 landuse=winter_sports polygon(s) for another sport (sport=*); not resorts",
    ]);
  });

  it("are the site relations that are no agglomeration, with their members", () => {
    const b = new OsmBuilder();
    const lift = b.way(b.northLine(LON, LAT, 1, 2), { aerialway: "t-bar" });
    const one = b.relationId(), group = b.relationId();
    b.relation(one, [{ type: "way", ref: lift }], { type: "site", site: "piste" });
    b.relation(group, [{ type: "relation", ref: one }], { type: "site", site: "piste" });
    const data = b.toOsmData();
    const relations = [...data.relations.values()].sort(byId);
    const sites = siteCandidates(relations, siteRelations(relations, data));
    expect(sites.map((s) => [s.osmId, s.isSite, [...s.members!.ways]])).toEqual([[one, true, [lift]]]);
  });
});
