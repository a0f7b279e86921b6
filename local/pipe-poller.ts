import { DeleteMessageCommand, ReceiveMessageCommand, type Message, type SQSClient } from "@aws-sdk/client-sqs";

/**
 * What EventBridge Pipes does between an SQS queue and a Step Functions target, for the offline platform: long-poll
 * the queue, start the target with each batch, and delete the batch's messages once the start succeeded (Pipes
 * deletes on a successful StartExecution whatever the execution then does; boto/boto3#4556 and the Pipes user
 * guide). A start that fails leaves the messages in flight: they come back after the queue's visibility timeout,
 * and SQS dead-letters them after the RedrivePolicy's maxReceiveCount.
 *
 * The settings come from the pipe as synthesized (`AWS::Pipes::Pipe` Properties, tokens resolved): the source
 * queue's ARN, the batch size, the target and its input template; nothing is restated here.
 */
export interface PipeProperties {
  Source: string;
  Target: string;
  SourceParameters?: { SqsQueueParameters?: { BatchSize?: number; MaximumBatchingWindowInSeconds?: number } };
  TargetParameters?: { InputTemplate?: string; StepFunctionStateMachineParameters?: { InvocationType?: string } };
  DesiredState?: string;
}

export interface PipePollerOptions {
  pipe: PipeProperties;
  sqs: SQSClient;
  /** The queue URL of the pipe's source ARN (offline, the embedded SQS's URL for that queue). */
  queueUrl: (queueArn: string) => string;
  /** Starts the target with the rendered input; throwing leaves the messages for redelivery. */
  start: (target: string, input: string, messages: Message[]) => Promise<void>;
  /** A start that failed (the message stays in the queue). */
  onStartFailed?: (err: unknown, messages: Message[]) => void;
  /** Long-poll wait per receive, seconds (Pipes uses 20; tests use 1). */
  waitSeconds?: number;
}

export interface PipePoller {
  /** Stops polling; resolves once the poll in progress and its starts have finished. */
  stop(): Promise<void>;
}

/** Pipes' SQS batch size range. */
const MAX_BATCH = 10;

export function startPipePoller(opts: PipePollerOptions): PipePoller {
  const { pipe } = opts;
  if (pipe.DesiredState === "STOPPED") throw new Error("the pipe's DesiredState is STOPPED");
  const batchSize = pipe.SourceParameters?.SqsQueueParameters?.BatchSize ?? 10;
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > MAX_BATCH) throw new Error(`pipe batch size ${batchSize}: the offline pipe takes 1 to ${MAX_BATCH} (one receive)`);
  const invocation = pipe.TargetParameters?.StepFunctionStateMachineParameters?.InvocationType ?? "FIRE_AND_FORGET";
  if (invocation !== "FIRE_AND_FORGET") throw new Error(`pipe invocation type ${invocation}: a STANDARD state machine target is FIRE_AND_FORGET`);
  const queueUrl = opts.queueUrl(pipe.Source);
  const abort = new AbortController();

  const loop = (async () => {
    while (!abort.signal.aborted) {
      let messages: Message[];
      try {
        const out = await opts.sqs.send(
          new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: batchSize, WaitTimeSeconds: opts.waitSeconds ?? 20, MessageSystemAttributeNames: ["All"], MessageAttributeNames: ["All"] }),
          { abortSignal: abort.signal },
        );
        messages = out.Messages ?? [];
      } catch (err) {
        if (abort.signal.aborted) break;
        throw err;
      }
      if (!messages.length) continue;
      const records = messages.map((m) => renderInputTemplate(pipe.TargetParameters?.InputTemplate, m));
      // One record: the record itself; a batch: the array of records, as Pipes hands a batch to its target.
      const input = batchSize === 1 ? records[0] : `[${records.join(",")}]`;
      try {
        await opts.start(pipe.Target, input, messages);
      } catch (err) {
        opts.onStartFailed?.(err, messages);
        continue;
      }
      for (const m of messages) await opts.sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: m.ReceiptHandle! }));
    }
  })();

  return {
    async stop() {
      abort.abort();
      await loop;
    },
  };
}

/** The SQS record as Pipes sees it (its event shape for an SQS source). */
function sqsRecord(m: Message): Record<string, unknown> {
  return {
    messageId: m.MessageId,
    receiptHandle: m.ReceiptHandle,
    body: m.Body,
    attributes: m.Attributes ?? {},
    messageAttributes: m.MessageAttributes ?? {},
    md5OfBody: m.MD5OfBody,
  };
}

/**
 * Pipes' input transformation: `<$.path>` is replaced by the value at that path. Inside quotes a value is inserted
 * as text; outside, as JSON, and a JSON message body is inserted parsed. A body that is not JSON is inserted as
 * its raw text, which leaves the result invalid JSON, as on AWS, where the start then fails. Without a template
 * the target gets the record itself.
 */
export function renderInputTemplate(template: string | undefined, m: Message): string {
  const record = sqsRecord(m);
  if (!template) return JSON.stringify(record);
  return template.replace(/("?)<\$((?:\.[A-Za-z0-9_]+)*)>("?)/g, (_all, open: string, path: string, close: string) => {
    let value: unknown = record;
    for (const key of path.split(".").filter(Boolean)) value = (value as Record<string, unknown> | undefined)?.[key];
    if (open && close) return JSON.stringify(value === undefined ? "" : typeof value === "string" ? value : JSON.stringify(value));
    if (path === ".body" && typeof value === "string") return `${open}${value}${close}`;
    return `${open}${JSON.stringify(value ?? null)}${close}`;
  });
}
