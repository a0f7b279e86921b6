import { createRequire } from "node:module";
import { App, Stack } from "aws-cdk-lib";
import * as ec2 from "aws-cdk-lib/aws-ec2";
import * as ecs from "aws-cdk-lib/aws-ecs";
import * as lambda from "aws-cdk-lib/aws-lambda";
import * as sfn from "aws-cdk-lib/aws-stepfunctions";
import { beforeAll, describe, expect, it } from "vitest";
import { resolvedDefinitions, type AslDefinition } from "../stacks/resolve-asl.ts";
import { StateMachine } from "aws-local-stepfunctions";
import { forEachState } from "../run-model/definition.ts";
import { WorkflowDefinition, type WorkflowBindings } from "./compile.ts";
import { skiAtlasMonthly } from "./ski-atlas-monthly.ts";
import { skiAtlas } from "./ski-atlas.ts";
import { ECS_CAPACITY_RETRY, ECS_RUNTASK_FAILURES, TRANSIENT_TASK_RETRY } from "./retry-policies.ts";
import { machineTierTable, taskSizeOverrides, tierByName, tierEnvironment, TIER_NAMES } from "./tiers.ts";
import type { Workflow } from "./types.ts";

const validate = createRequire(import.meta.url)("asl-validator") as (d: unknown) => { isValid: boolean; errorsText: () => string };

type State = Record<string, any>;
function states(definition: AslDefinition): [string, State][] {
  const all: [string, State][] = [];
  forEachState(definition, (name, state) => all.push([name, state]));
  return all;
}

