import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getObjectText, uploadFile } from "../../lib/s3-objects.ts";
import { startTestS3, type TestS3 } from "../../lib/testing/s3rver.ts";
import { OUTPUT_FILES } from "./outputs.ts";
import { writeSyntheticRegion } from "./synthetic-osm.ts";
import { BUCKET, readTable, runInProcess, stepEnv, uris } from "./testing/helpers.ts";
import { extractAndAnalyze, putRaw } from "./testing/pipeline.ts";
import { verifyPublishedMonth } from "./verify.ts";

let s3: TestS3;
let tmp: string;

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), "ski-atlas-bad-input-"));
  s3 = await startTestS3({ buckets: [BUCKET] });
});

afterAll(async () => {
  await s3?.stop();
  await rm(tmp, { recursive: true, force: true });
});

async function extractOf(region: string, content: Buffer) {
  const path = join(tmp, `${region}.osm.pbf`);
  await writeFile(path, content);
  await uploadFile(s3.s3, path, uris(region).raw);
  return runInProcess("extract", stepEnv(s3.env, region));
}

describe("bad input", () => {
  it("a truncated PBF → exit 65, one clear line", async () => {
    const pbf = join(tmp, "whole.osm.pbf");
    await writeSyntheticRegion(pbf);
    const whole = await readFile(pbf);
    const run = await extractOf("truncated", whole.subarray(0, Math.floor(whole.length * 0.6)));
    expect(run.code).toBe(65);
    expect(run.errorLines).toHaveLength(1);
    expect(run.errorLines[0]).toMatch(/^error: the raw file s3:\/\/.* is not a valid OSM PBF \(.+\): re-download the source/);
  });

  it("a file that is not a PBF → exit 65", async () => {
    const run = await extractOf("html", Buffer.from("<html><body>Service Unavailable</body></html>\n"));
    expect(run.code).toBe(65);
    expect(run.errorLines).toHaveLength(1);
    expect(run.errorLines[0]).toMatch(/is not a valid OSM PBF .*re-download the source/);
  });

  it("an empty file → exit 65", async () => {
    const run = await extractOf("empty", Buffer.alloc(0));
    expect(run.code).toBe(65);
    expect(run.errorLines[0]).toMatch(/is empty \(0 bytes\)/);
  });

  it("a missing raw object → exit 66", async () => {
    const run = await runInProcess("extract", stepEnv(s3.env, "nothing-here"));
    expect(run.code).toBe(66);
    expect(run.errorLines[0]).toMatch(/does not exist: run the download step first/);
  });

  it("a region with no ski data succeeds with empty outputs and zero counts", async () => {
    const pbf = join(tmp, "flatland.osm.pbf");
    await writeSyntheticRegion(pbf, "no-ski");
    await putRaw(s3.s3, "flatland", pbf);
    const run = await extractAndAnalyze(s3.s3, s3.env, "flatland");
    expect(run.analyze.code, run.analyze.stderr).toBe(0);
    for (const name of Object.values(OUTPUT_FILES)) expect(await readTable(join(run.dir, name)), name).toEqual([]);
    const csv = await readFile(join(run.dir, OUTPUT_FILES.analyzedCsv), "utf8");
    expect(csv.trim().split("\n")).toHaveLength(1);
    expect(csv.startsWith("id,name,lat,lon,area_km2,")).toBe(true);
    const publish = await runInProcess("publish", stepEnv(s3.env, "flatland"));
    expect(publish.code, publish.stderr).toBe(0);
    const manifest = JSON.parse((await getObjectText(s3.s3, uris("flatland").publish + "manifest.json")) ?? "{}");
    expect(manifest.counts).toEqual({ ski_areas: 0, lifts: 0, pistes: 0, osm_near_winter_sports: 0 });
    expect(await verifyPublishedMonth(s3.s3, uris("flatland").publish)).toEqual([]);
    await rm(run.dir, { recursive: true, force: true });
  });
});
