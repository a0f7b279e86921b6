import { readFile, writeFile, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import { ListObjectsV2Command } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ANDORRA_PBF } from "../lib/data-catalog.ts";
import { dataFile } from "../lib/data-files.ts";
import { makeS3Client } from "../lib/s3.ts";
import { parseFaults } from "./faults.ts";
import { ProgressPrinter } from "./progress.ts";
import { causeSentence } from "../run-model/causes.ts";
import type { ProgressEvent } from "../run-model/progress-events.ts";
import { LOCAL_BUCKET, runLocal, type LocalRun } from "./run-local.ts";
import { attemptsOf, stepState } from "./testing/planned-tiers.ts";
import { SKI_ATLAS_SIZED_STEPS } from "../workflows/ski-atlas-sizing.ts";

/**
 * End to end through the real synthesized state machine: real child processes for the container steps, the
 * real helper functions, an embedded S3 server. Faults are injected with the same ATLAS_FAULTS syntax users have.
 */
// Every case here runs the real Andorra extract (lib/data-files.ts finds it, or fetches it once).
const ANDORRA = await dataFile(ANDORRA_PBF);
const andorraInput = { region: "andorra", period: "2021-06", source: pathToFileURL(ANDORRA).href };

let scratch: string;
const runs: LocalRun[] = [];
beforeAll(async () => {
  scratch = await mkdtemp(path.join(tmpdir(), "engine-test-"));
});
afterAll(async () => {
  await Promise.all(runs.map((r) => r.stop()));
  await rm(scratch, { recursive: true, force: true });
});

async function run(options: Partial<Omit<Parameters<typeof runLocal>[0], "faults">> & { faults?: string }): Promise<LocalRun> {
  const result = await runLocal({
    workflow: "ski-atlas",
    input: andorraInput,
    runDir: await mkdtemp(path.join(scratch, "run-")),
    retryWaitMs: 10,
    ...options,
    faults: parseFaults(options.faults),
  });
  runs.push(result);
  return result;
}

async function publishedKeys(r: LocalRun, prefix: string): Promise<string[]> {
  const s3 = makeS3Client(r.env);
  const listed = await s3.send(new ListObjectsV2Command({ Bucket: LOCAL_BUCKET, Prefix: prefix }));
  s3.destroy();
  return (listed.Contents ?? []).map((o) => o.Key!).sort();
}

async function notifications(r: LocalRun): Promise<{ subject: string; message?: string }[]> {
  const text = await readFile(path.join(r.runDir, "notifications.jsonl"), "utf8").catch(() => "");
  return text.split("\n").filter(Boolean).map((l) => JSON.parse(l));
}

const state = (r: LocalRun, name: string) => r.result.states.find((s) => s.name === name);