describe("the resolved ski-atlas definition (npm run asl -- ski-atlas)", () => {
  let asl: AslDefinition;
  beforeAll(async () => {
    asl = (await resolvedDefinitions())["ski-atlas"];
  });

  it("passes asl-validator", () => {
    const result = validate(structuredClone(asl));
    expect(result.isValid, result.isValid ? "" : result.errorsText()).toBe(true);
  });

  it("has one Task state per container step, and at most 25 states in all (ski-atlas: 21)", () => {
    const all = states(asl);
    expect(all).toHaveLength(21);
    const ecs = all.filter(([, s]) => s.Resource === "arn:aws:states:::ecs:runTask.sync").map(([name]) => name);
    expect(ecs.sort()).toEqual(["Analyze", "Download", "Extract", "Publish"]);
    for (const step of ["Download", "Extract", "Analyze", "Publish"]) expect(Object.fromEntries(all)[`${step}: pick tier`].Next).toBe(step);
  });

  it("declares a timeout on every Task (a container step's from its tier), and the execution as a whole has one", () => {
    const tasks = states(asl).filter(([, s]) => s.Type === "Task");
    expect(tasks.length).toBeGreaterThan(0);
    for (const [name, s] of tasks) {
      if (s.TimeoutSecondsPath) expect(s.TimeoutSecondsPath, name).toBe("$.task.timeoutSeconds");
      else expect(s.TimeoutSeconds, name).toBeGreaterThan(0);
    }
    expect(asl.TimeoutSeconds).toBe(skiAtlas.timeoutSeconds);
  });

  it("runs each container step as runTask.sync with its overrides from $.task, a Retry and a Catch", () => {
    const ecsStates = states(asl).filter(([, s]) => s.Resource === "arn:aws:states:::ecs:runTask.sync");
    for (const [name, s] of ecsStates) {
      expect(s.Retry?.length, name).toBeGreaterThan(0);
      expect(s.Retry[0].ErrorEquals, name).toContain("ECS.AmazonECSException");
      expect(s.Catch?.map((c: State) => [c.ErrorEquals[0], c.Next]), name).toEqual([["States.TaskFailed", "Why did it fail?"], ["States.ALL", "Metrics (failed run)"]]);
      expect(s.Parameters.LaunchType).toBe("FARGATE");
      expect(s.Parameters["Overrides.$"]).toBe("States.JsonMerge($.task.size, $.task.container, false)");
      expect(s.Parameters.TaskDefinition).toMatch(/-ski-atlas$/);
    }
  });

  it("holds ONE tier table, and picks each step's row of it by Plan's position plus the step's escalations", () => {
    const byName = Object.fromEntries(states(asl));
    expect(byName.Initialize.Parameters.tiers).toEqual(machineTierTable());
    const pick = byName["Extract: pick tier"];
    const index = "States.MathAdd($.plan.tierIndex.extract, $.run.escalated.extract)";
    expect(pick.ResultPath).toBe("$.task");
    expect(pick.Parameters["index.$"]).toBe(index);
    expect(pick.Parameters["size.$"]).toBe(`States.ArrayGetItem($.tiers.task, ${index})`);
    expect(pick.Parameters.container.ContainerOverrides[0].Environment).toContainEqual({ Name: "NODE_OPTIONS", "Value.$": `States.ArrayGetItem($.tiers.environment.NODE_OPTIONS, ${index})` });
    expect(byName.Plan.Parameters.Payload["tierNames.$"]).toBe("$.tiers.name");
  });

  it("gives bigger tiers longer timeouts", () => {
    const timeouts = JSON.parse(/States\.Array\(([^)]*)\)/.exec(Object.fromEntries(states(asl))["Extract: pick tier"].Parameters["timeoutSeconds.$"])![0].replace("States.Array(", "[").replace(")", "]"));
    expect(timeouts).toEqual(TIER_NAMES.map((t) => skiAtlas.steps.find((s) => s.id === "extract" && s.kind === "container")!.kind === "container" && (skiAtlas.steps.find((s) => s.id === "extract") as { timeoutSeconds: Record<string, number> }).timeoutSeconds[t]));
    expect(timeouts[1]).toBeLessThan(timeouts[3]);
    expect(timeouts[3]).toBeLessThan(timeouts[4]);
  });

  it("calls Plan, Metrics and Notify as lambda:invoke", () => {
    const byName = Object.fromEntries(states(asl));
    for (const name of ["Plan", "Metrics", "Metrics (failed run)", "Notify success", "Notify failure"]) {
      expect(byName[name]?.Resource, name).toBe("arn:aws:states:::lambda:invoke");
    }
    expect(byName.Plan.Parameters.FunctionName).toMatch(/:function:plan$/);
  });

  it("escalates an out-of-memory task one tier up while a tier remains", () => {
    const why = Object.fromEntries(states(asl))["Why did it fail?"];
    const escalate = why.Choices.find((c: State) => c.Next === "Escalate tier");
    const text = JSON.stringify(escalate);
    expect(text).toContain("*OutOfMemoryError*");
    expect(text).toContain('*\\"ExitCode\\":137*');
    expect(text).toContain(`{"Variable":"$.task.index","NumericLessThan":${TIER_NAMES.length - 1}}`);
    expect(text).toContain('{"Variable":"$.task.escalates","BooleanEquals":true}');
  });

  it("GIVEN Fargate without capacity (RunTask's failures list) WHEN an ECS task state fails with AmazonECS.Unknown THEN the ECS capacity policy retries it, on every step", () => {
    const ecsStates = states(asl).filter(([, s]) => s.Resource === "arn:aws:states:::ecs:runTask.sync");
    for (const [name, s] of ecsStates) {
      const capacity = s.Retry.find((r: State) => r.ErrorEquals.includes("AmazonECS.Unknown"));
      expect(capacity, name).toBeDefined();
      expect(capacity.ErrorEquals, name).toContain("ECS.AmazonECSException");
      expect(capacity.MaxAttempts, name).toBe(ECS_CAPACITY_RETRY.maxAttempts);
    }
    expect(ECS_CAPACITY_RETRY.errors).toContain(ECS_RUNTASK_FAILURES);
  });

  it("GIVEN a Node step that fills its heap (exit 134, no OutOfMemoryError in the Cause) WHEN the Choice classifies it THEN it escalates like an OOM kill, and is never retried as transient", () => {
    const why = Object.fromEntries(states(asl))["Why did it fail?"];
    expect(JSON.stringify(why.Choices.find((c: State) => c.Next === "Escalate tier"))).toContain('*\\"ExitCode\\":134*');
    expect(JSON.stringify(why.Choices.find((c: State) => c.Next === "Wait before retry"))).not.toContain("134");
  });

  it("retries a task that exited 75 while the step's retries last, and sends every other failure to the failure path", () => {
    const byName = Object.fromEntries(states(asl));
    const retry = byName["Why did it fail?"].Choices.find((c: State) => c.Next === "Wait before retry");
    expect(JSON.stringify(retry)).toContain('*\\"ExitCode\\":75*');
    expect(JSON.stringify(retry)).toContain('{"Variable":"$.task.retries","NumericLessThanPath":"$.task.maxRetries"}');
    expect(byName["Extract: pick tier"].Parameters.maxRetries).toBe(TRANSIENT_TASK_RETRY.maxAttempts);
    expect(byName["Wait before retry"]).toMatchObject({ SecondsPath: "$.task.retryWaitSeconds", Next: "Count retry" });
    expect(byName["Count retry"].Next).toBe("Run the step again");
    expect(byName["Escalate tier"].Next).toBe("Run the step again");
    expect(byName["Run the step again"].Choices.map((c: State) => [c.StringEquals, c.Next])).toEqual(
      ["download", "extract", "analyze", "publish"].map((s) => [s, `${s[0].toUpperCase()}${s.slice(1)}: pick tier`]),
    );
    expect(byName["Why did it fail?"].Default).toBe("Metrics (failed run)");
  });

  it("starts the failure path with 'Metrics (failed run)', no clean-up task: every Catch into $.error and every give-up leads there", () => {
    const all = states(asl);
    const targets = new Set<string>();
    for (const [, s] of all) {
      for (const c of s.Catch ?? []) if (c.ResultPath === "$.error" && c.ErrorEquals.includes("States.ALL")) targets.add(c.Next);
    }
    const byName = Object.fromEntries(all);
    targets.add(byName["Why did it fail?"].Default);
    targets.add(byName["Run the step again"].Default);
    expect([...targets]).toEqual(["Metrics (failed run)"]);
    expect(byName["Metrics (failed run)"].Next).toBe("Notify failure");
    expect(byName.Failed).toMatchObject({ ErrorPath: "$.error.Error", CausePath: "$.error.Cause" });
  });

  it("never lets Notify fail a run: its errors are caught into the run's ending", () => {
    const byName = Object.fromEntries(states(asl));
    expect(byName["Notify success"].Catch[0]).toMatchObject({ ErrorEquals: ["States.ALL"], Next: "Succeeded" });
    expect(byName["Notify failure"].Catch[0]).toMatchObject({ ErrorEquals: ["States.ALL"], Next: "Failed" });
    expect(byName.Metrics.Catch[0]).toMatchObject({ ErrorEquals: ["States.ALL"], Next: "Notify success" });
  });

  it("uses JSONPath only (the local engine ignores JSONata)", () => {
    expect(JSON.stringify(asl)).not.toMatch(/JSONata|"Arguments"|"Output":\s*"\{%/);
  });
});

