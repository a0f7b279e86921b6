import { Aws, Duration } from "aws-cdk-lib";
import type * as dynamodb from "aws-cdk-lib/aws-dynamodb";
import type * as ec2 from "aws-cdk-lib/aws-ec2";
import * as ecs from "aws-cdk-lib/aws-ecs";
import * as iam from "aws-cdk-lib/aws-iam";
import type * as lambda from "aws-cdk-lib/aws-lambda";
import * as sfn from "aws-cdk-lib/aws-stepfunctions";
import * as tasks from "aws-cdk-lib/aws-stepfunctions-tasks";
import { Construct } from "constructs";
import { DOCUMENT_PATHS, STATE_NAMES } from "../run-model/state-names.ts";
import { RUN_SESSION_ENVIRONMENT, startRunSession } from "./run-session.ts";
import { TASK_ENV } from "../lib/task-env.ts";
import { TIER_NAMES, TIERS, machineTierTable, tierEnvironment } from "./tiers.ts";
import type {
  CauseRetryPolicy,
  CheckStep,
  ContainerStep,
  DynamoDbStep,
  ErrorRetryPolicy,
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
  /** The container's one task definition (every tier: the state machine overrides its size per run). */
  task(container: string): { taskDefinition: ecs.TaskDefinition; container: ecs.ContainerDefinition };
  cluster: ecs.ICluster;
  subnets: ec2.SubnetSelection;
  securityGroups: ec2.ISecurityGroup[];
  /** Tasks get a public IP when the VPC has no NAT gateway (see stacks/Network.ts). */
  assignPublicIp: boolean;
  stateMachine(workflow: string): sfn.IStateMachine;
  /** The run role of a container whose steps have a scoped session (workflows/run-session.ts). */
  runRoleArn?(container: string): string | undefined;
  /** A table a DynamoDB step writes to, by the name the step gives (`DynamoDbStep.table`). */
  table?(name: string): dynamodb.ITable;
  /** The name of the ECS capacity provider a container step launches on (`ContainerStep.capacityProvider`). */
  capacityProvider?(name: string): string;
}

/** What a step's ECS task leaves in `$.steps.<id>`: enough for Metrics to compute durations. */
const ECS_RESULT_FIELDS = { "startedAt.$": "$.StartedAt", "stoppedAt.$": "$.StoppedAt" };

/**
 * Out-of-memory, as ECS reports it: `OutOfMemoryError` in the container's Reason (the task's StoppedReason says
 * only "Essential container in task exited"), or the container's exit code 137 (SIGKILL) when the kernel's OOM
 * killer got there first, or 134 (SIGABRT) when Node filled its heap (`--max-old-space-size`):
 * it aborts with "FATAL ERROR: … JavaScript heap out of memory" on stderr, and the Cause then carries nothing but
 * `"ExitCode":134`. Other native aborts exit 134 too; escalating one of them costs one bigger task at most.
 */
export const OUT_OF_MEMORY_CAUSES = ["*OutOfMemoryError*", '*"ExitCode":137*', '*"ExitCode":134*'];

/** The state names, from the one vocabulary every history reader shares (run-model/state-names.ts). */
export const stateNames = STATE_NAMES;

/** `$.task`, where each container step's "pick tier" state puts what its attempt runs with. */
const TASK = DOCUMENT_PATHS.task;

/**
 * One ECS RunTask (.sync) whose task-level and container overrides come whole from the working document:
 * `EcsRunTask` in aws-cdk-lib 2.224 takes a task-level `cpu` and `memoryMiB` but no ephemeral storage,
 * and a free tier must leave `EphemeralStorage` out altogether (RunTask takes 21–200 GiB). Everything else (the
 * cluster, Fargate launch, network, the IAM policies and the .sync event rule) is `EcsRunTask`'s own.
 */
class SizedEcsRunTask extends tasks.EcsRunTask {
  constructor(
    scope: Construct,
    id: string,
    props: tasks.EcsRunTaskProps,
    private readonly overrides: { expression: string },
  ) {
    super(scope, id, props);
  }

  protected override _renderTask(topLevelQueryLanguage?: sfn.QueryLanguage): unknown {
    const rendered = super._renderTask(topLevelQueryLanguage) as { Parameters: Record<string, unknown> };
    delete rendered.Parameters.Overrides;
    rendered.Parameters["Overrides.$"] = this.overrides.expression;
    return rendered;
  }
}

