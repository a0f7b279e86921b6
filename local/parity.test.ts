import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeSyntheticRegion } from "../containers/ski-atlas/synthetic-osm.ts";
import { spawnSync } from "node:child_process";
import { ExecutionAlreadyExistsError, LocalExecutionRegistry, type ExecutionRecord } from "../lib/execution-history.ts";
import { ECS_CAPACITY_RETRY } from "../workflows/retry-policies.ts";
import { LocalEngine } from "./engine.ts";
import { attemptsOf } from "./testing/planned-tiers.ts";
import { parseFaults } from "./faults.ts";
import type { ProgressEvent } from "../run-model/progress-events.ts";
import { REPO_ROOT, runLocal, type LocalRun } from "./run-local.ts";

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
    expect(state(r, "Download")?.attempts).toBe(3);
    // Retried by the state's Retry (the error name), not by the exit-code loop, and no tier escalation.
    expect((r.result.output!.run as { retries: Record<string, { count: number }> }).retries.download.count).toBe(0);
    expect((r.result.output!.run as { escalations: object }).escalations).toEqual({});
    expect(events.filter((e) => e.kind === "retrying" && e.state === "Download")).toHaveLength(2);
    // No task started for the two refused attempts: only the third ran a container (one log file).
    expect((await readdir(path.join(r.runDir, "logs", "sample-2026-11"))).filter((f) => f.startsWith("download-"))).toHaveLength(1);
    // And none is billed: the four steps' tasks, a Fargate minute each; the two refused attempts are retries (transitions).
    expect(r.record.estimated_cost.usage.ecs_tasks).toBe(4);
    expect(r.record.estimated_cost.usage.fargate_billed_seconds).toBe(4 * 60);
    expect(r.record.estimated_cost.usage.state_transitions).toBe(13 + 2);
  });

  it("GIVEN no capacity for longer than the capacity policy waits WHEN run THEN the state fails with AmazonECS.Unknown and a Cause holding RunTask's failures", async () => {
    const r = await run(`extract:capacity:${ECS_CAPACITY_RETRY.maxAttempts + 1}`);
    expect(r.result.status).toBe("FAILED");
    expect(r.result.error).toBe("AmazonECS.Unknown");
    expect(state(r, "Extract")?.attempts).toBe(ECS_CAPACITY_RETRY.maxAttempts + 1);
    const cause = JSON.parse(r.result.cause!);
    expect(cause).toEqual({
      Failures: [{ Arn: expect.stringMatching(/-ski-atlas$/), Reason: expect.stringMatching(/^Capacity is unavailable at this time/) }],
      Tasks: [],
    });
    expect(r.summary.error).toMatch(/^Extract: Capacity is unavailable at this time/);
    // Only Download ran a task: the extract's refused attempts cost nothing on Fargate.
    expect(r.record.estimated_cost.usage.ecs_tasks).toBe(1);
  });
});

describe("a full Node heap (exit 134), as Fargate reports it", () => {
  it("GIVEN an extract whose real Node child fills its heap WHEN run THEN it aborts with exit 134, reads as out of memory and runs one tier up", async () => {
    const r = await run("extract:heap:1");
    expect(r.result.status).toBe("SUCCEEDED");
    const [aborted, escalated] = attemptsOf(r.result, "Extract");
    expect(aborted).toMatchObject({ status: "FAILED", tier: "xsmall" });
    expect(aborted.message).toMatch(/JavaScript heap out of memory/);
    expect(escalated).toMatchObject({ status: "SUCCEEDED", tier: "small" });
    expect((r.result.output!.run as { escalations: unknown }).escalations).toEqual({
      extract: { step: "extract", from: "xsmall", to: "small", reason: "OutOfMemoryError", count: 1 },
    });
    // The real process's words and exit, not a stand-in: V8's own FATAL ERROR line is in the task's log.
    const logs = path.join(r.runDir, "logs", "sample-2026-11");
    const extractLogs = (await readdir(logs)).filter((f) => f.startsWith("extract-")).sort();
    expect(await readFile(path.join(logs, extractLogs[0]), "utf8")).toMatch(/FATAL ERROR: .*JavaScript heap out of memory/);
  });
});

/**
 * Execution names, as StartExecution treats them on a STANDARD machine (API reference): "An execution can't use
 * the name of another execution for 90 days"; a start with the name of an open execution and the same input returns
 * that execution; with a different input, or once the execution is closed, it is ExecutionAlreadyExists.
 */
