import { appendFile, mkdir } from "node:fs/promises";
import { randomUUID } from "node:crypto";
import { dirname, join } from "node:path";
import { CloudWatchClient, PutMetricDataCommand, type MetricDatum } from "@aws-sdk/client-cloudwatch";
import { PublishCommand, SNSClient } from "@aws-sdk/client-sns";

/**
 * Where the Metrics and Notify functions send what they produce. On AWS: CloudWatch, SNS, and the function's own
 * log (a line on stdout, which Lambda puts in the function's log group `/aws/lambda/<function>`). Offline
 * (`ATLAS_LOCAL_SINK_DIR` set): one JSON line per call appended to `<dir>/metrics.jsonl`,
 * `<dir>/notifications.jsonl` and `<dir>/logs/lambda/<function>.log` (the local stand-in for that log group), plus
 * a short line on stderr for metrics and notifications. `makeSinks` picks the implementation; handlers only see
 * this interface.
 */
export interface Sinks {
  /** Sends all data points, split into as many PutMetricData calls as the API's limits need. */
  putMetricData(namespace: string, data: MetricDatum[], label?: string): Promise<{ requests: number }>;
  publish(message: { subject: string; body: string }): Promise<{ messageId: string }>;
  /** One structured log line (JSON, one line) in the log of `functionName`, the function writing it. */
  writeLog(functionName: string, record: object): Promise<void>;
}

/** Where the local sinks keep a function's log, relative to the sink directory. */
export const localFunctionLog = (functionName: string) => join("logs", "lambda", `${functionName}.log`);

export interface SinkOptions {
  /** Set: write JSON lines there instead of calling AWS. */
  localSinkDir?: string;
  /** The SNS topic (AWS only; required to publish). */
  topicArn?: string;
  /** The AWS clients' region. */
  region?: string;
  cloudwatch?: CloudWatchClient;
  sns?: SNSClient;
  /** Where local sinks print their one-line summary (stderr by default). */
  log?: (line: string) => void;
  /** AWS: where a function's log lines go (stdout by default: Lambda ships its stdout to the function's log group). */
  stdout?: (line: string) => void;
}

/** PutMetricData accepts at most 1000 data points per call (and 1 MB, far above what 1000 small points take). */
export const MAX_METRIC_DATA_PER_CALL = 1000;

export function chunk<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

export class AwsSinks implements Sinks {
  private cloudwatch?: CloudWatchClient;
  private sns?: SNSClient;

  constructor(private readonly options: SinkOptions = {}) {
    this.cloudwatch = options.cloudwatch;
    this.sns = options.sns;
  }

  async putMetricData(namespace: string, data: MetricDatum[]): Promise<{ requests: number }> {
    const client = (this.cloudwatch ??= new CloudWatchClient({ region: this.options.region }));
    const batches = chunk(data, MAX_METRIC_DATA_PER_CALL);
    for (const batch of batches) await client.send(new PutMetricDataCommand({ Namespace: namespace, MetricData: batch }));
    return { requests: batches.length };
  }

  async publish(message: { subject: string; body: string }): Promise<{ messageId: string }> {
    const topicArn = this.options.topicArn;
    if (!topicArn) {
      const error = new Error("ATLAS_TOPIC_ARN is not set: Notify needs the SNS topic to publish to");
      error.name = "ConfigurationError";
      throw error;
    }
    const client = (this.sns ??= new SNSClient({ region: this.options.region }));
    const out = await client.send(new PublishCommand({ TopicArn: topicArn, Subject: message.subject, Message: message.body }));
    return { messageId: out.MessageId ?? "" };
  }

  /**
   * Written raw on stdout, not through console.log: Node's Lambda runtime prefixes console lines with a
   * timestamp, request id and level, while a raw line stays the bare JSON object that Logs Insights reads
   * field by field.
   */
  async writeLog(_functionName: string, record: object): Promise<void> {
    (this.options.stdout ?? ((line) => process.stdout.write(line)))(`${JSON.stringify(record)}\n`);
  }
}

export class LocalFileSinks implements Sinks {
  private readonly log: (line: string) => void;

  constructor(
    private readonly dir: string,
    log?: (line: string) => void,
  ) {
    this.log = log ?? ((line) => process.stderr.write(`${line}\n`));
  }

  private async append(file: string, record: unknown): Promise<void> {
    await mkdir(dirname(join(this.dir, file)), { recursive: true });
    await appendFile(join(this.dir, file), `${JSON.stringify(record)}\n`);
  }

  async writeLog(functionName: string, record: object): Promise<void> {
    await this.append(localFunctionLog(functionName), record);
  }

  async putMetricData(namespace: string, data: MetricDatum[], label?: string): Promise<{ requests: number }> {
    // Nothing to send is no request, as with AwsSinks (a successful run sends no custom metric).
    if (data.length === 0) return { requests: 0 };
    await this.append("metrics.jsonl", { time: new Date().toISOString(), namespace, label, data });
    this.log(`[metrics] ${data.length} data points → ${namespace}${label ? ` (${label})` : ""}`);
    return { requests: 1 };
  }

  async publish(message: { subject: string; body: string }): Promise<{ messageId: string }> {
    const messageId = `local-${randomUUID()}`;
    await this.append("notifications.jsonl", { time: new Date().toISOString(), messageId, ...message });
    this.log(`[notify] ${message.subject}`);
    return { messageId };
  }
}

export function makeSinks(options: SinkOptions): Sinks {
  return options.localSinkDir ? new LocalFileSinks(options.localSinkDir, options.log) : new AwsSinks(options);
}
