import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as path from "node:path";
import {
  DescribeExecutionCommand,
  DescribeStateMachineCommand,
  GetExecutionHistoryCommand,
  SFNClient,
  type HistoryEvent,
  type HistoryEventType,
} from "@aws-sdk/client-sfn";
import { mockClient } from "aws-sdk-client-mock";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRunDir, readRecord, type RunRecord } from "../run-records/record.ts";
import { schemaProblems } from "../local/testing/run-record-schema.ts";
import { liveAwsRecord, recordsFromAws, writeRecords } from "./aws-record.ts";
import { main as runsCli } from "./runs.ts";
import { graderHistory, SECRETS } from "../run-records/testing/grader-history.ts";

/**
 * `--aws` runs get the same record as local runs, built from GetExecutionHistory. The histories below are
 * shaped as Step Functions writes them: a monthly fan-out whose Map runs two child executions (one with a
 * Lambda retry and an out-of-memory tier escalation, one failing on bad data and caught).
 */
const sfn = mockClient(SFNClient);
const client = new SFNClient({ region: "eu-west-1", credentials: { accessKeyId: "test", secretAccessKey: "test" } });

const ACCOUNT = "arn:aws:states:eu-west-1:123456789012";
const MONTHLY = `${ACCOUNT}:stateMachine:skiatlasmonthlyStateMachineA1B2C3D4-Xy`;
const SKI = `${ACCOUNT}:stateMachine:skiatlasStateMachine8AE2B847-AbC123`;
const PARENT = `${ACCOUNT}:execution:skiatlasmonthlyStateMachineA1B2C3D4-Xy:monthly-2026-11`;
const ANDORRA = `${ACCOUNT}:execution:skiatlasStateMachine8AE2B847-AbC123:andorra-2026-11`;
const ICELAND = `${ACCOUNT}:execution:skiatlasStateMachine8AE2B847-AbC123:iceland-2026-11`;
const T0 = Date.parse("2026-11-01T06:00:00Z");

// As Fargate reports an out-of-memory kill (DescribeTasks): the reason is the container's, not the task's.
const OOM_CAUSE = JSON.stringify({ StoppedReason: "Essential container in task exited", Containers: [{ ExitCode: 137, Reason: "OutOfMemoryError: Container killed due to memory usage" }] });
const EXIT_65 = JSON.stringify({ StoppedReason: "Essential container in task exited", Containers: [{ ExitCode: 65 }] });
const LAMBDA_CAUSE = JSON.stringify({ errorType: "Lambda.ServiceException", errorMessage: "Rate exceeded" });

class History {
  readonly events: HistoryEvent[] = [];
  add(s: number, type: string, extra: Partial<HistoryEvent> = {}, previousEventId?: number): this {
    const id = this.events.length + 1;
    this.events.push({ id, previousEventId: previousEventId ?? id - 1, timestamp: new Date(T0 + s * 1000), type: type as HistoryEventType, ...extra });
    return this;
  }
  enter(s: number, type: string, name: string, input = "{}", previous?: number): this {
    return this.add(s, `${type}StateEntered`, { stateEnteredEventDetails: { name, input } }, previous);
  }
  exit(s: number, type: string, name: string, output = "{}"): this {
    return this.add(s, `${type}StateExited`, { stateExitedEventDetails: { name, output } });
  }
  through(s: number, type: string, name: string): this {
    return this.enter(s, type, name).exit(s, type, name);
  }
  get lastId(): number {
    return this.events.length;
  }
}
const ecs = { resourceType: "ecs", resource: "runTask.sync" };
const lambda = { resourceType: "lambda", resource: "invoke" };
const startExecution = { resourceType: "states", resource: "startExecution.sync:2" };

/** RunTask's parameters for a tier, as the history shows them: the container override names it (ATLAS_TIER). */
const onTier = (tier: string) => JSON.stringify({ Overrides: { ContainerOverrides: [{ Name: "ski-atlas", Environment: [{ Name: "ATLAS_TIER", Value: tier }] }] } });

