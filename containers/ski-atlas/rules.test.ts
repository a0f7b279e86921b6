import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { analyzeExtract } from "./analyze.ts";
import { FILTER_RULES } from "./extract.ts";
import { readPbfFile } from "./extract-reader.ts";
import { extractPbf } from "./pbf/extract.ts";
import { writePbf } from "./pbf/write.ts";
import { POLYGON_NEAR_KM } from "./model/thresholds.ts";
import { buildSkiModel, DIFFICULTIES, type SkiAreaStats, type SkiModel } from "./ski-model.ts";
import { kmToDegLat, OsmBuilder, rectAreaKm2, writeXmlAsPbf } from "./synthetic-osm.ts";

/**
 * One small fixture per analysis rule (README "Analysis rules"): OSM XML built here → `osmium sort` → PBF → the
 * real extract filter → the analysis. Lines run due north, so a line of `km` is `km` long (haversine along a
 * meridian); every expected figure below is worked out from those declared lengths.
 */

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), "ski-rules-test-"));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

let fixtureCount = 0;
async function analyze(build: (b: OsmBuilder) => void): Promise<SkiModel> {
  const b = new OsmBuilder();
  build(b);
  const raw = join(tmp, `fixture-${++fixtureCount}.osm.pbf`);
  await writeXmlAsPbf(b.toXml(), raw);
  const kept = await extractPbf(raw, FILTER_RULES);
  const extract = raw.replace(".osm.pbf", ".extract.osm.pbf");
  await writePbf(extract, kept.nodes, kept.ways, kept.relations);
  // What analyze streams equals the model of the whole extract held in memory, and the model of the fixture held in
  // memory before any file (the rules' unit tests in model/ build their inputs that way): the extract drops nothing
  // the model reads.
  const streamed = await analyzeExtract(extract, "the fixture", "fix the test");
  expect(streamed).toEqual(buildSkiModel(await readPbfFile(extract, "the fixture", "fix the test")));
  expect(streamed).toEqual(buildSkiModel(b.toOsmData()));
  return streamed;
}

const near = (actual: number | null, want: number, tol = 1e-3) => expect(Math.abs(Number(actual) - want)).toBeLessThan(tol);
const row = (m: SkiModel, id: string): SkiAreaStats => {
  const r = m.stats.find((s) => s.id === id);
  if (!r) throw new Error(`no row ${id}; rows: ${m.stats.map((s) => s.id).join(", ")}`);
  return r;
};
const way = (id: number) => ({ type: "way" as const, ref: id });
const rel = (id: number) => ({ type: "relation" as const, ref: id });
// Tyrol (Austria): far from any border, so country-coder answers AT.
const LON = 11.3, LAT = 47.1;

describe("route=piste relations", () => {
  it("give their untagged member ways piste:type, difficulty and name; the way's own tags win; a segment counts once", async () => {
    let a = 0, c = 0, site = 0;
    const m = await analyze((b) => {
      const line = b.northLine(LON, LAT, 3, 7); // 0.5 km between vertices
      a = b.way(line.slice(0, 5), { highway: "track" }); // 2 km
      const bw = b.way(line.slice(4, 7), { highway: "track" }); // 1 km
      c = b.way(b.northLine(LON + 0.01, LAT, 0.5, 2), { highway: "path", "piste:type": "nordic", "piste:difficulty": "intermediate", name: "Own" });
      b.way([...line.slice(0, 5)].reverse(), { "piste:type": "nordic" }); // the same 2 km again, walked back
      const route = b.relationId();
      b.relation(route, [way(a), way(bw), way(c)], { type: "route", route: "piste", "piste:type": "nordic", "piste:difficulty": "easy", name: "Loipe" });
      site = b.relationId();
      b.relation(site, [rel(route)], { type: "site", site: "piste", name: "Nordic Centre" });
    });
    const pa = m.pistes.find((p) => p.osmId === a)!;
    expect(pa).toMatchObject({ pisteType: "nordic", difficulty: "easy", name: "Loipe", skiAreaId: `relation/${site}`, assignedBy: "membership" });
    expect(pa.routeId).not.toBeNull();
    expect(m.pistes.find((p) => p.osmId === c)).toMatchObject({ difficulty: "intermediate", name: "Own" });
    const r = row(m, `relation/${site}`);
    expect(r.piste_count).toBe(4);
    near(r.nordic_km, 2 + 1 + 0.5); // the reversed copy of the 2 km adds nothing
    expect(r.country).toBe("AT");
  });
});

