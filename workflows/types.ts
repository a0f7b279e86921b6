import type { JobSpec } from "../lib/input-checks.ts";
import type { TierName } from "./tiers.ts";

/**
 * A workflow is data: the stacks deploy it, `npm run asl` prints it, the local engine runs it. Nothing about a
 * workflow is written anywhere else. `compile.ts` turns one into a Step Functions definition.
 *
 * Values written as `"$..."` are JSONPath references into the state machine's working document (see
 * docs/ARCHITECTURE.md); every other string is a literal.
 */
export type PathOrLiteral = string;

/** A Step Functions Retry rule: Step Functions matches it on the error name. */
export interface ErrorRetryPolicy {
  kind: "error";
  /** A short name, used in docs and tests. */
  name: string;
  errors: string[];
  intervalSeconds: number;
  maxAttempts: number;
  backoffRate: number;
  maxDelaySeconds?: number;
  /**
   * `FULL`: each wait is a random time up to the computed one (Step Functions' JitterStrategy), so that many
   * executions waiting on the same thing (a semaphore's slot) do not all try again at the same moment.
   */
  jitter?: "FULL";
}

/**
 * A retry on what the container said, not on an error name. Step Functions reports every stopped ECS task as
 * `States.TaskFailed`, so the compiler catches that error, matches these patterns against the Cause (the ECS
 * task as JSON: StoppedReason and the containers' ExitCode), waits, and runs the step again.
 */
export interface CauseRetryPolicy {
  kind: "cause";
  name: string;
  /** `StringMatches` patterns (only `*` is special) tried against the Cause. */
  causeMatches: string[];
  waitSeconds: number;
  maxAttempts: number;
}

export type RetryPolicy = ErrorRetryPolicy | CauseRetryPolicy;

export interface ContainerStep {
  kind: "container";
  /** Lower-case step id: `download`. Also the key of the step's tier in `$.plan.tiers`. */
  id: string;
  /** The image: `containers/<container>/`. */
  container: string;
  command: string[];
  /** Container environment: variable name → JSONPath into the working document, or a literal. */
  environment: Record<string, PathOrLiteral>;
  /** Per tier: Fargate bills by the second, so a timeout is a cap on the cost of a runaway task. */
  timeoutSeconds: Record<TierName, number>;
  retries: RetryPolicy[];
  /** Re-run one tier up when the task is killed for memory, while a tier remains. */
  escalateOnOutOfMemory: boolean;
  /**
   * What the container's task role may touch in the data bucket (key patterns such as `weather/*`). The role is
   * per container: the patterns of every step using the container are granted. Nothing is granted by default.
   */
  access?: BucketAccess;
  /**
   * The task gets no bucket access of its own: the state machine, not the task, starts a session of the container's
   * run role for each attempt and hands the container only that session's credentials (a job shared by tenants, e.g.
   * the grader's exams). See `ScopedSession`.
   */
  scopedSession?: ScopedSession;
  /**
   * A step with no Plan to choose its tier runs on this one (escalating from it on an out-of-memory kill, when it
   * escalates). Without it the step's tier is Plan's choice, `$.plan.tierIndex.<id>`.
   */
  tier?: TierName;
  /**
   * Launches the task on this ECS capacity provider (EC2 instances the stack binds by this name, e.g. the GPU
   * instances) instead of Fargate. The tier table does not apply: the task definition sizes the task, and its
   * attempts are labelled with this name where a Fargate step's carry their tier.
   */
  capacityProvider?: string;
  /** A write before every attempt of the task (the task workflow counts its attempts with it). */
  beforeEachAttempt?: DynamoDbStep;
}

/**
 * One single-item write to a DynamoDB table, with Step Functions' optimized integration
 * (`arn:aws:states:::dynamodb:updateItem`): no code, the condition and the update in the request. The parameters are
 * UpdateItem's (without TableName), in ASL form: an attribute value written `{"S.$": "$.path"}` is read from the
 * working document. A failed condition is `DynamoDB.ConditionalCheckFailedException`, which a Retry policy may wait
 * out (a semaphore's free slot) or `whenConditionFails` may take as an ending of its own (a duplicate).
 */
export interface DynamoDbStep {
  kind: "dynamodb";
  /** Step id; its state is named like it, capitalised (`claim` → `Claim`). */
  id: string;
  /** The table, by the name the stack binds it under (`WorkflowBindings.table`). */
  table: string;
  updateItem: Record<string, unknown>;
  /** Where the response goes in the working document, or null to leave the document as it was. */
  resultPath: string | null;
  /** What of the response is kept (`{"status.$": "$.Attributes.status.S"}`). */
  resultSelector?: Record<string, string>;
  timeoutSeconds: number;
  retries: ErrorRetryPolicy[];
  /**
   * When the condition fails (after any Retry on it): these writes run, then the run ends as Succeeded in a state
   * named `end` (nothing failed: the write was not needed). Without it, a failed condition fails the run.
   */
  whenConditionFails?: { then: DynamoDbStep[]; end: string };
}

