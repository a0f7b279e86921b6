import { Duration, RemovalPolicy, Stack } from "aws-cdk-lib";
import type * as ec2 from "aws-cdk-lib/aws-ec2";
import { Platform } from "aws-cdk-lib/aws-ecr-assets";
import * as ecs from "aws-cdk-lib/aws-ecs";
import * as iam from "aws-cdk-lib/aws-iam";
import * as logs from "aws-cdk-lib/aws-logs";
import type * as s3 from "aws-cdk-lib/aws-s3";
import { Construct } from "constructs";
import { PROJECT_ROOT } from "../../lib/project-root.ts";
import { FARGATE_FREE_EPHEMERAL_GIB, taskEnvironment, tierByName, type TierName } from "../../workflows/tiers.ts";
import type { BucketAccess } from "../../workflows/types.ts";
import { grantBucketAccess } from "./bucket-grants.ts";

/** The one Dockerfile of every image, relative to the build context (the project root). */
export const CONTAINER_DOCKERFILE = "containers/Dockerfile";

export interface ContainerTasksProps {
  vpc: ec2.IVpc;
  bucket: s3.IBucket;
  /** One image per entry, each built from `containers/Dockerfile` with `--build-arg WORKFLOW=<name>`. */
  containers: string[];
  tiers: readonly TierName[];
  codeVersion: string;
  /** Per container: the key patterns its task role may read and write, as its workflows declare them. */
  access: Record<string, BucketAccess>;
  /**
   * Containers whose bucket access goes to a run role instead of the task role: the task may only assume it, once
   * per run, with a session policy that narrows it to that run's objects (containers/grader/isolation.ts).
   */
  scopedSessions?: string[];
}

/**
 * The ECS cluster and one Fargate task definition per (container, tier). Task definitions, rather than
 * per-run overrides, because RunTask's overrides through Step Functions cannot raise ephemeral storage.
 * ARM64 throughout: Graviton Fargate costs about 20% less for the same vCPU and memory.
 */
export class ContainerTasks extends Construct {
  readonly cluster: ecs.Cluster;
  private readonly definitions = new Map<string, { taskDefinition: ecs.FargateTaskDefinition; container: ecs.ContainerDefinition }>();

  constructor(scope: Construct, id: string, props: ContainerTasksProps) {
    super(scope, id);
    this.cluster = new ecs.Cluster(this, "Cluster", {
      vpc: props.vpc,
      containerInsightsV2: ecs.ContainerInsights.ENABLED,
    });
    for (const name of props.containers) {
      const image = ecs.ContainerImage.fromAsset(PROJECT_ROOT, {
        file: CONTAINER_DOCKERFILE,
        buildArgs: { WORKFLOW: name },
        platform: Platform.LINUX_ARM64,
        // .dockerignore at the root keeps node_modules, local data and build output out of the context.
      });
      const logGroup = new logs.LogGroup(this, `${name}-logs`, {
        retention: logs.RetentionDays.THREE_MONTHS,
        removalPolicy: RemovalPolicy.DESTROY,
      });
      const taskRole = new iam.Role(this, `${name}-task-role`, {
        assumedBy: new iam.ServicePrincipal("ecs-tasks.amazonaws.com"),
        description: `Runs the ${name} steps: reads and writes only its own S3 prefixes`,
      });
      const environment: Record<string, string> = { CODE_VERSION: props.codeVersion, AWS_REGION: Stack.of(this).region };
      if (props.scopedSessions?.includes(name)) {
        // IAM, not only code, keeps one run out of another's objects: the task role has no bucket access of its own;
        // the run role has the container's whole access, and a session of it is only as wide as the intersection
        // of that and the session policy the task passes to AssumeRole for its run.
        const runRole = new iam.Role(this, `${name}-run-role`, {
          assumedBy: new iam.ArnPrincipal(taskRole.roleArn),
          description: `Assumed by the ${name} task once per run, with a session policy scoped to that run's own objects`,
          maxSessionDuration: Duration.hours(1),
        });
        runRole.grantAssumeRole(taskRole);
        grantBucketAccess(runRole, props.bucket, props.access[name] ?? {});
        environment.ATLAS_RUN_ROLE_ARN = runRole.roleArn;
      } else {
        grantBucketAccess(taskRole, props.bucket, props.access[name] ?? {});
      }

      for (const tierName of props.tiers) {
        const tier = tierByName(tierName);
        const taskDefinition = new ecs.FargateTaskDefinition(this, `${name}-${tierName}`, {
          // The family ends in the tier: the state machine and the local engine read it from there.
          family: `${Stack.of(this).stackName}-${name}-${tierName}`,
          cpu: tier.vcpu * 1024,
          memoryLimitMiB: tier.memoryMiB,
          // 20 GiB is what a task gets without asking (and the smallest it may ask for is 21).
          ephemeralStorageGiB: tier.ephemeralGiB > FARGATE_FREE_EPHEMERAL_GIB ? tier.ephemeralGiB : undefined,
          runtimePlatform: {
            cpuArchitecture: ecs.CpuArchitecture.ARM64,
            operatingSystemFamily: ecs.OperatingSystemFamily.LINUX,
          },
          taskRole,
        });
        const container = taskDefinition.addContainer(name, {
          containerName: name,
          image,
          // The image already runs as `node`; saying so here lets the template be checked for it.
          user: "node",
          logging: ecs.LogDrivers.awsLogs({ logGroup, streamPrefix: tierName }),
          environment: { ...environment, ...taskEnvironment(tier) },
          stopTimeout: undefined,
        });
        this.definitions.set(`${name}/${tierName}`, { taskDefinition, container });
      }
    }
  }

  get(container: string, tier: TierName) {
    const found = this.definitions.get(`${container}/${tier}`);
    if (!found) throw new Error(`no task definition for container '${container}' on tier '${tier}'`);
    return found;
  }
}
