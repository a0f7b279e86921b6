import { claim, countAttempt, giveBackSlot, path, takeSlot } from "../lib/tasks/task-transitions.ts";
import { QUEUES, TASK_TYPES, taskTypesOf, type QueueName, type TaskType } from "../lib/tasks/task-types.ts";
import type { AtlasConfig } from "./config.ts";
import { DYNAMODB_SERVICE_RETRY, LAMBDA_SERVICE_RETRY, TASK_CAPACITY_RETRY, TASK_INTERRUPTED_RETRY } from "./retry-policies.ts";
import { TIER_NAMES, type TierName } from "./tiers.ts";
import type { DynamoDbStep, ErrorRetryPolicy, FunctionStep, Workflow } from "./types.ts";

/**
 * The task workflows, one per queue (`tasks-gpu`, `tasks-cpu`): what runs one task that a pipe brings from its queue
 * (docs/TASKS.md, "How a task runs"). Data like every workflow, compiled by workflows/compile.ts; the stack wires
 * each to its queue with `TaskPlatform.connect`.
 *
 *   A gpu task? → Take a slot → Claim the task → Ocr: pick tier → Count the attempt → Ocr → Give back the slot →
 *   Record the result → Succeeded
 *
 * - The input is what the pipe's template makes of a message: `{task, message}` (lib/tasks/task-queues.ts). A
 *   message that is not a task of this queue fails at once, before anything is taken or written.
 * - Take a slot: bounded concurrency per queue. Pipes starts an execution per message at once, whatever the
 *   number (it has no concurrency limit for a Step Functions target), so the machine itself waits its turn for one of
 *   the queue's slots, a semaphore in the task table (`takeSlot`), before it claims the task: until then the task
 *   says QUEUED. A full semaphore fails the write's condition; the state's Retry waits (jittered, growing to a
 *   minute) and tries again, for up to SLOT_WAIT_HOURS. Why a semaphore in the machine rather than another path:
 *   it is AWS's documented pattern for Step Functions, needs no code, and keeps one execution per task; Pipes and
 *   SQS have no limit to set for this target, and a Lambda event source mapping's maximum concurrency bounds only
 *   the function that would start executions, not the executions. Waiting is not free: each try is a state
 *   transition ($0.000025), at most about SLOT_WAIT_TRIES per task.
 * - Claim the task: QUEUED → RUNNING by this execution (lib/tasks/task-transitions.ts `claim`). A message
 *   delivered twice starts two executions; the second finds the task taken, gives its slot back and ends as
 *   "Duplicate message", Succeeded: the work runs once.
 * - The task's container, once per attempt, each attempt counted first. GPU tasks launch on the GPU capacity
 *   provider (EC2 instances from zero), CPU tasks on their type's ARM64 Fargate tier. A task that found no capacity
 *   in time or whose instance went away is run again (TASK_INTERRUPTED_RETRY); one that failed on its input is not.
 * - Give back the slot, then Record the result (functions/finish-task.ts): SUCCEEDED with where the results are
 *   (and the text), or, on the failure path, FAILED with one line a person can read; the execution then ends Failed
 *   with the task's error.
 */

/** How long a task waits for a slot at most, before it is FAILED for it. */
export const SLOT_WAIT_HOURS = 12;
/** Longest wait between two tries for a slot; each wait is random up to the computed one (full jitter). */
const SLOT_WAIT_MAX_DELAY_SECONDS = 60;
/** Tries that last SLOT_WAIT_HOURS on average: with full jitter a wait at the ceiling is half of it on average. */
export const SLOT_WAIT_TRIES = Math.ceil((SLOT_WAIT_HOURS * 3600) / (SLOT_WAIT_MAX_DELAY_SECONDS / 2));

/** The table the task workflows write to, as the stack binds it (WorkflowBindings.table). */
export const TASK_TABLE_BINDING = "tasks";
/** The capacity provider the GPU tasks launch on, as the stack binds it (WorkflowBindings.capacityProvider). */
export const GPU_CAPACITY_BINDING = "gpu";

/** The state machine running the tasks of a queue. */
export function taskWorkflowName(queue: QueueName): string {
  return `tasks-${queue}`;
}

const SLOT_WAIT: ErrorRetryPolicy = {
  kind: "error",
  name: "wait-for-a-slot",
  errors: ["DynamoDB.ConditionalCheckFailedException"],
  intervalSeconds: 2,
  backoffRate: 2,
  maxDelaySeconds: SLOT_WAIT_MAX_DELAY_SECONDS,
  maxAttempts: SLOT_WAIT_TRIES,
  jitter: "FULL",
};

/** A write of the task table: 30 s is far more than one UpdateItem takes; DynamoDB's own hiccups are retried. */
function write(id: string, updateItem: ReturnType<typeof claim>, more: Partial<DynamoDbStep> = {}): DynamoDbStep {
  const { TableName: _bound, ...parameters } = updateItem;
  return { kind: "dynamodb", id, table: TASK_TABLE_BINDING, updateItem: parameters, resultPath: null, timeoutSeconds: 30, retries: [DYNAMODB_SERVICE_RETRY], ...more };
}