/**
 * RunTask on an ECS capacity provider (`CapacityProviderStrategy`), for tasks on EC2 instances that exist only
 * while tasks need them (the GPU instances). `EcsRunTask` in aws-cdk-lib 2.224 cannot name a capacity provider: its
 * EC2 launch target sets `LaunchType: "EC2"`, which RunTask refuses at once on a cluster with no instance instead of
 * letting managed scaling start one (aws/aws-cdk#20013, #30171; fixed after 2.224). A launch target returns the
 * RunTask parameters it adds, so this one returns the strategy and no launch type; the rest is `EcsRunTask`'s.
 */
class CapacityProviderLaunchTarget implements tasks.IEcsLaunchTarget {
  constructor(private readonly capacityProvider: string) {}

  bind(): tasks.EcsLaunchTargetConfig {
    return { parameters: { CapacityProviderStrategy: [{ CapacityProvider: this.capacityProvider, Weight: 1 }] } };
  }
}

/**
 * One UpdateItem through Step Functions' optimized DynamoDB integration, its parameters given whole in ASL form (as
 * lib/tasks/task-transitions.ts builds them for the table code and the machine alike). `DynamoUpdateItem` in
 * aws-cdk-lib wants each value as a `DynamoAttributeValue` and cannot take a string set read from a path; its IAM is
 * one statement, written here.
 */
class DynamoDbUpdateItem extends sfn.TaskStateBase {
  protected readonly taskMetrics = undefined;
  protected readonly taskPolicies: iam.PolicyStatement[];

  constructor(
    scope: Construct,
    id: string,
    props: sfn.TaskStateBaseProps,
    private readonly table: dynamodb.ITable,
    private readonly updateItem: Record<string, unknown>,
  ) {
    super(scope, id, props);
    this.taskPolicies = [new iam.PolicyStatement({ actions: ["dynamodb:UpdateItem"], resources: [table.tableArn] })];
  }

  protected _renderTask(): unknown {
    return { Resource: `arn:${Aws.PARTITION}:states:::dynamodb:updateItem`, Parameters: { TableName: this.table.tableName, ...this.updateItem } };
  }
}

/** The error DynamoDB's integration fails a state with when the write's condition does not hold. */
export const CONDITION_FAILED = "DynamoDB.ConditionalCheckFailedException";

/**
 * Turns a workflow into Step Functions states, JSONPath only (the local engine ignores JSONata).
 *
 * Shape: Initialize → steps in order → Metrics → Notify success (or the workflow's `notify.successStateName`, e.g.
 * the fan-out's "Send digest") → Succeeded. Every step catches everything into
 * `$.error` and goes to the failure path: the workflow's `cleanupOnFailure` writes and helpers → Metrics (failed
 * run) → Notify failure → Failed. The clean-up, Metrics and Notify can never turn a succeeded run into a failed one
 * nor change `$.error`: their errors are caught and stored.
 *
 * A container step is two states, "<Step>: pick tier" (a Pass: the tier's row of the table `$.tiers`, by the
 * position Plan chose plus the escalations so far, and the step's overrides, into `$.task`) and "<Step>" (the one
 * ECS task). A task that stops with a non-zero exit goes to the states every container step shares: "Why did it
 * fail?" reads the Cause and either escalates ("Escalate tier"), waits and counts a retry ("Wait before retry",
 * "Count retry"), or fails the run; "Run the step again" then sends the machine back to the step named in `$.task`.
 */
export class WorkflowDefinition extends Construct {
  readonly startState: sfn.IChainable;
  private readonly failurePath: sfn.IChainable;
  private readonly containerSteps: ContainerStep[];
  /** The step's "pick tier" state, by step id: where "Run the step again" sends a retried or escalated step. */
  private readonly pickTierStates = new Map<string, sfn.State>();
  private whyDidItFailState?: sfn.Choice;

