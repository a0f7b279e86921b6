import { Duration, RemovalPolicy, Tags } from "aws-cdk-lib";
import * as sqs from "aws-cdk-lib/aws-sqs";
import { Construct } from "constructs";
import { DLQ_TAG, DLQ_RETENTION_SECONDS, MAX_RECEIVE_COUNT, QUEUE_RETENTION_SECONDS, visibilityTimeoutSeconds } from "../../lib/tasks/task-queues.ts";
import { QUEUES, type QueueName } from "../../lib/tasks/task-types.ts";

/**
 * The two task queues, `gpu` and `cpu`, each with its dead-letter queue: TLS only (a policy denies
 * `aws:SecureTransport=false`), encrypted with SQS-managed keys (SSE-SQS: no KMS key to pay for or to grant), a
 * visibility timeout longer than the queue's longest task, and a bounded number of receives before a message that
 * cannot start its execution is dead-lettered (lib/tasks/task-queues.ts holds the numbers; the offline platform
 * creates the same queues).
 */
export class TaskQueues extends Construct {
  readonly queues: Record<QueueName, { queue: sqs.Queue; dlq: sqs.Queue }>;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    const entries = QUEUES.map((name) => {
      const dlq = new sqs.Queue(this, `${name}-dlq`, {
        encryption: sqs.QueueEncryption.SQS_MANAGED,
        enforceSSL: true,
        retentionPeriod: Duration.seconds(DLQ_RETENTION_SECONDS),
        removalPolicy: RemovalPolicy.DESTROY,
      });
      Tags.of(dlq).add(DLQ_TAG, name);
      const queue = new sqs.Queue(this, name, {
        encryption: sqs.QueueEncryption.SQS_MANAGED,
        enforceSSL: true,
        visibilityTimeout: Duration.seconds(visibilityTimeoutSeconds(name)),
        retentionPeriod: Duration.seconds(QUEUE_RETENTION_SECONDS),
        deadLetterQueue: { queue: dlq, maxReceiveCount: MAX_RECEIVE_COUNT },
        removalPolicy: RemovalPolicy.DESTROY,
      });
      return [name, { queue, dlq }] as const;
    });
    this.queues = Object.fromEntries(entries) as TaskQueues["queues"];
  }
}
