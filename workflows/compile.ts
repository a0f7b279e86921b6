import { Duration } from "aws-cdk-lib";
import type * as ec2 from "aws-cdk-lib/aws-ec2";
import * as ecs from "aws-cdk-lib/aws-ecs";
import type * as lambda from "aws-cdk-lib/aws-lambda";
import * as sfn from "aws-cdk-lib/aws-stepfunctions";
import * as tasks from "aws-cdk-lib/aws-stepfunctions-tasks";
import { Construct } from "constructs";
import { RUN_SESSION_ENVIRONMENT, startRunSession } from "./run-session.ts";
import { TIER_NAMES, nextTier, type TierName } from "./tiers.ts";
import type {
  CauseRetryPolicy,
  ContainerStep,
  ErrorRetryPolicy,
  FailureStep,
  FanOutStep,
  FunctionStep,
  PayloadTemplate,
  ScopedSession,
  Workflow,
} from "./types.ts";

/**
 * The AWS resources a workflow is wired to. The stacks provide them; the compiler only asks.
 */
export interface WorkflowBindings {
  fn(name: string): lambda.IFunction;
  task(container: string, tier: TierName): { taskDefinition: ecs.TaskDefinition; container: ecs.ContainerDefinition };
  cluster: ecs.ICluster;
  subnets: ec2.SubnetSelection;
  securityGroups: ec2.ISecurityGroup[];
  /** Tasks get a public IP when the VPC has no NAT gateway (see stacks/Network.ts). */
  assignPublicIp: boolean;
  stateMachine(workflow: string): sfn.IStateMachine;
  /** The run role of a container whose steps have a scoped session (workflows/run-session.ts). */
  runRoleArn?(container: string): string | undefined;
}

/** What a step's ECS task leaves in `$.steps.<id>`: enough for Metrics to compute durations. */
const ECS_RESULT_FIELDS = { "startedAt.$": "$.StartedAt", "stoppedAt.$": "$.StoppedAt" };

/**
 * Out-of-memory, as ECS reports it: the task's StoppedReason, or the container's exit code 137 (SIGKILL) when
 * the kernel's OOM killer got there first, or 134 (SIGABRT) when Node filled its heap (`--max-old-space-size`):
 * it aborts with "FATAL ERROR: … JavaScript heap out of memory" on stderr, and the Cause then carries nothing but
 * `"ExitCode":134`. Other native aborts exit 134 too; escalating one of them costs one bigger task at most.
 */
export const OUT_OF_MEMORY_CAUSES = ["*OutOfMemoryError*", '*"ExitCode":137*', '*"ExitCode":134*'];

export const stateNames = {
  initialize: "Initialize",
  step: (id: string) => capitalize(id),
  tierChoice: (id: string) => `${capitalize(id)}: pick tier`,
  onTier: (id: string, tier: TierName) => `${capitalize(id)} (${tier})`,
  classify: (id: string) => `${capitalize(id)}: why did it fail?`,
  escalate: (id: string, from: TierName, to: TierName) => `${capitalize(id)}: escalate ${from} to ${to}`,
  useTier: (id: string, tier: TierName) => `${capitalize(id)}: use ${tier}`,
  waitRetry: (id: string) => `${capitalize(id)}: wait before retry`,
  countRetry: (id: string) => `${capitalize(id)}: count retry`,
  runSession: (id: string) => `${capitalize(id)}: start run session`,
  unknownTier: "Unknown tier",
  onFailure: (name: string) => name,
  onFailureChoice: (name: string) => `${name}?`,
  metricsSucceeded: "Metrics",
  metricsFailed: "Metrics (failed run)",
  notifySucceeded: "Notify success",
  notifyFailed: "Notify failure",
  succeeded: "Succeeded",
  failed: "Failed",
  itemSucceeded: (id: string) => `${capitalize(id)}: item succeeded`,
  itemFailed: (id: string) => `${capitalize(id)}: item failed`,
  itemStart: (id: string) => `${capitalize(id)}: start this item?`,
  itemNotStarted: (id: string) => `${capitalize(id)}: item not started`,
} as const;

