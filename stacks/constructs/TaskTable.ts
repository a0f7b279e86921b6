import { RemovalPolicy } from "aws-cdk-lib";
import * as dynamodb from "aws-cdk-lib/aws-dynamodb";
import { Construct } from "constructs";
import { STATUS_INDEX, STATUS_INDEX_ATTRIBUTES, TASK_TABLE_KEY, TTL_ATTRIBUTE } from "../../lib/tasks/task-record.ts";

/**
 * The task table: one item per task (lib/tasks/task-record.ts), on demand (pay per request: tasks come in bursts
 * and stop), point-in-time recovery, TTL on finished tasks (`expiresAt`), and the `byStatus` index (status, time of
 * the last change) to list tasks by status and time. Every write is a single-item conditional write
 * (lib/tasks/task-transitions.ts). Destroyed with the stack: it holds task status, not data (results are in S3).
 */
export class TaskTable extends Construct {
  readonly table: dynamodb.Table;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    this.table = new dynamodb.Table(this, "Table", {
      partitionKey: { name: TASK_TABLE_KEY, type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      timeToLiveAttribute: TTL_ATTRIBUTE,
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.table.addGlobalSecondaryIndex({
      indexName: STATUS_INDEX.name,
      partitionKey: { name: STATUS_INDEX.partitionKey, type: dynamodb.AttributeType.STRING },
      sortKey: { name: STATUS_INDEX.sortKey, type: dynamodb.AttributeType.STRING },
      projectionType: dynamodb.ProjectionType.INCLUDE,
      nonKeyAttributes: [...STATUS_INDEX_ATTRIBUTES],
    });
  }
}