function andorraHistory(): History {
  return new History()
    .add(0, "ExecutionStarted", { executionStartedEventDetails: { input: '{"region":"andorra","period":"2026-11"}' } })
    .through(0, "Pass", "Initialize")
    .enter(1, "Task", "Plan", '{"region":"andorra"}')
    .add(1, "TaskScheduled", { taskScheduledEventDetails: { ...lambda, region: "eu-west-1", parameters: "{}" } })
    .add(1, "TaskStarted", { taskStartedEventDetails: lambda })
    .add(2, "TaskFailed", { taskFailedEventDetails: { ...lambda, error: "Lambda.ServiceException", cause: LAMBDA_CAUSE } })
    .add(4, "TaskScheduled", { taskScheduledEventDetails: { ...lambda, region: "eu-west-1", parameters: "{}" } })
    .add(4, "TaskStarted", { taskStartedEventDetails: lambda })
    .add(6, "TaskSucceeded", { taskSucceededEventDetails: { ...lambda, output: "{}" } })
    .exit(6, "Task", "Plan", '{"plan":{"uris":{"publish":"s3://atlas-data/andorra/2026-11/"}}}')
    .through(7, "Pass", "Extract: pick tier")
    .enter(8, "Task", "Extract")
    .add(8, "TaskScheduled", { taskScheduledEventDetails: { ...ecs, region: "eu-west-1", parameters: onTier("small") } })
    .add(8, "TaskStarted", { taskStartedEventDetails: ecs })
    .add(20, "TaskFailed", { taskFailedEventDetails: { ...ecs, error: "States.TaskFailed", cause: OOM_CAUSE } })
    .exit(20, "Task", "Extract")
    .through(21, "Choice", "Why did it fail?")
    .through(21, "Pass", "Escalate tier")
    .through(21, "Choice", "Run the step again")
    .through(21, "Pass", "Extract: pick tier")
    .enter(22, "Task", "Extract")
    .add(22, "TaskScheduled", { taskScheduledEventDetails: { ...ecs, region: "eu-west-1", parameters: onTier("medium") } })
    .add(22, "TaskStarted", { taskStartedEventDetails: ecs })
    .add(52, "TaskSucceeded", { taskSucceededEventDetails: { ...ecs, output: "{}" } })
    .exit(52, "Task", "Extract", '{"plan":{"uris":{"publish":"s3://atlas-data/andorra/2026-11/"}}}')
    .through(53, "Succeed", "Succeeded")
    .add(53, "ExecutionSucceeded", { executionSucceededEventDetails: { output: '{"plan":{"uris":{"publish":"s3://atlas-data/andorra/2026-11/"}}}' } });
}

function icelandHistory(): History {
  return new History()
    .add(0, "ExecutionStarted", { executionStartedEventDetails: { input: '{"region":"iceland","period":"2026-11"}' } })
    .enter(1, "Task", "Analyze")
    .add(1, "TaskScheduled", { taskScheduledEventDetails: { ...ecs, region: "eu-west-1", parameters: onTier("small") } })
    .add(1, "TaskStarted", { taskStartedEventDetails: ecs })
    .add(3, "TaskFailed", { taskFailedEventDetails: { ...ecs, error: "States.TaskFailed", cause: EXIT_65 } })
    .exit(3, "Task", "Analyze")
    .through(4, "Choice", "Why did it fail?")
    .enter(5, "Fail", "Failed")
    .add(5, "ExecutionFailed", { executionFailedEventDetails: { error: "States.TaskFailed", cause: EXIT_65 } });
}

