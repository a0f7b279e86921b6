import { Duration } from "aws-cdk-lib";
import type * as dynamodb from "aws-cdk-lib/aws-dynamodb";
import * as events from "aws-cdk-lib/aws-events";
import * as eventTargets from "aws-cdk-lib/aws-events-targets";
import * as iam from "aws-cdk-lib/aws-iam";
import type * as s3 from "aws-cdk-lib/aws-s3";
import * as scheduler from "aws-cdk-lib/aws-scheduler";
import * as schedulerTargets from "aws-cdk-lib/aws-scheduler-targets";
import type * as sfn from "aws-cdk-lib/aws-stepfunctions";
import type * as sqs from "aws-cdk-lib/aws-sqs";
import { Function as SstFunction } from "sst/constructs";
import { Construct } from "constructs";
import { DEAD_LETTER_SWEEP_MINUTES } from "../../functions/dead-lettered-tasks.ts";
import { UNFINISHED_ENDS } from "../../functions/task-execution-ended.ts";
import { DLQ_URL_ENV, QUEUE_URL_ENV } from "../../lib/tasks/task-queues.ts";
import { TASKS_PREFIX, type QueueName } from "../../lib/tasks/task-types.ts";
import { grantBucketAccess } from "./bucket-grants.ts";
import { helperFunction } from "./HelperFunctions.ts";

export interface TaskFunctionsProps {
  bucket: s3.IBucket;
  table: dynamodb.ITable;
  queues: Record<QueueName, { queue: sqs.IQueue; dlq: sqs.IQueue }>;
}

/** The helpers' names, as their files in functions/ and as the task workflows call them (WorkflowBindings.fn). */
export const TASK_FUNCTIONS = ["finish-task", "dead-lettered-tasks", "task-execution-ended"] as const;
export type TaskFunctionName = (typeof TASK_FUNCTIONS)[number];

/**
 * The task platform's Lambda helpers, each granted only what it does:
 * - `finish-task` (the task machines' last step): reads `tasks/*\/output/*`, reads and updates the task table;
 * - `dead-lettered-tasks` (every DEAD_LETTER_SWEEP_MINUTES, EventBridge Scheduler): looks at the dead-letter queues
 *   without deleting, marks their tasks FAILED;
 * - `task-execution-ended` (an EventBridge rule on the task machines' FAILED, TIMED_OUT and ABORTED executions,
 *   added by `watch`): gives back a slot the execution left, fails its task or sends the task's message again.
 */
export class TaskFunctions extends Construct {
  private readonly functions = new Map<TaskFunctionName, SstFunction>();

  constructor(scope: Construct, id: string, props: TaskFunctionsProps) {
    super(scope, id);
    const queueEnv = Object.fromEntries(Object.entries(props.queues).map(([q, { queue }]) => [QUEUE_URL_ENV[q as QueueName], queue.queueUrl]));
    const dlqEnv = Object.fromEntries(Object.entries(props.queues).map(([q, { dlq }]) => [DLQ_URL_ENV[q as QueueName], dlq.queueUrl]));
    const make = (name: TaskFunctionName, environment: Record<string, string>) => {
      const fn = helperFunction(this, name, { ATLAS_TASK_TABLE: props.table.tableName, ...environment });
      // Item reads and conditional updates of the task table: no scans, no deletes.
      fn.addToRolePolicy(new iam.PolicyStatement({ actions: ["dynamodb:GetItem", "dynamodb:UpdateItem"], resources: [props.table.tableArn] }));
      this.functions.set(name, fn);
      return fn;
    };

    const finish = make("finish-task", { ATLAS_BUCKET: props.bucket.bucketName });
    grantBucketAccess(finish, props.bucket, { read: [`${TASKS_PREFIX}*/output/*`] });

    const sweep = make("dead-lettered-tasks", dlqEnv);
    for (const { dlq } of Object.values(props.queues)) {
      dlq.grant(sweep, "sqs:ReceiveMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes", "sqs:GetQueueUrl");
    }
    new scheduler.Schedule(this, "DeadLetterSweep", {
      description: "Marks the tasks whose messages were dead-lettered FAILED (functions/dead-lettered-tasks.ts)",
      schedule: scheduler.ScheduleExpression.rate(Duration.minutes(DEAD_LETTER_SWEEP_MINUTES)),
      target: new schedulerTargets.LambdaInvoke(sweep, { input: scheduler.ScheduleTargetInput.fromObject({ waitSeconds: 1 }), retryAttempts: 2 }),
    });

    const ended = make("task-execution-ended", queueEnv);
    for (const { queue } of Object.values(props.queues)) queue.grantSendMessages(ended);
  }

  /** Sends the machines' unfinished ends (FAILED, TIMED_OUT, ABORTED) to `task-execution-ended`. */
  watch(machines: sfn.IStateMachine[]): events.Rule {
    return new events.Rule(this, "UnfinishedExecutions", {
      description: "Task executions that ended without their own clean-up: functions/task-execution-ended.ts",
      eventPattern: {
        source: ["aws.states"],
        detailType: ["Step Functions Execution Status Change"],
        detail: { stateMachineArn: machines.map((m) => m.stateMachineArn), status: [...UNFINISHED_ENDS] },
      },
      targets: [new eventTargets.LambdaFunction(this.get("task-execution-ended"), { retryAttempts: 8, maxEventAge: Duration.hours(2) })],
    });
  }

  get(name: string): SstFunction {
    const fn = this.functions.get(name as TaskFunctionName);
    if (!fn) throw new Error(`no task function '${name}' (expected one of ${TASK_FUNCTIONS.join(", ")})`);
    return fn;
  }
}
