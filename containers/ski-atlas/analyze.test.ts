import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestS3, type TestS3 } from "../../lib/testing/s3rver.ts";
import { NEAR_KM, POI_KM } from "./model/thresholds.ts";
import { DIFFICULTIES } from "./ski-model.ts";
import { OUTPUT_FILES } from "./outputs.ts";
import { writeSyntheticRegion, type SyntheticExpected } from "./synthetic-osm.ts";
import { BUCKET, parquetKv, readTable } from "./testing/helpers.ts";
import { extractAndAnalyze, putRaw } from "./testing/pipeline.ts";

let s3: TestS3;
let tmp: string;
let out: string;
let expected: SyntheticExpected;
const rows: Record<string, Record<string, unknown>[]> = {};

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), "ski-atlas-analyze-test-"));
  s3 = await startTestS3({ buckets: [BUCKET] });
  const pbf = join(tmp, "sample.osm.pbf");
  expected = await writeSyntheticRegion(pbf);
  await putRaw(s3.s3, "sample", pbf);
  const run = await extractAndAnalyze(s3.s3, s3.env, "sample");
  expect(run.extract.stderr).toContain("[extract]");
  expect(run.analyze.code, run.analyze.stderr).toBe(0);
  out = run.dir;
  for (const name of Object.values(OUTPUT_FILES)) rows[name] = await readTable(join(out, name));
});

afterAll(async () => {
  await s3?.stop();
  await rm(tmp, { recursive: true, force: true });
  if (out) await rm(out, { recursive: true, force: true });
});

const near = (actual: unknown, want: number, tol = 1e-3) => expect(Math.abs(Number(actual) - want)).toBeLessThan(tol);