/**
 * A check of the execution input before anything runs: a Choice that goes on when every condition holds and
 * otherwise ends the run in a Fail state with `failWith` (no step ran, so there is nothing to clean up). The Choice
 * is named `<Name>?` (`id` capitalised).
 */
export interface CheckStep {
  kind: "check";
  id: string;
  /** Each: the value at `path` (in the working document) is a string, and one of `oneOf` when given. */
  conditions: { path: string; oneOf?: string[] }[];
  failWith: { error: string; cause: string };
}

/**
 * A run's session, scoped by session tags that the state machine sets from what Plan checked: `tenant` and `runId`.
 * The run role's own policy reaches `<tenantsPrefix><tenant>/*` for reading and `<tenantsPrefix><tenant>/runs/<runId>/*`
 * for writing, through `${aws:PrincipalTag/…}`; its trust policy takes only the state machine's role, and only with
 * both tags (stacks/constructs/scoped-run-role.ts, workflows/run-session.ts). Code in the task cannot widen it: it
 * holds the session's credentials, not a role it could assume with other tags.
 */
export interface ScopedSession {
  /** The folder of the tenants, `jobs/grader/exams/`. */
  tenantsPrefix: string;
  /** JSONPath of the run's tenant (an exam's folder name), as Plan checked it. */
  tenantPath: string;
  /** JSONPath of the run's id, as Plan checked it. */
  runIdPath: string;
}

/** Key patterns in the data bucket, e.g. `incoming/weather/*`. */
export interface BucketAccess {
  read?: string[];
  readWrite?: string[];
}

export interface FunctionStep {
  kind: "function";
  /** Step id, also the state's name once capitalised. */
  id: string;
  /** The Lambda helper, `functions/<fn>.ts` exporting `handler`. */
  fn: string;
  /** The Payload: keys → JSONPath or literal (nested objects allowed). */
  payload: PayloadTemplate;
  /** Where the result goes in the working document, e.g. `$.plan`. */
  resultPath: string;
  /** The fields of the function's response kept there (keeps the state small: 256 KB limit). */
  resultFields: string[];
  timeoutSeconds: number;
  retries: ErrorRetryPolicy[];
  /** `fail`: a failure fails the run. `continue`: the error is stored at resultPath and the run goes on. */
  onError: "fail" | "continue";
  /** Data bucket key patterns the function reads (e.g. a Plan that lists an input prefix). Default: none. */
  access?: BucketAccess;
  /**
   * Workflows whose executions the function looks up by name (DescribeExecution), e.g. to find earlier attempts.
   * The stack grants it and hands it each machine's ARN (`machineArnVariable` in lib/execution-history.ts).
   */
  describesExecutionsOf?: string[];
  /**
   * Ends the run right after this step, as Succeeded, when the boolean at `path` (in the step's result) is true:
   * no later step, no Metrics, no Notify. For a run that legitimately has nothing to do (weather's empty incoming
   * prefix), so that it neither fails nor pages. The state is named `name`; the Choice before it `name?`.
   */
  endsRunWhen?: { path: string; name: string };
}

/** Runs another workflow once per item, each as its own execution, and gathers the results. */
export interface FanOutStep {
  kind: "fanOut";
  id: string;
  /** JSONPath of the items. Each item holds `name`, the child execution's name, which dedupes reruns. */
  itemsPath: string;
  /** The child execution's input, with paths relative to the item. */
  itemInput: PayloadTemplate;
  /** The item field that names it in results and digests, e.g. `region`. */
  itemKey: string;
  /** The child workflow's name. */
  workflow: string;
  maxConcurrency: number;
  resultPath: string;
  /** Cap on one child execution, on top of the child's own execution timeout. */
  timeoutSeconds: number;
  retries: ErrorRetryPolicy[];
  /**
   * Items whose boolean `startPath` is false are not started: the item's result is `{ name, <itemKey>, status,
   * started: false }`, its status read from `statusPath` (e.g. a month that SUCCEEDED before is reused).
   */
  skip?: { startPath: string; statusPath: string };
}

export type Step = ContainerStep | FunctionStep | FanOutStep | DynamoDbStep | CheckStep;