  constructor(
    scope: Construct,
    id: string,
    private readonly workflow: Workflow,
    private readonly bindings: WorkflowBindings,
  ) {
    super(scope, id);
    this.containerSteps = workflow.steps.filter((s): s is ContainerStep => s.kind === "container");
    this.failurePath = this.cleanupSteps(workflow.cleanupOnFailure ?? [], this.buildEnding("FAILED"));
    const success = this.buildEnding("SUCCEEDED");

    const initialize = new sfn.Pass(this, stateNames.initialize, {
      comment: "Keeps the execution input at $.input, holds the tier table at $.tiers and creates the bookkeeping the steps write into.",
      parameters: this.initialDocument(),
    });

    // Build from the last step backwards, so each step knows what comes next.
    let next: sfn.IChainable = success;
    for (const step of [...workflow.steps].reverse()) {
      if (step.kind === "container") next = this.containerStep(step, next);
      else if (step.kind === "function") next = this.functionStep(step, next);
      else if (step.kind === "dynamodb") next = this.dynamoDbStep(step, next);
      else if (step.kind === "check") next = this.checkStep(step, next);
      else next = this.fanOutStep(step, next);
    }
    if (this.containerSteps.length) this.buildRetryStates();
    this.startState = initialize.next(next);
  }

  private initialDocument(): Record<string, unknown> {
    const containers = this.containerSteps;
    const doc: Record<string, unknown> = {
      input: sfn.JsonPath.entirePayload,
      run: {
        retries: Object.fromEntries(containers.map((s) => [s.id, { count: 0 }])),
        escalated: Object.fromEntries(containers.map((s) => [s.id, 0])),
        escalations: {},
      },
      steps: {},
    };
    if (containers.length) {
      doc.tiers = machineTierTable();
      doc.task = {};
    }
    // Every field a later state may read exists from the start, so a failure path never trips on a missing path.
    for (const step of [...this.workflow.steps, ...(this.workflow.cleanupOnFailure ?? []), ...(this.workflow.metrics ? [this.workflow.metrics] : [])]) {
      if (step.kind === "container" || step.kind === "check") continue;
      if (step.resultPath !== null) doc[topLevelKey(step.resultPath)] = {};
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
    return new sfn.Choice(this, stateNames.endRunChoice(end.name), { comment: `Ends the run as Succeeded when ${end.path} is true.` })
      // isPresent first: a Choice on a missing path is States.Runtime, which no Catch takes.
      .when(sfn.Condition.and(sfn.Condition.isPresent(end.path), sfn.Condition.booleanEquals(end.path, true)), new sfn.Succeed(this, stateNames.endRun(end.name), { comment: "Nothing to do: no task ran, nothing was published, nobody is notified." }))
      .otherwise(next);
  }

  // ---- DynamoDB writes and input checks ----

  /** One UpdateItem; a failed condition either ends the run (`whenConditionFails`) or, like any error, fails it. */
  private dynamoDbStep(step: DynamoDbStep, next: sfn.IChainable): sfn.IChainable {
    const write = this.dynamoDbWrite(step);
    if (step.whenConditionFails) {
      const { then, end } = step.whenConditionFails;
      let after: sfn.IChainable = new sfn.Succeed(this, stateNames.endRun(end), { comment: `${stateNames.step(step.id)}: its condition did not hold, so there was nothing to do.` });
      // No Catch on these: a write that fails after its retries fails the execution, and whatever it held is given
      // back by the machine's clean-up of ended executions (the task workflow's `task-execution-ended`).
      for (const t of [...then].reverse()) after = this.dynamoDbWrite(t).next(after);
      write.addCatch(after, { errors: [CONDITION_FAILED], resultPath: sfn.JsonPath.DISCARD });
    }
    write.addCatch(this.failurePath, { errors: ["States.ALL"], resultPath: "$.error" });
    return write.next(next);
  }

  private dynamoDbWrite(step: DynamoDbStep): DynamoDbUpdateItem {
    if (!this.bindings.table) throw new Error(`${this.workflow.name}: step '${step.id}' writes to table '${step.table}', but no table is bound`);
    const write = new DynamoDbUpdateItem(
      this,
      stateNames.step(step.id),
      {
        resultPath: step.resultPath === null ? sfn.JsonPath.DISCARD : step.resultPath,
        ...(step.resultSelector ? { resultSelector: step.resultSelector } : {}),
        taskTimeout: sfn.Timeout.duration(Duration.seconds(step.timeoutSeconds)),
      },
      this.bindings.table(step.table),
      step.updateItem,
    );
    for (const policy of step.retries) write.addRetry(errorRetry(policy));
    return write;
  }

  /** `<Name>` (a Choice): on to `next` when every condition holds, else a Fail state with the step's error. */
  private checkStep(step: CheckStep, next: sfn.IChainable): sfn.IChainable {
    const holds = step.conditions.map(({ path, oneOf }) => {
      // isPresent first: a Choice on a missing path is States.Runtime, which no Catch takes.
      const parts = [sfn.Condition.isPresent(path), sfn.Condition.isString(path)];
      if (oneOf) parts.push(anyEquals(path, oneOf));
      return sfn.Condition.and(...parts);
    });
    const fail = new sfn.Fail(this, stateNames.checkFailed(step.id), { error: step.failWith.error, cause: step.failWith.cause });
    return new sfn.Choice(this, stateNames.check(step.id), { comment: `Goes on only when ${step.conditions.map((c) => c.path).join(", ")} ${step.conditions.length === 1 ? "is a string" : "are strings"} as expected.` })
      .when(holds.length === 1 ? holds[0] : sfn.Condition.and(...holds), next)
      .otherwise(fail);
  }

  /** The failure path's clean-up writes and helpers, in order, each one's error stored, never raised. */
  private cleanupSteps(steps: (DynamoDbStep | FunctionStep)[], next: sfn.IChainable): sfn.IChainable {
    let chain = next;
    for (const step of [...steps].reverse()) {
      if (step.kind === "function") {
        chain = this.functionStep({ ...step, onError: "continue" }, chain);
        continue;
      }
      const write = this.dynamoDbWrite(step);
      write.addCatch(chain, { errors: ["States.ALL"], resultPath: step.resultPath === null ? sfn.JsonPath.DISCARD : step.resultPath });
      chain = write.next(chain);
    }
    return chain;
  }

  // ---- container steps (ECS Fargate) ----

  /** "<Step>: pick tier" → "<Step>" (the ECS task); a stopped task goes to the shared "Why did it fail?". */
  private containerStep(step: ContainerStep, next: sfn.IChainable): sfn.IChainable {
    const run = this.ecsTask(stateNames.step(step.id), step, { expression: `States.JsonMerge(${TASK}.size, ${TASK}.container, false)` }, {
      comment: `Runs ${step.id} on the tier ${TASK} names; a stopped task's Cause decides escalate, retry or fail.`,
      taskTimeout: sfn.Timeout.at(`${TASK}.timeoutSeconds`),
      resultPath: `$.steps.${step.id}`,
    });
    for (const policy of step.retries) if (policy.kind === "error") run.addRetry(errorRetry(policy));
    run.addCatch(this.whyDidItFail(), { errors: ["States.TaskFailed"], resultPath: "$.error" });
    run.addCatch(this.failurePath, { errors: ["States.ALL"], resultPath: "$.error" });
    run.next(next);

    const pick = new sfn.Pass(this, stateNames.pickTier(step.id), {
      comment: `The tier Plan chose for ${step.id}, one up per out-of-memory escalation, from the tier table; its task overrides, timeout and retry bookkeeping.`,
      parameters: this.attemptPlan(step),
      resultPath: TASK,
    });
    if (step.beforeEachAttempt) {
      const before = this.dynamoDbWrite(step.beforeEachAttempt);
      before.addCatch(this.failurePath, { errors: ["States.ALL"], resultPath: "$.error" });
      pick.next(before).next(run);
    } else {
      pick.next(run);
    }
    // A scoped step starts a fresh session before every attempt (retries and escalations come back through it).
    const entry = step.scopedSession ? this.runSession(step, step.scopedSession, pick) : pick;
    this.pickTierStates.set(step.id, entry);
    return entry;
  }

  /** `<Step>: start run session` (workflows/run-session.ts) → next; a session that cannot start fails the run. */
  private runSession(step: ContainerStep, session: ScopedSession, next: sfn.IChainable): sfn.State {
    const roleArn = this.bindings.runRoleArn?.(step.container);
    if (!roleArn) throw new Error(`${this.workflow.name}: step '${step.id}' has a scoped session, but container '${step.container}' has no run role bound`);
    const start = startRunSession(this, stateNames.runSession(step.id), session, roleArn, step.container);
    start.addCatch(this.failurePath, { errors: ["States.ALL"], resultPath: "$.error" });
    start.next(next);
    return start;
  }

  /**
   * What "<Step>: pick tier" writes to `$.task` (run-model/state-names.ts `TaskAttemptPlan`), all read from the one
   * tier table by the step's position: Plan's (`$.plan.tierIndex.<id>`) plus its escalations (`$.run.escalated`).
   * `size` and `container` become RunTask's `Overrides`; `onEscalate` and `onRetry` are what the shared states merge
   * into `$.run`, so that they need not know which step they act for.
   */
  private attemptPlan(step: ContainerStep): Record<string, unknown> {
    if (step.capacityProvider) return this.capacityProviderAttemptPlan(step, step.capacityProvider);
    const planned = step.tier ? String(TIER_NAMES.indexOf(step.tier)) : `$.plan.tierIndex.${step.id}`;
    if (step.tier && !(TIER_NAMES as readonly string[]).includes(step.tier)) throw new Error(`${this.workflow.name}: step '${step.id}' names unknown tier '${step.tier}'`);
    const index = `States.MathAdd(${planned}, $.run.escalated.${step.id})`;
    const column = (path: string) => `States.ArrayGetItem(${path}, ${index})`;
    const timeouts = TIER_NAMES.map((t) => step.timeoutSeconds[t]);
    const causeRetry = step.retries.find((p): p is CauseRetryPolicy => p.kind === "cause");
    const tierVariables = Object.keys(tierEnvironment(TIERS[0]));
    const plan: Record<string, unknown> = {
      step: step.id,
      state: stateNames.step(step.id),
      "index.$": index,
      "tier.$": column("$.tiers.name"),
      "timeoutSeconds.$": `States.ArrayGetItem(States.Array(${timeouts.join(", ")}), ${index})`,
      "retries.$": `$.run.retries.${step.id}.count`,
      maxRetries: causeRetry?.maxAttempts ?? 0,
      retryWaitSeconds: causeRetry?.waitSeconds ?? 0,
      escalates: step.escalateOnOutOfMemory,
      "size.$": column("$.tiers.task"),
      container: {
        ContainerOverrides: [
          {
            Name: this.bindings.task(step.container).container.containerName,
            Command: step.command,
            Environment: [
              ...environmentParameters(step.scopedSession ? { ...step.environment, ...RUN_SESSION_ENVIRONMENT } : step.environment),
              ...tierVariables.map((name) => ({ Name: name, "Value.$": column(`$.tiers.environment.${name}`) })),
            ],
          },
        ],
      },
      onRetry: { [step.id]: { "count.$": `States.MathAdd($.run.retries.${step.id}.count, 1)` } },
    };
    if (step.escalateOnOutOfMemory) {
      const nextIndex = `States.ArrayGetItem($.tiers.next, ${index})`;
      plan["nextTier.$"] = `States.ArrayGetItem($.tiers.name, ${nextIndex})`;
      plan.onEscalate = {
        escalated: { [`${step.id}.$`]: `States.MathAdd($.run.escalated.${step.id}, 1)` },
        escalations: {
          [step.id]: {
            step: step.id,
            "from.$": `States.ArrayGetItem($.tiers.name, ${planned})`,
            "to.$": `States.ArrayGetItem($.tiers.name, ${nextIndex})`,
            reason: "OutOfMemoryError",
            "count.$": `States.MathAdd($.run.escalated.${step.id}, 1)`,
          },
        },
      };
    }
    return plan;
  }

  /**
   * The attempt plan of a step on a capacity provider: no row of the Fargate tier table (the task definition sizes
   * the task on its instance), so `size` is empty and the attempt is labelled with the capacity provider's name
   * (`ATLAS_TIER`, where a Fargate attempt carries its tier's). The retry bookkeeping is the same.
   */
  private capacityProviderAttemptPlan(step: ContainerStep, capacityProvider: string): Record<string, unknown> {
    const where = `${this.workflow.name}: step '${step.id}' on capacity provider '${capacityProvider}'`;
    if (step.escalateOnOutOfMemory || step.tier) throw new Error(`${where}: no tier to run on or escalate through (the task definition sizes it)`);
    const timeouts = new Set(TIER_NAMES.map((t) => step.timeoutSeconds[t]));
    if (timeouts.size !== 1) throw new Error(`${where}: one timeout for every tier, since it runs on none`);
    const causeRetry = step.retries.find((p): p is CauseRetryPolicy => p.kind === "cause");
    return {
      step: step.id,
      state: stateNames.step(step.id),
      index: 0,
      tier: capacityProvider,
      timeoutSeconds: [...timeouts][0],
      "retries.$": `$.run.retries.${step.id}.count`,
      maxRetries: causeRetry?.maxAttempts ?? 0,
      retryWaitSeconds: causeRetry?.waitSeconds ?? 0,
      escalates: false,
      size: {},
      container: {
        ContainerOverrides: [
          {
            Name: this.bindings.task(step.container).container.containerName,
            Command: step.command,
            Environment: [...environmentParameters(step.environment), { Name: TASK_ENV.tier, Value: capacityProvider }],
          },
        ],
      },
      onRetry: { [step.id]: { "count.$": `States.MathAdd($.run.retries.${step.id}.count, 1)` } },
    };
  }

  /** "Why did it fail?", created with the first container step that catches into it. */
  private whyDidItFail(): sfn.Choice {
    this.whyDidItFailState ??= new sfn.Choice(this, stateNames.whyDidItFail, {
      comment: "Every stopped task is States.TaskFailed: the Cause (the ECS task) says whether to escalate, retry or fail.",
    });
    return this.whyDidItFailState;
  }

  /**
   * The states every container step shares: "Why did it fail?" → "Escalate tier" (out of memory, while a tier
   * remains) or "Wait before retry" → "Count retry" (a cause the step's policy retries, while retries remain) →
   * "Run the step again" → the step's "pick tier". Anything else goes to the failure path.
   */
  private buildRetryStates(): void {
    const why = this.whyDidItFail();
    const runAgain = new sfn.Choice(this, stateNames.runAgain, { comment: `Back to the step ${TASK}.step names, to pick its tier again.` });
    for (const step of this.containerSteps) runAgain.when(sfn.Condition.stringEquals(`${TASK}.step`, step.id), this.pickTierStates.get(step.id)!);
    runAgain.otherwise(this.failurePath);

    if (this.containerSteps.some((s) => s.escalateOnOutOfMemory)) {
      const escalate = new sfn.Pass(this, stateNames.escalate, {
        comment: `Records the escalation at $.run.escalations.<step> and moves the step one tier up (${TASK}.onEscalate).`,
        parameters: {
          "retries.$": "$.run.retries",
          "escalated.$": `States.JsonMerge($.run.escalated, ${TASK}.onEscalate.escalated, false)`,
          "escalations.$": `States.JsonMerge($.run.escalations, ${TASK}.onEscalate.escalations, false)`,
        },
        resultPath: "$.run",
      });
      why.when(
        sfn.Condition.and(
          sfn.Condition.booleanEquals(`${TASK}.escalates`, true),
          sfn.Condition.numberLessThan(`${TASK}.index`, TIERS.length - 1),
          anyMatch("$.error.Cause", OUT_OF_MEMORY_CAUSES),
        ),
        escalate.next(runAgain),
      );
    }

    // One rule per distinct retry policy: steps that share a policy share its rule.
    const policies = new Map<string, { policy: CauseRetryPolicy; steps: string[] }>();
    for (const step of this.containerSteps) {
      const policy = step.retries.find((p): p is CauseRetryPolicy => p.kind === "cause");
      if (!policy) continue;
      const key = JSON.stringify(policy);
      policies.set(key, { policy, steps: [...(policies.get(key)?.steps ?? []), step.id] });
    }
    if (policies.size) {
      const wait = new sfn.Wait(this, stateNames.waitBeforeRetry, {
        comment: `The step's retry policy's wait (${TASK}.retryWaitSeconds).`,
        time: sfn.WaitTime.secondsPath(`${TASK}.retryWaitSeconds`),
      });
      const count = new sfn.Pass(this, stateNames.countRetry, {
        comment: `Counts the retry at $.run.retries.<step>.count (${TASK}.onRetry).`,
        parameters: {
          "retries.$": `States.JsonMerge($.run.retries, ${TASK}.onRetry, false)`,
          "escalated.$": "$.run.escalated",
          "escalations.$": "$.run.escalations",
        },
        resultPath: "$.run",
      });
      wait.next(count).next(runAgain);
      const everyStep = policies.size === 1 && [...policies.values()][0].steps.length === this.containerSteps.length;
      for (const { policy, steps } of policies.values()) {
        const conditions = [anyMatch("$.error.Cause", policy.causeMatches), sfn.Condition.numberLessThanJsonPath(`${TASK}.retries`, `${TASK}.maxRetries`)];
        if (!everyStep) conditions.unshift(anyEquals(`${TASK}.step`, steps));
        why.when(sfn.Condition.and(...conditions), wait, { comment: `${policy.name}: up to ${policy.maxAttempts} retries (${steps.join(", ")}).` });
      }
    }
    why.otherwise(this.failurePath);
  }

  /** One ECS RunTask (.sync) of a container: Fargate, the container's one task definition, the given overrides. */
  private ecsTask(
    stateName: string,
    step: Pick<ContainerStep, "container" | "capacityProvider">,
    overrides: { expression: string },
    props: Pick<tasks.EcsRunTaskProps, "comment" | "taskTimeout" | "resultPath">,
  ): tasks.EcsRunTask {
    const { taskDefinition } = this.bindings.task(step.container);
    // On a capacity provider's instances the task runs in the instance's network (bridge mode): no subnets of its own.
    const placement: Partial<tasks.EcsRunTaskProps> = step.capacityProvider
      ? { launchTarget: new CapacityProviderLaunchTarget(this.capacityProviderName(step.capacityProvider)) }
      : {
          launchTarget: new tasks.EcsFargateLaunchTarget({ platformVersion: ecs.FargatePlatformVersion.LATEST }),
          subnets: this.bindings.subnets,
          securityGroups: this.bindings.securityGroups,
          assignPublicIp: this.bindings.assignPublicIp,
        };
    return new SizedEcsRunTask(
      this,
      stateName,
      {
        integrationPattern: sfn.IntegrationPattern.RUN_JOB,
        cluster: this.bindings.cluster,
        taskDefinition,
        launchTarget: placement.launchTarget!,
        ...placement,
        resultSelector: ECS_RESULT_FIELDS,
        ...props,
      },
      overrides,
    );
  }

  private capacityProviderName(name: string): string {
    const bound = this.bindings.capacityProvider?.(name);
    if (!bound) throw new Error(`${this.workflow.name}: a step launches on capacity provider '${name}', which is not bound`);
    return bound;
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
    const start = new tasks.StepFunctionsStartExecution(this, stateNames.runChild(step.id, step.workflow), {
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

    const tail = wf.notify ? this.notifyStep(wf.notify, status, end) : end;
    if (!wf.metrics) return tail;
    return this.functionStep(
      wf.metrics,
      tail,
      { status },
      succeeded ? stateNames.metricsSucceeded : stateNames.metricsFailed,
    );
  }

  /** Notify success (or the workflow's own name for it) / Notify failure → `end`; its failure never changes the outcome. */
  private notifyStep(notifyStep: NonNullable<Workflow["notify"]>, status: "SUCCEEDED" | "FAILED", end: sfn.IChainable): sfn.IChainable {
    const wf = this.workflow;
    const succeeded = status === "SUCCEEDED";
    const notifyName = succeeded ? (notifyStep.successStateName ?? stateNames.notifySucceeded) : stateNames.notifyFailed;
    const notify = new tasks.LambdaInvoke(this, notifyName, {
      lambdaFunction: this.bindings.fn(notifyStep.fn),
      payload: sfn.TaskInput.fromObject(
        toParameters({
          ...notifyStep.payload,
          status,
          workflow: wf.name,
          execution: { id: "$$.Execution.Id", name: "$$.Execution.Name" },
          ...(succeeded ? {} : { error: "$.error" }),
        }),
      ),
      resultSelector: { "subject.$": "$.Payload.subject" },
      resultPath: "$.notification",
      taskTimeout: sfn.Timeout.duration(Duration.seconds(notifyStep.timeoutSeconds)),
      retryOnServiceExceptions: false,
    });
    for (const policy of notifyStep.retries) notify.addRetry(errorRetry(policy));
    // A notification that cannot be sent is recorded, never allowed to change the run's outcome.
    notify.addCatch(end, { errors: ["States.ALL"], resultPath: "$.notification" });
    return notify.next(end);
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
    ...(policy.jitter ? { jitterStrategy: sfn.JitterType.FULL } : {}),
  };
}

/** The container override's environment: `Value.$` for a JSONPath into the working document, `Value` for a literal. */
function environmentParameters(environment: Record<string, string>): Record<string, string>[] {
  return Object.entries(environment).map(([Name, value]): Record<string, string> => (value.startsWith("$") ? { Name, "Value.$": value } : { Name, Value: value }));
}

function anyEquals(variable: string, values: string[]): sfn.Condition {
  const conditions = values.map((v) => sfn.Condition.stringEquals(variable, v));
  return conditions.length === 1 ? conditions[0] : sfn.Condition.or(...conditions);
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

