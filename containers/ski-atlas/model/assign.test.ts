import { describe, expect, it } from "vitest";
import { kmToDegLat } from "../synthetic-osm.ts";
import { LAT, LON, lift, memberArea, northCoords, piste, polygonArea, rect } from "../testing/model-fixtures.ts";
import { assignToSkiAreas } from "./assign.ts";
import { representativePoints } from "./lifts-and-pistes.ts";
import type { SiteMembers } from "./site-relations.ts";
import type { Lift, Piste, SkiArea } from "./types.ts";

/** Assigns the features and returns [skiAreaId, assignedBy] of each. */
function assign(areas: SkiArea[], features: (Lift | Piste)[], membersOf = new Map<string, SiteMembers>()) {
  assignToSkiAreas(areas, membersOf, features, representativePoints(features));
  return features.map((f) => [f.skiAreaId, f.assignedBy]);
}
const km = kmToDegLat;
const a = polygonArea("way/1", rect(LON, LAT, LON + 0.02, LAT + 0.02));

describe("assignment of lifts and pistes to ski areas", () => {
  it("1. membership: the lowest-id area whose site relation lists the way, wherever it lies", () => {
    const far = lift(7, northCoords(LON + 1, LAT, 1));
    const listing = (...ways: number[]): SiteMembers => ({ ways: new Set(ways), nodes: new Set(), relations: new Set(), childSites: new Set() });
    const b = polygonArea("relation/5", rect(LON + 1, LAT, LON + 1.1, LAT + 0.1));
    const members = new Map([["relation/5", listing(7)], ["way/1", listing(7)]]);
    expect(assign([b, a], [far], members)).toEqual([["relation/5", "membership"]]);
  });

  it("2. polygon: more than half of its vertices inside; exactly half: its midpoint decides; the smallest polygon wins", () => {
    const kids = polygonArea("way/2", rect(LON + 0.005, LAT + 0.005, LON + 0.01, LAT + 0.01));
    const features = [
      lift(10, northCoords(LON + 0.007, LAT + 0.006, 0.2)), // inside both: the kids' area is smaller
      lift(11, northCoords(LON + 0.015, LAT + 0.01, 2, 3)), // 2 of 3 vertices in A
      lift(12, northCoords(LON + 0.015, LAT + 0.02 - km(0.4), 1, 2)), // 1 of 2 inside, its midpoint 0.1 km outside: rule 3 takes it
      lift(13, northCoords(LON + 0.015, LAT + 0.02 - km(0.6), 1, 2)), // 1 of 2 inside, its midpoint too
    ];
    expect(assign([a, kids], features)).toEqual([["way/2", "polygon"], ["way/1", "polygon"], ["way/1", "proximity"], ["way/1", "polygon"]]);
  });

  it("2. polygon: an area piste's closing vertex counts once", () => {
    // A closed piste of 4 distinct vertices, 2 inside A: exactly half (not 3 of 5), and its centroid lies outside, so
    // rule 2 does not take it (rule 3 does: an end lies inside).
    const x0 = LON + 0.019, x1 = LON + 0.023, y0 = LAT + 0.005, y1 = LAT + 0.006;
    const ring = Float64Array.of(x0, y0, x1, y0, x1, y1, x0, y1, x0, y0);
    expect(assign([a], [piste(20, ring, { isArea: true })])).toEqual([["way/1", "proximity"]]);
  });

  it("3. proximity: the midpoint within NEAR_KM of a polygon-less resort's members", () => {
    const { area, members } = memberArea("relation/3", northCoords(LON + 1, LAT, 1), northCoords(LON + 1.01, LAT, 1));
    const near = lift(30, northCoords(LON + 1.005, LAT + km(1.5), 0.2)); // midpoint 0.6 km north of the hull
    const tooFar = lift(31, northCoords(LON + 1.005, LAT + km(2.2), 0.2)); // 1.3 km
    expect(assign([area], [near, tooFar], new Map([["relation/3", members]]))).toEqual([["relation/3", "proximity"], [null, null]]);
  });

  it("3. proximity: an end within POLYGON_NEAR_KM of a polygon; an end in a hole does not count", () => {
    const holed = polygonArea("way/4", { outer: rect(LON + 2, LAT, LON + 2.04, LAT + 0.04).outer, inners: [rect(LON + 2.01, LAT + 0.01, LON + 2.03, LAT + 0.03).outer] });
    const features = [
      lift(40, northCoords(LON + 0.01, LAT - km(1.1), 1)), // top 0.1 km below A
      lift(41, northCoords(LON + 0.01, LAT - km(1.5), 1)), // top 0.5 km below A
      lift(42, northCoords(LON + 2.02, LAT + 0.015, 0.2)), // wholly in the hole
    ];
    expect(assign([a, holed], features)).toEqual([["way/1", "proximity"], [null, null], [null, null]]);
  });

  it("3. proximity: the nearest resort wins, and never one other than a resort the feature enters", () => {
    const b = polygonArea("way/5", rect(LON, LAT + 0.02 + km(0.2), LON + 0.02, LAT + 0.04 + km(0.2))); // 0.2 km north of A
    const between = lift(50, northCoords(LON + 0.005, LAT + 0.02 + km(0.1), 0.15)); // 0.1 km from A, its top 0.05 km into B
    const nearerA = lift(51, northCoords(LON + 0.005, LAT + 0.02 + km(0.05), 0.1)); // 0.05 km from A, 0.05 from B: a tie, lower id
    const nearerB = lift(52, northCoords(LON + 0.005, LAT + 0.02 + km(0.08), 0.1)); // 0.08 km from A, 0.02 km from B
    expect(assign([a, b], [between, nearerA, nearerB])).toEqual([["way/5", "proximity"], ["way/1", "proximity"], ["way/5", "proximity"]]);
  });
});