/**
 * Turns a workflow into Step Functions states, JSONPath only (the local engine ignores JSONata).
 *
 * Shape: Initialize → steps in order → Metrics → Notify success (or the workflow's `notify.successStateName`, e.g.
 * the fan-out's "Send digest") → Succeeded. Every step catches everything into
 * `$.error` and goes to the failure path: [onFailure: "<name>?" → "<name>"] → Metrics (failed run) → Notify failure
 * → Failed. Metrics and Notify can never turn a succeeded run into a failed one, and the onFailure command never
 * changes the outcome or `$.error`: their errors are caught and stored.
 */
export class WorkflowDefinition extends Construct {
  readonly startState: sfn.IChainable;
  private readonly failurePath: sfn.IChainable;

  constructor(
    scope: Construct,
    id: string,
    private readonly workflow: Workflow,
    private readonly bindings: WorkflowBindings,
  ) {
    super(scope, id);
    const ending = this.buildEnding("FAILED");
    this.failurePath = workflow.onFailure ? this.onFailureStep(workflow.onFailure, ending) : ending;
    const success = this.buildEnding("SUCCEEDED");

    const initialize = new sfn.Pass(this, stateNames.initialize, {
      comment: "Keeps the execution input at $.input and creates the bookkeeping the steps write into.",
      parameters: this.initialDocument(),
    });

    // Build from the last step backwards, so each step knows what comes next.
    let next: sfn.IChainable = success;
    for (const step of [...workflow.steps].reverse()) {
      if (step.kind === "container") next = this.containerStep(step, next);
      else if (step.kind === "function") next = this.functionStep(step, next);
      else next = this.fanOutStep(step, next);
    }
    this.startState = initialize.next(next);
  }

  private initialDocument(): Record<string, unknown> {
    const containers = this.workflow.steps.filter((s): s is ContainerStep => s.kind === "container");
    const doc: Record<string, unknown> = {
      input: sfn.JsonPath.entirePayload,
      run: {
        retries: Object.fromEntries(containers.map((s) => [s.id, { count: 0 }])),
        escalations: {},
      },
      steps: {},
    };
    // Every field a later state may read exists from the start, so a failure path never trips on a missing path.
    for (const step of [...this.workflow.steps, ...(this.workflow.metrics ? [this.workflow.metrics] : [])]) {
      if (step.kind !== "container") doc[topLevelKey(step.resultPath)] = {};
    }
    return doc;
  }

  // ---- function steps (Lambda) ----

  private functionStep(step: FunctionStep, next: sfn.IChainable, extraPayload: PayloadTemplate = {}, name?: string) {
    if (step.endsRunWhen) next = this.endRunWhen(step.endsRunWhen, next);
    const task = new tasks.LambdaInvoke(this, name ?? stateNames.step(step.id), {
      lambdaFunction: this.bindings.fn(step.fn),
      payload: sfn.TaskInput.fromObject(toParameters({ ...step.payload, ...extraPayload })),
      resultSelector: Object.fromEntries(step.resultFields.map((f) => [`${f}.$`, `$.Payload.${f}`])),
      resultPath: step.resultPath,
      taskTimeout: sfn.Timeout.duration(Duration.seconds(step.timeoutSeconds)),
      retryOnServiceExceptions: false,
    });
    for (const policy of step.retries) task.addRetry(errorRetry(policy));
    if (step.onError === "continue") task.addCatch(next, { errors: ["States.ALL"], resultPath: step.resultPath });
    else task.addCatch(this.failurePath, { errors: ["States.ALL"], resultPath: "$.error" });
    return task.next(next);
  }