describe("the resolved weather definition", () => {
  it("goes straight from a failure to Metrics (failed run), with no clean-up task, in at most 25 states (weather: 21)", async () => {
    const asl = (await resolvedDefinitions()).weather;
    expect(validate(structuredClone(asl)).isValid).toBe(true);
    const byName = Object.fromEntries(states(asl));
    expect(byName["Why did it fail?"].Default).toBe("Metrics (failed run)");
    expect(states(asl).filter(([, s]) => s.Resource === "arn:aws:states:::ecs:runTask.sync").map(([name]) => name).sort()).toEqual(["Analyze", "Ingest", "Publish"]);
    expect(states(asl)).toHaveLength(21);
  });

  it("ends a run with nothing to ingest right after Plan, as Succeeded, before any task, Metrics or Notify", async () => {
    const byName = Object.fromEntries(states((await resolvedDefinitions()).weather));
    expect(byName.Plan.Next).toBe("Nothing to ingest?");
    expect(byName["Nothing to ingest?"].Choices).toEqual([
      { And: [{ Variable: "$.plan.nothingToIngest", IsPresent: true }, { Variable: "$.plan.nothingToIngest", BooleanEquals: true }], Next: "Nothing to ingest" },
    ]);
    expect(byName["Nothing to ingest?"].Default).toBe("Ingest: pick tier");
    expect(byName["Nothing to ingest"].Type).toBe("Succeed");
  });
});

describe("the resolved ski-atlas-monthly definition", () => {
  it("maps over the regions with MaxConcurrency, starting ski-atlas as a nested .sync:2 execution", async () => {
    const asl = (await resolvedDefinitions())["ski-atlas-monthly"];
    expect(validate(structuredClone(asl)).isValid).toBe(true);
    const map = states(asl).find(([, s]) => s.Type === "Map")![1];
    expect(map.MaxConcurrency).toBeGreaterThan(0);
    const inner = Object.values<State>(map.ItemProcessor.States);
    const start = inner.find((s) => s.Resource === "arn:aws:states:::states:startExecution.sync:2")!;
    expect(start.Parameters.StateMachineArn).toMatch(/:stateMachine:ski-atlas$/);
    expect(start.Parameters["Name.$"]).toBe("$.name");
    expect(start.Catch[0].ErrorEquals).toEqual(["States.ALL"]);
    expect(states(asl).some(([name, s]) => name === "Summarize" && s.Resource === "arn:aws:states:::lambda:invoke")).toBe(true);
  });

  it("names the success path's Notify for what it sends (a digest that may say PARTIAL or FAILED), not 'Notify success'", async () => {
    const asl = (await resolvedDefinitions())["ski-atlas-monthly"];
    const byName = Object.fromEntries(states(asl));
    expect(byName["Notify success"]).toBeUndefined();
    expect(byName.Summarize.Next).toBe("Send digest");
    expect(byName["Send digest"].Parameters.Payload["digest.$"]).toBe("$.digest");
    expect(byName["Send digest"].Next).toBe("Succeeded");
    expect(byName["Notify failure"].Next).toBe("Failed");
  });
});

