import { RemovalPolicy, Stack } from "aws-cdk-lib";
import { Platform } from "aws-cdk-lib/aws-ecr-assets";
import * as ecs from "aws-cdk-lib/aws-ecs";
import * as iam from "aws-cdk-lib/aws-iam";
import * as logs from "aws-cdk-lib/aws-logs";
import type * as s3 from "aws-cdk-lib/aws-s3";
import { Construct } from "constructs";
import { PROJECT_ROOT } from "../../lib/project-root.ts";
import { GPU_PROVIDER, OCR_PROVIDER_ENV } from "../../containers/ocr/provider.ts";
import { TASK_TYPES, TASKS_PREFIX, type TaskType } from "../../lib/tasks/task-types.ts";
import { taskEnvironment, tierByName } from "../../workflows/tiers.ts";
import { grantBucketAccess } from "./bucket-grants.ts";
import { CONTAINER_DOCKERFILE } from "./ContainerTasks.ts";

/** The OCR image's own Dockerfile (linux/amd64 on a CUDA 12 base), relative to the build context (the project root). */
export const GPU_DOCKERFILE = "containers/ocr/Dockerfile";

/** GPU task size on one instance of the default type (g4dn.xlarge: 4 vCPU, 16 GiB, one T4): the whole GPU, most of the rest. */
const GPU_TASK = { cpu: 3072, memoryReservationMiB: 12_288, gpuCount: 1 } as const;

export interface TaskDefinitionsProps {
  bucket: s3.IBucket;
}

export interface TaskContainer {
  taskDefinition: ecs.TaskDefinition;
  container: ecs.ContainerDefinition;
}

/**
 * One task definition per task type (lib/tasks/task-types.ts): `ocr` on EC2 (the GPU capacity provider's
 * instances; bridge networking; one GPU; linux/amd64, its own image so ONNX Runtime and CUDA stay out of every other
 * image), `thumbnail` on ARM64 Fargate (its type's tier, from the shared Dockerfile like the workflows' images).
 * Each task role reads only `tasks/*\/input/*` and writes only `tasks/*\/output/*`. The environment carries what
 * lib/tasks/task-files.ts reads besides TASK_ID, which the state machine sets per task (phase 2).
 */
export class TaskDefinitions extends Construct {
  private readonly byType = new Map<TaskType, TaskContainer>();

  constructor(scope: Construct, id: string, props: TaskDefinitionsProps) {
    super(scope, id);
    const stackName = Stack.of(this).stackName;
    for (const [type, spec] of Object.entries(TASK_TYPES) as [TaskType, (typeof TASK_TYPES)[TaskType]][]) {
      const logGroup = new logs.LogGroup(this, `${type}-logs`, { retention: logs.RetentionDays.THREE_MONTHS, removalPolicy: RemovalPolicy.DESTROY });
      const taskRole = new iam.Role(this, `${type}-task-role`, {
        assumedBy: new iam.ServicePrincipal("ecs-tasks.amazonaws.com"),
        description: `Runs ${type} tasks: reads task inputs, writes task outputs`,
      });
      grantBucketAccess(taskRole, props.bucket, { read: [`${TASKS_PREFIX}*/input/*`] });
      grantBucketAccess(taskRole, props.bucket, { readWrite: [`${TASKS_PREFIX}*/output/*`] });
      const environment: Record<string, string> = { AWS_REGION: Stack.of(this).region, TASKS_URI: `s3://${props.bucket.bucketName}/${TASKS_PREFIX}` };
      let taskDefinition: ecs.TaskDefinition;
      let container: ecs.ContainerDefinition;
      if (spec.queue === "gpu") {
        taskDefinition = new ecs.Ec2TaskDefinition(this, type, {
          // Ends in what it runs on, as the workflows' families end in their tier (the local ECS runner reads it).
          family: `${stackName}-task-${type}-gpu`,
          networkMode: ecs.NetworkMode.BRIDGE,
          taskRole,
        });
        container = taskDefinition.addContainer(type, {
          containerName: type,
          image: ecs.ContainerImage.fromAsset(PROJECT_ROOT, { file: GPU_DOCKERFILE, platform: Platform.LINUX_AMD64 }),
          user: "node",
          cpu: GPU_TASK.cpu,
          memoryReservationMiB: GPU_TASK.memoryReservationMiB,
          gpuCount: GPU_TASK.gpuCount,
          environment: { ...environment, [OCR_PROVIDER_ENV]: GPU_PROVIDER },
          logging: ecs.LogDrivers.awsLogs({ logGroup, streamPrefix: type }),
        });
      } else {
        const tier = tierByName(spec.tier ?? "small");
        taskDefinition = new ecs.FargateTaskDefinition(this, type, {
          family: `${stackName}-task-${type}-${tier.name}`,
          cpu: tier.vcpu * 1024,
          memoryLimitMiB: tier.memoryMiB,
          runtimePlatform: { cpuArchitecture: ecs.CpuArchitecture.ARM64, operatingSystemFamily: ecs.OperatingSystemFamily.LINUX },
          taskRole,
        });
        container = taskDefinition.addContainer(type, {
          containerName: type,
          image: ecs.ContainerImage.fromAsset(PROJECT_ROOT, { file: CONTAINER_DOCKERFILE, buildArgs: { WORKFLOW: spec.image }, platform: Platform.LINUX_ARM64 }),
          user: "node",
          environment: { ...environment, ...taskEnvironment(tier) },
          logging: ecs.LogDrivers.awsLogs({ logGroup, streamPrefix: type }),
        });
      }
      this.byType.set(type, { taskDefinition, container });
    }
  }

  /** The task definition whose container is `containers/<image>` (a task workflow's container step names its image). */
  forImage(image: string): TaskContainer {
    const type = (Object.keys(TASK_TYPES) as TaskType[]).find((t) => TASK_TYPES[t].image === image);
    if (!type) throw new Error(`no task type runs the image '${image}'`);
    return this.get(type);
  }

  get(type: TaskType): TaskContainer {
    const found = this.byType.get(type);
    if (!found) throw new Error(`no task definition for task type '${type}'`);
    return found;
  }
}
