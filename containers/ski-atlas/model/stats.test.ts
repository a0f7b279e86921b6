import { describe, expect, it } from "vitest";
import { LAT, LON, lift, northCoords, piste, polygonArea, rect } from "../testing/model-fixtures.ts";
import { areaStats, round, skiAreaStats } from "./stats.ts";

// Lines run due north: a line of `km` is `km` long. A line of 4 vertices 2 km long has 3 segments of 2/3 km.
const area = polygonArea("way/1", rect(LON, LAT, LON + 0.1, LAT + 0.1));
const near = (x: number, want: number) => expect(Math.abs(x - want)).toBeLessThan(1e-3);

describe("statistics of a ski area", () => {
  it("count each downhill segment once, under the hardest difficulty on it; the difficulty columns add up", () => {
    const line = northCoords(LON, LAT, 2, 4);
    const s = areaStats(area, [], [
      piste(1, line, { difficulty: "easy" }),
      piste(2, line.slice(2), { difficulty: "advanced" }), // its last 4/3 km, walked the same way
      piste(3, Float64Array.of(line[2], line[3], line[0], line[1])), // the first segment, backwards, no difficulty
      piste(4, northCoords(LON + 0.01, LAT, 0.5)), // a piste of its own without difficulty
    ], 0);
    near(s.downhill_km, 2 + 0.5);
    near(s.downhill_km_by_difficulty.easy, 2 / 3);
    near(s.downhill_km_by_difficulty.advanced, 4 / 3);
    near(s.downhill_km_by_difficulty.unknown, 0.5);
    expect(s.piste_count).toBe(4);
  });

  it("give each other piste type its column (a downhill;nordic way counts in both); area pistes count, with no km", () => {
    const s = areaStats(area, [], [
      piste(1, northCoords(LON, LAT, 1), { types: ["downhill", "nordic"] }),
      piste(2, northCoords(LON + 0.01, LAT, 0.4), { types: ["skitour"] }),
      piste(3, northCoords(LON + 0.02, LAT, 0.3), { types: ["sled"] }),
      piste(4, northCoords(LON + 0.03, LAT, 0.2), { types: ["snow_park"] }),
      piste(5, northCoords(LON + 0.04, LAT, 5), { types: ["downhill"], isArea: true }),
    ], 3);
    expect(s).toMatchObject({ piste_count: 5, poi_count: 3 });
    near(s.downhill_km, 1);
    near(s.nordic_km, 1);
    near(s.skitour_km, 0.4);
    near(s.sled_km, 0.3);
    near(s.snow_park_km, 0.2);
  });

  it("count lifts per type with their km (a shared segment once), sum capacities, and take station elevations", () => {
    const s = areaStats(area, [
      lift(1, northCoords(LON, LAT, 1), { liftType: "chair_lift", capacity: 1200, stationEles: [1500, 2100] }),
      lift(2, northCoords(LON, LAT, 1), { liftType: "t-bar", capacity: 2400, stationEles: [1800] }), // over the chair lift
      lift(3, northCoords(LON + 0.01, LAT, 0.5), { liftType: "t-bar" }),
    ], [], 0);
    expect(s).toMatchObject({ lift_count: 3, lift_capacity_pph: 3600, lift_station_ele_min_m: 1500, lift_station_ele_max_m: 2100 });
    expect(s.lift_count_by_type).toMatchObject({ chair_lift: 1, "t-bar": 2, gondola: 0 });
    near(s.lift_length_km, 1.5);
    near(s.lift_km_by_type["t-bar"], 1.5);
    near(s.lift_km_by_type.chair_lift, 1);
    expect(areaStats(area, [lift(1, northCoords(LON, LAT, 1))], [], 0)).toMatchObject({ lift_capacity_pph: null, lift_station_ele_max_m: null });
  });

  it("count only operating lifts and pistes, per area and for the region (a segment two areas share once)", () => {
    const other = polygonArea("way/2", rect(LON + 1, LAT, LON + 1.1, LAT + 0.1));
    const shared = northCoords(LON, LAT, 1);
    const { stats, totals } = skiAreaStats([area, other], [
      lift(1, shared, { skiAreaId: "way/1" }), lift(2, shared, { skiAreaId: "way/2" }),
      lift(3, northCoords(LON, LAT, 2), { skiAreaId: "way/1", status: "disused" }),
    ], [piste(4, northCoords(LON, LAT, 3), { skiAreaId: "way/2", status: "proposed" }), piste(5, northCoords(LON, LAT, 0.7), { skiAreaId: null })], new Map([["way/2", 4]]));
    expect(stats.map((s) => [s.id, s.lift_count, s.lift_length_km, s.piste_count, s.poi_count])).toEqual([["way/1", 1, 1, 0, 0], ["way/2", 1, 1, 0, 4]]);
    expect(totals).toEqual({ liftKm: 1, downhillKm: 0.7, nordicKm: 0 });
  });

  it("round published figures", () => {
    expect([round(1.23456, 3), round(2.5e-4, 3), round(46.123456789, 7)]).toEqual([1.235, 0, 46.1234568]);
  });
});