/** A Map with two iterations, each starting a child execution (their ARNs in the task output and Cause). */
function monthlyHistory(): History {
  const h = new History()
    .add(0, "ExecutionStarted", { executionStartedEventDetails: { input: '{"period":"2026-11","regions":["andorra","iceland"]}' } })
    .enter(0, "Map", "Regions")
    .add(0, "MapStateStarted", { mapStateStartedEventDetails: { length: 2 } });
  const mapStarted = h.lastId;
  h.add(1, "MapIterationStarted", { mapIterationStartedEventDetails: { name: "Regions", index: 0 } }, mapStarted);
  const first = h.lastId;
  h.add(1, "MapIterationStarted", { mapIterationStartedEventDetails: { name: "Regions", index: 1 } }, mapStarted);
  const second = h.lastId;
  h.enter(1, "Task", "Regions: run ski-atlas", '{"region":"andorra"}', first);
  const a = h.lastId;
  h.enter(1, "Task", "Regions: run ski-atlas", '{"region":"iceland"}', second);
  const b = h.lastId;
  h.add(1, "TaskScheduled", { taskScheduledEventDetails: { ...startExecution, region: "eu-west-1", parameters: "{}" } }, a);
  const a2 = h.lastId;
  h.add(1, "TaskScheduled", { taskScheduledEventDetails: { ...startExecution, region: "eu-west-1", parameters: "{}" } }, b);
  const b2 = h.lastId;
  h.add(5, "TaskFailed", { taskFailedEventDetails: { ...startExecution, error: "States.TaskFailed", cause: JSON.stringify({ ExecutionArn: ICELAND, Status: "FAILED" }) } }, b2);
  const b3 = h.lastId;
  h.add(5, "TaskStateExited", { stateExitedEventDetails: { name: "Regions: run ski-atlas", output: "{}" } }, b3);
  const b4 = h.lastId;
  h.add(5, "MapIterationSucceeded", { mapIterationSucceededEventDetails: { name: "Regions", index: 1 } }, b4);
  h.add(53, "TaskSucceeded", { taskSucceededEventDetails: { ...startExecution, output: JSON.stringify({ ExecutionArn: ANDORRA, Status: "SUCCEEDED" }) } }, a2);
  const a3 = h.lastId;
  h.add(53, "TaskStateExited", { stateExitedEventDetails: { name: "Regions: run ski-atlas", output: "{}" } }, a3);
  const a4 = h.lastId;
  h.add(53, "MapIterationSucceeded", { mapIterationSucceededEventDetails: { name: "Regions", index: 0 } }, a4);
  h.add(54, "MapStateSucceeded").exit(54, "Map", "Regions");
  h.add(55, "ExecutionSucceeded", {
    executionSucceededEventDetails: { output: JSON.stringify({ digest: { status: "PARTIAL", subject: "[atlas] ski-atlas-monthly 2026-11 PARTIAL (1/2 regions ok)" } }) },
  });
  return h;
}

const SKI_ASL = { StartAt: "Plan", States: { Plan: { Type: "Task", Resource: "arn:aws:states:::lambda:invoke", End: true } } };
let root: string;
let records: RunRecord[];
const byName = (name: string) => records.find((r) => r.execution.name === name)!;

beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), "aws-record-"));
  sfn.reset();
  const describe = (arn: string, machine: string, status: string) =>
    sfn.on(DescribeExecutionCommand, { executionArn: arn }).resolves({ executionArn: arn, stateMachineArn: machine, name: arn.split(":").pop(), status: status as never, startDate: new Date(T0) });
  describe(PARENT, MONTHLY, "SUCCEEDED");
  describe(ANDORRA, SKI, "SUCCEEDED");
  describe(ICELAND, SKI, "FAILED");
  sfn.on(GetExecutionHistoryCommand, { executionArn: PARENT }).resolves({ events: monthlyHistory().events });
  // Andorra's history comes in two pages.
  const andorra = andorraHistory().events;
  sfn.on(GetExecutionHistoryCommand, { executionArn: ANDORRA }).resolves({ events: andorra.slice(0, 10), nextToken: "page-2" });
  sfn.on(GetExecutionHistoryCommand, { executionArn: ANDORRA, nextToken: "page-2" }).resolves({ events: andorra.slice(10) });
  sfn.on(GetExecutionHistoryCommand, { executionArn: ICELAND }).resolves({ events: icelandHistory().events });
  sfn.on(DescribeStateMachineCommand, { stateMachineArn: SKI }).resolves({ definition: JSON.stringify(SKI_ASL) });
  sfn.on(DescribeStateMachineCommand, { stateMachineArn: MONTHLY }).rejects(Object.assign(new Error("denied"), { name: "AccessDeniedException" }));

  const { id, runDir } = await createRunDir(root, "ski-atlas-monthly");
  records = await recordsFromAws(client, PARENT, { id, workflow: "ski-atlas-monthly", runDir });
  await writeRecords(runDir, records);
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe("run records from an AWS execution history", () => {
  it("GIVEN a fan-out WHEN recorded THEN the parent and each child execution have a record that conforms to the schema", () => {
    expect(records.map((r) => r.execution.name)).toEqual(["monthly-2026-11", "andorra-2026-11", "iceland-2026-11"]);
    for (const r of records) expect(schemaProblems(r), r.id).toEqual([]);
    const [parent] = records;
    expect(parent.source).toBe("aws");
    expect(parent.status).toBe("PARTIAL"); // the execution succeeded; its digest says one region failed
    expect(parent.error?.line).toMatch(/PARTIAL \(1\/2 regions ok\)/);
    expect(parent.definition).toBeNull(); // DescribeStateMachine denied: the record stands without the graph
    expect(parent.children.map((c) => [c.name, c.status, c.workflow, c.key_input.region])).toEqual([
      ["andorra-2026-11", "SUCCEEDED", "ski-atlas", "andorra"],
      ["iceland-2026-11", "FAILED", "ski-atlas", "iceland"],
    ]);
    expect(byName("andorra-2026-11").parent).toEqual({ id: parent.id });
    expect(byName("andorra-2026-11").id).toBe(`${parent.id}~andorra-2026-11`);
  });

  it("GIVEN concurrent Map iterations WHEN recorded THEN each iteration's visit is its own, ended by its own events", () => {
    const visits = records[0].states.filter((s) => s.name === "Regions: run ski-atlas");
    expect(visits.map((v) => [v.iteration, v.status, v.attempts.length])).toEqual([
      ["Regions[0]", "SUCCEEDED", 1],
      ["Regions[1]", "CAUGHT", 1],
    ]);
    expect(visits[0].input).toEqual({ region: "andorra" });
    expect(visits[1].attempts[0].duration_ms).toBe(4000);
  });

  it("GIVEN a retried Lambda and an out-of-memory escalation WHEN recorded THEN each attempt has its times, error, Cause and tier", () => {
    const andorra = byName("andorra-2026-11");
    expect(andorra.status).toBe("SUCCEEDED");
    expect(andorra.definition).toEqual(SKI_ASL);
    expect(andorra.outputs.location).toBe("s3://atlas-data/andorra/2026-11/");
    const plan = andorra.states.find((s) => s.name === "Plan")!;
    expect(plan.attempts.map((a) => [a.status, a.duration_ms, a.error])).toEqual([
      ["FAILED", 1000, "Lambda.ServiceException"],
      ["SUCCEEDED", 2000, null],
    ]);
    expect(plan.attempts[0].cause).toBe(LAMBDA_CAUSE);
    expect(plan.output).toEqual({ plan: { uris: { publish: "s3://atlas-data/andorra/2026-11/" } } });
    // One Task state visited twice (the escalation loop): its attempts numbered 1 and 2, each with its tier.
    const [small, medium] = andorra.states.filter((s) => s.name === "Extract");
    expect([small.status, small.attempts[0].number, small.attempts[0].tier, small.attempts[0].cause]).toEqual(["CAUGHT", 1, "small", OOM_CAUSE]);
    expect([medium.status, medium.attempts[0].number, medium.attempts[0].tier, medium.attempts[0].duration_ms]).toEqual(["SUCCEEDED", 2, "medium", 30_000]);
  });

  it("GIVEN a failed execution WHEN recorded THEN its error names the step and keeps the full Cause", () => {
    const iceland = byName("iceland-2026-11");
    expect(iceland.status).toBe("FAILED");
    expect(iceland.error).toEqual({
      error: "States.TaskFailed",
      cause: EXIT_65,
      line: "Analyze: exit 65 (bad input data); Essential container in task exited",
      state: "Analyze",
    });
    expect(iceland.duration_ms).toBe(5000);
  });

  it("GIVEN the written records WHEN listed, shown and cleaned with npm run runs THEN each says what a person needs", async () => {
    const lines: string[] = [];
    const out = (l: string) => lines.push(l);
    expect(await runsCli(["list"], out, root)).toBe(0);
    expect(lines.join("\n")).toMatch(/PARTIAL\s+ski-atlas-monthly\s+period=2026-11 regions=andorra,iceland\s+2026-11-01 06:00:00\s+55\.0 s\s+2 child runs/);

    lines.length = 0;
    expect(await runsCli(["show", `${records[0].id}~iceland-2026-11`], out, root)).toBe(0);
    const shown = lines.join("\n");
    expect(shown).toMatch(/Analyze\s+failed \(caught\)\s+1\s+2\.00 s\s+small/);
    expect(shown).toContain("error: Analyze: exit 65 (bad input data); Essential container in task exited");
    expect(shown).toContain("failed state: Analyze (States.TaskFailed)");
    expect(shown).toContain('"ExitCode": 65');
    expect((await readRecord(root, `${records[0].id}~iceland-2026-11`))?.status).toBe("FAILED");

    lines.length = 0;
    expect(await runsCli(["clean", "--keep", "0"], out, root)).toBe(0);
    expect(lines).toEqual(["removed 1 run, kept 0"]);
    expect(await readdir(root)).toEqual([]);
  });
});

