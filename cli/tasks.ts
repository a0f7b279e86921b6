import { parseArgs } from "node:util";
import { ListMessageMoveTasksCommand, ListQueuesCommand, ListQueueTagsCommand, GetQueueAttributesCommand, SQSClient, StartMessageMoveTaskCommand } from "@aws-sdk/client-sqs";
import { EXIT, StepError } from "../lib/exit-codes.ts";
import { table } from "../lib/text-table.ts";
import { SubmissionError, checkType } from "../lib/tasks/submission.ts";
import { TaskClient, TaskClientError } from "../lib/tasks/task-client.ts";
import type { TaskRecord } from "../lib/tasks/task-record.ts";
import type { TaskSummary } from "../lib/tasks/task-table.ts";
import { DLQ_TAG } from "../lib/tasks/task-queues.ts";
import { QUEUES } from "../lib/tasks/task-types.ts";
import { exitCodeOf, onInterrupt, repeatedSignal } from "../local/interrupt.ts";
import { connectOfflineTasks, DEFAULT_IDLE_EXIT_SECONDS, startOfflineTasks, stopOfflineTasks, tasksDir } from "./tasks-offline.ts";

/**
 * `npm start -- tasks …`: hand the platform a task, follow it, list tasks, redrive dead-lettered ones, offline (the
 * embedded platform, cli/tasks-offline.ts) or on AWS (`--aws`: the deployed HTTP API, signed with your
 * credentials). Every way in runs the same checks (lib/tasks/submission.ts): a bad request is one line and exit 64,
 * and nothing is queued.
 */
export const TASKS_HELP = `usage:
  npm start -- tasks submit <type> --file <path> [--task-id ID] [--wait] [--json] [--aws]
  npm start -- tasks status <taskId> [--json] [--aws]
  npm start -- tasks list [--status QUEUED|RUNNING|SUCCEEDED|FAILED] [--limit N] [--json] [--aws]
  npm start -- tasks redrive [--queue gpu|cpu] [--aws]
  npm start -- tasks serve [--idle-exit SECONDS]      (offline: the platform in the foreground)
  npm start -- tasks stop                             (offline: stops the platform running in the background)

types: ocr (text in an image, GPU queue), thumbnail (WebP thumbnails, CPU queue)
--json prints the task's record on stdout (docs/TASKS.md); --wait polls until it SUCCEEDED or FAILED.
--aws uses the deployed API: set ATLAS_TASKS_API_URL (the stack output TasksApiUrl) and AWS_REGION.
offline, the tasks are kept in .data/tasks/ (or $ATLAS_TASKS_DIR) and run by a platform the first command starts
in the background; it stops by itself after ${DEFAULT_IDLE_EXIT_SECONDS} s with nothing to do.`;

/** Where the client talks to, and what closes it. */
interface Backend {
  client: TaskClient;
  redrive(queues: string[], out: (l: string) => void): Promise<void>;
  stop(): Promise<void>;
}

/** Offline: the platform that holds the task store, started in the background when none runs (cli/tasks-offline.ts). */
async function offlineBackend(): Promise<Backend> {
  const platform = await connectOfflineTasks(tasksDir(), { start: "background" });
  return {
    client: new TaskClient({ baseUrl: platform.apiUrl }),
    async redrive(queues, out) {
      for (const q of queues) {
        const { dlqArn } = platform.queues[q as "gpu" | "cpu"];
        await redriveQueue(platform.sqs, q, dlqArn, out, true);
      }
    },
    stop: async () => platform.close(),
  };
}

/**
 * `tasks serve`: the offline platform with its worker in this process, until Ctrl-C (or SIGTERM from `tasks stop`),
 * or, with `--idle-exit`, until it has had nothing to do for that long. A stop lets the executions in flight finish
 * (a second Ctrl-C ends at once; the next platform cleans up after them, local/task-worker.ts).
 */
async function serve(idleExitSeconds: number | undefined, say: (line: string) => void): Promise<number> {
  const dir = tasksDir();
  const platform = await startOfflineTasks(dir, { worker: { onLine: say } });
  say(`offline task platform: API ${platform.apiUrl}, store ${dir}${idleExitSeconds ? `; stops after ${idleExitSeconds} s with nothing to do` : "; Ctrl-C stops it"}`);
  let idleSince = Date.now();
  let firstSignalAt: number | undefined;
  let removeHandler = () => {};
  const reason = await new Promise<string>((resolve) => {
    removeHandler = onInterrupt((signal) => {
      if (firstSignalAt === undefined) {
        firstSignalAt = Date.now();
        return resolve(signal);
      }
      if (repeatedSignal(signal, firstSignalAt, Date.now()) !== "exit-now") return;
      say(`${signal} again: stopping at once (the next platform cleans up after the tasks it leaves)`);
      process.exit(exitCodeOf(signal));
    });
    if (idleExitSeconds) {
      const timer = setInterval(async () => {
        const idle = (await platform.worker!.idle().catch(() => false)) && Date.now() - platform.lastRequestAt() > 1000;
        if (!idle) idleSince = Date.now();
        else if (Date.now() - idleSince >= idleExitSeconds * 1000) {
          clearInterval(timer);
          resolve(`nothing to do for ${idleExitSeconds} s`);
        }
      }, 1000);
      timer.unref();
    }
  });
  const running = platform.worker?.inFlight() ?? 0;
  say(`stopping (${reason})${running ? `: letting ${running} task execution(s) finish` : ""}`);
  await platform.stop();
  removeHandler();
  return 0;
}