  /** `<name>?`: Succeed (`<name>`) when the boolean at `path` is true, else on to `next`. */
  private endRunWhen(end: NonNullable<FunctionStep["endsRunWhen"]>, next: sfn.IChainable): sfn.IChainable {
    if (!/^\$\.[A-Za-z0-9_]/.test(end.path)) throw new Error(`${this.workflow.name}: endsRunWhen path '${end.path}' must be a $.path into the working document`);
    return new sfn.Choice(this, `${end.name}?`, { comment: `Ends the run as Succeeded when ${end.path} is true.` })
      // isPresent first: a Choice on a missing path is States.Runtime, which no Catch takes.
      .when(sfn.Condition.and(sfn.Condition.isPresent(end.path), sfn.Condition.booleanEquals(end.path, true)), new sfn.Succeed(this, end.name, { comment: "Nothing to do: no task ran, nothing was published, nobody is notified." }))
      .otherwise(next);
  }

  // ---- container steps (ECS Fargate) ----

  private containerStep(step: ContainerStep, next: sfn.IChainable): sfn.IChainable {
    const tierPath = `$.plan.tiers.${step.id}`;
    const pickTier = new sfn.Choice(this, stateNames.tierChoice(step.id), {
      comment: `Runs ${step.id} on the tier Plan chose (or a bigger one after an out-of-memory kill).`,
    });
    const classify = new sfn.Choice(this, stateNames.classify(step.id), {
      comment: "Every stopped task is States.TaskFailed: read the Cause to choose escalate, retry or fail.",
    });

    // A scoped step starts a fresh session before every attempt (retries and escalations come back through it).
    const entry = step.scopedSession ? this.runSession(step, step.scopedSession, pickTier) : pickTier;
    const withSession = step.scopedSession ? { ...step, environment: { ...step.environment, ...RUN_SESSION_ENVIRONMENT } } : step;
    for (const tier of TIER_NAMES) {
      const run = this.ecsTask(stateNames.onTier(step.id, tier), withSession, tier, {
        taskTimeout: sfn.Timeout.duration(Duration.seconds(step.timeoutSeconds[tier])),
        resultPath: `$.steps.${step.id}`,
      });
      for (const policy of step.retries) if (policy.kind === "error") run.addRetry(errorRetry(policy));
      run.addCatch(classify, { errors: ["States.TaskFailed"], resultPath: "$.error" });
      run.addCatch(this.failurePath, { errors: ["States.ALL"], resultPath: "$.error" });
      run.next(next);
      pickTier.when(sfn.Condition.stringEquals(tierPath, tier), run);
    }
    pickTier.otherwise(this.unknownTier());

    if (step.escalateOnOutOfMemory) {
      for (const tier of TIER_NAMES) {
        const up = nextTier(tier);
        if (!up) continue;
        const record = new sfn.Pass(this, stateNames.escalate(step.id, tier, up), {
          result: sfn.Result.fromObject({ step: step.id, from: tier, to: up, reason: "OutOfMemoryError" }),
          resultPath: `$.run.escalations.${step.id}_${tier}`,
        });
        const useTier = new sfn.Pass(this, stateNames.useTier(step.id, up), {
          result: sfn.Result.fromString(up),
          resultPath: tierPath,
        });
        classify.when(
          sfn.Condition.and(
            sfn.Condition.stringEquals(tierPath, tier),
            anyMatch("$.error.Cause", OUT_OF_MEMORY_CAUSES),
          ),
          record.next(useTier).next(entry),
        );
      }
    }

    const causeRetry = step.retries.find((p): p is CauseRetryPolicy => p.kind === "cause");
    if (causeRetry) {
      const countPath = `$.run.retries.${step.id}.count`;
      const wait = new sfn.Wait(this, stateNames.waitRetry(step.id), {
        comment: `${causeRetry.name}: up to ${causeRetry.maxAttempts} retries.`,
        time: sfn.WaitTime.duration(Duration.seconds(causeRetry.waitSeconds)),
      });
      const count = new sfn.Pass(this, stateNames.countRetry(step.id), {
        parameters: { count: sfn.JsonPath.mathAdd(sfn.JsonPath.numberAt(countPath), 1) },
        resultPath: `$.run.retries.${step.id}`,
      });
      classify.when(
        sfn.Condition.and(
          anyMatch("$.error.Cause", causeRetry.causeMatches),
          sfn.Condition.numberLessThan(countPath, causeRetry.maxAttempts),
        ),
        wait.next(count).next(entry),
      );
    }
    classify.otherwise(this.failurePath);
    return entry;
  }

