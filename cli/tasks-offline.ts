import { spawn } from "node:child_process";
import { mkdir, open, readFile, rm, writeFile } from "node:fs/promises";
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
import { DLQ_RETENTION_SECONDS, DLQ_URL_ENV, MAX_RECEIVE_COUNT, QUEUE_RETENTION_SECONDS, QUEUE_URL_ENV, localQueueName, visibilityTimeoutSeconds } from "../lib/tasks/task-queues.ts";
import { makeDynamoClient, TaskTable } from "../lib/tasks/task-table.ts";
import { TaskService } from "../lib/tasks/task-service.ts";
import { QUEUES, type QueueName } from "../lib/tasks/task-types.ts";
import { startTaskWorker, type TaskWorker, type TaskWorkerOptions } from "../local/task-worker.ts";
import { LOCAL_BUCKET } from "../workflows/config.ts";
import { startTaskApiServer, type TaskApiServer } from "./tasks-api-server.ts";

/**
 * The task platform offline, for `npm start -- tasks …` and the tests: an embedded S3 (the data bucket), DynamoDB
 * (the task table) and SQS (the two queues and their dead-letter queues, with the stack's settings), all kept under
 * one folder so that a task submitted now is there later, the task API's handler served on 127.0.0.1
 * (cli/tasks-api-server.ts) and, with `worker`, the task worker (local/task-worker.ts: the pipes, the machines, the
 * clean-ups) in the same process.
 *
 * One process holds a folder at a time (the table's store is locked by the process that opens it): its lock file
 * says who, and, once the platform is up, where its API and servers listen. Every other command talks to that
 * process over HTTP (`connectOfflineTasks`), as a client talks to the deployed API; when no process holds the
 * folder, the CLI starts one in the background (`tasks serve --idle-exit`), which runs the tasks as they come, as
 * the stack does on AWS, and goes away once it has had nothing to do for a while.
 */
export const TASKS_DIR_ENV = "ATLAS_TASKS_DIR";
export { LOCAL_BUCKET };
export const LOCAL_TABLE = "atlas-tasks";
/** How long a background platform stays with nothing to do (no task running or waiting, no request). */
export const DEFAULT_IDLE_EXIT_SECONDS = 300;
/** How long a command waits for a platform to be up: the first start synthesizes the app (seconds, more when busy). */
const START_TIMEOUT_MS = 180_000;

export interface QueueInfo {
  url: string;
  arn: string;
  dlqUrl: string;
  dlqArn: string;
}

/** What any process needs to use a running platform: where it listens. Written into the lock file. */
export interface PlatformEndpoints {
  apiUrl: string;
  /** The environment a task step, a helper or a client needs to reach the servers (endpoints, dummy keys, names). */
  env: Record<string, string>;
  queues: Record<QueueName, QueueInfo>;
}

export interface OfflineTasks extends PlatformEndpoints {
  sqs: SQSClient;
  table: TaskTable;
  /** The task worker, when this process runs it. */
  worker?: TaskWorker;
  /** When the API last answered a request (ms): the background platform's idle clock. */
  lastRequestAt(): number;
  stop(): Promise<void>;
}

export interface OfflineTasksOptions {
  /** Run the task worker in this process too (what `tasks serve` does); its options. */
  worker?: Omit<TaskWorkerOptions, "platform" | "dir">;
  /** Tests only: the queues' visibility timeout instead of the stack's, so a message whose start failed returns soon. */
  visibilityTimeoutSeconds?: number;
}

export function tasksDir(env: NodeJS.ProcessEnv = process.env): string {
  return path.resolve(env[TASKS_DIR_ENV] ?? path.join(PROJECT_ROOT, ".data", "tasks"));
}

