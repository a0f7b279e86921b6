import { describe, expect, it } from "vitest";
import { signedRingArea } from "../geo.ts";
import { kmToDegLat, OsmBuilder } from "../synthetic-osm.ts";
import { LAT, LON } from "../testing/model-fixtures.ts";
import { liftsAndPistes, representativePoints } from "./lifts-and-pistes.ts";
import { routeTagsOfWays } from "./route-relations.ts";

describe("lifts and pistes from ways", () => {
  it("make a lift with its type, capacity, occupancy and station elevations; a way may be a lift and a piste", () => {
    const b = new OsmBuilder();
    const station = (i: number) => ({ aerialway: "station", ele: ["1500", "2100"][i] });
    const chair = b.way(b.northLine(LON, LAT, 1, 2, station), { aerialway: "chair_lift", "aerialway:capacity": "2400 p/h", "aerialway:occupancy": "4", "piste:type": "downhill", "piste:name": "Run" });
    const { lifts, pistes } = liftsAndPistes(b.toOsmData(), new Set(), new Map(), []);
    expect(lifts).toHaveLength(1);
    expect(lifts[0]).toMatchObject({ id: `way/${chair}`, name: "Run", aerialway: "chair_lift", liftType: "chair_lift", capacity: 2400, occupancy: 4, stationEles: [1500, 2100], skiAreaId: null });
    expect(lifts[0].lengthKm).toBeCloseTo(1, 6);
    expect(pistes.map((p) => [p.osmId, p.pisteType])).toEqual([[chair, "downhill"]]);
  });

  it("make a resort's railway a lift only when a resort lists it", () => {
    const b = new OsmBuilder();
    const train = b.way(b.northLine(LON, LAT, 2, 2), { railway: "narrow_gauge" });
    const data = b.toOsmData();
    expect(liftsAndPistes(data, new Set([train]), new Map(), []).lifts.map((l) => l.liftType)).toEqual(["railway"]);
    expect(liftsAndPistes(data, new Set(), new Map(), []).lifts).toEqual([]);
  });

  it("give a piste what it inherits from its route relation, normalized, with the route's id", () => {
    const b = new OsmBuilder();
    const track = b.way(b.northLine(LON, LAT, 1, 3), { highway: "track", "piste:grooming": "Classic;Skating" });
    const route = b.relationId();
    b.relation(route, [{ type: "way", ref: track }], { type: "route", route: "piste", "piste:type": "nordic", "piste:difficulty": "Easy", name: "Loipe" });
    const data = b.toOsmData();
    const { pistes } = liftsAndPistes(data, new Set(), routeTagsOfWays([...data.relations.values()]), []);
    expect(pistes).toHaveLength(1);
    expect(pistes[0]).toMatchObject({ name: "Loipe", pisteType: "nordic", types: ["nordic"], difficulty: "easy", grooming: "classic;skating", routeId: route, isArea: false, areaKm2: null });
    expect(pistes[0].lengthKm).toBeCloseTo(1, 6);
  });

  it("make a closed downhill way an area piste: counter-clockwise, with an area and no length", () => {
    const b = new OsmBuilder();
    const clockwise = b.rect(LON, LAT, LON + 0.01, LAT + 0.01).reverse();
    b.way(clockwise, { "piste:type": "downhill" });
    const [p] = liftsAndPistes(b.toOsmData(), new Set(), new Map(), []).pistes;
    expect(p).toMatchObject({ isArea: true, lengthKm: null });
    expect(p.areaKm2).toBeGreaterThan(0);
    expect(signedRingArea(p.coords)).toBeGreaterThan(0);
  });

  it("skip, with one warning, ways without two located nodes; list the rest in id order", () => {
    const b = new OsmBuilder();
    const broken = b.way([b.node(LON, LAT)], { aerialway: "chair_lift", "piste:type": "downhill" }); // neither lift nor piste to measure
    const gondola = b.way(b.northLine(LON, LAT, 1, 2), { aerialway: "gondola" });
    const tbar = b.way(b.northLine(LON + 0.02, LAT, 1, 2), { aerialway: "t-bar" });
    const data = b.toOsmData();
    const outOfOrder = new Map([tbar, broken, gondola].map((id) => [id, data.ways.get(id)!]));
    const warnings: string[] = [];
    expect(liftsAndPistes({ ways: outOfOrder, taggedNodes: [] }, new Set(), new Map(), warnings).lifts.map((l) => l.osmId)).toEqual([gondola, tbar]);
    expect(warnings).toEqual(["2 lift/piste way(s) without at least two located nodes; skipped"]);
  });

  it("stand a line for its midpoint and an area piste for its centroid", () => {
    const b = new OsmBuilder();
    const line = b.way(b.northLine(LON, LAT, 2, 5), { "piste:type": "nordic" });
    const area = b.way(b.rect(LON + 0.01, LAT, LON + 0.03, LAT + 0.02), { "piste:type": "downhill" });
    const { pistes } = liftsAndPistes(b.toOsmData(), new Set(), new Map(), []);
    const points = representativePoints(pistes);
    expect(points.get(line)![1]).toBeCloseTo(LAT + kmToDegLat(1), 7);
    expect(points.get(area)![0]).toBeCloseTo(LON + 0.02, 6);
    expect(points.get(area)![1]).toBeCloseTo(LAT + 0.01, 4);
  });
});