describe("lifecycle", () => {
  it("keeps disused, abandoned, proposed and under-construction objects with their status, out of every statistic", async () => {
    let site = 0;
    const m = await analyze((b) => {
      const ways = [
        b.way(b.northLine(LON, LAT, 1, 2), { aerialway: "chair_lift", "aerialway:capacity": "1800" }),

        b.way(b.northLine(LON + 0.004, LAT, 0.3, 2), { aerialway: "drag_lift", abandoned: "yes" }),
        b.way(b.northLine(LON + 0.006, LAT, 0.4, 2), { aerialway: "construction", construction: "gondola" }),
        b.way(b.northLine(LON + 0.008, LAT, 1, 2), { "piste:type": "downhill", "piste:difficulty": "easy" }),
        b.way(b.northLine(LON + 0.010, LAT, 0.7, 2), { "piste:type": "downhill", "piste:abandoned": "yes" }),

        b.way(b.northLine(LON + 0.014, LAT, 0.6, 2), { "piste:type": "downhill", disused: "yes" }),
      ];
      // Not members: only extract's lifecycle filter rules keep these; proximity attaches them.
      b.way(b.northLine(LON + 0.016, LAT, 0.5, 2), { "disused:aerialway": "chair_lift" });
      b.way(b.northLine(LON + 0.018, LAT, 0.2, 2), { "proposed:piste:type": "downhill" });
      site = b.relationId();
      b.relation(site, ways.map(way), { type: "site", site: "piste", name: "Lifecycle" });
    });
    expect(m.lifts.map((l) => [l.aerialway, l.status])).toEqual([
      ["chair_lift", "operating"], ["drag_lift", "abandoned"], ["gondola", "construction"], ["chair_lift", "disused"],
    ]);
    expect(m.pistes.map((p) => p.status)).toEqual(["operating", "abandoned", "disused", "proposed"]);
    expect(m.lifts.every((l) => l.skiAreaId === `relation/${site}`)).toBe(true);
    const r = row(m, `relation/${site}`);
    expect(r).toMatchObject({ lift_count: 1, piste_count: 1, lift_capacity_pph: 1800 });
    near(r.lift_length_km, 1);
    near(r.downhill_km, 1);
    near(r.downhill_km_by_difficulty.easy, 1);
  });
});

describe("shared segments", () => {
  it("count once per resort and column; a shared downhill segment takes the harder difficulty", async () => {
    let site = 0;
    const m = await analyze((b) => {
      const line = b.northLine(LON, LAT, 2, 5); // 0.5 km between vertices
      const easy = b.way(line, { "piste:type": "downhill", "piste:difficulty": "easy" }); // 2 km
      const red = b.way(line.slice(2), { "piste:type": "downhill", "piste:difficulty": "intermediate" }); // its last 1 km
      site = b.relationId();
      b.relation(site, [way(easy), way(red)], { type: "site", site: "piste", name: "Shared" });
    });
    const r = row(m, `relation/${site}`);
    near(r.downhill_km, 2);
    near(r.downhill_km_by_difficulty.easy, 1);
    near(r.downhill_km_by_difficulty.intermediate, 1);
    near(m.totals.downhillKm, 2);
    expect(m.pistes.map((p) => p.lengthKm)).toEqual([expect.closeTo(2, 3), expect.closeTo(1, 3)]); // per way, in full
  });
});

