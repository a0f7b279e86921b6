import type * as ec2 from "aws-cdk-lib/aws-ec2";
import type * as ecs from "aws-cdk-lib/aws-ecs";
import type * as s3 from "aws-cdk-lib/aws-s3";
import type * as sns from "aws-cdk-lib/aws-sns";
import type * as sfn from "aws-cdk-lib/aws-stepfunctions";
import { Construct } from "constructs";
import type { QueueName } from "../../lib/tasks/task-types.ts";
import { GpuCapacity } from "./GpuCapacity.ts";
import { TaskApi } from "./TaskApi.ts";
import { TaskDefinitions } from "./TaskDefinitions.ts";
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
 * Tasks on demand (docs/TASKS.md): the queues, the task table, the GPU capacity, the task definitions and the API.
 * The seam for the task workflow: `connect(machines)` adds the pipes from each queue to the state machine that
 * runs its tasks; until then messages wait in the queues (and the API still takes and lists tasks).
 */
export class TaskPlatform extends Construct {
  readonly queues: TaskQueues;
  readonly table: TaskTable;
  readonly gpu: GpuCapacity;
  readonly definitions: TaskDefinitions;
  readonly api: TaskApi;
  pipes?: TaskPipes;

  constructor(scope: Construct, id: string, props: TaskPlatformProps) {
    super(scope, id);
    this.queues = new TaskQueues(this, "Queues");
    this.table = new TaskTable(this, "Table");
    this.gpu = new GpuCapacity(this, "Gpu", { vpc: props.vpc, subnets: props.subnets, cluster: props.cluster, alerts: props.alerts, instanceType: props.gpuInstanceType, maxInstances: props.gpuMaxInstances, runbookUrl: props.runbookUrl });
    this.definitions = new TaskDefinitions(this, "Definitions", { bucket: props.bucket });
    this.api = new TaskApi(this, "Api", { bucket: props.bucket, table: this.table.table, queues: { gpu: this.queues.queues.gpu.queue, cpu: this.queues.queues.cpu.queue } });
  }

  /** Phase 2 calls this with the compiled task machines. */
  connect(machines: Record<QueueName, sfn.IStateMachine>): TaskPipes {
    if (this.pipes) throw new Error("the task queues are connected already");
    this.pipes = new TaskPipes(this, "Pipes", { queues: { gpu: this.queues.queues.gpu.queue, cpu: this.queues.queues.cpu.queue }, machines });
    return this.pipes;
  }
}