describe("analyze on the synthetic region", () => {
  it("yields one row per resort, whichever way it is mapped", () => {
    const ids = rows[OUTPUT_FILES.analyzedCsv].map((r) => r.id);
    expect(ids).toEqual(expected.skiAreas.map((a) => a.id));
    expect(rows[OUTPUT_FILES.skiAreas].map((r) => r.id)).toEqual(ids);
    expect(rows[OUTPUT_FILES.analyzedParquet].map((r) => r.id)).toEqual(ids);
  });

  it("has the expected figures per resort", () => {
    for (const want of expected.skiAreas) {
      const got = rows[OUTPUT_FILES.analyzedCsv].find((r) => r.id === want.id)!;
      expect(got, want.id).toBeDefined();
      expect(got.name).toBe(want.name);
      expect(got.osm_ids).toBe(want.osmIds.join(","));
      expect(got.sources).toBe(want.sources);
      expect(Number(got.lift_count), `${want.id} lifts`).toBe(want.liftCount);
      near(got.lift_length_km, want.liftKm);
      expect(Number(got.piste_count), `${want.id} pistes`).toBe(want.pisteCount);
      near(got.downhill_km, want.downhillKm);
      near(got.nordic_km, want.nordicKm);
      for (const d of DIFFICULTIES) near(got[`downhill_km_${d}`], want.downhillKmByDifficulty[d] ?? 0);
      expect(Number(got.poi_count), `${want.id} POIs`).toBe(want.poiCount);
      if (want.areaKm2 === null) expect(got.area_km2).toBeNull();
      else expect(Math.abs(Number(got.area_km2) - want.areaKm2) / want.areaKm2).toBeLessThan(1e-4);
    }
  });

  it("merges the dual-mapped resorts (membership and geometry) under the site relation id", () => {
    const merged = expected.skiAreas.filter((a) => a.osmIds.length > 1);
    expect(merged).toHaveLength(2);
    for (const a of merged) {
      expect(a.id.startsWith("relation/")).toBe(true);
      const polyWay = a.osmIds.find((id) => id.startsWith("way/"))!;
      expect(rows[OUTPUT_FILES.skiAreas].some((r) => r.id === polyWay)).toBe(false);
      expect(rows[OUTPUT_FILES.skiAreas].find((r) => r.id === a.id)!.footprint).toBe("polygon");
    }
  });

  it("assembles the multipolygon with its hole (a piste in the hole is not inside)", () => {
    const beta = rows[OUTPUT_FILES.skiAreas].find((r) => r.name === "Beta Valley")!;
    expect(beta.osm_type).toBe("relation");
    const hole = rows[OUTPUT_FILES.pistes].find((r) => r.name === "In the hole")!;
    expect(hole.ski_area_id).toBeNull();
  });

  it("counts lifts without goods and zip lines, and measures them", () => {
    const lifts = rows[OUTPUT_FILES.lifts];
    expect(lifts).toHaveLength(expected.lifts);
    near(lifts.reduce((s, r) => s + Number(r.length_km), 0), expected.liftKm);
    for (const id of expected.excludedAerialways) expect(lifts.some((r) => r.id === id)).toBe(false);
    expect(lifts.some((r) => r.aerialway === "pylon" || r.aerialway === "station")).toBe(false);
    expect(lifts.find((r) => r.name === "Alpha Express")!.capacity).toBe(2400);
    expect(lifts.find((r) => r.name === "Gamma Platter (not a member)")!.assigned_by).toBe("proximity");
  });

  it("gives area pistes no length and flags them", () => {
    const pistes = rows[OUTPUT_FILES.pistes];
    expect(pistes).toHaveLength(expected.pistes);
    for (const id of expected.areaPistes) {
      const p = pistes.find((r) => r.id === id)!;
      expect(p.is_area).toBe(true);
      expect(p.length_km).toBeNull();
      expect(p.ski_area_id).not.toBeNull();
    }
    const unassigned = pistes.filter((r) => r.ski_area_id === null).map((r) => r.id).sort();
    expect(unassigned).toEqual([...expected.unassignedPistes].sort());
    expect(pistes.find((r) => r.name === "Delta Easy (not a member)")!.assigned_by).toBe("polygon");
    expect(pistes.find((r) => r.name === "Gamma Trail (1)")!.assigned_by).toBe("membership");
  });

  it(`keeps POIs within ${POI_KM} km and drops the rest`, () => {
    const pois = rows[OUTPUT_FILES.pois];
    expect(pois.map((r) => r.id).sort()).toEqual(Object.keys(expected.pois).sort());
    for (const [id, want] of Object.entries(expected.pois)) {
      const got = pois.find((r) => r.id === id)!;
      expect(got.ski_area_id).toBe(want.skiAreaId);
      if (Number.isNaN(want.distanceKm)) expect(Number(got.distance_km)).toBeLessThan(POI_KM);
      else near(got.distance_km, want.distanceKm, 1e-3);
    }
    expect(NEAR_KM).toBeLessThan(POI_KM);
  });

  it("writes the CSV columns in the documented order", async () => {
    const header = (await readFile(join(out, OUTPUT_FILES.analyzedCsv), "utf8")).split("\n")[0].split(",");
    expect(header.slice(0, 10)).toEqual([
      "id", "name", "lat", "lon", "area_km2", "lift_count", "lift_length_km", "piste_count", "downhill_km", "nordic_km",
    ]);
    expect(header.slice(10, 17)).toEqual(DIFFICULTIES.map((d) => `downhill_km_${d}`));
  });

  it("writes GeoParquet metadata and WKB geometry", async () => {
    const geo = JSON.parse((await parquetKv(join(out, OUTPUT_FILES.lifts))).geo);
    expect(geo.primary_column).toBe("geometry");
    expect(geo.columns.geometry.encoding).toBe("WKB");
    expect(geo.columns.geometry.geometry_types).toEqual(["LineString"]);
    const wkb = rows[OUTPUT_FILES.lifts][0].geometry as Uint8Array;
    expect(wkb[0]).toBe(1); // little endian
    expect(Buffer.from(wkb).readUInt32LE(1)).toBe(2); // LineString
    const areasGeo = JSON.parse((await parquetKv(join(out, OUTPUT_FILES.skiAreas))).geo);
    expect(areasGeo.columns.geometry.geometry_types).toEqual(["MultiPolygon"]);
  });

  it("writes a summary for publish and metrics", async () => {
    const summary = JSON.parse(await readFile(join(out, "_summary.json"), "utf8"));
    expect(summary.counts).toEqual({
      ski_areas: expected.skiAreas.length,
      lifts: expected.lifts,
      pistes: expected.pistes,
      osm_near_winter_sports: Object.keys(expected.pois).length,
    });
    near(summary.downhill_km, expected.downhillKm);
  });
});
