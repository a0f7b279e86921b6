import { Aws, Duration } from "aws-cdk-lib";
import * as autoscaling from "aws-cdk-lib/aws-autoscaling";
import * as cloudwatch from "aws-cdk-lib/aws-cloudwatch";
import * as actions from "aws-cdk-lib/aws-cloudwatch-actions";
import * as ec2 from "aws-cdk-lib/aws-ec2";
import * as ecs from "aws-cdk-lib/aws-ecs";
import * as iam from "aws-cdk-lib/aws-iam";
import type * as sns from "aws-cdk-lib/aws-sns";
import { NagSuppressions } from "cdk-nag";
import { Construct } from "constructs";
import { autoScalingGroupConsoleUrl } from "../../lib/console-url.ts";
import { DEFAULT_GPU_INSTANCE_TYPE } from "../../lib/tasks/task-cost.ts";
import { alarmDescription, runbookAnchor } from "../runbook.ts";

export interface GpuCapacityProps {
  vpc: ec2.IVpc;
  subnets: ec2.SubnetSelection;
  cluster: ecs.Cluster;
  alerts: sns.ITopic;
  /** An x86_64 GPU instance type (ATLAS_GPU_INSTANCE_TYPE; default g4dn.xlarge: one NVIDIA T4, 4 vCPU, 16 GiB). */
  instanceType?: string;
  /** At most this many GPU instances at once (ATLAS_GPU_MAX_INSTANCES; what the account's quota allows). */
  maxInstances?: number;
  /** Where docs/RUNBOOK.md is read (ATLAS_RUNBOOK_URL): the idle alarm links to its section there. */
  runbookUrl?: string;
}

/** How long an instance may sit in service with no task before the alarm fires: well past managed scaling's scale-in (about 15 minutes idle). */
export const GPU_IDLE_ALARM_MINUTES = 45;
/** The runbook section of the idle alarm is `tasks: IdleGpuAlarm` (docs/RUNBOOK.md). */
const GPU_ALARM_SCOPE = "tasks";

/**
 * GPU machines that exist only while GPU tasks run: an EC2 Auto Scaling group of the ECS GPU-optimized AMI
 * (Amazon Linux 2023, x86_64: there is no ARM64 GPU AMI, aws/amazon-ecs-ami#220) from 0 instances, behind an ECS
 * capacity provider with managed scaling, which adds instances when GPU tasks wait in PROVISIONING and removes
 * them about 15 minutes after the last one stopped (aws/aws-cdk#25969).
 *
 * - Managed termination protection is OFF: with it, an instance running a task cannot be scaled in, and a stack
 *   deletion can hang waiting for the group to empty (aws/aws-cdk#18179). Managed draining stops tasks gracefully
 *   instead, and a task stopped mid-way is retried by its state machine (results keyed by task id, never doubled).
 * - The VPC has no NAT gateway (stacks/constructs/BatchNetwork.ts): instances get a public IP in the public subnets,
 *   tasks use bridge networking (`awsvpc` tasks on EC2 get no public IP); IMDSv2 is required with a hop limit of 1,
 *   and containers are kept from the instance's credentials (`canContainersAccessInstanceRole: false`).
 * - The security group takes nothing in.
 */
export class GpuCapacity extends Construct {
  readonly autoScalingGroup: autoscaling.AutoScalingGroup;
  readonly capacityProvider: ecs.AsgCapacityProvider;
  readonly idleAlarm: cloudwatch.Alarm;
  readonly instanceType: string;