  /** `<Step>: start run session` (workflows/run-session.ts) → next; a session that cannot start fails the run. */
  private runSession(step: ContainerStep, session: ScopedSession, next: sfn.IChainable): sfn.IChainable {
    const roleArn = this.bindings.runRoleArn?.(step.container);
    if (!roleArn) throw new Error(`${this.workflow.name}: step '${step.id}' has a scoped session, but container '${step.container}' has no run role bound`);
    const start = startRunSession(this, stateNames.runSession(step.id), session, roleArn, step.container);
    start.addCatch(this.failurePath, { errors: ["States.ALL"], resultPath: "$.error" });
    return start.next(next);
  }

  // ---- the failure path's cleanup (e.g. rolling back an interrupted publish) ----

  /**
   * `<name>?` (Choice) → `<name>` (one EcsRunTask on the small tier) → next. The Choice skips the task unless every
   * path it reads exists: a missing path in Parameters is States.Runtime, which no Catch can take, so a run whose
   * Plan failed would otherwise end without Metrics or Notify. The task's own failure (after its retries) is stored
   * at `$.rollback`; `$.error` keeps the run's error for Notify and the Fail state.
   */
  private onFailureStep(step: FailureStep, next: sfn.IChainable): sfn.IChainable {
    const where = `${this.workflow.name}: onFailure '${step.name}'`;
    if (!/^\$\.[A-Za-z0-9_]/.test(step.whenPresent)) throw new Error(`${where}: whenPresent '${step.whenPresent}' must be a $.path into the working document`);
    if (!Number.isInteger(step.timeoutSeconds) || step.timeoutSeconds <= 0) throw new Error(`${where}: timeoutSeconds must be a whole number of seconds > 0`);
    if (step.command.length === 0) throw new Error(`${where}: command is empty`);
    const containers = [...new Set(this.workflow.steps.flatMap((s) => (s.kind === "container" ? [s.container] : [])))];
    if (!containers.includes(step.container)) {
      throw new Error(`${where}: container '${step.container}' is not one of this workflow's step containers (${containers.join(", ") || "none"})`);
    }
    const paths = [...new Set([step.whenPresent, ...Object.values(step.environment).filter((v) => v.startsWith("$."))])];

    const run = this.ecsTask(stateNames.onFailure(step.name), step, "small", {
      comment: `Failure path: runs '${step.command.join(" ")}' once; its failure is recorded at $.rollback, never raised.`,
      taskTimeout: sfn.Timeout.duration(Duration.seconds(step.timeoutSeconds)),
      resultPath: "$.rollback",
    });
    for (const policy of step.retries) run.addRetry(errorRetry(policy));
    run.addCatch(next, { errors: ["States.ALL"], resultPath: "$.rollback" });
    run.next(next);

    const present = paths.map((p) => sfn.Condition.isPresent(p));
    return new sfn.Choice(this, stateNames.onFailureChoice(step.name), {
      comment: `Runs '${step.name}' only when ${paths.join(" and ")} ${paths.length === 1 ? "exists" : "exist"} (Plan may have failed before setting them).`,
    })
      .when(present.length === 1 ? present[0] : sfn.Condition.and(...present), run)
      .otherwise(next);
  }

