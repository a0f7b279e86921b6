import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeSyntheticRegion } from "../containers/ski-atlas/synthetic-osm.ts";
import { ECS_CAPACITY_RETRY } from "../workflows/retry-policies.ts";
import { parseFaults } from "./faults.ts";
import type { ProgressEvent } from "./progress-events.ts";
import { runLocal, type LocalRun } from "./run-local.ts";

/**
 * Where the local engine stands in for AWS it must answer as AWS does. Each test runs the real synthesized
 * ski-atlas machine on the generated sample region, with one fault shaped like what AWS really reports.
 */
let scratch: string;
let source: string;
const runs: LocalRun[] = [];
beforeAll(async () => {
  scratch = await mkdtemp(path.join(tmpdir(), "parity-test-"));
  const pbf = path.join(scratch, "sample.osm.pbf");
  await writeSyntheticRegion(pbf);
  source = pathToFileURL(pbf).href;
});
afterAll(async () => {
  await Promise.all(runs.map((r) => r.stop()));
  await rm(scratch, { recursive: true, force: true });
});

async function run(faults: string, events: ProgressEvent[] = []): Promise<LocalRun> {
  const r = await runLocal({
    workflow: "ski-atlas",
    input: { region: "sample", period: "2026-11", source },
    runDir: await mkdtemp(path.join(scratch, "run-")),
    retryWaitMs: 10,
    faults: parseFaults(faults),
    onEvent: (e) => events.push(e),
  });
  runs.push(r);
  return r;
}

const state = (r: LocalRun, name: string) => r.result.states.find((s) => s.name === name);

describe("ECS capacity, as RunTask's failures list reports it", () => {
  it("GIVEN RunTask answering 'Capacity is unavailable' twice WHEN run THEN the ECS capacity policy retries AmazonECS.Unknown and the run succeeds", async () => {
    const events: ProgressEvent[] = [];
    const r = await run("download:capacity:2", events);
    expect(r.result.status).toBe("SUCCEEDED");
    expect(state(r, "Download (small)")?.attempts).toBe(3);
    // Retried by the state's Retry (the error name), not by the exit-code loop, and no tier escalation.
    expect((r.result.output!.run as { retries: Record<string, { count: number }> }).retries.download.count).toBe(0);
    expect((r.result.output!.run as { escalations: object }).escalations).toEqual({});
    expect(events.filter((e) => e.kind === "retrying" && e.state === "Download (small)")).toHaveLength(2);
    // No task started for the two refused attempts: only the third ran a container (one log file).
    expect((await readdir(path.join(r.runDir, "logs", "sample-2026-11"))).filter((f) => f.startsWith("download-"))).toHaveLength(1);
  });

  it("GIVEN no capacity for longer than the capacity policy waits WHEN run THEN the state fails with AmazonECS.Unknown and a Cause holding RunTask's failures", async () => {
    const r = await run(`extract:capacity:${ECS_CAPACITY_RETRY.maxAttempts + 1}`);
    expect(r.result.status).toBe("FAILED");
    expect(r.result.error).toBe("AmazonECS.Unknown");
    expect(state(r, "Extract (small)")?.attempts).toBe(ECS_CAPACITY_RETRY.maxAttempts + 1);
    const cause = JSON.parse(r.result.cause!);
    expect(cause).toEqual({
      Failures: [{ Arn: expect.stringMatching(/-ski-atlas-small$/), Reason: expect.stringMatching(/^Capacity is unavailable at this time/) }],
      Tasks: [],
    });
    expect(r.summary.error).toMatch(/^AmazonECS.Unknown: Capacity is unavailable at this time/);
  });
});

describe("a full Node heap (exit 134), as Fargate reports it", () => {
  it("GIVEN an extract whose real Node child fills its heap WHEN run THEN it aborts with exit 134, reads as out of memory and runs one tier up", async () => {
    const r = await run("extract:heap:1");
    expect(r.result.status).toBe("SUCCEEDED");
    const small = state(r, "Extract (small)")!;
    expect(small.status).toBe("CAUGHT");
    expect(small.error).toMatch(/JavaScript heap out of memory/);
    expect(state(r, "Extract (medium)")?.status).toBe("SUCCEEDED");
    expect((r.result.output!.run as { escalations: unknown }).escalations).toEqual({
      extract_small: { step: "extract", from: "small", to: "medium", reason: "OutOfMemoryError" },
    });
    // The real process's words and exit, not a stand-in: V8's own FATAL ERROR line is in the task's log.
    const logs = path.join(r.runDir, "logs", "sample-2026-11");
    const extractLogs = (await readdir(logs)).filter((f) => f.startsWith("extract-")).sort();
    expect(await readFile(path.join(logs, extractLogs[0]), "utf8")).toMatch(/FATAL ERROR: .*JavaScript heap out of memory/);
  });
});