describe("execution names, reserved across runs of the engine as on AWS", () => {
  const child = { StartAt: "Wait a moment", States: { "Wait a moment": { Type: "Wait", Seconds: 1, End: true } } };
  const parent = {
    StartAt: "Start child",
    States: {
      "Start child": {
        Type: "Task",
        Resource: "arn:aws:states:::states:startExecution.sync:2",
        Parameters: {
          StateMachineArn: "arn:aws:states:us-east-1:123456789012:stateMachine:child",
          Name: "child-2026-11",
          // What associateWithParent adds: a second parent's input always differs.
          Input: { n: 1, "AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID.$": "$$.Execution.Id" },
        },
        TimeoutSeconds: 30,
        ResultSelector: { "status.$": "$.Status" },
        ResultPath: "$.child",
        Catch: [{ ErrorEquals: ["States.ALL"], ResultPath: "$.error", Next: "Done" }],
        Next: "Done",
      },
      Done: { Type: "Succeed" },
    },
  };
  const engine = (executionsDir: string) =>
    new LocalEngine({ repoRoot: REPO_ROOT, runDir: executionsDir, executionsDir, definitions: { parent, child } as never, env: {} });
  const arn = (machine: string, name: string) => `arn:aws:states:local:000000000000:execution:${machine}:${name}`;

  it("GIVEN a closed execution WHEN a later engine starts its name THEN ExecutionAlreadyExists whatever the input, and the record under executions/ says why", async () => {
    const dir = await mkdtemp(path.join(scratch, "names-"));
    const first = await engine(dir).run("child", { n: 1 }, "child-2026-11");
    expect(first.status).toBe("SUCCEEDED");
    const record = JSON.parse(await readFile(path.join(dir, "child", "child-2026-11.json"), "utf8")) as ExecutionRecord;
    expect(record).toMatchObject({ machine: "child", name: "child-2026-11", executionArn: arn("child", "child-2026-11"), status: "SUCCEEDED", input: '{"n":1}' });
    expect(Date.parse(record.stopDate!)).toBeGreaterThanOrEqual(Date.parse(record.startDate));

    for (const input of [{ n: 1 }, { n: 2 }]) {
      await expect(engine(dir).run("child", input, "child-2026-11")).rejects.toMatchObject({
        name: "ExecutionAlreadyExists",
        message: `Execution Already Exists: '${arn("child", "child-2026-11")}'`,
      });
    }
    // Names are per machine: the same name on another machine is free.
    await expect(engine(dir).run("parent", {}, "child-2026-11")).resolves.toMatchObject({ status: "SUCCEEDED" });
  });

  it("GIVEN a nested startExecution.sync:2 on a taken name WHEN the parent runs THEN the state fails with StepFunctions.ExecutionAlreadyExistsException and the SDK's Cause", async () => {
    const dir = await mkdtemp(path.join(scratch, "names-"));
    const first = await engine(dir).run("parent", {}, "parent-1");
    expect(first.output).toMatchObject({ child: { status: "SUCCEEDED" } });
    const second = await engine(dir).run("parent", {}, "parent-2");
    const error = (second.output as { error: { Error: string; Cause: string } }).error;
    expect(error.Error).toBe("StepFunctions.ExecutionAlreadyExistsException");
    expect(error.Cause).toMatch(
      /^Execution Already Exists: 'arn:aws:states:local:000000000000:execution:child:child-2026-11' \(Service: AWSStepFunctions; Status Code: 400; Error Code: ExecutionAlreadyExists; Request ID: [0-9a-f-]{36}; Proxy: null\)$/,
    );
  });

  it("GIVEN a RUNNING execution WHEN started again with the same input THEN that execution is returned; with another input, ExecutionAlreadyExists", async () => {
    const e = engine(await mkdtemp(path.join(scratch, "names-")));
    const running = e.run("child", { n: 1 }, "child-2026-11");
    const same = e.run("child", { n: 1 }, "child-2026-11");
    await expect(e.run("child", { n: 2 }, "child-2026-11")).rejects.toBeInstanceOf(ExecutionAlreadyExistsError);
    expect(await same).toBe(await running);
    expect(e.states.filter((s) => s.name === "Wait a moment")).toHaveLength(1);
  });

  it("GIVEN a name closed more than 90 days ago WHEN started again THEN the name is free; a RUNNING record whose engine is gone reads as ABORTED", async () => {
    let now = new Date("2026-01-01T00:00:00Z");
    const registry = new LocalExecutionRegistry(await mkdtemp(path.join(scratch, "names-")), () => now);
    const started = await registry.reserve("child", "x", arn("child", "x"), "{}");
    await registry.close(started.record, { status: "FAILED" });
    now = new Date("2026-03-31T00:00:00Z"); // 89 days later
    await expect(registry.reserve("child", "x", arn("child", "x"), "{}")).rejects.toBeInstanceOf(ExecutionAlreadyExistsError);
    now = new Date("2026-04-02T00:00:00Z"); // 91 days later
    expect(await registry.describe("child", "x")).toBeUndefined();
    expect((await registry.reserve("child", "x", arn("child", "x"), "{}")).kind).toBe("started");

    const gone = spawnSync(process.execPath, ["-e", "0"]).pid; // a process that has exited
    const orphan = await registry.reserve("child", "y", arn("child", "y"), "{}");
    await import("node:fs/promises").then(({ writeFile }) =>
      writeFile(path.join(registry.dir, "child", "y.json"), JSON.stringify({ ...orphan.record, pid: gone })),
    );
    expect((await registry.describe("child", "y"))?.status).toBe("ABORTED");
    await expect(registry.reserve("child", "y", arn("child", "y"), "{}")).rejects.toBeInstanceOf(ExecutionAlreadyExistsError);
  });
});
