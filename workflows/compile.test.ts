import { createRequire } from "node:module";
import { App, Stack } from "aws-cdk-lib";
import * as ec2 from "aws-cdk-lib/aws-ec2";
import * as ecs from "aws-cdk-lib/aws-ecs";
import * as lambda from "aws-cdk-lib/aws-lambda";
import * as sfn from "aws-cdk-lib/aws-stepfunctions";
import { beforeAll, describe, expect, it } from "vitest";
import { resolvedDefinitions, type AslDefinition } from "../stacks/resolve-asl.ts";
import { forEachState } from "../local/engine.ts";
import { WorkflowDefinition, type WorkflowBindings } from "./compile.ts";
import { skiAtlasMonthly } from "./ski-atlas-monthly.ts";
import { skiAtlas } from "./ski-atlas.ts";
import { CLEANUP_CAPACITY_RETRY, ECS_CAPACITY_RETRY, ECS_RUNTASK_FAILURES } from "./retry-policies.ts";
import { TIER_NAMES } from "./tiers.ts";
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

  it("declares TimeoutSeconds on every Task, and the execution as a whole has one", () => {
    const tasks = states(asl).filter(([, s]) => s.Type === "Task");
    expect(tasks.length).toBeGreaterThan(0);
    for (const [name, s] of tasks) expect(s.TimeoutSeconds, name).toBeGreaterThan(0);
    expect(asl.TimeoutSeconds).toBe(skiAtlas.timeoutSeconds);
  });

  it("runs each container step as runTask.sync on every tier, each with a Retry and a Catch", () => {
    const allEcs = states(asl).filter(([, s]) => s.Resource === "arn:aws:states:::ecs:runTask.sync");
    // One per step and tier, plus the failure path's "Roll back publish" (tested below).
    expect(allEcs).toHaveLength(4 * TIER_NAMES.length + 1);
    const ecsStates = allEcs.filter(([name]) => name !== "Roll back publish");
    for (const [name, s] of ecsStates) {
      expect(s.Retry?.length, name).toBeGreaterThan(0);
      expect(s.Retry[0].ErrorEquals, name).toContain("ECS.AmazonECSException");
      expect(s.Catch?.map((c: State) => c.ErrorEquals[0]), name).toEqual(["States.TaskFailed", "States.ALL"]);
      expect(s.Parameters.LaunchType).toBe("FARGATE");
    }
  });

  it("gives bigger tiers longer timeouts", () => {
    const timeout = (tier: string) => states(asl).find(([n]) => n === `Extract (${tier})`)![1].TimeoutSeconds;
    expect(timeout("small")).toBeLessThan(timeout("large"));
    expect(timeout("large")).toBeLessThan(timeout("xlarge"));
  });

  it("calls Plan, Metrics and Notify as lambda:invoke", () => {
    const byName = Object.fromEntries(states(asl));
    for (const name of ["Plan", "Metrics", "Metrics (failed run)", "Notify success", "Notify failure"]) {
      expect(byName[name]?.Resource, name).toBe("arn:aws:states:::lambda:invoke");
    }
    expect(byName.Plan.Parameters.FunctionName).toMatch(/:function:plan$/);
  });

  it("escalates an out-of-memory task one tier up, from every tier but the last", () => {
    const classify = Object.fromEntries(states(asl))["Extract: why did it fail?"];
    const escalations = classify.Choices.filter((c: State) => String(c.Next).startsWith("Extract: escalate"));
    expect(escalations.map((c: State) => c.Next)).toEqual([
      "Extract: escalate xsmall to small",
      "Extract: escalate small to medium",
      "Extract: escalate medium to large",
      "Extract: escalate large to xlarge",
    ]);
    const text = JSON.stringify(escalations[0]);
    expect(text).toContain("*OutOfMemoryError*");
    expect(text).toContain('*\\"ExitCode\\":137*');
  });

  it("GIVEN Fargate without capacity (RunTask's failures list) WHEN an ECS task state fails with AmazonECS.Unknown THEN the ECS capacity policy retries it, on every tier and on the rollback", () => {
    const ecsStates = states(asl).filter(([, s]) => s.Resource === "arn:aws:states:::ecs:runTask.sync");
    for (const [name, s] of ecsStates) {
      const capacity = s.Retry.find((r: State) => r.ErrorEquals.includes("AmazonECS.Unknown"));
      expect(capacity, name).toBeDefined();
      expect(capacity.ErrorEquals, name).toContain("ECS.AmazonECSException");
      expect(capacity.MaxAttempts, name).toBe(name === "Roll back publish" ? CLEANUP_CAPACITY_RETRY.maxAttempts : ECS_CAPACITY_RETRY.maxAttempts);
    }
    expect(ECS_CAPACITY_RETRY.errors).toContain(ECS_RUNTASK_FAILURES);
  });

  it("GIVEN a Node step that fills its heap (exit 134, no OutOfMemoryError in the Cause) WHEN the Choice classifies it THEN it escalates like an OOM kill", () => {
    const classify = Object.fromEntries(states(asl))["Analyze: why did it fail?"];
    const toMedium = classify.Choices.find((c: State) => c.Next === "Analyze: escalate small to medium");
    const patterns = JSON.stringify(toMedium);
    expect(patterns).toContain('*\\"ExitCode\\":134*');
    const retry = classify.Choices.find((c: State) => c.Next === "Analyze: wait before retry");
    expect(JSON.stringify(retry)).not.toContain("134");
  });

  it("retries a task that exited 75 at most three times, and sends every other failure to the failure path", () => {
    const classify = Object.fromEntries(states(asl))["Download: why did it fail?"];
    const retry = classify.Choices.find((c: State) => c.Next === "Download: wait before retry");
    expect(JSON.stringify(retry)).toContain('*\\"ExitCode\\":75*');
    expect(JSON.stringify(retry)).toContain('"NumericLessThan":3');
    // The failure path starts with the publish rollback (skipped when there is nothing it could roll back).
    expect(classify.Default).toBe("Roll back publish?");
  });

  it("starts the failure path with 'Roll back publish?': every Catch into $.error and every give-up leads there", () => {
    const all = states(asl);
    const targets = new Set<string>();
    for (const [, s] of all) {
      for (const c of s.Catch ?? []) if (c.ResultPath === "$.error" && c.ErrorEquals.includes("States.ALL")) targets.add(c.Next);
      if (s.Type === "Choice" && String(s.Comment).startsWith("Every stopped task")) targets.add(s.Default);
    }
    targets.add(Object.fromEntries(all)["Unknown tier"].Next);
    expect([...targets]).toEqual(["Roll back publish?"]);
  });

  it("skips the rollback when Plan never set the publish URI (a missing path would be an uncatchable States.Runtime)", () => {
    const choice = Object.fromEntries(states(asl))["Roll back publish?"];
    expect(choice).toMatchObject({
      Type: "Choice",
      Choices: [{ Variable: "$.plan.uris.publish", IsPresent: true, Next: "Roll back publish" }],
      Default: "Metrics (failed run)",
    });
  });

  it("rolls back with ONE small task, a timeout and an ECS capacity retry; its failure goes on to Metrics at $.rollback, never $.error", () => {
    const task = Object.fromEntries(states(asl))["Roll back publish"];
    expect(task.Resource).toBe("arn:aws:states:::ecs:runTask.sync");
    expect(task.Parameters.TaskDefinition).toMatch(/-ski-atlas-small$/);
    expect(task.Parameters.Overrides.ContainerOverrides[0]).toMatchObject({
      Name: "ski-atlas",
      Command: ["rollback"],
      Environment: [{ Name: "PUBLISH_URI", "Value.$": "$.plan.uris.publish" }],
    });
    expect(task.TimeoutSeconds).toBeGreaterThan(0);
    expect(task.Retry[0].ErrorEquals).toContain("ECS.AmazonECSException");
    expect(task.Retry.every((r: State) => !r.ErrorEquals.includes("States.ALL"))).toBe(true);
    expect(task.Catch).toEqual([{ ErrorEquals: ["States.ALL"], ResultPath: "$.rollback", Next: "Metrics (failed run)" }]);
    expect(task.ResultPath).toBe("$.rollback");
    expect(task.Next).toBe("Metrics (failed run)");
    expect(Object.fromEntries(states(asl)).Failed).toMatchObject({ ErrorPath: "$.error.Error", CausePath: "$.error.Cause" });
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
  it("rolls back an interrupted publish of the day on its failure path, with the weather image", async () => {
    const asl = (await resolvedDefinitions()).weather;
    expect(validate(structuredClone(asl)).isValid).toBe(true);
    const byName = Object.fromEntries(states(asl));
    expect(byName["Roll back publish?"].Default).toBe("Metrics (failed run)");
    expect(byName["Roll back publish"].Parameters.TaskDefinition).toMatch(/-weather-small$/);
    expect(byName["Roll back publish"].Parameters.Overrides.ContainerOverrides[0].Command).toEqual(["rollback"]);
    expect(byName["Publish: why did it fail?"].Default).toBe("Roll back publish?");
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
      task: (container, tier) => {
        const key = `${container}-${tier}`;
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

  const withOnFailure = (onFailure: Partial<NonNullable<Workflow["onFailure"]>>): Workflow => ({
    ...skiAtlas,
    onFailure: { ...skiAtlas.onFailure!, ...onFailure },
  });
  const compiled = (workflow: Workflow) => {
    const stack = new Stack(new App(), "Test");
    const definition = new WorkflowDefinition(stack, "W", workflow, bindings(stack));
    new sfn.StateMachine(stack, "Machine", { definitionBody: sfn.DefinitionBody.fromChainable(definition.startState) });
    const json = (name: string) => stack.resolve((stack.node.findAll().find((c) => c.node.id === name) as unknown as sfn.State).toStateJson()) as State;
    return json;
  };

  it("GIVEN an onFailure reading two paths WHEN compiled THEN its Choice requires both to be present", () => {
    const json = compiled(withOnFailure({ environment: { PUBLISH_URI: "$.plan.uris.publish", RUN_ID: "$.plan.runId", MODE: "undo" } }));
    expect(json("Roll back publish?").Choices[0]).toEqual({
      And: [
        { Variable: "$.plan.uris.publish", IsPresent: true },
        { Variable: "$.plan.runId", IsPresent: true },
      ],
      Next: "Roll back publish",
    });
    expect(json("Roll back publish").Parameters.Overrides.ContainerOverrides[0].Environment).toContainEqual({ Name: "MODE", Value: "undo" });
  });

  it("GIVEN a workflow without onFailure WHEN compiled THEN the failure path starts at Metrics (failed run)", () => {
    const { onFailure: _none, ...plain } = skiAtlas;
    const json = compiled(plain);
    expect(json("Download: why did it fail?").Default).toBe("Metrics (failed run)");
  });

  it.each([
    ["whenPresent is not a $. path", { whenPresent: "plan.uris.publish" }, /whenPresent 'plan.uris.publish' must be a \$\.path/],
    ["whenPresent is a context path", { whenPresent: "$$.Execution.Name" }, /must be a \$\.path/],
    ["no timeout", { timeoutSeconds: 0 }, /timeoutSeconds must be a whole number/],
    ["no command", { command: [] }, /command is empty/],
    ["a container none of its steps uses", { container: "weather" }, /container 'weather' is not one of this workflow's step containers \(ski-atlas\)/],
    ["a name another state has", { name: "Metrics" }, /There is already a Construct with name 'Metrics'/],
  ])("GIVEN an onFailure with %s WHEN compiled THEN it throws", (_what, onFailure, message) => {
    expect(() => compiled(withOnFailure(onFailure))).toThrow(message);
  });

  it("GIVEN a container step WHEN compiled THEN its environment comes from the plan by JSONPath", () => {
    const stack = new Stack(new App(), "Test");
    const definition = new WorkflowDefinition(stack, "SkiAtlas", skiAtlas, bindings(stack));
    const machine = new sfn.StateMachine(stack, "Machine", { definitionBody: sfn.DefinitionBody.fromChainable(definition.startState) });
    void machine;
    const task = stack.node.findAll().find((c) => c.node.id === "Publish (medium)") as unknown as sfn.State;
    const json = stack.resolve(task.toStateJson()) as State;
    const env = json.Parameters.Overrides.ContainerOverrides[0].Environment;
    expect(env).toContainEqual({ Name: "PUBLISH_URI", "Value.$": "$.plan.uris.publish" });
    expect(json.Parameters.Overrides.ContainerOverrides[0].Command).toEqual(["publish"]);
    expect(json.ResultSelector).toEqual({ tier: "medium", "startedAt.$": "$.StartedAt", "stoppedAt.$": "$.StoppedAt" });
  });
});