describe("WorkflowDefinition (the compiler)", () => {
  function bindings(stack: Stack, overrides: Partial<WorkflowBindings> = {}): WorkflowBindings {
    const vpc = new ec2.Vpc(stack, "Vpc", { natGateways: 0, subnetConfiguration: [{ name: "p", subnetType: ec2.SubnetType.PUBLIC }] });
    const cluster = new ecs.Cluster(stack, "Cluster", { vpc });
    const fn = (name: string) =>
      (stack.node.tryFindChild(name) as lambda.IFunction) ??
      new lambda.Function(stack, name, { code: lambda.Code.fromInline("x"), handler: "index.handler", runtime: lambda.Runtime.NODEJS_24_X });
    const tasks = new Map<string, { taskDefinition: ecs.FargateTaskDefinition; container: ecs.ContainerDefinition }>();
    return {
      fn,
      task: (container) => {
        const key = container;
        if (!tasks.has(key)) {
          const taskDefinition = new ecs.FargateTaskDefinition(stack, key, { family: key });
          tasks.set(key, { taskDefinition, container: taskDefinition.addContainer(container, { image: ecs.ContainerImage.fromRegistry("x") }) });
        }
        return tasks.get(key)!;
      },
      cluster,
      subnets: { subnetType: ec2.SubnetType.PUBLIC },
      securityGroups: [],
      assignPublicIp: true,
      stateMachine: () => {
        throw new Error("no child machines in this test");
      },
      ...overrides,
    };
  }

  it("GIVEN a fan-out to a workflow the stack did not create WHEN compiled THEN it throws", () => {
    const stack = new Stack(new App(), "Test");
    expect(() => new WorkflowDefinition(stack, "Monthly", skiAtlasMonthly({ monthlyRegions: ["iceland"], monthlyMaxConcurrency: 2 }), bindings(stack))).toThrow(
      /no child machines/,
    );
  });

  const compiled = (workflow: Workflow) => {
    const stack = new Stack(new App(), "Test");
    const definition = new WorkflowDefinition(stack, "W", workflow, bindings(stack));
    new sfn.StateMachine(stack, "Machine", { definitionBody: sfn.DefinitionBody.fromChainable(definition.startState) });
    const json = (name: string) => stack.resolve((stack.node.findAll().find((c) => c.node.id === name) as unknown as sfn.State).toStateJson()) as State;
    return json;
  };

  it("GIVEN a container step WHEN compiled THEN its environment comes from the plan by JSONPath and its tier's from the table", () => {
    const json = compiled(skiAtlas);
    const pick = json("Publish: pick tier");
    const container = pick.Parameters.container.ContainerOverrides[0];
    expect(container.Environment).toContainEqual({ Name: "PUBLISH_URI", "Value.$": "$.plan.uris.publish" });
    expect(container.Environment).toContainEqual({ Name: "ATLAS_TIER", "Value.$": "States.ArrayGetItem($.tiers.environment.ATLAS_TIER, States.MathAdd($.plan.tierIndex.publish, $.run.escalated.publish))" });
    expect(container.Command).toEqual(["publish"]);
    expect(json("Publish").ResultSelector).toEqual({ "startedAt.$": "$.StartedAt", "stoppedAt.$": "$.StoppedAt" });
  });
});

