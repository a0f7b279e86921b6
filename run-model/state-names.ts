/**
 * The vocabulary of the compiled state machines: every state name `workflows/compile.ts` writes, and the parts
 * of the working document that a reader of an execution history relies on. The compiler builds its states from
 * these, and everything that reads a history (the run model in `./interpret.ts`: the local engine's progress, the
 * `--aws` follow, the run records, the console) recognises them from here, so a renamed state cannot silently
 * break progress or records.
 */

const capitalize = (id: string): string => id.charAt(0).toUpperCase() + id.slice(1);

export const STATE_NAMES = {
  initialize: "Initialize",
  /** A step's own state: the Lambda invoke, the ECS task or the Map of a fan-out (`extract` → `Extract`). */
  step: (id: string): string => capitalize(id),
  /** Before each attempt of a container step: picks the tier's row of the table and prepares the task's overrides. */
  pickTier: (id: string): string => `${capitalize(id)}: pick tier`,
  /** Shared by every container step of a machine: reads a failed task's Cause to choose escalate, retry or fail. */
  whyDidItFail: "Why did it fail?",
  /** Records an out-of-memory escalation and moves the step one tier up. */
  escalate: "Escalate tier",
  /** Before a cause-matched retry (the container said "try again": exit 75, an image pull, …). */
  waitBeforeRetry: "Wait before retry",
  countRetry: "Count retry",
  /** A step with a scoped session (the grader): the state machine starts the attempt's session of its run role. */
  runSession: (id: string): string => `${capitalize(id)}: start run session`,
  /** Sends the machine back to the failed step's "pick tier" (or its run session) (the step named in `$.task.step`). */
  runAgain: "Run the step again",
  /** A check of the input (`A gpu task?`), and the Fail state it leads to when the input fails it (`Not a gpu task`). */
  check: (id: string): string => `${capitalize(id)}?`,
  checkFailed: (id: string): string => `Not ${id}`,
  /** The Choice of a function step's `endsRunWhen` (`Nothing to ingest?`), and the Succeed it leads to. */
  endRunChoice: (name: string): string => `${name}?`,
  endRun: (name: string): string => name,
  metricsSucceeded: "Metrics",
  metricsFailed: "Metrics (failed run)",
  notifySucceeded: "Notify success",
  notifyFailed: "Notify failure",
  succeeded: "Succeeded",
  failed: "Failed",
  /** A fan-out's nested execution, and what an item's iteration ends with. */
  runChild: (id: string, workflow: string): string => `${capitalize(id)}: run ${workflow}`,
  itemSucceeded: (id: string): string => `${capitalize(id)}: item succeeded`,
  itemFailed: (id: string): string => `${capitalize(id)}: item failed`,
  itemStart: (id: string): string => `${capitalize(id)}: start this item?`,
  itemNotStarted: (id: string): string => `${capitalize(id)}: item not started`,
} as const;

/**
 * Paths into the working document (docs/ARCHITECTURE.md, "The state machine's working document") that the
 * compiler writes and history readers read.
 */
export const DOCUMENT_PATHS = {
  /** The container step running now, as its "pick tier" state prepared it (`TaskAttemptPlan`). */
  task: "$.task",
} as const;

/**
 * What a container step's "pick tier" state writes to `$.task` before each attempt: enough for the shared retry
 * states to act on the step without naming it, and for a reader of the history to say which step and tier an
 * attempt, an escalation or a retry belongs to.
 */
export interface TaskAttemptPlan {
  /** The step's id (`extract`) and its Task state's name (`Extract`). */
  step: string;
  state: string;
  /** The tier's position in the table and its name. */
  index: number;
  tier: string;
  timeoutSeconds: number;
  /** Cause-matched retries so far, and how many the step's policy allows. */
  retries: number;
  maxRetries: number;
  retryWaitSeconds: number;
  /** Whether an out-of-memory kill moves this step one tier up (while a tier remains). */
  escalates: boolean;
  /** The tier one up (the top tier's own name at the top). */
  nextTier?: string;
}

/** `$.task` from a state's input, when it has one. */
export function taskAttemptPlanOf(stateInput: unknown): TaskAttemptPlan | undefined {
  const task = (stateInput as { task?: unknown } | null | undefined)?.task;
  if (!task || typeof task !== "object") return undefined;
  const t = task as Partial<TaskAttemptPlan>;
  return typeof t.step === "string" && typeof t.state === "string" ? (t as TaskAttemptPlan) : undefined;
}
