import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import {
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  ListQueuesCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SQSClient,
} from "@aws-sdk/client-sqs";
import { startFauxqs } from "fauxqs";

/**
 * An SQS server inside this process for the offline task platform and its tests: fauxqs 2 (SQS's JSON protocol as
 * the current `@aws-sdk/client-sqs` speaks it, with dead-letter queues; Node ≥ 22.5) behind a small front that adds
 * the message move tasks fauxqs lacks (StartMessageMoveTask answers `InvalidAction` there): StartMessageMoveTask
 * and ListMessageMoveTasks, so that `tasks redrive` calls the same API offline as on AWS.
 *
 * How the move tasks differ from AWS's, on purpose: a move without DestinationArn goes to THE queue whose
 * RedrivePolicy names the dead-letter queue (AWS remembers each message's own source queue; fauxqs does not, and
 * the task queues have one dead-letter queue each); MaxNumberOfMessagesPerSecond is accepted and not enforced.
 */
export interface EmbeddedSqs {
  /** `http://127.0.0.1:<port>`: the value for `AWS_ENDPOINT_URL_SQS`. */
  endpoint: string;
  stop(): Promise<void>;
}

export const SQS_ENDPOINT_ENV = "AWS_ENDPOINT_URL_SQS";

interface MoveTask {
  TaskHandle: string;
  Status: "RUNNING" | "COMPLETED" | "CANCELLED" | "FAILED";
  SourceArn: string;
  DestinationArn: string;
  ApproximateNumberOfMessagesMoved: number;
  ApproximateNumberOfMessagesToMove: number;
  StartedTimestamp: number;
  FailureReason?: string;
}

