import { describe, expect, it } from "vitest";
import { kmToDegLat } from "../synthetic-osm.ts";
import { LAT, LON, polygonArea, rect } from "../testing/model-fixtures.ts";
import { PoiCollector } from "./pois.ts";

const a = polygonArea("way/1", rect(LON, LAT, LON + 0.02, LAT + 0.02));
const b = polygonArea("way/2", rect(LON, LAT + 0.02 + kmToDegLat(3), LON + 0.02, LAT + 0.04 + kmToDegLat(3))); // 3 km north of A

describe("nearby features (POIs)", () => {
  it("keep a tagged node within POI_KM of a footprint with its nearest area; count it for every area in reach", () => {
    const pois = new PoiCollector([a, b]);
    pois.node(1, { tourism: "hotel", name: "Inside" }, LON + 0.01, LAT + 0.01);
    pois.node(2, { amenity: "restaurant" }, LON + 0.01, LAT + 0.02 + kmToDegLat(1.2)); // 1.2 km from A, 1.8 km from B
    pois.node(3, { amenity: "cafe" }, LON + 0.01, LAT - kmToDegLat(2.5)); // 2.5 km from A
    pois.node(4, { natural: "tree" }, LON + 0.01, LAT + 0.01); // no POI tag
    expect(pois.sorted().map((p) => [p.id, p.skiAreaId, p.name, p.category, Number(p.distanceKm.toFixed(3))])).toEqual([
      ["node/1", "way/1", "Inside", "tourism=hotel", 0], ["node/2", "way/1", null, "amenity=restaurant", 1.2],
    ]);
    expect(pois.poiCount).toEqual(new Map([["way/1", 2], ["way/2", 1]]));
  });

  it("place a way at its centroid (closed) or the mean of its vertices, in any order, sorted by id in the end", () => {
    const pois = new PoiCollector([a]);
    const r = rect(LON + 0.03, LAT, LON + 0.032, LAT + 0.002).outer; // 0.76 km east of A
    pois.way({ id: 9, tags: { amenity: "parking" }, refs: [1, 2, 3, 4, 1], coords: Float64Array.from(r) });
    pois.way({ id: 8, tags: { amenity: "parking" }, refs: [5], coords: new Float64Array(0) }); // no located node: nowhere
    pois.way({ id: 6, tags: { amenity: "fuel" }, refs: [5, 6], coords: Float64Array.of(LON + 0.001, LAT + 0.001, LON + 0.003, LAT + 0.005) });
    pois.node(7, { shop: "ski" }, LON + 0.001, LAT + 0.001);
    expect(pois.sorted().map((p) => [p.id, p.osmType, p.lon.toFixed(4), p.lat.toFixed(4)])).toEqual([
      ["node/7", "node", (LON + 0.001).toFixed(4), (LAT + 0.001).toFixed(4)],
      ["way/6", "way", (LON + 0.002).toFixed(4), (LAT + 0.003).toFixed(4)],
      ["way/9", "way", (LON + 0.031).toFixed(4), (LAT + 0.001).toFixed(4)],
    ]);
  });

  it("ignore every candidate when no area has a footprint", () => {
    const pois = new PoiCollector([{ ...a, footprint: { kind: "none", polygons: [], points: [], bbox: null } }]);
    pois.node(1, { tourism: "hotel" }, LON, LAT);
    expect([pois.sorted(), pois.poiCount.size]).toEqual([[], 0]);
  });
});