  /** One ECS RunTask (.sync) of a container step on one tier: Fargate, the container's command and environment. */
  private ecsTask(
    stateName: string,
    step: Pick<ContainerStep, "container" | "command" | "environment">,
    tier: TierName,
    props: Pick<tasks.EcsRunTaskProps, "comment" | "taskTimeout" | "resultPath">,
  ): tasks.EcsRunTask {
    const { taskDefinition, container } = this.bindings.task(step.container, tier);
    return new tasks.EcsRunTask(this, stateName, {
      integrationPattern: sfn.IntegrationPattern.RUN_JOB,
      cluster: this.bindings.cluster,
      taskDefinition,
      launchTarget: new tasks.EcsFargateLaunchTarget({ platformVersion: ecs.FargatePlatformVersion.LATEST }),
      subnets: this.bindings.subnets,
      securityGroups: this.bindings.securityGroups,
      assignPublicIp: this.bindings.assignPublicIp,
      containerOverrides: [
        {
          containerDefinition: container,
          command: step.command,
          environment: Object.entries(step.environment).map(([name, value]) => ({
            name,
            value: value.startsWith("$") ? sfn.JsonPath.stringAt(value) : value,
          })),
        },
      ],
      resultSelector: { tier, ...ECS_RESULT_FIELDS },
      ...props,
    });
  }

  private unknownTierState?: sfn.IChainable;
  private unknownTier(): sfn.IChainable {
    this.unknownTierState ??= new sfn.Pass(this, stateNames.unknownTier, {
      comment: "Plan returned a tier this machine has no task definition for.",
      result: sfn.Result.fromObject({ Error: "Atlas.UnknownTier", Cause: `expected one of ${TIER_NAMES.join(", ")}` }),
      resultPath: "$.error",
    }).next(this.failurePath);
    return this.unknownTierState;
  }

  // ---- fan-out (one nested execution per item) ----

  private fanOutStep(step: FanOutStep, next: sfn.IChainable): sfn.IChainable {
    const child = this.bindings.stateMachine(step.workflow);
    const map = new sfn.Map(this, stateNames.step(step.id), {
      comment: `Runs ${step.workflow} once per item; a failed item is recorded, the others go on.`,
      itemsPath: step.itemsPath,
      maxConcurrency: step.maxConcurrency,
      resultPath: step.resultPath,
    });
    const start = new tasks.StepFunctionsStartExecution(this, `${stateNames.step(step.id)}: run ${step.workflow}`, {
      stateMachine: child,
      integrationPattern: sfn.IntegrationPattern.RUN_JOB,
      // The name dedupes reruns: one execution per region and period.
      name: sfn.JsonPath.stringAt("$.name"),
      input: sfn.TaskInput.fromObject(toParameters(step.itemInput)),
      associateWithParent: true,
      taskTimeout: sfn.Timeout.duration(Duration.seconds(step.timeoutSeconds)),
      resultSelector: { "status.$": "$.Status", "executionArn.$": "$.ExecutionArn", "metrics.$": "$.Output.metrics" },
      resultPath: "$.execution",
    });
    for (const policy of step.retries) start.addRetry(errorRetry(policy));
    const succeeded = new sfn.Pass(this, stateNames.itemSucceeded(step.id), {
      parameters: { ...itemIdentity(step), status: "SUCCEEDED", "metrics.$": "$.execution.metrics" },
    });
    const failed = new sfn.Pass(this, stateNames.itemFailed(step.id), {
      parameters: { ...itemIdentity(step), status: "FAILED", "error.$": "$.error" },
    });
    start.addCatch(failed, { errors: ["States.ALL"], resultPath: "$.error" });
    start.next(succeeded);
    if (step.skip) {
      const notStarted = new sfn.Pass(this, stateNames.itemNotStarted(step.id), {
        comment: "Nothing is started for this item: its earlier execution's status is its result.",
        parameters: { ...itemIdentity(step), "status.$": step.skip.statusPath, started: false },
      });
      map.itemProcessor(
        new sfn.Choice(this, stateNames.itemStart(step.id)).when(sfn.Condition.booleanEquals(step.skip.startPath, false), notStarted).otherwise(start),
      );
    } else {
      map.itemProcessor(start);
    }
    map.addCatch(this.failurePath, { errors: ["States.ALL"], resultPath: "$.error" });
    return map.next(next);
  }