export async function startEmbeddedSqs(opts: { dataDir?: string } = {}): Promise<EmbeddedSqs> {
  const fauxqs = await startFauxqs({ port: 0, logger: false, ...(opts.dataDir ? { dataDir: opts.dataDir } : {}) });
  const inner = new SQSClient({ endpoint: fauxqs.address, region: "us-east-1", credentials: { accessKeyId: "local", secretAccessKey: "local" } });
  const tasks: MoveTask[] = [];
  const running = new Set<Promise<void>>();

  async function queues(): Promise<{ url: string; arn: string; dlqArn?: string; visible: number }[]> {
    const urls = (await inner.send(new ListQueuesCommand({}))).QueueUrls ?? [];
    return Promise.all(
      urls.map(async (url) => {
        const a = (await inner.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ["QueueArn", "RedrivePolicy", "ApproximateNumberOfMessages"] }))).Attributes ?? {};
        const dlqArn = a.RedrivePolicy ? (JSON.parse(a.RedrivePolicy).deadLetterTargetArn as string) : undefined;
        return { url, arn: a.QueueArn!, dlqArn, visible: Number(a.ApproximateNumberOfMessages ?? 0) };
      }),
    );
  }

  async function move(task: MoveTask, fromUrl: string, toUrl: string): Promise<void> {
    try {
      for (let empty = 0; empty < 2; ) {
        const { Messages = [] } = await inner.send(new ReceiveMessageCommand({ QueueUrl: fromUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0, VisibilityTimeout: 30, MessageAttributeNames: ["All"] }));
        if (!Messages.length) {
          empty++;
          continue;
        }
        empty = 0;
        // A moved message is a new message on the destination: its receive count starts again, as on AWS.
        await inner.send(new SendMessageBatchCommand({ QueueUrl: toUrl, Entries: Messages.map((m, i) => ({ Id: String(i), MessageBody: m.Body!, MessageAttributes: m.MessageAttributes })) }));
        await inner.send(new DeleteMessageBatchCommand({ QueueUrl: fromUrl, Entries: Messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })) }));
        task.ApproximateNumberOfMessagesMoved += Messages.length;
      }
      task.Status = "COMPLETED";
    } catch (err) {
      task.Status = "FAILED";
      task.FailureReason = (err as Error).message;
    }
  }

  async function startMove(body: { SourceArn?: string; DestinationArn?: string }): Promise<unknown> {
    const all = await queues();
    const source = all.find((q) => q.arn === body.SourceArn);
    if (!source) throw new SqsError("ResourceNotFoundException", "The resource that you specified for the SourceArn parameter doesn't exist.");
    const origins = all.filter((q) => q.dlqArn === source.arn);
    if (!origins.length) throw new SqsError("UnsupportedOperation", "Source queue must be configured as a Dead Letter Queue.");
    let destination = body.DestinationArn ? all.find((q) => q.arn === body.DestinationArn) : origins[0];
    if (!destination) throw new SqsError("ResourceNotFoundException", "The resource that you specified for the DestinationArn parameter doesn't exist.");
    if (!body.DestinationArn && origins.length > 1) throw new SqsError("UnsupportedOperation", `the embedded SQS moves to one source queue: ${origins.length} queues use this dead-letter queue, pass DestinationArn`);
    if (tasks.some((t) => t.SourceArn === source.arn && t.Status === "RUNNING")) throw new SqsError("UnsupportedOperation", "There is already a task running. Only one active task is allowed for a source queue arn at a given time.");
    const task: MoveTask = {
      TaskHandle: Buffer.from(JSON.stringify({ taskId: crypto.randomUUID(), sourceArn: source.arn })).toString("base64"),
      Status: "RUNNING",
      SourceArn: source.arn,
      DestinationArn: destination.arn,
      ApproximateNumberOfMessagesMoved: 0,
      ApproximateNumberOfMessagesToMove: source.visible,
      StartedTimestamp: Date.now(),
    };
    tasks.unshift(task);
    const done = move(task, source.url, destination.url).finally(() => running.delete(done));
    running.add(done);
    return { TaskHandle: task.TaskHandle };
  }

  function listMoves(body: { SourceArn?: string; MaxResults?: number }): unknown {
    const results = tasks
      .filter((t) => t.SourceArn === body.SourceArn)
      .slice(0, body.MaxResults ?? 1)
      .map(({ TaskHandle, ...t }) => ({ ...(t.Status === "RUNNING" ? { TaskHandle } : {}), ...t }));
    return { Results: results };
  }

  const handlers: Record<string, (body: never) => Promise<unknown> | unknown> = {
    "AmazonSQS.StartMessageMoveTask": startMove,
    "AmazonSQS.ListMessageMoveTasks": listMoves,
  };

  const front = createServer((req, res) => {
    void serve(req, res).catch((err) => {
      res.writeHead(500).end(String(err));
    });
  });

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    const target = String(req.headers["x-amz-target"] ?? "");
    const own = handlers[target];
    if (own) {
      try {
        const out = await own(JSON.parse(body.toString("utf8") || "{}") as never);
        res.writeHead(200, { "content-type": "application/x-amz-json-1.0" }).end(JSON.stringify(out));
      } catch (err) {
        if (!(err instanceof SqsError)) throw err;
        res.writeHead(400, { "content-type": "application/x-amz-json-1.0", ...(err.queryError ? { "x-amzn-query-error": `${err.queryError};Sender` } : {}) });
        res.end(JSON.stringify({ __type: `com.amazonaws.sqs#${err.name}`, message: err.message }));
      }
      return;
    }
    const headers = Object.fromEntries(Object.entries(req.headers).filter(([k]) => k !== "host" && k !== "connection" && k !== "content-length")) as Record<string, string>;
    const forwarded = VISIBILITY_CHANGES.has(target) ? noZeroVisibility(body) : body;
    const answer = await fetch(`${fauxqs.address}${req.url ?? "/"}`, { method: req.method, headers, ...(forwarded.length ? { body: forwarded } : {}) });
    const out = Buffer.from(await answer.arrayBuffer());
    const back: Record<string, string> = {};
    answer.headers.forEach((v, k) => {
      if (k !== "content-length" && k !== "connection" && k !== "keep-alive" && k !== "transfer-encoding") back[k] = v;
    });
    res.writeHead(answer.status, back).end(out);
  }

  await new Promise<void>((resolve, reject) => {
    front.once("error", reject);
    front.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = front.address() as AddressInfo;
  let stopped: Promise<void> | undefined;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    stop() {
      stopped ??= (async () => {
        await Promise.allSettled([...running]);
        front.closeAllConnections();
        await new Promise<void>((resolve) => front.close(() => resolve()));
        inner.destroy();
        await fauxqs.stop();
      })();
      return stopped;
    },
  };
}

/**
 * fauxqs 2.4.1 with a data folder loses a message whose visibility is changed to 0: it takes the message out of
 * flight, then its store's write fails (`NOT NULL constraint failed: sqs_messages.approximate_receive_count`) before
 * the message is back in the queue, and the client's retry finds no such receipt handle. One second instead of 0
 * takes fauxqs's other path (a new deadline), after which the message is visible again as SQS makes it at once: a
 * message let go of (the dead-letter sweep's) comes back a second later, which no caller can tell from SQS's
 * "approximately at once".
 */
const VISIBILITY_CHANGES = new Set(["AmazonSQS.ChangeMessageVisibility", "AmazonSQS.ChangeMessageVisibilityBatch"]);

function noZeroVisibility(body: Buffer): Buffer {
  const request = JSON.parse(body.toString("utf8") || "{}") as { VisibilityTimeout?: number; Entries?: { VisibilityTimeout?: number }[] };
  if (request.VisibilityTimeout === 0) request.VisibilityTimeout = 1;
  for (const entry of request.Entries ?? []) if (entry.VisibilityTimeout === 0) entry.VisibilityTimeout = 1;
  return Buffer.from(JSON.stringify(request));
}

class SqsError extends Error {
  constructor(
    readonly name: string,
    message: string,
    readonly queryError?: string,
  ) {
    super(message);
  }
}
