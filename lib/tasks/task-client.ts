import { readFile, stat } from "node:fs/promises";
import * as path from "node:path";
import { Sha256 } from "@aws-crypto/sha256-js";
import { defaultProvider } from "@aws-sdk/credential-provider-node";
import { SignatureV4 } from "@smithy/signature-v4";
import { SubmissionError, checkInputName, checkInputSize, checkTaskId, checkType } from "./submission.ts";
import type { TaskRecord, TaskStatus } from "./task-record.ts";
import type { TaskPage } from "./task-table.ts";
import type { TaskType } from "./task-types.ts";

/**
 * The typed client a backend uses to hand the platform its tasks (docs/TASKS.md, "Your first task"): against the
 * deployed HTTP API (IAM auth: requests are signed with SigV4 for `execute-api`, with the caller's AWS
 * credentials), or against the offline API on 127.0.0.1 (unsigned). It runs the submission checks before it sends
 * anything, and the API runs them again.
 *
 *     const tasks = new TaskClient({ baseUrl: process.env.TASKS_API_URL!, region: "us-east-1" });
 *     const { taskId } = await tasks.submitFile("ocr", "scan.png");
 *     const done = await tasks.waitFor(taskId);      // SUCCEEDED or FAILED
 *     console.log(done.text);
 */
export interface TaskClientOptions {
  /** The API's URL (the stack output `TasksApiUrl`), or the offline server's. */
  baseUrl: string;
  /** Sign requests for IAM auth in this region (omit offline). */
  region?: string;
  fetch?: typeof fetch;
}

/** The API answered with an error: `status` is the HTTP status, `message` its one line. */
export class TaskClientError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
    this.name = "TaskClientError";
  }
}

export class TaskClient {
  private readonly signer?: SignatureV4;
  private readonly fetch: typeof fetch;

  constructor(private readonly opts: TaskClientOptions) {
    this.fetch = opts.fetch ?? fetch;
    if (opts.region) this.signer = new SignatureV4({ service: "execute-api", region: opts.region, credentials: defaultProvider(), sha256: Sha256 });
  }

  /** Uploads a file (a path, or a name and its bytes) as the task's input, then submits it. */
  async submitFile(type: TaskType | string, file: string | { name: string; bytes: Uint8Array }, opts: { taskId?: string } = {}): Promise<TaskRecord> {
    const checkedType = checkType(type);
    if (opts.taskId !== undefined) checkTaskId(opts.taskId);
    const name = checkInputName(typeof file === "string" ? path.basename(file) : file.name);
    const bytes = typeof file === "string" ? await readLocalFile(file, checkedType, name) : file.bytes;
    checkInputSize(checkedType, name, bytes.length);
    const upload = await this.request<{ taskId: string; uploadUrl: string }>("POST", "/tasks/uploads", { type: checkedType, ...(opts.taskId ? { taskId: opts.taskId } : {}), fileName: name, bytes: bytes.length });
    const put = await this.fetch(upload.uploadUrl, { method: "PUT", body: bytes });
    if (!put.ok) throw new TaskClientError(`uploading ${name} failed: HTTP ${put.status} ${(await put.text()).slice(0, 200)}`, put.status);
    return this.request<TaskRecord>("POST", "/tasks", { type: checkedType, taskId: upload.taskId, input: { name } });
  }

  async status(taskId: string): Promise<TaskRecord> {
    return this.request<TaskRecord>("GET", `/tasks/${encodeURIComponent(checkTaskId(taskId))}`);
  }

  async list(query: { status?: TaskStatus | string; limit?: number; next?: string } = {}): Promise<TaskPage> {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== undefined) q.set(k, String(v));
    return this.request<TaskPage>("GET", `/tasks${q.size ? `?${q}` : ""}`);
  }

  /** Polls until the task is SUCCEEDED or FAILED (or `timeoutMs` passes: a TaskClientError with status 408). */
  async waitFor(taskId: string, opts: { pollMs?: number; timeoutMs?: number; onStatus?: (r: TaskRecord) => void } = {}): Promise<TaskRecord> {
    const end = Date.now() + (opts.timeoutMs ?? 30 * 60_000);
    let last: string | undefined;
    for (;;) {
      const record = await this.status(taskId);
      if (record.status !== last) opts.onStatus?.(record);
      last = record.status;
      if (record.status === "SUCCEEDED" || record.status === "FAILED") return record;
      if (Date.now() > end) throw new TaskClientError(`task ${taskId} is still ${record.status} after ${Math.round((opts.timeoutMs ?? 0) / 1000)} s`, 408);
      await new Promise((r) => setTimeout(r, opts.pollMs ?? 2000));
    }
  }

  private async request<T>(method: string, pathAndQuery: string, body?: unknown): Promise<T> {
    const url = new URL(pathAndQuery.replace(/^\//, ""), this.opts.baseUrl.endsWith("/") ? this.opts.baseUrl : `${this.opts.baseUrl}/`);
    const payload = body === undefined ? undefined : JSON.stringify(body);
    let headers: Record<string, string> = { ...(payload ? { "content-type": "application/json" } : {}) };
    if (this.signer) {
      const signed = await this.signer.sign({
        method,
        protocol: url.protocol,
        hostname: url.hostname,
        port: url.port ? Number(url.port) : undefined,
        path: url.pathname,
        query: Object.fromEntries(url.searchParams),
        headers: { ...headers, host: url.host },
        body: payload,
      });
      headers = signed.headers as Record<string, string>;
    }
    const res = await this.fetch(url, { method, headers, body: payload });
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    if (!res.ok) throw new TaskClientError((parsed as { error?: string; message?: string })?.error ?? (parsed as { message?: string })?.message ?? `HTTP ${res.status}: ${text.slice(0, 200)}`, res.status);
    return parsed as T;
  }
}

async function readLocalFile(file: string, type: TaskType, name: string): Promise<Buffer> {
  const size = await stat(file).then(
    (s) => (s.isFile() ? s.size : undefined),
    () => undefined,
  );
  if (size === undefined) throw new SubmissionError(`the input file ${file} does not exist (or is not a file)`);
  checkInputSize(type, name, size);
  return readFile(file);
}