/** The write builders want a table name; the stack's table is bound at compile time, so this one is dropped. */
const UNBOUND = "bound-by-the-stack";
const EXECUTION = path("$$.Execution.Name");
const NOW = path("$$.State.EnteredTime");
const TASK_ID = path("$.input.task.taskId");

function recordOutcome(id: string, extra: FunctionStep["payload"], resultPath: string): FunctionStep {
  return {
    kind: "function",
    id,
    fn: "finish-task",
    payload: { task: "$.input.task", runId: "$$.Execution.Name", ...extra },
    resultPath,
    // Fields every record has, whatever its status (a missing one would fail the state).
    resultFields: ["taskId", "status", "attempts", "updatedAt"],
    timeoutSeconds: 60,
    retries: [LAMBDA_SERVICE_RETRY],
    onError: "fail",
    access: { read: ["tasks/*/output/*"] },
  };
}

export function taskWorkflow(queue: QueueName, config: Pick<AtlasConfig, "taskConcurrency">): Workflow {
  const types = taskTypesOf(queue);
  // One container step per queue: several types on one queue would need a Choice on the type before it.
  if (types.length !== 1) throw new Error(`queue ${queue} has ${types.length} task types (${types.join(", ")}): the task workflow runs one type per queue`);
  const type: TaskType = types[0];
  const spec = TASK_TYPES[type] as (typeof TASK_TYPES)[TaskType] & { tier?: TierName };
  const limit = config.taskConcurrency[queue];
  const giveBack = (id: string) => write(id, giveBackSlot(UNBOUND, { queue, holder: EXECUTION }));
  // Every attempt may wait for capacity (RunTask's retries, about 25 minutes; a capacity provider's task up to 30
  // minutes in PROVISIONING) and run its whole timeout; then the slot wait, and the writes and helpers.
  const attempts = 1 + TASK_INTERRUPTED_RETRY.maxAttempts;
  const perAttempt = 25 * 60 + 30 * 60 + spec.timeoutSeconds + TASK_INTERRUPTED_RETRY.waitSeconds;
  return {
    name: taskWorkflowName(queue),
    description: `Runs one ${queue} task from its queue: a slot (${limit} at once), the claim, the ${type} container, the record.`,
    timeoutSeconds: SLOT_WAIT_HOURS * 3600 * 2 + attempts * perAttempt + 600,
    exampleInput: {
      task: { taskId: "3f0c…", type, queue, input: { name: "scan.png", key: "tasks/3f0c…/input/scan.png", bytes: 48213 } },
      message: { id: "<SQS message id>", receiveCount: "1" },
    },
    steps: [
      {
        kind: "check",
        id: `a ${queue} task`,
        conditions: [{ path: "$.input.task.taskId" }, { path: "$.input.task.type", oneOf: types }],
        failWith: { error: "NotATask", cause: `the message is not a task of the ${queue} queue: it needs a taskId and a type (${types.join(", ")})` },
      },
      write("take a slot", takeSlot(UNBOUND, { queue, limit, holder: EXECUTION }), { retries: [SLOT_WAIT, DYNAMODB_SERVICE_RETRY] }),
      write("claim the task", claim(UNBOUND, { taskId: TASK_ID, runId: EXECUTION, now: NOW }), {
        resultPath: "$.claim",
        resultSelector: { "startedAt.$": "$.Attributes.startedAt.S" },
        whenConditionFails: { then: [giveBack("give back the slot (duplicate)")], end: "Duplicate message" },
      }),
      {
        kind: "container",
        id: type,
        container: spec.image,
        command: [type],
        environment: { TASK_ID: "$.input.task.taskId" },
        timeoutSeconds: Object.fromEntries(TIER_NAMES.map((t) => [t, spec.timeoutSeconds])) as Record<TierName, number>,
        retries: [TASK_CAPACITY_RETRY, TASK_INTERRUPTED_RETRY],
        escalateOnOutOfMemory: false,
        ...(spec.queue === "gpu" ? { capacityProvider: GPU_CAPACITY_BINDING } : { tier: spec.tier ?? "small" }),
        beforeEachAttempt: write("count the attempt", countAttempt(UNBOUND, { taskId: TASK_ID, runId: EXECUTION, now: NOW })),
      },
      giveBack("give back the slot"),
      recordOutcome("record the result", { ecs: `$.steps.${type}` }, "$.record"),
    ],
    cleanupOnFailure: [giveBack("give back the slot (failed run)"), recordOutcome("record the failure", { error: "$.error" }, "$.record")],
    // Failed tasks include tasks that failed on their input (the caller reads why in its record): a few are normal.
    failedExecutionsAlarmThreshold: 5,
  };
}

export function taskWorkflows(config: Pick<AtlasConfig, "taskConcurrency">): Workflow[] {
  return QUEUES.map((queue) => taskWorkflow(queue, config));
}