export async function startOfflineTasks(dir = tasksDir(), options: OfflineTasksOptions = {}): Promise<OfflineTasks> {
  await Promise.all(["s3", "dynamodb", "sqs", "worker"].map((d) => mkdir(path.join(dir, d), { recursive: true })));
  const started: { stop(): Promise<void> }[] = [];
  const stopAll = async () => {
    for (const s of started.reverse()) await s.stop().catch(() => undefined);
  };
  const lock = await lockStore(dir);
  started.push(lock);
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
    const queues = Object.fromEntries(await Promise.all(QUEUES.map(async (q) => [q, await ensureQueue(sqs, q, options.visibilityTimeoutSeconds)] as const))) as Record<QueueName, QueueInfo>;
    for (const q of QUEUES) {
      env[QUEUE_URL_ENV[q]] = queues[q].url;
      env[DLQ_URL_ENV[q]] = queues[q].dlqUrl;
    }
    const s3Client = makeS3Client(env);
    started.push({ stop: async () => s3Client.destroy() });
    const service = new TaskService({ table, s3: s3Client, sqs, bucket: LOCAL_BUCKET, queueUrls: { gpu: queues.gpu.url, cpu: queues.cpu.url } });
    let lastRequest = Date.now();
    const api: TaskApiServer = await startTaskApiServer((event) => {
      lastRequest = Date.now();
      return route(event, service);
    });
    started.push(api);
    const platform: OfflineTasks = { apiUrl: api.url, env, sqs, table, queues, lastRequestAt: () => lastRequest, stop: stopAll };
    if (options.worker) {
      const worker = await startTaskWorker({ ...options.worker, platform, dir: path.join(dir, "worker") });
      // Stopped first (started.reverse()): it lets its executions finish while the servers are still up.
      started.push({ stop: () => worker.stop() });
      platform.worker = worker;
    }
    await lock.ready({ apiUrl: api.url, env, queues });
    return platform;
  } catch (err) {
    await stopAll();
    throw err;
  }
}

/** The lock file: the holder's pid, and once its platform is up, where it listens. */
interface LockContent extends Partial<PlatformEndpoints> {
  pid: number;
}

function lockFile(dir: string): string {
  return path.join(dir, "store.lock");
}

/** The lock's content; a lock written by an older version holds the pid alone. */
async function readLock(dir: string): Promise<LockContent | undefined> {
  const text = (await readFile(lockFile(dir), "utf8").catch(() => "")).trim();
  if (!text) return undefined;
  try {
    const lock = JSON.parse(text) as LockContent;
    if (typeof lock === "number") return { pid: lock };
    return lock;
  } catch {
    return { pid: Number(text) };
  }
}

/**
 * One process at a time per store: the table's LevelDB is locked by the process that opens it, and dynalite reports
 * a second opener only later, as "Database is closed" from inside a request. A lock file with the holder's pid says
 * so up front; a holder that is gone (killed) leaves a stale file, which the next one takes over.
 */
async function lockStore(dir: string): Promise<{ ready(endpoints: PlatformEndpoints): Promise<void>; stop(): Promise<void> }> {
  const file = lockFile(dir);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(file, "wx");
      await handle.writeFile(JSON.stringify({ pid: process.pid }));
      await handle.close();
      return {
        ready: (endpoints) => writeFile(file, JSON.stringify({ pid: process.pid, ...endpoints })),
        stop: () => rm(file, { force: true }),
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      const holder = (await readLock(dir))?.pid;
      if (holder && processAlive(holder)) {
        throw new StepError(`the offline task store ${dir} is in use by another process (pid ${holder}): use it through that process, or set ${TASKS_DIR_ENV} to another folder`, EXIT.TEMP_FAIL);
      }
      await rm(file, { force: true });
    }
  }
  throw new StepError(`could not lock the offline task store ${dir}`, EXIT.TEMP_FAIL);
}

/** A running platform, seen from another process (or from the one that runs it). */
export interface OfflineConnection extends PlatformEndpoints {
  sqs: SQSClient;
  /** Closes this side's clients; the platform runs on. */
  close(): void;
}

/**
 * The platform that holds the store, over HTTP. When no live process holds it and `start` is "background", starts
 * one (`tasks serve --idle-exit`, detached, its output in `<dir>/platform.log`) and waits for it.
 */
