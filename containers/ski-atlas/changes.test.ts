import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { downloadToFile, getObjectText } from "../../lib/s3-objects.ts";
import { startTestS3, type TestS3 } from "../../lib/testing/s3rver.ts";
import { CHANGES_COLUMNS, CHANGES_FILE } from "./changes.ts";
import type { Manifest } from "./manifest.ts";
import { kmToDegLat, OsmBuilder, writeXmlAsPbf } from "./synthetic-osm.ts";
import { BUCKET, publishedFile, readTable, runInProcess, stepEnv, uris } from "./testing/helpers.ts";
import { putRaw } from "./testing/pipeline.ts";
import { verifyPublishedMonth } from "./verify.ts";

// Two months of a small region through extract → analyze → publish (in process, embedded S3): in the second month
// the 0.5 km drag lift is gone and a 0.8 km red piste is new.
const REGION = "changes";
const LON = 11.3, LAT = 47.1;
let s3: TestS3;
let tmp: string;
const ids = { site: 0, chair: 0, drag: 0, blue: 0, red: 0 };

function month(second: boolean): string {
  const b = new OsmBuilder();
  ids.chair = b.way(b.northLine(LON, LAT, 1, 2), { aerialway: "chair_lift", name: "Chair" });
  const drag = b.way(b.northLine(LON + 0.002, LAT, 0.5, 2), { aerialway: "drag_lift", name: "Drag" });
  ids.blue = b.way(b.northLine(LON + 0.004, LAT, 1, 2), { "piste:type": "downhill", "piste:difficulty": "easy", name: "Blue" });
  const red = b.way(b.northLine(LON + 0.006, LAT + kmToDegLat(0.1), 0.8, 2), { "piste:type": "downhill", "piste:difficulty": "intermediate", name: "Red" });
  ids.drag = drag;
  ids.red = red;
  ids.site = b.relationId();
  const members = second ? [ids.chair, ids.blue, red] : [ids.chair, drag, ids.blue];
  b.relation(ids.site, members.map((ref) => ({ type: "way", ref })), { type: "site", site: "piste", name: "Changing" });
  // Keep the ids stable across months: the builder numbers objects in call order, so both months build every way and
  // the first month simply drops the red piste's tags (an untagged way is not extracted).
  if (!second) b.ways.find((w) => w.id === red)!.tags = {};
  if (second) b.ways.find((w) => w.id === drag)!.tags = {};
  return b.toXml();
}

async function runMonth(period: string, second: boolean): Promise<void> {
  const pbf = join(tmp, `${period}.osm.pbf`);
  await writeXmlAsPbf(month(second), pbf);
  await putRaw(s3.s3, REGION, pbf);
  const env = stepEnv(s3.env, REGION, {}, period);
  for (const step of ["extract", "analyze", "publish"]) {
    const run = await runInProcess(step, env);
    expect(run.code, `${period} ${step}: ${run.stderr}`).toBe(0);
  }
}

async function changes(period: string): Promise<Record<string, unknown>[]> {
  const path = join(tmp, `${period}-${CHANGES_FILE}`);
  await downloadToFile(s3.s3, await publishedFile(s3.s3, uris(REGION, period).publish, CHANGES_FILE), path);
  return readTable(path);
}

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), "ski-atlas-changes-test-"));
  s3 = await startTestS3({ buckets: [BUCKET] });
  await runMonth("2021-05", false);
  await runMonth("2021-06", true);
});

afterAll(async () => {
  await s3?.stop();
  await rm(tmp, { recursive: true, force: true });
});

describe("changes.csv", () => {
  it("is a header only in the region's first month", async () => {
    const path = join(tmp, "first.csv");
    await downloadToFile(s3.s3, await publishedFile(s3.s3, uris(REGION, "2021-05").publish, CHANGES_FILE), path);
    const { readFile } = await import("node:fs/promises");
    expect((await readFile(path, "utf8")).trim()).toBe(CHANGES_COLUMNS.map((c) => c.name).join(","));
    const m: Manifest = JSON.parse((await getObjectText(s3.s3, uris(REGION, "2021-05").publish + "manifest.json"))!);
    expect(m.previousPeriod).toBeNull();
    expect(m.files.find((f) => f.name === CHANGES_FILE)!.rows).toBe(0);
  });

  it("lists the removed lift, the added piste and the resort's changed figures against the previous month", async () => {
    const rows = await changes("2021-06");
    expect(rows.map((r) => [r.object, r.id, r.change])).toEqual([
      ["ski_area", `relation/${ids.site}`, "changed"],
      ["lift", `way/${ids.drag}`, "removed"],
      ["piste", `way/${ids.red}`, "added"],
    ]);
    const [resort, lift, piste] = rows;
    expect(resort).toMatchObject({ name: "Changing", previous_period: "2021-05", nordic_km_change: 0 });
    expect([Number(resort.lift_count_change), Number(resort.piste_count_change)]).toEqual([-1, 1]);
    expect(Math.abs(Number(resort.lift_length_km_change) - -0.5)).toBeLessThan(1e-3);
    expect(Math.abs(Number(resort.downhill_km_change) - 0.8)).toBeLessThan(1e-3);
    expect(lift).toMatchObject({ name: "Drag", ski_area_id: `relation/${ids.site}` });
    expect(Math.abs(Number(lift.length_km) - 0.5)).toBeLessThan(1e-3);
    expect(piste).toMatchObject({ name: "Red", ski_area_id: `relation/${ids.site}` });
    expect(Math.abs(Number(piste.length_km) - 0.8)).toBeLessThan(1e-3);
  });

  it("is listed in the month's manifest and verified with it", async () => {
    const m: Manifest = JSON.parse((await getObjectText(s3.s3, uris(REGION, "2021-06").publish + "manifest.json"))!);
    expect(m.previousPeriod).toBe("2021-05");
    expect(m.files.find((f) => f.name === CHANGES_FILE)!.rows).toBe(3);
    expect(await verifyPublishedMonth(s3.s3, uris(REGION, "2021-06").publish)).toEqual([]);
  });

  it("is byte-identical, like every output file, when the same month is analyzed and published again", async () => {
    const files = async () => (JSON.parse((await getObjectText(s3.s3, uris(REGION, "2021-06").publish + "manifest.json"))!) as Manifest).files;
    const before = await files();
    const env = stepEnv(s3.env, REGION, {}, "2021-06");
    for (const step of ["analyze", "publish"]) expect((await runInProcess(step, env)).code).toBe(0);
    expect(await files()).toEqual(before);
  });
});

describe("changes.csv against a damaged previous month", () => {
  it("fails publish with one line that says which file is missing and how to repair it", async () => {
    const { DeleteObjectCommand } = await import("@aws-sdk/client-s3");
    const lifts = await publishedFile(s3.s3, uris(REGION, "2021-06").publish, "lifts.parquet");
    await s3.s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: lifts.slice(`s3://${BUCKET}/`.length) }));
    // July publishes June's staged files (as a rerun would); its previous month, June, has lost lifts.parquet.
    const run = await runInProcess("publish", stepEnv(s3.env, REGION, { PERIOD: "2021-07", PUBLISH_URI: uris(REGION, "2021-07").publish }, "2021-06"));
    expect(run.code).toBe(65);
    expect(await getObjectText(s3.s3, uris(REGION, "2021-07").publish + "manifest.json")).toBeUndefined();
    expect(run.errorLines).toEqual([expect.stringMatching(/^error: s3:\/\/.*\/changes\/2021-06\/versions\/[^/]+\/lifts\.parquet is missing although 2021-06's manifest lists it: check it with npm run verify/)]);
  });
});
