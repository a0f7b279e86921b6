import { spawnSync } from "node:child_process";
import { mkdir, mkdtemp, rm, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { HeadObjectCommand } from "@aws-sdk/client-s3";
import { GetQueueAttributesCommand, ReceiveMessageCommand, SendMessageCommand } from "@aws-sdk/client-sqs";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { makeS3Client } from "../lib/s3.ts";
import { parseTaskMessage } from "../lib/tasks/submission.ts";
import { TaskClient, TaskClientError } from "../lib/tasks/task-client.ts";
import { textImage } from "../lib/tasks/testing/images.ts";
import { connectOfflineTasks, LOCAL_BUCKET, startOfflineTasks, TASKS_DIR_ENV, type OfflineTasks } from "./tasks-offline.ts";
import { tasksMain } from "./tasks.ts";

/**
 * The four ways in share one set of checks: the CLI (offline here) and the typed client over the task API's
 * handlers on 127.0.0.1. A bad submission is one line and exit 64 / HTTP 400, and nothing is queued.
 */
let dir: string;
let image: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "tasks-cli-"));
  image = path.join(dir, "scan.png");
  await writeFile(image, await textImage(["Hello tasks"]));
});
afterAll(async () => {
  delete process.env[TASKS_DIR_ENV];
  await rm(dir, { recursive: true, force: true });
});

let store = 0;

async function cli(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "", stderr = "";
  const code = await tasksMain(argv, { stdout: (s) => (stdout += s), stderr: (s) => (stderr += s) });
  return { code, stdout, stderr };
}

/** The platform the CLI talks to (no worker: what is submitted stays QUEUED), to look inside. */
let platform: OfflineTasks | undefined;
async function inspect<T>(look: (p: OfflineTasks) => Promise<T>): Promise<T> {
  return look(platform!);
}

const queued = (p: OfflineTasks, q: "gpu" | "cpu", which: "url" | "dlqUrl" = "url") =>
  p.sqs.send(new GetQueueAttributesCommand({ QueueUrl: p.queues[q][which], AttributeNames: ["ApproximateNumberOfMessages"] })).then((a) => Number(a.Attributes!.ApproximateNumberOfMessages));

