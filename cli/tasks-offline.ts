import { mkdir, open, readFile, rm } from "node:fs/promises";
import * as path from "node:path";
import { CreateQueueCommand, GetQueueAttributesCommand, SQSClient } from "@aws-sdk/client-sqs";
import { route } from "../functions/tasks-api.ts";
import { startEmbeddedDynamoDb, type EmbeddedDynamoDb } from "../lib/embedded-dynamodb.ts";
import { startEmbeddedS3, type EmbeddedS3 } from "../lib/embedded-s3.ts";
import { startEmbeddedSqs, type EmbeddedSqs } from "../lib/embedded-sqs.ts";
import { EXIT, StepError } from "../lib/exit-codes.ts";
import { processAlive } from "../lib/process-alive.ts";
import { PROJECT_ROOT } from "../lib/project-root.ts";
import { makeS3Client } from "../lib/s3.ts";
import { DLQ_RETENTION_SECONDS, MAX_RECEIVE_COUNT, QUEUE_RETENTION_SECONDS, localQueueName, visibilityTimeoutSeconds } from "../lib/tasks/task-queues.ts";
import { makeDynamoClient, TaskTable } from "../lib/tasks/task-table.ts";
import { TaskService } from "../lib/tasks/task-service.ts";
import { QUEUES, type QueueName } from "../lib/tasks/task-types.ts";
import { LOCAL_BUCKET } from "../workflows/config.ts";
import { startTaskApiServer, type TaskApiServer } from "./tasks-api-server.ts";

/**
 * The task platform offline, for `npm start -- tasks …` and the tests: an embedded S3 (the data bucket), DynamoDB
 * (the task table) and SQS (the two queues and their dead-letter queues, with the stack's settings), all kept under
 * one folder so that a task submitted by one command is there for the next, and the task API's handler served on
 * 127.0.0.1 (cli/tasks-api-server.ts). One command at a time uses a folder: the table's store is locked by the
 * process that has it open.
 */
export const TASKS_DIR_ENV = "ATLAS_TASKS_DIR";
export { LOCAL_BUCKET };
export const LOCAL_TABLE = "atlas-tasks";

export interface QueueInfo {
  url: string;
  arn: string;
  dlqUrl: string;
  dlqArn: string;
}

export interface OfflineTasks {
  apiUrl: string;
  /** The environment a task step or helper needs to reach these servers (endpoints, dummy credentials, names). */
  env: Record<string, string>;
  sqs: SQSClient;
  table: TaskTable;
  queues: Record<QueueName, QueueInfo>;
  stop(): Promise<void>;
}

export function tasksDir(env: NodeJS.ProcessEnv = process.env): string {
  return path.resolve(env[TASKS_DIR_ENV] ?? path.join(PROJECT_ROOT, ".data", "tasks"));
}

