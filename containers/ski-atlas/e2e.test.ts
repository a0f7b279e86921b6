import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getObjectText } from "../../lib/s3-objects.ts";
import { startTestS3, type TestS3 } from "../../lib/testing/s3rver.ts";
import { CHANGES_FILE } from "./changes.ts";
import type { Manifest } from "./manifest.ts";
import { OUTPUT_FILES } from "./outputs.ts";
import { writeSyntheticRegion, type SyntheticExpected } from "./synthetic-osm.ts";
import { BUCKET, runChild, stepEnv, uris } from "./testing/helpers.ts";
import { verifyPublishedMonth } from "./verify.ts";

// The four steps as child processes (`tsx containers/ski-atlas/main.ts <step>`), the way the local engine runs them.
let s3: TestS3;
let tmp: string;
let pbf: string;
let expected: SyntheticExpected;

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), "ski-atlas-e2e-"));
  s3 = await startTestS3({ buckets: [BUCKET] });
  pbf = join(tmp, "sample.osm.pbf");
  expected = await writeSyntheticRegion(pbf);
});

afterAll(async () => {
  await s3?.stop();
  await rm(tmp, { recursive: true, force: true });
});

describe("ski-atlas end to end (child processes)", () => {
  it("download → extract → analyze → publish on the sample region", async () => {
    const env = stepEnv(s3.env, "sample", { SOURCE_URL: pathToFileURL(pbf).href, ATLAS_LOCAL: "1" });
    for (const step of ["download", "extract", "analyze", "publish"]) {
      const run = await runChild(step, env);
      expect(run.code, `${step}: ${run.stderr}`).toBe(0);
      expect(run.stderr).toContain(`[${step}]`);
      expect(run.errorLines).toEqual([]);
    }
    const manifest: Manifest = JSON.parse((await getObjectText(s3.s3, uris("sample").publish + "manifest.json"))!);
    expect(manifest.counts.ski_areas).toBe(expected.skiAreas.length);
    expect(manifest.counts.lifts).toBe(expected.lifts);
    expect(manifest.source.md5).toMatch(/^[0-9a-f]{32}$/);
    // The region's first month: changes.csv is published with its header only.
    expect(manifest.files.map((f) => f.name)).toEqual([CHANGES_FILE, ...Object.values(OUTPUT_FILES)].sort());
    expect(manifest.files.find((f) => f.name === CHANGES_FILE)!.rows).toBe(0);
    expect(manifest.previousPeriod).toBeNull();
    expect(await verifyPublishedMonth(s3.s3, uris("sample").publish)).toEqual([]);
  });

  it("a usage error exits 64 with exactly one error line", async () => {
    const run = await runChild("transform", stepEnv(s3.env, "sample"));
    expect(run.code).toBe(64);
    expect(run.stderr.trim().split("\n").filter((l) => !/Warning|node --trace/.test(l))).toEqual([
      "error: unknown step 'transform': use one of download, extract, analyze, publish",
    ]);
  });
});