describe("the compiled ski-atlas machine, run by aws-local-stepfunctions with stand-in tasks", () => {
  /** A stopped ECS task as the .sync integration reports it, for a Cause. */
  const stopped = (exitCode: number, reason?: string) =>
    JSON.stringify({ StoppedReason: "Essential container in task exited", Containers: [{ ExitCode: exitCode, ...(reason ? { Reason: reason } : {}) }] });
  const failure = (cause: string) => Object.assign(new Error(cause), { name: "States.TaskFailed" });

  it("GIVEN Plan's tiers, an out-of-memory kill and an exit 75 WHEN run THEN each step runs on its tier's overrides, escalates one tier, retries, and the run records both", async () => {
    const definition = structuredClone((await resolvedDefinitions())["ski-atlas"]);
    // aws-local-stepfunctions reads TimeoutSecondsPath from the effective parameters (the engine moves it there,
    // local/engine.ts); these stand-ins need no timeout at all.
    forEachState(definition, (_, state) => {
      if (state.TimeoutSecondsPath) {
        delete state.TimeoutSecondsPath;
        state.TimeoutSeconds = 60;
      }
    });
    const calls: { state: string; overrides: State }[] = [];
    const ecs = (state: string, fail: (attempt: number) => Error | undefined) => async (params: State) => {
      calls.push({ state, overrides: params.Overrides });
      const error = fail(calls.filter((c) => c.state === state).length);
      if (error) throw error;
      return { StartedAt: 1, StoppedAt: 2 };
    };
    const plan = {
      workflow: "ski-atlas",
      region: "andorra",
      period: "2026-11",
      runId: "r",
      source: { url: "https://x/a.osm.pbf" },
      uris: { raw: "s3://b/raw", extract: "s3://b/e", staging: "s3://b/s/", publish: "s3://b/p/" },
      tiers: { download: "xsmall", extract: "medium", analyze: "large", publish: "xsmall" },
      tierIndex: { download: 0, extract: 2, analyze: 3, publish: 0 },
      allowShrink: "false",
    };
    const sm = new StateMachine(definition as never, { validationOptions: { checkArn: false, checkPaths: true } });
    const run = sm.run({ region: "andorra" } as never, {
      context: { Execution: { Id: "arn:aws:states:local:0:execution:ski-atlas:r", Name: "r", StartTime: "2026-11-01T00:00:00Z" } } as never,
      overrides: {
        waitTimeOverrides: { "Wait before retry": 1 },
        taskResourceLocalHandlers: {
          Plan: async () => ({ Payload: plan }),
          Download: ecs("Download", () => undefined),
          Extract: ecs("Extract", (n) => (n === 1 ? failure(stopped(137, "OutOfMemoryError: Container killed due to memory usage")) : undefined)),
          Analyze: ecs("Analyze", (n) => (n === 1 ? failure(stopped(75)) : undefined)),
          Publish: ecs("Publish", () => undefined),
          Metrics: async () => ({ Payload: { counts: {}, bytes: 0, durationsMs: {}, totalMs: 0, tiers: {}, escalations: 1, retries: 1, named: {} } }),
          "Notify success": async () => ({ Payload: { subject: "ok" } }),
        } as never,
      },
    });
    const output = (await run.result) as State;
    const size = (state: string, n: number) => {
      const { ContainerOverrides, ...task } = calls.filter((c) => c.state === state)[n].overrides;
      const env = Object.fromEntries(ContainerOverrides[0].Environment.map((e: State) => [e.Name, e.Value]));
      return { task, tier: env.ATLAS_TIER, heap: env.NODE_OPTIONS, command: ContainerOverrides[0].Command };
    };
    const expected = (tier: string) => ({ ...taskSizeOverrides(tierByName(tier)) });
    expect(size("Download", 0)).toMatchObject({ task: expected("xsmall"), tier: "xsmall", command: ["download"] });
    expect(size("Download", 0).task.EphemeralStorage).toBeUndefined();
    expect(size("Extract", 0)).toMatchObject({ task: expected("medium"), tier: "medium", heap: tierEnvironment(tierByName("medium")).NODE_OPTIONS });
    expect(size("Extract", 1)).toMatchObject({ task: { ...expected("large"), EphemeralStorage: { SizeInGiB: 100 } }, tier: "large" });
    expect(size("Analyze", 0)).toMatchObject({ task: expected("large"), tier: "large" });
    expect(size("Analyze", 1)).toMatchObject({ task: expected("large"), tier: "large" });
    expect(output.run.escalations).toEqual({ extract: { step: "extract", from: "medium", to: "large", reason: "OutOfMemoryError", count: 1 } });
    expect(output.run.escalated).toEqual({ download: 0, extract: 1, analyze: 0, publish: 0 });
    expect(output.run.retries).toEqual({ download: { count: 0 }, extract: { count: 0 }, analyze: { count: 1 }, publish: { count: 0 } });
  });
});