describe("npm start -- tasks (offline)", () => {
  beforeEach(async () => {
    // A fresh offline platform per test, a store of its own, held by this process: the CLI talks to it over HTTP
    // as to any running platform (cli/tasks-offline.ts), and starts none in the background.
    process.env[TASKS_DIR_ENV] = path.join(dir, `store-${++store}`);
    platform = await startOfflineTasks(process.env[TASKS_DIR_ENV]);
  });
  afterEach(async () => {
    await platform?.stop();
    platform = undefined;
  });

  it("GIVEN an image WHEN submitted as ocr THEN the input is in S3, the record QUEUED, and one checked message waits on the gpu queue", async () => {
    const r = await cli("submit", "ocr", "--file", image, "--task-id", "scan-1", "--json");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe("task scan-1: QUEUED on the gpu queue\n");
    const record = JSON.parse(r.stdout);
    expect(record).toMatchObject({ taskId: "scan-1", type: "ocr", queue: "gpu", status: "QUEUED", attempts: 0, input: { name: "scan.png", key: "tasks/scan-1/input/scan.png" } });
    expect(record.submittedAt).toBe(record.updatedAt);
    await inspect(async (p) => {
      const s3 = makeS3Client(p.env);
      expect((await s3.send(new HeadObjectCommand({ Bucket: LOCAL_BUCKET, Key: "tasks/scan-1/input/scan.png" }))).ContentLength).toBe(record.input.bytes);
      s3.destroy();
      expect(await queued(p, "cpu")).toBe(0);
      const { Messages = [] } = await p.sqs.send(new ReceiveMessageCommand({ QueueUrl: p.queues.gpu.url, WaitTimeSeconds: 1 }));
      expect(Messages).toHaveLength(1);
      expect(parseTaskMessage(Messages[0].Body!)).toEqual({ taskId: "scan-1", type: "ocr", queue: "gpu", input: record.input });
    });
    const status = await cli("status", "scan-1");
    expect(status.stdout).toMatch(/^task scan-1: QUEUED \(ocr on the gpu queue\)\n/);
    const list = await cli("list", "--status", "queued", "--json");
    expect(JSON.parse(list.stdout).tasks.map((t: { taskId: string }) => t.taskId)).toEqual(["scan-1"]);
  });

  it.each([
    { what: "an unknown type", argv: () => ["submit", "resize", "--file", image], line: "error: unknown task type 'resize': use one of ocr, thumbnail (see npm start -- tasks --help)" },
    { what: "a missing file", argv: () => ["submit", "ocr", "--file", path.join(dir, "nope.png")], line: "error: the input file <dir>/nope.png does not exist (or is not a file) (see npm start -- tasks --help)" },
    { what: "no --file", argv: () => ["submit", "thumbnail"], line: "error: tasks submit needs --file <path>: the image to process (see npm start -- tasks --help)" },
    { what: "a bad task id", argv: () => ["submit", "ocr", "--file", image, "--task-id", "../etc"], line: 'error: task id "../etc" is not valid: 1 to 80 letters, digits, \'-\' or \'_\', starting with a letter or digit (see npm start -- tasks --help)' },
    { what: "an option another command takes", argv: () => ["status", "x", "--file", image], line: "error: tasks status does not take --file (see npm start -- tasks --help)" },
  ])("GIVEN $what WHEN submitted THEN one line, exit 64, nothing queued", async ({ argv, line }) => {
    const r = await cli(...argv());
    expect(r.code).toBe(64);
    expect(r.stderr).toBe(`${line.replace("<dir>", dir)}\n`);
    await inspect(async (p) => {
      expect(await queued(p, "gpu")).toBe(0);
      expect(await queued(p, "cpu")).toBe(0);
      expect(await p.table.listRecent()).toEqual([]);
    });
  });

  it("GIVEN a file larger than thumbnail takes WHEN submitted THEN one line, exit 64, nothing uploaded or queued", async () => {
    const big = path.join(dir, "huge.jpg");
    await writeFile(big, "");
    await truncate(big, 51 * 2 ** 20); // sparse: the check reads the size, never the bytes
    const r = await cli("submit", "thumbnail", "--file", big);
    expect(r.code).toBe(64);
    expect(r.stderr).toBe("error: the input file huge.jpg is 51.0 MiB: thumbnail takes at most 50.0 MiB (see npm start -- tasks --help)\n");
    await inspect(async (p) => expect(await queued(p, "cpu")).toBe(0));
  });

  it("GIVEN a task id already used WHEN submitted again THEN exit 64 and still one message", async () => {
    expect((await cli("submit", "thumbnail", "--file", image, "--task-id", "once")).code).toBe(0);
    const again = await cli("submit", "thumbnail", "--file", image, "--task-id", "once");
    expect(again.code).toBe(64);
    expect(again.stderr).toBe("error: task once exists already: choose another id\n");
    await inspect(async (p) => expect(await queued(p, "cpu")).toBe(1));
  });

  it("GIVEN an unknown task WHEN its status is asked THEN exit 66 and one line", async () => {
    expect(await cli("status", "ghost")).toEqual({ code: 66, stdout: "", stderr: "error: no task ghost\n" });
  });

  it("GIVEN a dead-lettered message WHEN tasks redrive runs THEN it is moved back to its queue", async () => {
    await inspect(async (p) => void (await p.sqs.send(new SendMessageCommand({ QueueUrl: p.queues.cpu.dlqUrl, MessageBody: '{"taskId":"x"}' }))));
    const r = await cli("redrive");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe("gpu: the dead-letter queue is empty, nothing to redrive\ncpu: moved 1 message(s) back to the queue\n");
    await inspect(async (p) => {
      expect(await queued(p, "cpu")).toBe(1);
      expect(await queued(p, "cpu", "dlqUrl")).toBe(0);
    });
  });

  it("GIVEN the store held by a live platform WHEN another one starts on it THEN one line, exit 75; a holder that died leaves a lock the next one takes over", async () => {
    const store = process.env[TASKS_DIR_ENV]!;
    await expect(startOfflineTasks(store)).rejects.toThrow(`the offline task store ${store} is in use by another process (pid ${process.pid}): use it through that process, or set ATLAS_TASKS_DIR to another folder`);
    await platform!.stop();
    platform = undefined;
    const gone = spawnSync(process.execPath, ["-e", "0"]).pid!;
    await writeFile(path.join(store, "store.lock"), JSON.stringify({ pid: gone }));
    platform = await startOfflineTasks(store);
    expect((await cli("list")).code).toBe(0);
  });

  it("GIVEN no live platform on the store WHEN a client must not start one THEN one line, exit 66", async () => {
    const store = path.join(dir, "empty-store");
    await mkdir(store, { recursive: true });
    await expect(connectOfflineTasks(store, { start: "never" })).rejects.toMatchObject({ message: `no offline task platform runs on ${store}: start one with npm start -- tasks serve`, exitCode: 66 });
  });

  it("GIVEN --aws without the API's URL WHEN run THEN one line, exit 64", async () => {
    const r = await cli("list", "--aws");
    expect(r).toMatchObject({ code: 64, stderr: "error: --aws needs ATLAS_TASKS_API_URL: the stack output TasksApiUrl (see npm start -- tasks --help)\n" });
  });
});