  constructor(scope: Construct, id: string, props: GpuCapacityProps) {
    super(scope, id);
    this.instanceType = props.instanceType ?? DEFAULT_GPU_INSTANCE_TYPE;
    const instanceType = new ec2.InstanceType(this.instanceType);
    if (instanceType.architecture !== ec2.InstanceArchitecture.X86_64) throw new Error(`GPU instance type ${this.instanceType} is not x86_64: the ECS GPU AMI and ONNX Runtime's CUDA provider are x86_64 only`);
    const securityGroup = new ec2.SecurityGroup(this, "SecurityGroup", { vpc: props.vpc, description: "GPU task instances: outbound only (ECR, S3, ECS, CloudWatch)", allowAllOutbound: true });
    const launchTemplate = new ec2.LaunchTemplate(this, "LaunchTemplate", {
      machineImage: ecs.EcsOptimizedImage.amazonLinux2023(ecs.AmiHardwareType.GPU),
      instanceType,
      securityGroup,
      associatePublicIpAddress: true,
      requireImdsv2: true,
      httpPutResponseHopLimit: 1,
      // Writes ECS_CLUSTER and the container settings: AsgCapacityProvider adds them to this user data.
      userData: ec2.UserData.forLinux(),
      role: new iam.Role(this, "InstanceRole", { assumedBy: new iam.ServicePrincipal("ec2.amazonaws.com"), description: "GPU task instances: join the ECS cluster" }),
      blockDevices: [{ deviceName: "/dev/xvda", volume: ec2.BlockDeviceVolume.ebs(60, { encrypted: true, volumeType: ec2.EbsDeviceVolumeType.GP3 }) }],
      detailedMonitoring: true,
    });
    this.autoScalingGroup = new autoscaling.AutoScalingGroup(this, "Group", {
      vpc: props.vpc,
      vpcSubnets: props.subnets,
      launchTemplate,
      minCapacity: 0,
      maxCapacity: props.maxInstances ?? 2,
      // Managed termination protection is off (see above), so new instances must not be protected either.
      newInstancesProtectedFromScaleIn: false,
      groupMetrics: [autoscaling.GroupMetrics.all()],
      notifications: [{ topic: props.alerts, scalingEvents: autoscaling.ScalingEvents.ERRORS }],
    });
    this.capacityProvider = new ecs.AsgCapacityProvider(this, "CapacityProvider", {
      autoScalingGroup: this.autoScalingGroup,
      enableManagedScaling: true,
      enableManagedTerminationProtection: false,
      enableManagedDraining: true,
      targetCapacityPercent: 100,
      machineImageType: ecs.MachineImageType.AMAZON_LINUX_2,
    });
    props.cluster.addAsgCapacityProvider(this.capacityProvider, { canContainersAccessInstanceRole: false });
    NagSuppressions.addResourceSuppressions(this.autoScalingGroup, [
      { id: "AwsSolutions-AS3", reason: "Only failed launches and terminations page (ScalingEvents.ERRORS): instances come and go with every burst of GPU tasks, which the group's activity history records; the idle-GPU alarm covers the costly case." },
    ]);
    NagSuppressions.addResourceSuppressions(launchTemplate.role!, [
      { id: "AwsSolutions-IAM5", reason: "The ECS container instance policy CDK adds for a capacity provider's instances: ecs:Submit* (task and container state changes) on the cluster's own resources, as AWS's AmazonEC2ContainerServiceforEC2Role grants.", appliesTo: ["Action::ecs:Submit*"] },
    ], true);

    // ECS's own measure of need: CapacityProviderReservation is 0 when instances run and no task needs them
    // (100 when there are none and none are needed). At 0 for GPU_IDLE_ALARM_MINUTES, an instance has been paid for
    // with nothing to do far longer than managed scaling keeps one: look at the group and the capacity provider.
    const reservation = new cloudwatch.Metric({
      namespace: "AWS/ECS/ManagedScaling",
      metricName: "CapacityProviderReservation",
      dimensionsMap: { ClusterName: props.cluster.clusterName, CapacityProviderName: this.capacityProvider.capacityProviderName },
      statistic: "Maximum",
      period: Duration.minutes(5),
    });
    this.idleAlarm = new cloudwatch.Alarm(this, "IdleGpuAlarm", {
      alarmDescription: alarmDescription({
        what: `A GPU instance has been in service with no task running for ${GPU_IDLE_ALARM_MINUTES} minutes (managed scaling removes an idle one after about 15): check the Auto Scaling group and the capacity provider.`,
        links: [["Auto Scaling group (instances, activity history)", autoScalingGroupConsoleUrl(this.autoScalingGroup.autoScalingGroupName, Aws.REGION)]],
        anchor: runbookAnchor(GPU_ALARM_SCOPE, "IdleGpuAlarm"),
        runbookUrl: props.runbookUrl,
      }),
      metric: reservation,
      threshold: 0,
      comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: GPU_IDLE_ALARM_MINUTES / 5,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    this.idleAlarm.addAlarmAction(new actions.SnsAction(props.alerts));
  }
}
