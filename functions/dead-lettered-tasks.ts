import { ChangeMessageVisibilityBatchCommand, ReceiveMessageCommand, type Message, type SQSClient } from "@aws-sdk/client-sqs";
import { oneLine } from "../lib/one-line.ts";
import { parseTaskMessage } from "../lib/tasks/submission.ts";
import { DLQ_URL_ENV, MAX_RECEIVE_COUNT } from "../lib/tasks/task-queues.ts";
import { TaskConflictError, type TaskTable } from "../lib/tasks/task-table.ts";
import { QUEUES, type QueueName } from "../lib/tasks/task-types.ts";
import { taskHelperClients } from "./task-helper-deps.ts";

/**
 * Marks the tasks whose messages are in a dead-letter queue FAILED, with the reason, without taking the messages
 * out: `tasks redrive` (StartMessageMoveTask) moves them back once the cause is fixed, and the claim takes a FAILED
 * task that never started (lib/tasks/task-transitions.ts).
 *
 * Why a message is dead-lettered at all: EventBridge Pipes deletes a message once StartExecution succeeded, whatever
 * the execution then does (a task that runs and fails is recorded FAILED by its own machine). So only a message
 * whose execution could not START is received again and again, up to the queue's maxReceiveCount (5), and then moved
 * to the dead-letter queue by SQS: a target that refuses StartExecution (the machine deleted or replaced by a
 * broken deploy, the pipe's role without states:StartExecution, the account's execution limit), or a message the
 * pipe cannot turn into an execution input. Its task, meanwhile, says QUEUED, which is no longer true.
 *
 * Why a sweep that only looks: a consumer of the dead-letter queue (a pipe or an event source mapping) deletes what
 * it handled, and then there is nothing left to redrive. So this helper, run on a schedule (every
 * DEAD_LETTER_SWEEP_MINUTES on AWS; every few seconds by the offline platform), receives the messages with a short
 * visibility timeout, marks their tasks, and makes them visible again at once. Marking is a conditional write
 * (QUEUED → FAILED only), so a message seen again, or a task that ran meanwhile, changes nothing.
 */
export const DEAD_LETTER_SWEEP_MINUTES = 5;
/** How long a sweep holds a message it is looking at (it lets go of it at the end of the sweep in any case). */
const SWEEP_VISIBILITY_SECONDS = 60;
/** A sweep looks at this many messages of a queue at most (one Lambda invocation); the next sweep sees the rest. */
const SWEEP_MAX_MESSAGES = 1_000;

export const DEAD_LETTER_REASON = `its message was dead-lettered after ${MAX_RECEIVE_COUNT} receives: no execution could be started for it (the pipe's target refused StartExecution; its logs say why); once that is fixed, \`tasks redrive\` runs it`;

export interface SweepEvent {
  /** Long-poll wait per receive (default 1 s, which asks every SQS server; the offline platform uses 0). */
  waitSeconds?: number;
}

export interface SweepDeps {
  sqs: SQSClient;
  table: TaskTable;
  dlqUrls: Record<QueueName, string>;
  now?: () => Date;
  log?: (line: string) => void;
}

export interface SweepResult {
  seen: number;
  /** The tasks marked FAILED by this sweep. */
  marked: string[];
  /** Messages that are no task at all: left for a person (the dead-letter queue's alarm pages). */
  notTasks: number;
}

export async function sweepDeadLetters(event: SweepEvent, deps: SweepDeps): Promise<SweepResult> {
  const result: SweepResult = { seen: 0, marked: [], notTasks: 0 };
  const log = deps.log ?? ((line: string) => console.log(line));
  for (const queue of QUEUES) {
    const url = deps.dlqUrls[queue];
    const held: Message[] = [];
    try {
      while (held.length < SWEEP_MAX_MESSAGES) {
        const { Messages = [] } = await deps.sqs.send(
          new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, VisibilityTimeout: SWEEP_VISIBILITY_SECONDS, WaitTimeSeconds: event?.waitSeconds ?? 1 }),
        );
        if (!Messages.length) break;
        held.push(...Messages);
      }
      for (const m of held) {
        result.seen += 1;
        let taskId: string;
        try {
          taskId = parseTaskMessage(m.Body ?? "").taskId;
        } catch (err) {
          result.notTasks += 1;
          log(`${queue} dead-letter queue: message ${m.MessageId} is not a task (${oneLine((err as Error).message, 200)}): left there for a person`);
          continue;
        }
        try {
          await deps.table.fail({ taskId, now: (deps.now?.() ?? new Date()).toISOString(), error: DEAD_LETTER_REASON });
          result.marked.push(taskId);
          log(`task ${taskId} (${queue}): FAILED: ${DEAD_LETTER_REASON}`);
        } catch (err) {
          // Not QUEUED any more: marked by an earlier sweep, or it ran after all (a duplicate of a message that did start).
          if (!(err instanceof TaskConflictError)) throw err;
        }
      }
    } finally {
      // Visible again at once: for the redrive, and for the next sweep.
      for (let i = 0; i < held.length; i += 10) {
        const batch = held.slice(i, i + 10);
        await deps.sqs.send(new ChangeMessageVisibilityBatchCommand({ QueueUrl: url, Entries: batch.map((m, j) => ({ Id: String(j), ReceiptHandle: m.ReceiptHandle!, VisibilityTimeout: 0 })) }));
      }
    }
  }
  return result;
}

export async function handler(event: SweepEvent = {}): Promise<SweepResult> {
  const { sqs, table, urls } = taskHelperClients("dead-lettered-tasks", DLQ_URL_ENV);
  return sweepDeadLetters(event, { sqs, table, dlqUrls: urls });
}