describe("the task API's handlers on 127.0.0.1, through the typed client and raw HTTP", () => {
  let p: OfflineTasks;
  beforeAll(async () => void (p = await startOfflineTasks(path.join(dir, "api"))));
  afterAll(async () => await p?.stop());

  const raw = async (method: string, url: string, body?: string) => {
    const res = await fetch(new URL(url, p.apiUrl), { method, body, headers: { "content-type": "application/json" } });
    return { status: res.status, body: await res.json() };
  };

  it("GIVEN the client WHEN it submits bytes THEN the API makes an id, and status and list find the task", async () => {
    const client = new TaskClient({ baseUrl: p.apiUrl });
    const record = await client.submitFile("thumbnail", { name: "photo.png", bytes: await textImage(["x"]) });
    expect(record.taskId).toMatch(/^[0-9a-f-]{36}$/);
    expect(await client.status(record.taskId)).toEqual(record);
    expect((await client.list({ status: "QUEUED" })).tasks.map((t) => t.taskId)).toContain(record.taskId);
  });

  it.each([
    { what: "a body that is not JSON", method: "POST", url: "tasks", body: "{oops", status: 400, error: 'the request body is not JSON: "{oops"' },
    { what: "a submission whose input was never uploaded", method: "POST", url: "tasks", body: '{"type":"ocr","taskId":"t-9","input":{"name":"a.png"}}', status: 400, error: "the input file a.png is missing: upload it (or name a file that exists) before submitting" },
    { what: "unknown fields", method: "POST", url: "tasks", body: '{"type":"ocr","input":{"name":"a.png"},"priority":1}', status: 400, error: "the submission has unknown field(s) priority: it takes type, taskId and input" },
    { what: "an upload too large", method: "POST", url: "tasks/uploads", body: '{"type":"ocr","fileName":"a.png","bytes":999999999}', status: 400, error: "the input file a.png is 953.7 MiB: ocr takes at most 20.0 MiB" },
    { what: "a path in the file name", method: "POST", url: "tasks/uploads", body: '{"type":"ocr","fileName":"../a.png","bytes":10}', status: 400, error: "input file name '../a.png' is not allowed: use letters, digits, '.', '-' and '_' (at most 128), no path" },
    { what: "an unknown status", method: "GET", url: "tasks?status=DONE", status: 400, error: "unknown status 'DONE': use QUEUED, RUNNING, SUCCEEDED or FAILED" },
    { what: "an unknown task", method: "GET", url: "tasks/nobody", status: 404, error: "no task nobody" },
  ])("GIVEN $what WHEN requested THEN HTTP $status with one line, nothing queued", async ({ method, url, body, status, error }) => {
    expect(await raw(method, url, body)).toEqual({ status, body: { error } });
    expect(await queued(p, "gpu")).toBe(0);
  });

  it("GIVEN an unknown route WHEN requested THEN 404 as API Gateway answers", async () => {
    expect(await raw("DELETE", "tasks/x")).toEqual({ status: 404, body: { message: "Not Found" } });
  });

  it("GIVEN a region WHEN the client sends a request THEN it is signed with SigV4 for execute-api (IAM auth)", async () => {
    const seen: Headers[] = [];
    const env = { ...process.env };
    Object.assign(process.env, { AWS_ACCESS_KEY_ID: "AKIDEXAMPLE", AWS_SECRET_ACCESS_KEY: "secret", AWS_SESSION_TOKEN: "" });
    delete process.env.AWS_PROFILE;
    try {
      const client = new TaskClient({
        baseUrl: "https://abc123.execute-api.eu-west-1.amazonaws.com/",
        region: "eu-west-1",
        fetch: (async (_url: URL, init: RequestInit) => {
          seen.push(new Headers(init.headers));
          return new Response(JSON.stringify({ error: "Forbidden" }), { status: 403 });
        }) as typeof fetch,
      });
      await expect(client.status("t-1")).rejects.toEqual(new TaskClientError("Forbidden", 403));
    } finally {
      process.env = env;
    }
    expect(seen[0].get("authorization")).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/eu-west-1\/execute-api\/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=[0-9a-f]{64}$/);
  });
});
