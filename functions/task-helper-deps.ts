import type { SQSClient } from "@aws-sdk/client-sqs";
import { makeSqsClient } from "../lib/tasks/task-queues.ts";
import { makeDynamoClient, TaskTable } from "../lib/tasks/task-table.ts";
import { QUEUES, type QueueName } from "../lib/tasks/task-types.ts";
import { ConfigurationError } from "./errors.ts";

/** What a task platform helper works with: the task table, SQS, and one queue URL per queue. */
export interface TaskHelperClients {
  table: TaskTable;
  sqs: SQSClient;
  urls: Record<QueueName, string>;
}

/** Made once per table, queue URLs and endpoint: the offline platform runs both helpers, for several stores, in one process. */
const made = new Map<string, TaskHelperClients>();

/**
 * The clients of a task platform helper (`dead-lettered-tasks`, `task-execution-ended`) from its environment:
 * `ATLAS_TASK_TABLE` and, per queue, the URL in `urlEnv` (the queues' or their dead-letter queues'). A missing
 * variable is the stack's mistake: ConfigurationError, naming them all.
 */
export function taskHelperClients(helper: string, urlEnv: Record<QueueName, string>): TaskHelperClients {
  const table = process.env.ATLAS_TASK_TABLE?.trim();
  const urls = Object.fromEntries(QUEUES.map((q) => [q, process.env[urlEnv[q]]?.trim() ?? ""])) as Record<QueueName, string>;
  const missing = [...(table ? [] : ["ATLAS_TASK_TABLE"]), ...QUEUES.filter((q) => !urls[q]).map((q) => urlEnv[q])];
  if (missing.length) throw new ConfigurationError(`${helper} needs ${missing.join(", ")}`);
  const key = [table, ...QUEUES.map((q) => urls[q]), process.env.AWS_ENDPOINT_URL_DYNAMODB].join("|");
  let clients = made.get(key);
  if (!clients) {
    clients = { table: new TaskTable(makeDynamoClient(), table!), sqs: makeSqsClient(), urls };
    made.set(key, clients);
  }
  return clients;
}