export interface PayloadTemplate {
  /** Arrays are literals: JSONPath only applies to string values. */
  [key: string]: PathOrLiteral | number | boolean | null | string[] | PayloadTemplate;
}

export interface Workflow {
  name: string;
  description: string;
  /** The whole execution's cap. */
  timeoutSeconds: number;
  steps: Step[];
  /** Runs on success and on failure (with `status`); its own failure never fails the run. */
  metrics?: FunctionStep;
  /**
   * Writes and helpers the failure path runs (before Metrics), in order: each one's own failure is
   * stored at its result path and never changes the run's outcome or `$.error` (the task workflow gives back its
   * slot and records the task FAILED here).
   */
  cleanupOnFailure?: (DynamoDbStep | FunctionStep)[];
  /** Sends the outcome. Receives `status`, `workflow`, `execution` plus these fields. Without it, nothing is sent. */
  notify?: {
    fn: string;
    payload: PayloadTemplate;
    timeoutSeconds: number;
    retries: ErrorRetryPolicy[];
    /**
     * The success path's Notify state, named for what it sends (default "Notify success"): a fan-out's sends a
     * digest whose status may be PARTIAL or FAILED. The failure path's is always "Notify failure".
     */
    successStateName?: string;
  };
  schedule?: { expression: string; description: string; input: Record<string, unknown> };
  /** Shown in docs: what to type when starting a run by hand. */
  exampleInput: Record<string, unknown>;
  /** Alarms on the workflow's own metrics (namespace AtlasPipelines, dimension Workflow), next to its machine. */
  alarms?: MetricAlarm[];
  /**
   * Failed executions in 5 minutes at which its ExecutionsFailed alarm fires (default 1). The task machines' failed
   * executions include tasks that failed on their own input, which their record tells the caller about: a few are
   * expected, a burst is the platform's problem.
   */
  failedExecutionsAlarmThreshold?: number;
  /**
   * Custom metrics of this workflow graphed in its dashboard row, besides executions and duration: only what the
   * Metrics helper sends (`RunFailed`, or a named metric of the workflow; default `["RunFailed"]`).
   */
  dashboardMetrics?: string[];
  /**
   * Manifest counts shown as columns of the dashboard's latest-run table, read from the Metrics helper's
   * run-summary log lines (Logs Insights), e.g. ski-atlas's `lifts`.
   */
  dashboardCounts?: string[];
  /**
   * The option of `npm start -- <workflow>` that gives these items a local copy of their source (e.g. `--sources
   * andorra=PATH`): a run's last line suggests it when an item failed offline because its source needs the network.
   * (How the CLI builds the execution input is the CLI's: cli/workflow-inputs.ts.)
   */
  localSourceOption?(items: string[]): string;
  /** A one-container job's spec (workflows/container-job.ts): what its Plan and the CLI check an input against. */
  job?: JobSpec;
  /**
   * The tasks' network. `default`: the shared task security group (all outbound). `https-egress-only`: a security
   * group with no inbound and outbound TCP 443 only (image pull, logs, S3), for untrusted code such as a grader.
   */
  network?: "default" | "https-egress-only";
}

export interface MetricAlarm {
  id: string;
  metric: string;
  /** Sum over 5 minutes at or above which the alarm fires. */
  threshold: number;
  description: string;
}

export function containerSteps(workflow: Workflow): ContainerStep[] {
  return workflow.steps.filter((s): s is ContainerStep => s.kind === "container");
}

export function functionSteps(workflow: Workflow): FunctionStep[] {
  const steps = [...workflow.steps, ...(workflow.cleanupOnFailure ?? [])].filter((s): s is FunctionStep => s.kind === "function");
  return workflow.metrics ? [...steps, workflow.metrics] : steps;
}

/** Every Lambda helper a workflow calls, Notify included. */
export function functionNames(workflow: Workflow): string[] {
  return [...new Set([...functionSteps(workflow).map((s) => s.fn), ...(workflow.notify ? [workflow.notify.fn] : [])])];
}

/** Every DynamoDB write of a workflow (its steps', their attempts' and its failure path's), for the stack's grants. */
export function dynamoDbSteps(workflow: Workflow): DynamoDbStep[] {
  const out: DynamoDbStep[] = [];
  const add = (s: DynamoDbStep) => {
    out.push(s);
    for (const t of s.whenConditionFails?.then ?? []) add(t);
  };
  for (const s of [...workflow.steps, ...(workflow.cleanupOnFailure ?? [])]) {
    if (s.kind === "dynamodb") add(s);
    if (s.kind === "container" && s.beforeEachAttempt) add(s.beforeEachAttempt);
  }
  return out;
}