describe("agglomerations", () => {
  it("make each child site its own resort, with the group recorded on it and no row of its own; a resort has a status", async () => {
    let group = 0, one = 0, two = 0;
    const m = await analyze((b) => {
      const l1 = b.way(b.northLine(LON, LAT, 1, 2), { aerialway: "chair_lift" });
      const l2 = b.way(b.northLine(LON + 0.05, LAT, 2, 2), { aerialway: "gondola" });
      one = b.relationId();
      two = b.relationId();
      group = b.relationId();
      b.relation(one, [way(l1)], { type: "site", site: "piste", name: "Resort One" });
      b.relation(two, [way(l2)], { type: "site", site: "piste", name: "Resort Two" });
      b.relation(group, [rel(one), rel(two)], { type: "site", site: "piste", name: "Ski Group" });
      b.relation(b.relationId(), [way(b.way(b.northLine(LON + 0.5, LAT, 1, 2), { aerialway: "disused", disused: "chair_lift" }))], { type: "site", site: "piste", name: "Closed", disused: "yes" });
    });
    const closed = m.stats.find((s) => s.name === "Closed")!;
    expect(closed).toMatchObject({ status: "disused", lift_count: 0, group_id: null });
    expect(m.lifts.find((l) => l.skiAreaId === closed.id)).toMatchObject({ aerialway: "chair_lift", status: "disused" });
    expect(m.stats.map((s) => s.id).slice(0, 2)).toEqual([`relation/${one}`, `relation/${two}`]);
    expect(m.stats.map((s) => s.id)).not.toContain(`relation/${group}`);
    for (const [id, km] of [[one, 1], [two, 2]]) {
      const r = row(m, `relation/${id}`);
      expect(r).toMatchObject({ group_id: `relation/${group}`, group_name: "Ski Group", lift_count: 1 });
      near(r.lift_length_km, km);
    }
  });
});

describe("landuse polygons", () => {
  it("merge a nested polygon and the parts of one resort into one row", async () => {
    let big = 0, kids = 0, twinA = 0, twinB = 0, touching = 0, kidsLift = 0;
    const km = kmToDegLat(1);
    const m = await analyze((b) => {
      big = b.way(b.rect(LON, LAT, LON + 0.05, LAT + 0.05), { landuse: "winter_sports", name: "Big Resort" });
      kids = b.way(b.rect(LON + 0.01, LAT + 0.01, LON + 0.02, LAT + 0.02), { landuse: "winter_sports", name: "Kids Area" });
      kidsLift = b.way(b.northLine(LON + 0.015, LAT + 0.012, 0.3, 2), { aerialway: "magic_carpet" });
      // Two parts with the same name 0.5 km apart (in latitude), and an unnamed part sharing an edge with the first.
      const y = LAT + 0.2;
      twinA = b.way(b.rect(LON, y, LON + 0.02, y + 0.02), { landuse: "winter_sports", name: "Twin Peaks" });
      twinB = b.way(b.rect(LON, y + 0.02 + km / 2, LON + 0.02, y + 0.04 + km / 2), { landuse: "winter_sports", name: "twin peaks" });
      touching = b.way(b.rect(LON + 0.02, y, LON + 0.03, y + 0.02), { landuse: "winter_sports" });
      b.way(b.northLine(LON + 0.01, y + 0.001, 1, 2), { aerialway: "t-bar" });
      b.way(b.northLine(LON + 0.01, y + 0.021 + km / 2, 1, 2), { aerialway: "t-bar" });
      b.way(b.northLine(LON + 0.025, y + 0.001, 1, 2), { aerialway: "t-bar" });
    });
    expect(m.stats.map((s) => s.id)).toEqual([`way/${big}`, `way/${twinA}`]);
    const bigRow = row(m, `way/${big}`);
    expect(bigRow.osm_ids).toBe(`way/${big},way/${kids}`);
    expect(bigRow.name).toBe("Big Resort");
    expect(bigRow.lift_count).toBe(1);
    expect(m.lifts.find((l) => l.osmId === kidsLift)!.skiAreaId).toBe(`way/${big}`);
    expect(Math.abs(bigRow.area_km2! - rectAreaKm2(LON, LAT, LON + 0.05, LAT + 0.05)) / bigRow.area_km2!).toBeLessThan(1e-4); // the kids' area is inside: not added
    const twins = row(m, `way/${twinA}`);
    expect(twins.osm_ids).toBe([twinA, twinB, touching].sort((p, q) => p - q).map((id) => `way/${id}`).join(","));
    expect(twins.lift_count).toBe(3);
    near(twins.lift_length_km, 3);
  });

  it("honours sport: a winter_sports polygon for skating is no resort", async () => {
    let ski = 0, plain = 0;
    const m = await analyze((b) => {
      b.way(b.rect(LON, LAT, LON + 0.01, LAT + 0.01), { landuse: "winter_sports", sport: "ice_skating", name: "Rink" });
      ski = b.way(b.rect(LON + 0.1, LAT, LON + 0.11, LAT + 0.01), { landuse: "winter_sports", sport: "Skiing;Ski_Jumping", name: "Hill" });
      plain = b.way(b.rect(LON + 0.2, LAT, LON + 0.21, LAT + 0.01), { landuse: "winter_sports", name: "Plain" });
    });
    expect(m.stats.map((s) => s.id)).toEqual([`way/${ski}`, `way/${plain}`]);
  });

  it(`attach a lift whose end lies within ${POLYGON_NEAR_KM} km of the polygon, never one that enters another resort`, async () => {
    let a = 0, bId = 0, close = 0, far = 0, between = 0;
    const m = await analyze((b) => {
      a = b.way(b.rect(LON, LAT, LON + 0.02, LAT + 0.02), { landuse: "winter_sports", name: "A" });
      // Lifts south of A, running south (away from it): top station 0.1 km or 0.5 km from A's edge.
      close = b.way([...b.northLine(LON + 0.01, LAT - kmToDegLat(1.1), 1, 2)], { aerialway: "chair_lift" });
      far = b.way([...b.northLine(LON + 0.015, LAT - kmToDegLat(1.5), 1, 2)], { aerialway: "chair_lift" });
      // B lies north of A with a 0.2 km gap; a lift from 0.1 km above A runs 0.15 km north, its top 0.05 km into B.
      const gapTop = LAT + 0.02 + kmToDegLat(0.2);
      bId = b.way(b.rect(LON, gapTop, LON + 0.02, gapTop + 0.02), { landuse: "winter_sports", name: "B" });
      between = b.way(b.northLine(LON + 0.005, LAT + 0.02 + kmToDegLat(0.1), 0.15, 2), { aerialway: "rope_tow" }); // top in B, midpoint not
    });
    const lift = (id: number) => m.lifts.find((l) => l.osmId === id)!;
    expect(lift(close)).toMatchObject({ skiAreaId: `way/${a}`, assignedBy: "proximity" });
    expect(lift(far).skiAreaId).toBeNull();
    expect(lift(between)).toMatchObject({ skiAreaId: `way/${bId}`, assignedBy: "proximity" });
  });
});