export async function startOfflineTasks(dir = tasksDir()): Promise<OfflineTasks> {
  await Promise.all(["s3", "dynamodb", "sqs"].map((d) => mkdir(path.join(dir, d), { recursive: true })));
  const started: { stop(): Promise<void> }[] = [];
  const stopAll = async () => {
    for (const s of started.reverse()) await s.stop().catch(() => undefined);
  };
  started.push(await lockStore(dir));
  try {
    const s3: EmbeddedS3 = await startEmbeddedS3({ directory: path.join(dir, "s3"), buckets: [LOCAL_BUCKET] });
    started.push(s3);
    const db: EmbeddedDynamoDb = await startEmbeddedDynamoDb({ directory: path.join(dir, "dynamodb") });
    started.push(db);
    const sqsServer: EmbeddedSqs = await startEmbeddedSqs({ dataDir: path.join(dir, "sqs") });
    started.push(sqsServer);
    const env: Record<string, string> = {
      AWS_ENDPOINT_URL_S3: s3.endpoint,
      AWS_ENDPOINT_URL_DYNAMODB: db.endpoint,
      AWS_ENDPOINT_URL_SQS: sqsServer.endpoint,
      // s3rver's own key pair: it checks the signatures of presigned URLs with it.
      AWS_ACCESS_KEY_ID: "S3RVER",
      AWS_SECRET_ACCESS_KEY: "S3RVER",
      AWS_REGION: "us-east-1",
      ATLAS_BUCKET: LOCAL_BUCKET,
      ATLAS_TASK_TABLE: LOCAL_TABLE,
    };
    const sqs = new SQSClient({ endpoint: sqsServer.endpoint, region: "us-east-1", credentials: { accessKeyId: "local", secretAccessKey: "local" } });
    started.push({ stop: async () => sqs.destroy() });
    const table = new TaskTable(makeDynamoClient(env), LOCAL_TABLE);
    started.push({ stop: async () => table.client.destroy() });
    await table.ensureExists();
    const queues = Object.fromEntries(await Promise.all(QUEUES.map(async (q) => [q, await ensureQueue(sqs, q)] as const))) as Record<QueueName, QueueInfo>;
    env.ATLAS_GPU_QUEUE_URL = queues.gpu.url;
    env.ATLAS_CPU_QUEUE_URL = queues.cpu.url;
    const s3Client = makeS3Client(env);
    started.push({ stop: async () => s3Client.destroy() });
    const service = new TaskService({ table, s3: s3Client, sqs, bucket: LOCAL_BUCKET, queueUrls: { gpu: queues.gpu.url, cpu: queues.cpu.url } });
    const api: TaskApiServer = await startTaskApiServer((event) => route(event, service));
    started.push(api);
    return { apiUrl: api.url, env, sqs, table, queues, stop: stopAll };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

/**
 * One process at a time per store: the table's LevelDB is locked by the process that opens it, and dynalite reports
 * a second opener only later, as "Database is closed" from inside a request. A lock file with the holder's pid says
 * so up front; a holder that is gone (killed) leaves a stale file, which the next command takes over.
 */
async function lockStore(dir: string): Promise<{ stop(): Promise<void> }> {
  const file = path.join(dir, "store.lock");
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(file, "wx");
      await handle.writeFile(String(process.pid));
      await handle.close();
      return { stop: () => rm(file, { force: true }) };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      const holder = Number((await readFile(file, "utf8").catch(() => "")).trim());
      if (holder && holder !== process.pid && processAlive(holder)) {
        throw new StepError(`the offline task store ${dir} is in use by another command (pid ${holder}): wait for it, or set ${TASKS_DIR_ENV} to another folder`, EXIT.TEMP_FAIL);
      }
      if (holder === process.pid) throw new StepError(`the offline task store ${dir} is open already in this process`, EXIT.TEMP_FAIL);
      await rm(file, { force: true });
    }
  }
  throw new StepError(`could not lock the offline task store ${dir}`, EXIT.TEMP_FAIL);
}

/** The queue and its dead-letter queue, created with the stack's settings unless they exist (CreateQueue is idempotent). */
async function ensureQueue(sqs: SQSClient, queue: QueueName): Promise<QueueInfo> {
  const arnOf = async (url: string) => (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ["QueueArn"] }))).Attributes!.QueueArn!;
  const dlqUrl = (await sqs.send(new CreateQueueCommand({ QueueName: localQueueName(queue, true), Attributes: { MessageRetentionPeriod: String(DLQ_RETENTION_SECONDS) } }))).QueueUrl!;
  const dlqArn = await arnOf(dlqUrl);
  const url = (
    await sqs.send(
      new CreateQueueCommand({
        QueueName: localQueueName(queue),
        Attributes: {
          VisibilityTimeout: String(visibilityTimeoutSeconds(queue)),
          MessageRetentionPeriod: String(QUEUE_RETENTION_SECONDS),
          RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: MAX_RECEIVE_COUNT }),
        },
      }),
    )
  ).QueueUrl!;
  return { url, arn: await arnOf(url), dlqUrl, dlqArn };
}
