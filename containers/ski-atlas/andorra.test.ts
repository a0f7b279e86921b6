import { rm } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { digestFile } from "../../lib/hash.ts";
import { startTestS3, type TestS3 } from "../../lib/testing/s3rver.ts";
import { OUTPUT_FILES } from "./outputs.ts";
import { DIFFICULTIES } from "./ski-model.ts";
import { andorraPbf, BUCKET, readTable } from "./testing/helpers.ts";
import { extractAndAnalyze, putRaw } from "./testing/pipeline.ts";

// Real data: a Geofabrik extract of Andorra (© OpenStreetMap contributors, ODbL 1.0), read in place.
let s3: TestS3;
let dir = "";
const rows: Record<string, Record<string, unknown>[]> = {};

beforeAll(async () => {
  s3 = await startTestS3({ buckets: [BUCKET] });
  await putRaw(s3.s3, "andorra", await andorraPbf());
  const run = await extractAndAnalyze(s3.s3, s3.env, "andorra");
  expect(run.analyze.code, run.analyze.stderr).toBe(0);
  dir = run.dir;
  for (const name of [OUTPUT_FILES.analyzedCsv, OUTPUT_FILES.lifts, OUTPUT_FILES.pistes]) rows[name] = await readTable(join(dir, name));
});

afterAll(async () => {
  await s3?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const within2pct = (actual: number, want: number) => expect(Math.abs(actual - want) / want).toBeLessThan(0.02);

describe("Andorra 2021-06-22", () => {
  it("finds the four site=piste resorts", () => {
    const names = rows[OUTPUT_FILES.analyzedCsv].map((r) => r.name);
    for (const n of ["GrandValira", "Pal-Arinsal", "Ordino-Arcalis", "Canaro"]) expect(names).toContain(n);
    expect(rows[OUTPUT_FILES.analyzedCsv].every((r) => String(r.id).startsWith("relation/"))).toBe(true);
  });

  it("has 118 operating lifts, 86.4 km, and the removed TSF2 Coll Blanc with its status", () => {
    const lifts = rows[OUTPUT_FILES.lifts].filter((r) => r.status === "operating");
    expect(rows[OUTPUT_FILES.lifts].filter((r) => r.status !== "operating").map((r) => [r.id, r.status])).toEqual([["way/52174948", "removed"]]);
    within2pct(lifts.length, 118);
    within2pct(lifts.reduce((s, r) => s + Number(r.length_km), 0), 86.4);
  });

  it("has 329 downhill piste ways, 220.4 km", () => {
    const downhill = rows[OUTPUT_FILES.pistes].filter((r) => r.piste_type === "downhill" && !r.is_area);
    within2pct(downhill.length, 329);
    within2pct(downhill.reduce((s, r) => s + Number(r.length_km), 0), 220.4);
  });

  it("assigns every lift to a resort and the per-resort sums add up", () => {
    const csv = rows[OUTPUT_FILES.analyzedCsv];
    const liftKm = csv.reduce((s, r) => s + Number(r.lift_length_km), 0);
    const assigned = rows[OUTPUT_FILES.lifts].filter((r) => r.ski_area_id !== null && r.status === "operating");
    expect(Math.abs(liftKm - assigned.reduce((s, r) => s + Number(r.length_km), 0))).toBeLessThan(0.01);
    expect(assigned.length).toBeGreaterThan(110);
  });

  // Figures of the issue (#12): the disused pistes (3.2 km) and the 0.27 km mapped twice no longer count.
  it("reports GrandValira 155.07 km downhill and leaves the other resorts unchanged", () => {
    const csv = rows[OUTPUT_FILES.analyzedCsv];
    const downhill = (name: string) => Number(csv.find((r) => r.name === name)!.downhill_km);
    expect(Math.abs(downhill("GrandValira") - 155.07) / 155.07).toBeLessThan(0.005);
    expect(Math.abs(downhill("Pal-Arinsal") - 34.86)).toBeLessThan(0.01);
    expect(Math.abs(downhill("Ordino-Arcalis") - 26.53)).toBeLessThan(0.01);
    expect(Math.abs(downhill("Canaro") - 0.46)).toBeLessThan(0.01);
  });

  it("keeps the disused French pistes in pistes.parquet with their status, outside every statistic", () => {
    const disused = rows[OUTPUT_FILES.pistes].filter((r) => r.status === "disused" && r.piste_type === "downhill");
    expect(disused.map((r) => r.id).sort()).toEqual(["way/721756951", "way/721756952", "way/721756954", "way/721756955", "way/721756957"]);
    expect(Math.abs(disused.reduce((s, r) => s + Number(r.length_km), 0) - 3.217)).toBeLessThan(0.001);
  });

  it("has difficulty columns that add up to downhill_km for every resort", () => {
    for (const r of rows[OUTPUT_FILES.analyzedCsv]) {
      const sum = [...DIFFICULTIES, "unknown"].reduce((s, d) => s + Number(r[`downhill_km_${d}`]), 0);
      expect(Math.abs(sum - Number(r.downhill_km)), String(r.name)).toBeLessThan(0.005);
    }
  });

  // Every published byte, pinned: a change of the code that must not change the analysis (how analyze reads and
  // holds the extract, how it counts) shows here. A change of the analysis rules updates these on purpose.
  it("writes the same bytes as before analyze streamed the extract (sha256 of every output)", async () => {
    const digests: Record<string, string> = {};
    for (const name of [...Object.values(OUTPUT_FILES), "_summary.json"].sort()) digests[name] = (await digestFile(join(dir, name), "sha256")).hex;
    expect(digests).toEqual({
      "_summary.json": "d8da591afb59ba4b07bd1c76b39e4c1933beeca79cd3d0dcf68e85932b9f9e5f",
      "lifts.parquet": "f9789ed2d20e66614f91f3cbacafa72f81ad725b853af05481b87f0ef8c29d9a",
      "osm_near_winter_sports.parquet": "890c36d950a4404ef482461702d8f1bc2cb46d4d36f3cae1f462ef155cb0c745",
      "pistes.parquet": "ca87a5f72961107665d89cd796c046bafd8117ce2da9d035c526a3ab654002bf",
      "ski_areas.parquet": "ab3c650fdebfe226e25c95e7f3769639f2972f979f090af1d12bee02c102e737",
      "ski_areas_analyzed.csv": "05a678931e002d949fe75fe846c9de07aaaa812425e85ef9c45414681062ebb7",
      "ski_areas_analyzed.parquet": "63e7f1de2c46fcecb6b28f0db98032d5158de962cfc5b4868d5207cf816dd356",
    });
  });

  it("places the four resorts in Andorra", () => {
    for (const r of rows[OUTPUT_FILES.analyzedCsv]) expect(r.country, String(r.name)).toBe("AD");
  });
});