describe("normalization", () => {
  it("splits piste:type on ';', ignores case, and reports a downhill piste without difficulty as unknown", async () => {
    let site = 0;
    const m = await analyze((b) => {
      const ways = [
        b.way(b.northLine(LON, LAT, 1, 2), { "piste:type": "Downhill", "piste:difficulty": "Easy" }),
        b.way(b.northLine(LON + 0.002, LAT, 0.5, 2), { "piste:type": "downhill;nordic" }),
        b.way(b.northLine(LON + 0.004, LAT, 0.25, 2), { "piste:type": "downhill" }),
        b.way(b.northLine(LON + 0.006, LAT, 0.6, 2), { "piste:type": "downhill", "piste:difficulty": "Intermediate;advanced" }),
        b.way(b.northLine(LON + 0.008, LAT, 0.4, 2), { "piste:type": "skitour" }),
        b.way(b.northLine(LON + 0.010, LAT, 0.3, 2), { "piste:type": "sled" }),
        b.way(b.northLine(LON + 0.012, LAT, 0.2, 2), { "piste:type": "snow_park" }),
      ];
      site = b.relationId();
      b.relation(site, ways.map(way), { type: "site", site: "piste", name: "Norm" });
    });
    const r = row(m, `relation/${site}`);
    near(r.downhill_km, 1 + 0.5 + 0.25 + 0.6);
    near(r.nordic_km, 0.5);
    near(r.downhill_km_by_difficulty.easy, 1);
    near(r.downhill_km_by_difficulty.intermediate, 0.6);
    near(r.downhill_km_by_difficulty.unknown, 0.75);
    near([...DIFFICULTIES, "unknown" as const].reduce((s, d) => s + r.downhill_km_by_difficulty[d], 0), r.downhill_km);
    near(r.skitour_km, 0.4);
    near(r.sled_km, 0.3);
    near(r.snow_park_km, 0.2);
  });

  it("treats a closed downhill way as an area unless area=no (OpenSkiMap's convention); a closed nordic loop is a line", async () => {
    let site = 0, area = 0, line = 0, loop = 0;
    const m = await analyze((b) => {
      // Out 1 km north in two 0.5 km steps, then straight back: a closed way whose line is 2 km long.
      const closed = (lon: number) => {
        const [n0, n1, n2] = b.northLine(lon, LAT, 1, 3);
        return [n0, n1, n2, n0];
      };
      area = b.way(closed(LON), { "piste:type": "downhill" });
      line = b.way(closed(LON + 0.002), { "piste:type": "downhill", area: "no" });
      loop = b.way(closed(LON + 0.004), { "piste:type": "nordic" });
      site = b.relationId();
      b.relation(site, [way(area), way(line), way(loop)], { type: "site", site: "piste", name: "Areas" });
    });
    const p = (id: number) => m.pistes.find((x) => x.osmId === id)!;
    expect(p(area)).toMatchObject({ isArea: true, lengthKm: null });
    expect(p(line).isArea).toBe(false);
    expect(p(loop).isArea).toBe(false);
    const r = row(m, `relation/${site}`);
    near(r.downhill_km, 2);
    near(r.nordic_km, 2);
  });
});

