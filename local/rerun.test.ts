import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import { ListObjectsV2Command } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeSyntheticRegion } from "../containers/ski-atlas/synthetic-osm.ts";
import { makeS3Client } from "../lib/s3.ts";
import type { ProgressEvent } from "../run-model/progress-events.ts";
import { LOCAL_BUCKET, runLocal, type LocalRun } from "./run-local.ts";

/**
 * Reruns end to end, offline: the monthly machine run several times for one period against one local "account"
 * (the same bucket and the same execution names, kept under one directory as AWS keeps them). Plan finds each
 * region's earlier attempts in the engine's registry, through the interface that asks Step Functions on AWS.
 */
const PERIOD = "2026-11";
let scratch: string;
let accountDir: string;
let good: string;
let corrupt: string;

beforeAll(async () => {
  scratch = await mkdtemp(path.join(tmpdir(), "rerun-test-"));
  accountDir = path.join(scratch, "account");
  good = path.join(scratch, "sample.osm.pbf");
  await writeSyntheticRegion(good);
  corrupt = path.join(scratch, "corrupt.osm.pbf");
  await writeFile(corrupt, "this is not a PBF file\n".repeat(100));
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

interface Run {
  run: LocalRun;
  events: ProgressEvent[];
  /** Every object in the bucket with its last-modified time and content hash: what a run wrote, or did not. */
  objects: Record<string, string>;
}

async function bucketObjects(run: LocalRun): Promise<Record<string, string>> {
  const s3 = makeS3Client(run.env);
  const listed = await s3.send(new ListObjectsV2Command({ Bucket: LOCAL_BUCKET }));
  const out: Record<string, string> = {};
  for (const o of listed.Contents ?? []) out[o.Key!] = `${o.LastModified!.toISOString()} ${o.ETag}`;
  s3.destroy();
  return out;
}

async function monthly(input: Record<string, unknown>): Promise<Run> {
  const events: ProgressEvent[] = [];
  const run = await runLocal({
    workflow: "ski-atlas-monthly",
    input: { period: PERIOD, ...input },
    runDir: await mkdtemp(path.join(scratch, "run-")),
    accountDir,
    retryWaitMs: 10,
    onEvent: (e) => events.push(e),
  });
  try {
    return { run, events, objects: await bucketObjects(run) };
  } finally {
    await run.stop();
  }
}

const started = (r: Run) => r.events.filter((e) => e.kind === "execution-started" && e.machine === "ski-atlas").map((e) => e.execution).sort();
const results = (r: Run) =>
  Object.fromEntries((r.run.result.output!.results as { region: string; name: string; status: string; started?: boolean }[]).map((x) => [x.region, [x.name, x.status, x.started ?? true]]));
const digest = (r: Run) => r.run.result.output!.digest as { status: string; body: string };
const objectsOf = (objects: Record<string, string>, region: string) =>
  Object.fromEntries(Object.entries(objects).filter(([key]) => key.startsWith(`${region}/`) || key.startsWith(`raw/${region}/`)));

describe("rerunning a month on the local engine", () => {
  let first: Run;
  let manualObjects: Record<string, string>;

  it("GIVEN a manual liechtenstein-2026-11 run WHEN the month then runs with a broken iceland source THEN liechtenstein is reused, andorra published, iceland failed", async () => {
    const manual = await runLocal({
      workflow: "ski-atlas",
      input: { region: "liechtenstein", period: PERIOD, source: pathToFileURL(good).href },
      runDir: await mkdtemp(path.join(scratch, "manual-")),
      accountDir,
      retryWaitMs: 10,
    });
    expect([manual.result.name, manual.result.status]).toEqual(["liechtenstein-2026-11", "SUCCEEDED"]);
    manualObjects = await bucketObjects(manual);
    await manual.stop();

    first = await monthly({
      regions: ["andorra", "iceland", "liechtenstein"],
      sources: { andorra: pathToFileURL(good).href, iceland: pathToFileURL(corrupt).href, liechtenstein: pathToFileURL(good).href },
    });
    expect(first.run.result.status).toBe("SUCCEEDED");
    expect(results(first)).toEqual({
      andorra: ["andorra-2026-11", "SUCCEEDED", true],
      iceland: ["iceland-2026-11", "FAILED", true],
      liechtenstein: ["liechtenstein-2026-11", "SUCCEEDED", false],
    });
    expect(started(first)).toEqual(["andorra-2026-11", "iceland-2026-11"]);
    // Reused as the manual run left it: not one object of liechtenstein's written again.
    expect(objectsOf(first.objects, "liechtenstein")).toEqual(objectsOf(manualObjects, "liechtenstein"));
    expect(Object.keys(objectsOf(first.objects, "liechtenstein"))).toContain("liechtenstein/2026-11/manifest.json");
    expect(digest(first).status).toBe("PARTIAL");
    expect(digest(first).body).toContain("liechtenstein: reused liechtenstein-2026-11");
  }, 300_000);

  it("GIVEN that month WHEN it runs again with iceland's source fixed THEN andorra and liechtenstein are reused untouched and iceland runs as attempt -2 and is published", async () => {
    const second = await monthly({
      regions: ["andorra", "iceland", "liechtenstein"],
      sources: { andorra: pathToFileURL(good).href, iceland: pathToFileURL(good).href, liechtenstein: pathToFileURL(good).href },
    });
    expect(second.run.result.status).toBe("SUCCEEDED");
    expect(results(second)).toEqual({
      andorra: ["andorra-2026-11", "SUCCEEDED", false],
      iceland: ["iceland-2026-11-2", "SUCCEEDED", true],
      liechtenstein: ["liechtenstein-2026-11", "SUCCEEDED", false],
    });
    // Only iceland's new attempt ran: nothing of andorra's or liechtenstein's was downloaded, staged or published.
    expect(started(second)).toEqual(["iceland-2026-11-2"]);
    expect(second.run.engine.states.every((s) => s.execution === "iceland-2026-11-2" || !s.execution.match(/^(andorra|liechtenstein)-/))).toBe(true);
    for (const region of ["andorra", "liechtenstein"]) expect(objectsOf(second.objects, region), region).toEqual(objectsOf(first.objects, region));
    expect(Object.keys(second.objects)).toContain("iceland/2026-11/manifest.json");
    expect(digest(second).status).toBe("SUCCEEDED");
    expect(digest(second).body).toMatch(/andorra: reused andorra-2026-11 \(succeeded before; nothing downloaded or published again\)/);
  }, 300_000);

  it("GIVEN a month that succeeded everywhere WHEN rerun with force ['andorra'] THEN only andorra runs, as attempt -2, and republishes", async () => {
    const before = await monthly({ regions: ["andorra", "iceland"], sources: { andorra: pathToFileURL(good).href, iceland: pathToFileURL(good).href } });
    expect(started(before)).toEqual([]);
    const forced = await monthly({ regions: ["andorra", "iceland"], sources: { andorra: pathToFileURL(good).href, iceland: pathToFileURL(good).href }, force: ["andorra"] });
    expect(results(forced)).toEqual({
      andorra: ["andorra-2026-11-2", "SUCCEEDED", true],
      iceland: ["iceland-2026-11-2", "SUCCEEDED", false],
    });
    expect(started(forced)).toEqual(["andorra-2026-11-2"]);
    expect(objectsOf(forced.objects, "iceland")).toEqual(objectsOf(before.objects, "iceland"));
    // A republish rewrites the manifest (the commit marker), with the new attempt's run.
    expect(forced.objects["andorra/2026-11/manifest.json"]).not.toBe(before.objects["andorra/2026-11/manifest.json"]);
  }, 300_000);
});
