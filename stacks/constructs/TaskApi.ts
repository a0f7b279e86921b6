import { RemovalPolicy } from "aws-cdk-lib";
import * as apigw from "aws-cdk-lib/aws-apigatewayv2";
import { HttpIamAuthorizer } from "aws-cdk-lib/aws-apigatewayv2-authorizers";
import { HttpLambdaIntegration } from "aws-cdk-lib/aws-apigatewayv2-integrations";
import type * as dynamodb from "aws-cdk-lib/aws-dynamodb";
import * as iam from "aws-cdk-lib/aws-iam";
import * as logs from "aws-cdk-lib/aws-logs";
import type * as s3 from "aws-cdk-lib/aws-s3";
import type * as sqs from "aws-cdk-lib/aws-sqs";
import { Function as SstFunction } from "sst/constructs";
import { Construct } from "constructs";
import { TASK_API_ROUTES } from "../../functions/tasks-api.ts";
import { STATUS_INDEX } from "../../lib/tasks/task-record.ts";
import { TASKS_PREFIX, type QueueName } from "../../lib/tasks/task-types.ts";
import { grantBucketAccess } from "./bucket-grants.ts";

export interface TaskApiProps {
  bucket: s3.IBucket;
  table: dynamodb.ITable;
  queues: Record<QueueName, sqs.IQueue>;
}

/**
 * The task API: an API Gateway HTTP API whose every route needs IAM auth (a caller signs with SigV4 and needs
 * `execute-api:Invoke` on the route: lib/tasks/task-client.ts signs), served by one Lambda (functions/tasks-api.ts,
 * the same handler the offline server runs). Its role may presign uploads to and read `tasks/*\/input/*`, read and
 * write the task table, and send to the two queues: nothing else.
 */
export class TaskApi extends Construct {
  readonly api: apigw.HttpApi;
  readonly handler: SstFunction;

  constructor(scope: Construct, id: string, props: TaskApiProps) {
    super(scope, id);
    this.handler = new SstFunction(this, "Handler", {
      handler: "functions/tasks-api.handler",
      description: "atlas-pipelines task API",
      runtime: "nodejs24.x",
      architecture: "arm_64",
      timeout: "20 seconds",
      memorySize: "256 MB",
      environment: {
        ATLAS_BUCKET: props.bucket.bucketName,
        ATLAS_TASK_TABLE: props.table.tableName,
        ATLAS_GPU_QUEUE_URL: props.queues.gpu.queueUrl,
        ATLAS_CPU_QUEUE_URL: props.queues.cpu.queueUrl,
      },
    });
    // A presigned PUT is signed with the function's credentials, so the function needs PutObject there; the HEAD of
    // the upload at submit needs GetObject.
    grantBucketAccess(this.handler, props.bucket, { readWrite: [`${TASKS_PREFIX}*/input/*`] });
    // Exactly the item operations the task service makes, and queries of the status index (not `index/*`).
    this.handler.addToRolePolicy(new iam.PolicyStatement({ actions: ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"], resources: [props.table.tableArn] }));
    this.handler.addToRolePolicy(new iam.PolicyStatement({ actions: ["dynamodb:Query"], resources: [`${props.table.tableArn}/index/${STATUS_INDEX.name}`] }));
    for (const queue of Object.values(props.queues)) queue.grantSendMessages(this.handler);

    const accessLogs = new logs.LogGroup(this, "AccessLogs", { retention: logs.RetentionDays.THREE_MONTHS, removalPolicy: RemovalPolicy.DESTROY });
    this.api = new apigw.HttpApi(this, "Api", {
      description: "atlas-pipelines tasks on demand (IAM auth)",
      defaultAuthorizer: new HttpIamAuthorizer(),
      createDefaultStage: false,
    });
    new apigw.HttpStage(this, "Stage", {
      httpApi: this.api,
      stageName: "$default",
      autoDeploy: true,
      accessLogSettings: { destination: new apigw.LogGroupLogDestination(accessLogs) },
      throttle: { rateLimit: 50, burstLimit: 100 },
    });
    const integration = new HttpLambdaIntegration("Integration", this.handler);
    for (const routeKey of Object.keys(TASK_API_ROUTES)) {
      const [method, path] = routeKey.split(" ");
      this.api.addRoutes({ path, methods: [method as apigw.HttpMethod], integration });
    }
  }

  /** `https://<id>.execute-api.<region>.amazonaws.com/` */
  get url(): string {
    return `${this.api.apiEndpoint}/`;
  }
}
