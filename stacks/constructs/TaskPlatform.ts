import { Aws, Duration } from "aws-cdk-lib";
import * as cloudwatch from "aws-cdk-lib/aws-cloudwatch";
import * as actions from "aws-cdk-lib/aws-cloudwatch-actions";
import type * as ec2 from "aws-cdk-lib/aws-ec2";
import type * as ecs from "aws-cdk-lib/aws-ecs";
import type * as s3 from "aws-cdk-lib/aws-s3";
import type * as sns from "aws-cdk-lib/aws-sns";
import type * as sfn from "aws-cdk-lib/aws-stepfunctions";
import { Construct } from "constructs";
import { QUEUES, type QueueName } from "../../lib/tasks/task-types.ts";
import { alarmDescription, runbookAnchor } from "../runbook.ts";
import { GpuCapacity } from "./GpuCapacity.ts";
import { TaskApi } from "./TaskApi.ts";
import { TaskDefinitions } from "./TaskDefinitions.ts";
import { TaskFunctions } from "./TaskFunctions.ts";
import { TaskPipes } from "./TaskPipes.ts";
import { TaskQueues } from "./TaskQueues.ts";
import { TaskTable } from "./TaskTable.ts";

export interface TaskPlatformProps {
  vpc: ec2.IVpc;
  subnets: ec2.SubnetSelection;
  cluster: ecs.Cluster;
  bucket: s3.IBucket;
  alerts: sns.ITopic;
  gpuInstanceType?: string;
  gpuMaxInstances?: number;
  /** Where docs/RUNBOOK.md is read (ATLAS_RUNBOOK_URL): the GPU alarm links to its section there. */
  runbookUrl?: string;
}

/**
 * Tasks on demand (docs/TASKS.md): the queues, the task table, the GPU capacity, the task definitions, the API and
 * the platform's helpers, and an alarm on the dead-letter queues. `connect(machines)` adds the pipes from each
 * queue to the state machine that runs its tasks (workflows/tasks.ts, compiled by the stack) and the clean-up of
 * their unfinished executions; until then messages wait in the queues (and the API still takes and lists tasks).
 */
export class TaskPlatform extends Construct {
  readonly queues: TaskQueues;
  readonly table: TaskTable;
  readonly gpu: GpuCapacity;
  readonly definitions: TaskDefinitions;
  readonly api: TaskApi;
  readonly functions: TaskFunctions;
  readonly deadLetterAlarm: cloudwatch.Alarm;
  pipes?: TaskPipes;

  constructor(scope: Construct, id: string, props: TaskPlatformProps) {
    super(scope, id);
    this.queues = new TaskQueues(this, "Queues");
    this.table = new TaskTable(this, "Table");
    this.gpu = new GpuCapacity(this, "Gpu", { vpc: props.vpc, subnets: props.subnets, cluster: props.cluster, alerts: props.alerts, instanceType: props.gpuInstanceType, maxInstances: props.gpuMaxInstances, runbookUrl: props.runbookUrl });
    this.definitions = new TaskDefinitions(this, "Definitions", { bucket: props.bucket });
    this.api = new TaskApi(this, "Api", { bucket: props.bucket, table: this.table.table, queues: { gpu: this.queues.queues.gpu.queue, cpu: this.queues.queues.cpu.queue } });
    this.functions = new TaskFunctions(this, "Functions", { bucket: props.bucket, table: this.table.table, queues: this.queues.queues });

    // A message in a dead-letter queue is a task whose execution could not start (functions/dead-lettered-tasks.ts
    // marks it FAILED): one alarm over both, with the redrive in its runbook section.
    const visible = Object.fromEntries(QUEUES.map((q) => [q, this.queues.queues[q].dlq.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5), statistic: "Maximum" })]));
    this.deadLetterAlarm = new cloudwatch.Alarm(this, "DeadLetters", {
      alarmDescription: alarmDescription({
        what: "Task messages are in a dead-letter queue: their executions could not start (their tasks are FAILED, saying so). Fix the cause, then `npm start -- tasks redrive --aws`.",
        links: [["Queues (the dead-letter queues end in -dlq…)", `https://${Aws.REGION}.console.aws.amazon.com/sqs/v3/home?region=${Aws.REGION}#/queues`]],
        anchor: runbookAnchor("tasks", "DeadLetters"),
        runbookUrl: props.runbookUrl,
      }),
      metric: new cloudwatch.MathExpression({ expression: QUEUES.join(" + "), usingMetrics: visible, period: Duration.minutes(5), label: "dead-lettered task messages" }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    this.deadLetterAlarm.addAlarmAction(new actions.SnsAction(props.alerts));
  }

  /** Wires the compiled task machines (workflows/tasks.ts): a pipe from each queue, and the clean-up of their ends. */
  connect(machines: Record<QueueName, sfn.IStateMachine>): TaskPipes {
    if (this.pipes) throw new Error("the task queues are connected already");
    this.pipes = new TaskPipes(this, "Pipes", { queues: { gpu: this.queues.queues.gpu.queue, cpu: this.queues.queues.cpu.queue }, machines });
    this.functions.watch(Object.values(machines));
    return this.pipes;
  }
}
