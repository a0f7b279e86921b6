import { RemovalPolicy, Stack } from "aws-cdk-lib";
import type * as ec2 from "aws-cdk-lib/aws-ec2";
import { Platform } from "aws-cdk-lib/aws-ecr-assets";
import * as ecs from "aws-cdk-lib/aws-ecs";
import * as iam from "aws-cdk-lib/aws-iam";
import * as logs from "aws-cdk-lib/aws-logs";
import type * as s3 from "aws-cdk-lib/aws-s3";
import { Construct } from "constructs";
import { PROJECT_ROOT } from "../../lib/project-root.ts";
import { FARGATE_FREE_EPHEMERAL_GIB, taskEnvironment, tierByName, type TierName } from "../../workflows/tiers.ts";
import type { BucketAccess, ScopedSession } from "../../workflows/types.ts";
import { grantBucketAccess } from "./bucket-grants.ts";
import { ScopedRunRole } from "./ScopedRunRole.ts";

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
   * Containers whose steps run in a scoped session (workflows/run-session.ts): their task role gets nothing; a run
   * role (ScopedRunRole) reaches the run's tenant and run, for sessions the state machine starts.
   */
  scopedSessions?: Record<string, ScopedSession>;
}

/**
 * The ECS cluster and one Fargate task definition per (container, tier). Task definitions, rather than
 * per-run overrides, because RunTask's overrides through Step Functions cannot raise ephemeral storage.
 * ARM64 throughout: Graviton Fargate costs about 20% less for the same vCPU and memory.
 */
export class ContainerTasks extends Construct {
  readonly cluster: ecs.Cluster;
  private readonly definitions = new Map<string, { taskDefinition: ecs.FargateTaskDefinition; container: ecs.ContainerDefinition }>();
  private readonly runRoles = new Map<string, ScopedRunRole>();

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
      const session = props.scopedSessions?.[name];
      const taskRole = new iam.Role(this, `${name}-task-role`, {
        assumedBy: new iam.ServicePrincipal("ecs-tasks.amazonaws.com"),
        description: session
          ? `Runs the ${name} steps: no AWS access of its own (S3 through the session its state machine starts for each run)`
          : `Runs the ${name} steps: reads and writes only its own S3 prefixes`,
      });
      const environment: Record<string, string> = { CODE_VERSION: props.codeVersion, AWS_REGION: Stack.of(this).region };
      // A scoped container's task role gets nothing: its S3 access is the session the state machine hands it.
      if (session) this.runRoles.set(name, new ScopedRunRole(this, `${name}-run`, { container: name, bucket: props.bucket, session }));
      else grantBucketAccess(taskRole, props.bucket, props.access[name] ?? {});

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

  /** The run role of a container with scoped sessions (undefined for the others). */
  runRole(container: string): ScopedRunRole | undefined {
    return this.runRoles.get(container);
  }

  get(container: string, tier: TierName) {
    const found = this.definitions.get(`${container}/${tier}`);
    if (!found) throw new Error(`no task definition for container '${container}' on tier '${tier}'`);
    return found;
  }
}