  // ---- the two endings ----

  private buildEnding(status: "SUCCEEDED" | "FAILED"): sfn.IChainable {
    const wf = this.workflow;
    const succeeded = status === "SUCCEEDED";
    const end = succeeded
      ? new sfn.Succeed(this, stateNames.succeeded)
      : new sfn.Fail(this, stateNames.failed, { errorPath: "$.error.Error", causePath: "$.error.Cause" });

    const notifyName = succeeded ? (wf.notify.successStateName ?? stateNames.notifySucceeded) : stateNames.notifyFailed;
    const notify = new tasks.LambdaInvoke(this, notifyName, {
      lambdaFunction: this.bindings.fn(wf.notify.fn),
      payload: sfn.TaskInput.fromObject(
        toParameters({
          ...wf.notify.payload,
          status,
          workflow: wf.name,
          execution: { id: "$$.Execution.Id", name: "$$.Execution.Name" },
          ...(succeeded ? {} : { error: "$.error" }),
        }),
      ),
      resultSelector: { "subject.$": "$.Payload.subject" },
      resultPath: "$.notification",
      taskTimeout: sfn.Timeout.duration(Duration.seconds(wf.notify.timeoutSeconds)),
      retryOnServiceExceptions: false,
    });
    for (const policy of wf.notify.retries) notify.addRetry(errorRetry(policy));
    // A notification that cannot be sent is recorded, never allowed to change the run's outcome.
    notify.addCatch(end, { errors: ["States.ALL"], resultPath: "$.notification" });
    const tail = notify.next(end);

    if (!wf.metrics) return tail;
    return this.functionStep(
      wf.metrics,
      tail,
      { status },
      succeeded ? stateNames.metricsSucceeded : stateNames.metricsFailed,
    );
  }
}

/** How a fan-out result names its item: the execution name and the item's key field. */
function itemIdentity(step: FanOutStep): Record<string, string> {
  return { "name.$": "$.name", [`${step.itemKey}.$`]: `$.${step.itemKey}` };
}

function errorRetry(policy: ErrorRetryPolicy): sfn.RetryProps {
  return {
    errors: policy.errors,
    interval: Duration.seconds(policy.intervalSeconds),
    maxAttempts: policy.maxAttempts,
    backoffRate: policy.backoffRate,
    ...(policy.maxDelaySeconds ? { maxDelay: Duration.seconds(policy.maxDelaySeconds) } : {}),
  };
}

function anyMatch(variable: string, patterns: string[]): sfn.Condition {
  const conditions = patterns.map((p) => sfn.Condition.stringMatches(variable, p));
  return conditions.length === 1 ? conditions[0] : sfn.Condition.or(...conditions);
}

/** `"$.a"` → a JSONPath reference; anything else stays a literal. Nested objects are converted too. */
export function toParameters(template: PayloadTemplate): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(template)) {
    if (typeof value === "string" && value.startsWith("$")) out[key] = sfn.JsonPath.stringAt(value);
    else if (Array.isArray(value)) out[key] = value;
    else if (value && typeof value === "object") out[key] = toParameters(value);
    else out[key] = value;
  }
  return out;
}

function topLevelKey(path: string): string {
  const match = /^\$\.([A-Za-z0-9_]+)/.exec(path);
  if (!match) throw new Error(`result path '${path}' must start with $.<field>`);
  return match[1];
}

function capitalize(id: string): string {
  return id.charAt(0).toUpperCase() + id.slice(1);
}