describe("the local engine running ski-atlas on Andorra", () => {
  it("GIVEN no fault WHEN run THEN every step succeeds and the month is published with its manifest", async () => {
    const r = await run({});
    expect(r.result.status).toBe("SUCCEEDED");
    const keys = await publishedKeys(r, "andorra/2021-06/");
    const version = /^andorra\/2021-06\/(versions\/\d{8}T\d{6}Z-[0-9a-f]{8}\/)/.exec(keys.at(-1)!)?.[1];
    expect(keys).toEqual([
      "andorra/2021-06/manifest.json",
      ...["changes.csv", "lifts.parquet", "osm_near_winter_sports.parquet", "pistes.parquet", "ski_areas.parquet", "ski_areas_analyzed.csv", "ski_areas_analyzed.parquet"].map(
        (n) => `andorra/2021-06/${version}${n}`,
      ),
    ].sort());
    // lifts.parquet rows: the 118 operating lifts and the removed TSF2 Coll Blanc (w52174948), kept with its status.
    expect(r.summary.counts).toMatchObject({ lifts: 119 });
    for (const step of SKI_ATLAS_SIZED_STEPS) expect(state(r, stepState(step))?.status, step).toBe("SUCCEEDED");
    expect((await notifications(r)).map((n) => n.subject)).toEqual([expect.stringMatching(/SUCCEEDED/)]);
    expect(r.summary.estimated_fargate_cost_usd).toBeGreaterThan(0);
  });

  it("GIVEN a download that exits 75 once WHEN run THEN it is retried and the run succeeds", async () => {
    const r = await run({ faults: "download:exit75:1" });
    expect(r.result.status).toBe("SUCCEEDED");
    expect(state(r, "Download")?.attempts).toBe(2);
    expect(attemptsOf(r.result, "Download").map((a) => [a.number, a.status, a.tier])).toEqual([
      [1, "FAILED", "xsmall"],
      [2, "SUCCEEDED", "xsmall"],
    ]);
    expect((r.result.output!.run as { retries: Record<string, { count: number }> }).retries.download.count).toBe(1);
  });

  it("GIVEN an extract killed for memory WHEN run THEN it runs again one tier up and the escalation is in the output", async () => {
    const r = await run({ faults: "extract:oom:1" });
    expect(r.result.status).toBe("SUCCEEDED");
    // One Task state, run twice: killed on xsmall above its 1 GiB, then on small (RunTask's overrides).
    const [killed, escalated] = attemptsOf(r.result, "Extract");
    expect(killed).toMatchObject({ number: 1, status: "FAILED", tier: "xsmall" });
    expect(killed.peak_rss_bytes).toBeGreaterThan(2 ** 30);
    // As Fargate says it: the task stopped because its essential container exited; the container's Reason says why.
    // The compiled machine found OutOfMemoryError there (it escalated, below), and the sentence names both.
    const cause = JSON.parse(killed.cause!);
    expect(cause.StoppedReason).toBe("Essential container in task exited");
    expect(cause.Containers).toEqual([expect.objectContaining({ ExitCode: 137, Reason: "OutOfMemoryError: Container killed due to memory usage" })]);
    expect(causeSentence(killed.error!, killed.cause)).toBe("exit 137 (out of memory); OutOfMemoryError: Container killed due to memory usage; Essential container in task exited");
    expect(escalated).toMatchObject({ number: 2, status: "SUCCEEDED", tier: "small" });
    expect(state(r, "Extract")?.status).toBe("SUCCEEDED");
    expect((r.result.output!.run as { escalations: unknown }).escalations).toEqual({
      extract: { step: "extract", from: "xsmall", to: "small", reason: "OutOfMemoryError", count: 1 },
    });
    expect((r.result.output!.metrics as { tiers: Record<string, string>; escalations: number }).tiers.extract).toBe("small");
    expect((r.result.output!.metrics as { escalations: number }).escalations).toBe(1);
  });

  it("GIVEN an analyze that exits 65 (bad data) WHEN run THEN it is not retried, the failure is notified and nothing is published", async () => {
    const r = await run({ faults: "analyze:exit65" });
    expect(r.result.status).toBe("FAILED");
    expect(state(r, stepState("analyze"))?.attempts).toBe(1);
    expect(r.summary.error).toBe("Analyze: injected fault (exit 65)");
    expect(await notifications(r)).toEqual([expect.objectContaining({ subject: expect.stringMatching(/FAILED/) })]);
    expect(await publishedKeys(r, "andorra/")).toEqual([]);
  });

  it("GIVEN an extract that hangs WHEN its timeout passes THEN the child is killed, the timeout is caught and notified", async () => {
    // No wall-clock assertion (shared, noisy machine): were the hanging child not killed at the 2 s deadline, the
    // run would wait for it and the test would hit vitest's own timeout.
    const events: ProgressEvent[] = [];
    const r = await run({ faults: "extract:hang", timeoutOverrides: { [stepState("extract")]: 2 }, onEvent: (e) => events.push(e) });
    expect(r.result.status).toBe("FAILED");
    expect(r.result.error).toBe("States.Timeout");
    // Said once, as it is injected, with the state's timeout: otherwise a hang is silent until then.
    const injected = events.filter((e) => e.kind === "fault-injected");
    expect(injected).toEqual([expect.objectContaining({ state: stepState("extract"), fault: "hang", timeoutMs: 2000 })]);
    expect(new ProgressPrinter(() => {}, { color: false }).format(injected[0])).toMatch(
      /\[andorra-2021-06\] Extract: injected fault hang: the step hangs until the state's timeout, 2\.00 s \(TimeoutSeconds 2\)$/,
    );
    expect((await notifications(r))[0].subject).toMatch(/FAILED/);
    expect(await publishedKeys(r, "andorra/")).toEqual([]);
  });

  it("GIVEN a notification that cannot be sent WHEN the run succeeds THEN the run still succeeds", async () => {
    const r = await run({ faults: "notify:error" });
    expect(r.result.status).toBe("SUCCEEDED");
    expect((r.result.output!.notification as { Error: string }).Error).toBe("InjectedFault");
  });

  it("GIVEN an unknown region WHEN run THEN Plan rejects it in one line and no step runs", async () => {
    const r = await run({ input: { region: "atlantis", period: "2021-06" } });
    expect(r.result.status).toBe("FAILED");
    expect(r.result.error).toBe("InvalidInputError");
    expect(r.summary.error).toMatch(/^Plan: InvalidInputError: .*atlantis/);
    expect(r.summary.error).not.toContain("\n");
    expect(state(r, "Download")).toBeUndefined();
  });
});

describe("the local engine running ski-atlas-monthly", () => {
  it("GIVEN one region whose source is not a PBF WHEN the month runs THEN that region fails and the others are published", async () => {
    const corrupt = path.join(scratch, "corrupt.osm.pbf");
    await writeFile(corrupt, "this is not a PBF file\n".repeat(100));
    const r = await run({
      workflow: "ski-atlas-monthly",
      input: {
        regions: ["andorra", "liechtenstein", "iceland"],
        period: "2021-06",
        sources: { andorra: pathToFileURL(ANDORRA).href, liechtenstein: pathToFileURL(ANDORRA).href, iceland: pathToFileURL(corrupt).href },
      },
    });
    expect(r.result.status).toBe("SUCCEEDED");
    const results = r.result.output!.results as { region: string; status: string }[];
    expect(results.map((x) => [x.region, x.status])).toEqual([
      ["andorra", "SUCCEEDED"],
      ["liechtenstein", "SUCCEEDED"],
      ["iceland", "FAILED"],
    ]);
    expect(await publishedKeys(r, "andorra/2021-06/manifest.json")).toHaveLength(1);
    expect(await publishedKeys(r, "liechtenstein/2021-06/manifest.json")).toHaveLength(1);
    expect(await publishedKeys(r, "iceland/")).toEqual([]);
    const digest = r.result.output!.digest as { status: string };
    expect(digest.status).toBe("PARTIAL");
  });
});