describe("lifts", () => {
  it("count funiculars, a resort's railway and a private lift, per type with capacity and station elevations; freight and closed ones do not", async () => {
    let site = 0, freight = 0, closed = 0, noFoot = 0, freightRail = 0, strayRail = 0, funicular = 0;
    const m = await analyze((b) => {
      const ele = (values: string[]) => (i: number) => ({ aerialway: "station", ele: values[i] });
      // Not a member: extract keeps it by its own filter rule (railway=funicular), proximity attaches it.
      funicular = b.way(b.northLine(LON, LAT, 1.5, 2), { railway: "funicular", name: "Funi" });
      const ways = [
        b.way(b.northLine(LON + 0.002, LAT, 2, 2), { railway: "narrow_gauge", name: "Resort Train" }),
        b.way(b.northLine(LON + 0.004, LAT, 1, 2, ele(["1500", "2100"])), { aerialway: "chair_lift", "aerialway:capacity": "1200" }),
        b.way(b.northLine(LON + 0.006, LAT, 0.5, 2, ele(["1800 m", "x"])), { aerialway: "T-bar", "aerialway:capacity": "2400 p/h" }),
        b.way(b.northLine(LON + 0.008, LAT, 0.5, 2), { aerialway: "t-bar" }),
        b.way(b.northLine(LON + 0.016, LAT, 0.3, 2), { aerialway: "chair_lift", access: "private", name: "Hotel lift" }),
      ];
      freight = b.way(b.northLine(LON + 0.010, LAT, 0.7, 2), { aerialway: "cable_car", usage: "freight" });
      closed = b.way(b.northLine(LON + 0.012, LAT, 0.7, 2), { aerialway: "chair_lift", access: "no" });
      noFoot = b.way(b.northLine(LON + 0.018, LAT, 0.7, 2), { aerialway: "gondola", foot: "private" });
      freightRail = b.way(b.northLine(LON + 0.020, LAT, 0.7, 2), { railway: "narrow_gauge", "railway:traffic_mode": "freight" });
      strayRail = b.way(b.northLine(LON + 0.014, LAT, 0.7, 2), { railway: "narrow_gauge" });
      site = b.relationId();
      b.relation(site, [...ways, freight, closed, noFoot, freightRail].map(way), { type: "site", site: "piste", name: "Lifts" });
    });
    expect(m.lifts.find((l) => l.osmId === funicular)).toMatchObject({ liftType: "funicular", skiAreaId: `relation/${site}`, assignedBy: "proximity" });
    for (const excluded of [freight, closed, noFoot, freightRail, strayRail]) expect(m.lifts.map((l) => l.osmId)).not.toContain(excluded);
    const r = row(m, `relation/${site}`);
    expect(r.lift_count).toBe(6);
    expect(r.lift_count_by_type).toMatchObject({ funicular: 1, railway: 1, chair_lift: 2, "t-bar": 2 });
    near(r.lift_km_by_type.funicular, 1.5);
    near(r.lift_km_by_type.railway, 2);
    near(r.lift_km_by_type["t-bar"], 1);
    near(r.lift_length_km, 1.5 + 2 + 1 + 0.5 + 0.5 + 0.3);
    expect(r.lift_capacity_pph).toBe(1200 + 2400);
    expect([r.lift_station_ele_min_m, r.lift_station_ele_max_m]).toEqual([1500, 2100]);
  });
});