export async function connectOfflineTasks(
  dir = tasksDir(),
  options: { start?: "background" | "never"; timeoutMs?: number; idleExitSeconds?: number } = {},
): Promise<OfflineConnection> {
  const deadline = Date.now() + (options.timeoutMs ?? START_TIMEOUT_MS);
  let spawned: { pid: number; exited: () => boolean } | undefined;
  for (;;) {
    const lock = await readLock(dir);
    const alive = lock?.pid !== undefined && processAlive(lock.pid);
    if (alive && lock?.apiUrl && lock.env && lock.queues) return connection({ apiUrl: lock.apiUrl, env: lock.env, queues: lock.queues });
    if (!alive) {
      if (spawned?.exited()) throw new StepError(`the offline task platform did not start: ${await lastLine(path.join(dir, "platform.log"))}`, EXIT.TEMP_FAIL);
      if (options.start === "never") throw new StepError(`no offline task platform runs on ${dir}: start one with npm start -- tasks serve`, EXIT.NO_INPUT);
      spawned ??= await startInBackground(dir, options.idleExitSeconds ?? DEFAULT_IDLE_EXIT_SECONDS);
    }
    if (Date.now() > deadline) {
      throw new StepError(`the offline task platform on ${dir} (pid ${lock?.pid ?? spawned?.pid}) did not come up within ${Math.round((options.timeoutMs ?? START_TIMEOUT_MS) / 1000)} s: see ${path.join(dir, "platform.log")}`, EXIT.TEMP_FAIL);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

function connection(endpoints: PlatformEndpoints): OfflineConnection {
  const sqs = new SQSClient({ endpoint: endpoints.env.AWS_ENDPOINT_URL_SQS, region: "us-east-1", credentials: { accessKeyId: "local", secretAccessKey: "local" } });
  return { ...endpoints, sqs, close: () => sqs.destroy() };
}

/** `tasks serve` in the background: its own session (Ctrl-C in this terminal does not reach it), output to a log. */
async function startInBackground(dir: string, idleExitSeconds: number): Promise<{ pid: number; exited: () => boolean }> {
  await mkdir(dir, { recursive: true });
  const log = await open(path.join(dir, "platform.log"), "a");
  const child = spawn(process.execPath, ["--import", "tsx", path.join(PROJECT_ROOT, "cli", "main.ts"), "tasks", "serve", "--idle-exit", String(idleExitSeconds)], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, [TASKS_DIR_ENV]: dir },
    detached: true,
    stdio: ["ignore", log.fd, log.fd],
  });
  let exited = false;
  child.once("exit", () => (exited = true));
  child.unref();
  await log.close();
  return { pid: child.pid!, exited: () => exited };
}

async function lastLine(file: string): Promise<string> {
  const lines = (await readFile(file, "utf8").catch(() => "")).trim().split("\n");
  return lines.at(-1) || `no output (see ${file})`;
}

/** Stops the platform that holds the store (SIGTERM: it lets what runs finish), and waits until it is gone. */
export async function stopOfflineTasks(dir = tasksDir(), timeoutMs = 600_000): Promise<number | undefined> {
  const lock = await readLock(dir);
  if (!lock?.pid || !processAlive(lock.pid)) return undefined;
  process.kill(lock.pid, "SIGTERM");
  const deadline = Date.now() + timeoutMs;
  while (processAlive(lock.pid)) {
    if (Date.now() > deadline) throw new StepError(`the offline task platform (pid ${lock.pid}) did not stop within ${timeoutMs / 1000} s`, EXIT.TEMP_FAIL);
    await new Promise((r) => setTimeout(r, 100));
  }
  return lock.pid;
}

/** The queue and its dead-letter queue, created with the stack's settings unless they exist (CreateQueue is idempotent). */
async function ensureQueue(sqs: SQSClient, queue: QueueName, visibility = visibilityTimeoutSeconds(queue)): Promise<QueueInfo> {
  const arnOf = async (url: string) => (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ["QueueArn"] }))).Attributes!.QueueArn!;
  const dlqUrl = (await sqs.send(new CreateQueueCommand({ QueueName: localQueueName(queue, true), Attributes: { MessageRetentionPeriod: String(DLQ_RETENTION_SECONDS) } }))).QueueUrl!;
  const dlqArn = await arnOf(dlqUrl);
  const url = (
    await sqs.send(
      new CreateQueueCommand({
        QueueName: localQueueName(queue),
        Attributes: {
          VisibilityTimeout: String(visibility),
          MessageRetentionPeriod: String(QUEUE_RETENTION_SECONDS),
          RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: MAX_RECEIVE_COUNT }),
        },
      }),
    )
  ).QueueUrl!;
  return { url, arn: await arnOf(url), dlqUrl, dlqArn };
}
