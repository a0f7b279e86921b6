import { SQSClient } from "@aws-sdk/client-sqs";
import { longestTaskSeconds, QUEUES, type QueueName } from "./task-types.ts";

/**
 * The task queues' settings: read by the stack (stacks/constructs/TaskQueues.ts, TaskPipes.ts) and by the offline
 * platform (cli/tasks-offline.ts), which creates the same queues in the embedded SQS.
 */

/** A message whose execution cannot start this many times goes to the dead-letter queue. */
export const MAX_RECEIVE_COUNT = 5;
/** How long a queued message waits at most (SQS's default); the dead-letter queue keeps it SQS's maximum, 14 days. */
export const QUEUE_RETENTION_SECONDS = 4 * 86_400;
export const DLQ_RETENTION_SECONDS = 14 * 86_400;
/** Slack above the longest task: a message in flight must not reappear while its work may still be starting or running. */
const VISIBILITY_SLACK_SECONDS = 5 * 60;

export function visibilityTimeoutSeconds(queue: QueueName): number {
  return longestTaskSeconds(queue) + VISIBILITY_SLACK_SECONDS;
}

/** Tags each dead-letter queue with its queue's name, so `tasks redrive --aws` finds it. */
export const DLQ_TAG = "atlas:tasks-dlq";

/** Queue names offline (on AWS CloudFormation names them). */
export function localQueueName(queue: QueueName, dlq = false): string {
  return `atlas-tasks-${queue}${dlq ? "-dlq" : ""}`;
}

export { QUEUES };

/**
 * The pipe from a queue to its state machine (EventBridge Pipes, `AWS::Pipes::Pipe`). One message per execution:
 * Pipes cannot name executions, so each execution must be one task, which its claim on the table dedupes.
 * The input template hands the machine the task (the message body, parsed: Pipes parses a JSON body) and the
 * message's id and receive count. A body that is not JSON makes the template invalid JSON: StartExecution fails,
 * the message is received again, and after MAX_RECEIVE_COUNT receives it is dead-lettered (the poison path).
 */
export const PIPE_BATCH_SIZE = 1;
export const PIPE_INPUT_TEMPLATE = '{"task": <$.body>, "message": {"id": "<$.messageId>", "receiveCount": "<$.attributes.ApproximateReceiveCount>"}}';

/** The variables naming each queue's URL and its dead-letter queue's, for the API and the task platform's helpers. */
export const QUEUE_URL_ENV: Record<QueueName, string> = { gpu: "ATLAS_GPU_QUEUE_URL", cpu: "ATLAS_CPU_QUEUE_URL" };
export const DLQ_URL_ENV: Record<QueueName, string> = { gpu: "ATLAS_GPU_DLQ_URL", cpu: "ATLAS_CPU_DLQ_URL" };

/** SQS on AWS, or the embedded SQS offline (`AWS_ENDPOINT_URL_SQS`). */
export function makeSqsClient(env: NodeJS.ProcessEnv = process.env): SQSClient {
  return new SQSClient({ region: env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? "us-east-1", ...(env.AWS_ENDPOINT_URL_SQS ? { endpoint: env.AWS_ENDPOINT_URL_SQS } : {}) });
}
