import { SendMessageCommand, type SQSClient } from "@aws-sdk/client-sqs";
import { oneLine } from "../lib/one-line.ts";
import { parseTaskMessage, taskMessage } from "../lib/tasks/submission.ts";
import { QUEUE_URL_ENV } from "../lib/tasks/task-queues.ts";
import { TaskConflictError, type TaskTable } from "../lib/tasks/task-table.ts";
import type { QueueName } from "../lib/tasks/task-types.ts";
import { taskHelperClients } from "./task-helper-deps.ts";

/**
 * The clean-up after a task execution that ended without doing its own (EventBridge's "Step Functions Execution
 * Status Change" for the task machines, FAILED, TIMED_OUT or ABORTED; offline, the task platform calls it for the
 * same ends). The machine gives back its slot and records the task on every path it controls; it cannot when it is
 * stopped from outside (StopExecution), runs past its own timeout, or fails in a write with no Catch. So, by the
 * execution's name (the runId and the slot holder):
 * - its slot, if it still holds one, goes back (idempotent: the machine may have given it back already);
 * - a task it had claimed and left RUNNING is FAILED, saying how the execution ended;
 * - a task still QUEUED whose execution was stopped (ABORTED) or ran out of time (TIMED_OUT) before it could claim
 *   it goes back to its queue: Pipes deleted the message when it started the execution, and nothing else would ever
 *   run the task. The claim dedupes, so a message sent again for a task that another execution runs ends as
 *   "Duplicate message". One whose execution FAILED before the claim is FAILED with the execution's error instead:
 *   that failure is the machine's own (every step before the claim catches into the failure path, which records
 *   the task), it would fail the same way again, and sending the message again would loop for ever.
 * A task recorded FAILED or SUCCEEDED already is left as it is: the machine did its part.
 */
export interface ExecutionStatusChange {
  detail: { name: string; status: string; input?: string | null; executionArn?: string; error?: string | null; cause?: string | null };
}

export interface ExecutionEndedDeps {
  table: TaskTable;
  sqs: SQSClient;
  queueUrls: Record<QueueName, string>;
  now?: () => Date;
}

export type ExecutionEndedAction = "none" | "slot-given-back" | "task-failed" | "task-queued-again";

/** The execution ends this handles: the ones in which the machine may have left its slot or its task behind. */
export const UNFINISHED_ENDS = ["FAILED", "TIMED_OUT", "ABORTED"] as const;

export async function executionEnded(event: ExecutionStatusChange, deps: ExecutionEndedDeps): Promise<{ action: ExecutionEndedAction; taskId?: string }> {
  const { name, status, input, error, cause } = event?.detail ?? ({} as ExecutionStatusChange["detail"]);
  if (!(UNFINISHED_ENDS as readonly string[]).includes(status) || !name) return { action: "none" };
  let task;
  try {
    task = parseTaskMessage(JSON.stringify((JSON.parse(input ?? "null") as { task?: unknown } | null)?.task ?? null));
  } catch {
    return { action: "none" }; // not a task (the machine failed it at once, holding nothing)
  }
  await deps.table.giveBackSlot(task.queue, name);
  const record = await deps.table.get(task.taskId);
  const now = (deps.now?.() ?? new Date()).toISOString();
  if (record?.status === "RUNNING" && record.runId === name) {
    try {
      await deps.table.fail({ taskId: task.taskId, runId: name, now, error: `its execution ${name} ended ${status} before it recorded the task` });
      return { action: "task-failed", taskId: task.taskId };
    } catch (err) {
      if (!(err instanceof TaskConflictError)) throw err;
    }
  }
  if (record?.status === "QUEUED" && status === "FAILED") {
    const why = oneLine([error, cause].filter(Boolean).join(": ") || "no error given", 300);
    try {
      await deps.table.fail({ taskId: task.taskId, now, error: `its execution ${name} failed before it claimed the task: ${why}` });
      return { action: "task-failed", taskId: task.taskId };
    } catch (err) {
      if (!(err instanceof TaskConflictError)) throw err;
      return { action: "slot-given-back", taskId: task.taskId };
    }
  }
  if (record?.status === "QUEUED") {
    const message = taskMessage(task.taskId, task.type, task.input.name, task.input.bytes);
    await deps.sqs.send(new SendMessageCommand({ QueueUrl: deps.queueUrls[task.queue], MessageBody: JSON.stringify(message) }));
    return { action: "task-queued-again", taskId: task.taskId };
  }
  return { action: "slot-given-back", taskId: task.taskId };
}

export async function handler(event: ExecutionStatusChange): Promise<{ action: ExecutionEndedAction; taskId?: string }> {
  const { table, sqs, urls } = taskHelperClients("task-execution-ended", QUEUE_URL_ENV);
  return executionEnded(event, { table, sqs, queueUrls: urls });
}