function awsBackend(): Backend {
  const baseUrl = process.env.ATLAS_TASKS_API_URL?.trim();
  const region = process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION;
  if (!baseUrl) throw new SubmissionError("--aws needs ATLAS_TASKS_API_URL: the stack output TasksApiUrl");
  if (!region) throw new SubmissionError("--aws needs AWS_REGION (the region the stack is deployed in)");
  const sqs = new SQSClient({ region });
  return {
    client: new TaskClient({ baseUrl, region }),
    async redrive(queues, out) {
      const urls = (await sqs.send(new ListQueuesCommand({}))).QueueUrls ?? [];
      for (const q of queues) {
        let arn: string | undefined;
        for (const url of urls) {
          const tags = (await sqs.send(new ListQueueTagsCommand({ QueueUrl: url }))).Tags ?? {};
          if (tags[DLQ_TAG] === q) arn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ["QueueArn"] }))).Attributes?.QueueArn;
        }
        if (!arn) throw new StepError(`no dead-letter queue tagged ${DLQ_TAG}=${q} in ${region}: is the stack deployed here?`, EXIT.NO_INPUT);
        await redriveQueue(sqs, q, arn, out, false);
      }
    },
    stop: async () => sqs.destroy(),
  };
}

/** StartMessageMoveTask from the dead-letter queue back to its queue; offline, waits until it is done. */
async function redriveQueue(sqs: SQSClient, queue: string, dlqArn: string, out: (l: string) => void, wait: boolean): Promise<void> {
  // Messages in flight count too: the dead-letter sweep (functions/dead-lettered-tasks.ts) may be looking at them
  // right now, and lets go of them within its visibility timeout.
  const attributes = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: await queueUrlOf(sqs, dlqArn), AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"] }))).Attributes ?? {};
  const waiting = Number(attributes.ApproximateNumberOfMessages ?? 0) + Number(attributes.ApproximateNumberOfMessagesNotVisible ?? 0);
  if (waiting === 0) {
    out(`${queue}: the dead-letter queue is empty, nothing to redrive`);
    return;
  }
  const { TaskHandle } = await sqs.send(new StartMessageMoveTaskCommand({ SourceArn: dlqArn }));
  if (!wait) {
    out(`${queue}: moving about ${waiting} message(s) back to the queue (move task ${TaskHandle})`);
    return;
  }
  for (;;) {
    const [task] = (await sqs.send(new ListMessageMoveTasksCommand({ SourceArn: dlqArn, MaxResults: 1 }))).Results ?? [];
    if (task && task.Status !== "RUNNING") {
      if (task.Status !== "COMPLETED") throw new StepError(`${queue}: the redrive ${task.Status}: ${task.FailureReason ?? "no reason given"}`, EXIT.TEMP_FAIL);
      out(`${queue}: moved ${task.ApproximateNumberOfMessagesMoved} message(s) back to the queue`);
      return;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function queueUrlOf(sqs: SQSClient, arn: string): Promise<string> {
  const name = arn.split(":").at(-1)!;
  const urls = (await sqs.send(new ListQueuesCommand({ QueueNamePrefix: name }))).QueueUrls ?? [];
  const url = urls.find((u) => u.endsWith(`/${name}`));
  if (!url) throw new StepError(`queue ${arn} not found`, EXIT.NO_INPUT);
  return url;
}

function describe(r: TaskRecord): string[] {
  const lines = [`task ${r.taskId}: ${r.status} (${r.type} on the ${r.queue} queue)`, `  submitted ${r.submittedAt}${r.startedAt ? `, started ${r.startedAt}` : ""}${r.finishedAt ? `, finished ${r.finishedAt}` : ""}, ${r.attempts} attempt(s)`];
  if (r.error) lines.push(`  error: ${r.error}`);
  if (r.result) lines.push(`  results: ${r.result.outputUri} (${r.result.files.join(", ")})`);
  if (r.estimatedCost) lines.push(`  estimated cost: $${r.estimatedCost.usd.toFixed(6)} (${r.estimatedCost.basis})`);
  if (r.text !== undefined) lines.push("  text:", ...r.text.split("\n").map((l) => `    ${l}`));
  return lines;
}

const listRows = (tasks: TaskSummary[]) => table(["task", "type", "status", "attempts", "updated"], tasks.map((t) => [t.taskId, t.type, t.status, String(t.attempts), t.updatedAt]));

export async function tasksMain(argv: string[], io: { stdout: (s: string) => void; stderr: (s: string) => void } = { stdout: (s) => process.stdout.write(s), stderr: (s) => process.stderr.write(s) }): Promise<number> {
  const say = (line: string) => io.stderr(`${line}\n`);
  let backend: Backend | undefined;
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        file: { type: "string" },
        "task-id": { type: "string" },
        status: { type: "string" },
        limit: { type: "string" },
        queue: { type: "string" },
        "idle-exit": { type: "string" },
        wait: { type: "boolean", default: false },
        json: { type: "boolean", default: false },
        aws: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
    });
    const [command, ...args] = positionals;
    if (values.help || !command) {
      io.stdout(`${TASKS_HELP}\n`);
      return values.help ? 0 : EXIT.USAGE;
    }
    const expect = (n: number, what: string) => {
      if (args.length !== n) throw new SubmissionError(`tasks ${command} takes ${what}${args.length > n ? `: unexpected '${args[n]}'` : ""}`);
    };
    const only = (allowed: string[]) => {
      const given = Object.entries(values).filter(([k, v]) => v !== undefined && v !== false && !["json", "aws", "help"].includes(k)).map(([k]) => k);
      const foreign = given.filter((k) => !allowed.includes(k));
      if (foreign.length) throw new SubmissionError(`tasks ${command} does not take --${foreign.join(", --")}`);
    };
    // Everything the command line alone can refuse is refused before any server starts.
    if (command === "submit") {
      expect(1, "a type: tasks submit <type> --file <path>");
      only(["file", "task-id", "wait"]);
      checkType(args[0]);
      if (!values.file) throw new SubmissionError("tasks submit needs --file <path>: the image to process");
    } else if (command === "serve" || command === "stop") {
      expect(0, "no arguments");
      only(command === "serve" ? ["idle-exit"] : []);
      if (values.aws) throw new SubmissionError(`tasks ${command} is for the offline platform: on AWS the stack runs the tasks`);
      const idle = values["idle-exit"];
      if (idle !== undefined && !/^[1-9]\d*$/.test(idle)) throw new SubmissionError(`--idle-exit '${idle}' must be a whole number of seconds`);
      if (command === "serve") return await serve(idle === undefined ? undefined : Number(idle), say);
      const pid = await stopOfflineTasks();
      say(pid ? `stopped the offline task platform (pid ${pid})` : "no offline task platform is running");
      return 0;
    } else if (command === "status") {
      expect(1, "a task id: tasks status <taskId>");
      only([]);
    } else if (command === "list") {
      expect(0, "no arguments");
      only(["status", "limit"]);
    } else if (command === "redrive") {
      expect(0, "no arguments");
      only(["queue"]);
      if (values.queue && !(QUEUES as readonly string[]).includes(values.queue)) throw new SubmissionError(`unknown queue '${values.queue}': use ${QUEUES.join(" or ")}`);
    } else {
      throw new SubmissionError(`unknown tasks command '${command}': use submit, status, list, redrive, serve or stop`);
    }

    backend = values.aws ? awsBackend() : await offlineBackend();
    const client = backend.client;
    if (command === "submit") {
      const record = await client.submitFile(args[0], values.file!, { taskId: values["task-id"] });
      say(`task ${record.taskId}: ${record.status} on the ${record.queue} queue`);
      const final = values.wait ? await client.waitFor(record.taskId, { onStatus: (r) => say(`task ${r.taskId}: ${r.status}`) }) : record;
      if (values.json) io.stdout(`${JSON.stringify(final, null, 2)}\n`);
      else io.stdout(`${describe(final).join("\n")}\n`);
      return final.status === "FAILED" ? 1 : 0;
    }
    if (command === "status") {
      const record = await client.status(args[0]);
      io.stdout(values.json ? `${JSON.stringify(record, null, 2)}\n` : `${describe(record).join("\n")}\n`);
      return 0;
    }
    if (command === "list") {
      const page = await client.list({ status: values.status, limit: values.limit === undefined ? undefined : Number(values.limit) });
      io.stdout(values.json ? `${JSON.stringify(page, null, 2)}\n` : `${(page.tasks.length ? listRows(page.tasks) : ["no tasks"]).join("\n")}\n`);
      return 0;
    }
    await backend.redrive(values.queue ? [values.queue] : [...QUEUES], say);
    return 0;
  } catch (err) {
    const e = err as Error & { code?: string };
    if (err instanceof SubmissionError || e.code?.startsWith("ERR_PARSE_ARGS")) {
      say(`error: ${e.message} (see npm start -- tasks --help)`);
      return EXIT.USAGE;
    }
    if (err instanceof TaskClientError) {
      say(`error: ${e.message}`);
      return err.status === 404 ? EXIT.NO_INPUT : err.status === 400 || err.status === 409 ? EXIT.USAGE : err.status === 403 ? EXIT.NO_PERMISSION : 1;
    }
    if (err instanceof StepError) {
      say(`error: ${e.message}`);
      return err.exitCode;
    }
    say(`error: ${e.message.split("\n")[0]}`);
    return 1;
  } finally {
    await backend?.stop();
  }
}
