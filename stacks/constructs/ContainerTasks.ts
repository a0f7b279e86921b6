import { RemovalPolicy, Stack } from "aws-cdk-lib";
import type * as ec2 from "aws-cdk-lib/aws-ec2";
import { Platform } from "aws-cdk-lib/aws-ecr-assets";
import * as ecs from "aws-cdk-lib/aws-ecs";
import * as iam from "aws-cdk-lib/aws-iam";
import * as logs from "aws-cdk-lib/aws-logs";
import type * as s3 from "aws-cdk-lib/aws-s3";
import { Construct } from "constructs";
import { PROJECT_ROOT } from "../../lib/project-root.ts";
import { TASK_DEFINITION_TIER, TASK_WORK_DIR } from "../../workflows/tiers.ts";
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
 * The ECS cluster and one Fargate task definition per container. Its size is the smallest tier's: each run's
 * RunTask overrides the CPU, memory, ephemeral storage and the tier's environment (the state machine picks them
 * from its tier table, workflows/compile.ts), so one definition serves every tier.
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

      const tier = TASK_DEFINITION_TIER;
      const taskDefinition = new ecs.FargateTaskDefinition(this, name, {
        family: `${Stack.of(this).stackName}-${name}`,
        cpu: tier.vcpu * 1024,
        memoryLimitMiB: tier.memoryMiB,
        // No EphemeralStorage: Fargate's free 20 GiB unless a run's override asks for more (21–200 GiB).
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
        logging: ecs.LogDrivers.awsLogs({ logGroup, streamPrefix: name }),
        // The same for every tier; the tier's own variables (heap cap, DuckDB limits, ATLAS_TIER) come with each
        // run's container override. os.tmpdir() follows TMPDIR: temporary and DuckDB spill files go to the work dir.
        environment: { ...environment, TMPDIR: TASK_WORK_DIR },
        stopTimeout: undefined,
      });
      this.definitions.set(name, { taskDefinition, container });
    }
  }

  /** The run role of a container with scoped sessions (undefined for the others). */
  runRole(container: string): ScopedRunRole | undefined {
    return this.runRoles.get(container);
  }

  get(container: string) {
    const found = this.definitions.get(container);
    if (!found) throw new Error(`no task definition for container '${container}'`);
    return found;
  }
}