describe("a followed execution's live record", () => {
  it("GIVEN the first events of a history WHEN followed THEN run.json shows the execution RUNNING with the state under way", async () => {
    const scratch = await mkdtemp(path.join(tmpdir(), "live-record-"));
    const { id, runDir } = await createRunDir(scratch, "ski-atlas");
    const live = liveAwsRecord({ id, workflow: "ski-atlas", runDir });
    expect(live.empty).toBe(true);
    for (const event of andorraHistory().events.slice(0, 5)) live.onHistoryEvent(event, ANDORRA);
    let record: RunRecord | undefined;
    for (let i = 0; i < 100 && !record; i++) {
      await new Promise((r) => setTimeout(r, 50));
      record = await readRecord(scratch, id);
    }
    await live.stop();
    expect(schemaProblems(record)).toEqual([]);
    expect(record!.status).toBe("RUNNING");
    expect(record!.execution).toEqual({ name: "andorra-2026-11", arn: ANDORRA });
    expect(record!.states.map((s) => [s.name, s.status])).toEqual([
      ["Initialize", "SUCCEEDED"],
      ["Plan", "RUNNING"],
    ]);
    await rm(scratch, { recursive: true, force: true });
  });
});

describe("run folders", () => {
  it("GIVEN twenty runs started in the same second WHEN each takes a folder THEN every one gets its own", async () => {
    const scratch = await mkdtemp(path.join(tmpdir(), "run-dirs-"));
    const now = new Date("2026-12-01T10:00:00Z");
    const dirs = await Promise.all(Array.from({ length: 20 }, () => createRunDir(scratch, "ski-atlas", now)));
    expect(new Set(dirs.map((d) => d.id)).size).toBe(20);
    expect((await readdir(scratch)).length).toBe(20);
    expect(dirs[0].id).toMatch(/^20261201-100000-ski-atlas-[0-9a-f]{6}$/);
    await rm(scratch, { recursive: true, force: true });
  });
});

describe("a followed execution's credentials", () => {
  it("GIVEN a grader execution on AWS whose history holds its run session WHEN recorded with --aws THEN run.json keeps none of it", async () => {
    const GRADER = `${ACCOUNT}:stateMachine:graderStateMachine0A1B2C3D-Gr`;
    const EXAM = `${ACCOUNT}:execution:graderStateMachine0A1B2C3D-Gr:exam-1`;
    sfn.on(DescribeExecutionCommand, { executionArn: EXAM }).resolves({ executionArn: EXAM, stateMachineArn: GRADER, name: "exam-1", status: "FAILED", startDate: new Date(T0) });
    sfn.on(GetExecutionHistoryCommand, { executionArn: EXAM }).resolves({ events: graderHistory().map((e) => ({ ...e, timestamp: new Date(e.timestamp) })) as HistoryEvent[] });
    sfn.on(DescribeStateMachineCommand, { stateMachineArn: GRADER }).resolves({ definition: JSON.stringify(SKI_ASL) });
    const { id, runDir } = await createRunDir(root, "grader");
    const written = await recordsFromAws(client, EXAM, { id, workflow: "grader", runDir });
    await writeRecords(runDir, written);
    const text = await readFile(path.join(runDir, "run.json"), "utf8");
    expect(text).toContain("[redacted]");
    for (const secret of SECRETS) expect(text.includes(secret), secret.slice(0, 20)).toBe(false);
    expect((await readRecord(root, id))?.error?.state).toBe("Grade");
  });
});
