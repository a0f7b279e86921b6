import { App, Stack } from "aws-cdk-lib";
import { Match, Template } from "aws-cdk-lib/assertions";
import * as sfn from "aws-cdk-lib/aws-stepfunctions";
import { CreateQueueCommand, SendMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { describe, expect, it } from "vitest";
import { TASK_API_ROUTES } from "../functions/tasks-api.ts";
import { startEmbeddedSqs } from "../lib/embedded-sqs.ts";
import { STATUS_INDEX } from "../lib/tasks/task-record.ts";
import { MAX_RECEIVE_COUNT, PIPE_INPUT_TEMPLATE, visibilityTimeoutSeconds } from "../lib/tasks/task-queues.ts";
import { TASK_TYPES } from "../lib/tasks/task-types.ts";
import { startPipePoller, type PipeProperties } from "../local/pipe-poller.ts";
import { readConfig } from "../workflows/config.ts";
import { tierByName } from "../workflows/tiers.ts";
import { TaskPipes } from "./constructs/TaskPipes.ts";
import { TaskQueues } from "./constructs/TaskQueues.ts";
import { taskWorkflowName } from "../workflows/tasks.ts";
import { resolvedDefinitions } from "./resolve-asl.ts";
import { synthesizeOffline } from "./synth-offline.ts";

/** Tasks on demand in the synthesized stack (stacks/constructs/TaskPlatform.ts and the constructs it holds). */
const template = async (): Promise<Template> => (await synthesizeOffline("deploy", "test-tasks")).template;
const resources = (t: Template, type: string) => Object.entries(t.findResources(type)) as [string, { Properties: Record<string, any> }][];

describe("the task platform in the synthesized stack", () => {
  it("GIVEN the queues THEN each of gpu and cpu has an encrypted, TLS-only queue whose DLQ takes a message after a bounded number of receives, and waits longer than its longest task", async () => {
    const t = await template();
    const queues = resources(t, "AWS::SQS::Queue").filter(([id]) => id.startsWith("TaskPlatformQueues"));
    expect(queues).toHaveLength(4);
    for (const [, q] of queues) expect(q.Properties.SqsManagedSseEnabled).toBe(true);
    for (const name of ["gpu", "cpu"] as const) {
      const [, queue] = queues.find(([id]) => new RegExp(`^TaskPlatformQueues${name}[0-9A-F]{8}$`).test(id))!;
      expect(queue.Properties.RedrivePolicy.maxReceiveCount).toBe(MAX_RECEIVE_COUNT);
      expect(queue.Properties.VisibilityTimeout).toBe(visibilityTimeoutSeconds(name));
      const longest = Math.max(...Object.values(TASK_TYPES).filter((s) => s.queue === name).map((s) => s.timeoutSeconds));
      expect(queue.Properties.VisibilityTimeout).toBeGreaterThan(longest);
    }
    const policies = resources(t, "AWS::SQS::QueuePolicy").filter(([id]) => id.startsWith("TaskPlatformQueues"));
    expect(policies).toHaveLength(4);
    for (const [, p] of policies) expect(p.Properties.PolicyDocument.Statement).toEqual(expect.arrayContaining([expect.objectContaining({ Effect: "Deny", Condition: { Bool: { "aws:SecureTransport": "false" } } })]));
  });

  it("GIVEN the task table THEN it is on demand, with point-in-time recovery, TTL on expiresAt and the status index", async () => {
    (await template()).hasResourceProperties("AWS::DynamoDB::Table", {
      BillingMode: "PAY_PER_REQUEST",
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      TimeToLiveSpecification: { AttributeName: "expiresAt", Enabled: true },
      GlobalSecondaryIndexes: [Match.objectLike({ IndexName: STATUS_INDEX.name, KeySchema: [{ AttributeName: "status", KeyType: "HASH" }, { AttributeName: "updatedAt", KeyType: "RANGE" }] })],
    });
  });

  it("GIVEN the GPU capacity THEN an Auto Scaling group from 0 of the ECS GPU AMI (x86_64), IMDSv2 with hop limit 1 and a public IP, behind a managed-scaling capacity provider without termination protection", async () => {
    const t = await template();
    const [, lt] = resources(t, "AWS::EC2::LaunchTemplate").find(([id]) => id.startsWith("TaskPlatformGpu"))!;
    const data = lt.Properties.LaunchTemplateData;
    expect(data.InstanceType).toBe("g4dn.xlarge");
    expect(data.MetadataOptions).toMatchObject({ HttpTokens: "required", HttpPutResponseHopLimit: 1 });
    expect(data.NetworkInterfaces[0].AssociatePublicIpAddress).toBe(true);
    expect(data.BlockDeviceMappings[0].Ebs).toMatchObject({ Encrypted: true });
    // Joins the cluster; containers (bridge mode) cannot reach the instance metadata, so not the instance role.
    const userData = JSON.stringify(data.UserData);
    expect(userData).toContain("ECS_CLUSTER=");
    expect(userData).toContain("--in-interface docker+ --destination 169.254.169.254/32 --jump DROP");
    const parameter = data.ImageId.Ref as string;
    expect(t.toJSON().Parameters[parameter].Default).toBe("/aws/service/ecs/optimized-ami/amazon-linux-2023/gpu/recommended/image_id");
    t.hasResourceProperties("AWS::AutoScaling::AutoScalingGroup", { MinSize: "0", MaxSize: "2", NewInstancesProtectedFromScaleIn: false });
    t.hasResourceProperties("AWS::ECS::CapacityProvider", {
      AutoScalingGroupProvider: Match.objectLike({ ManagedScaling: Match.objectLike({ Status: "ENABLED", TargetCapacity: 100 }), ManagedTerminationProtection: "DISABLED", ManagedDraining: "ENABLED" }),
    });
    t.hasResourceProperties("AWS::ECS::ClusterCapacityProviderAssociations", { CapacityProviders: Match.arrayWith([Match.objectLike({ Ref: Match.stringLikeRegexp("^TaskPlatformGpuCapacityProvider") })]) });
  });

  it("GIVEN the GPU capacity THEN an alarm pages when an instance stays in service with no task (reservation 0 for 45 minutes)", async () => {
    (await template()).hasResourceProperties("AWS::CloudWatch::Alarm", {
      Namespace: "AWS/ECS/ManagedScaling",
      MetricName: "CapacityProviderReservation",
      ComparisonOperator: "LessThanOrEqualToThreshold",
      Threshold: 0,
      EvaluationPeriods: 9,
      Period: 300,
      TreatMissingData: "notBreaching",
      AlarmActions: [Match.objectLike({ Ref: Match.stringLikeRegexp("^Alerts") })],
    });
  });

  it("GIVEN the task definitions THEN ocr runs on EC2 with one GPU in bridge mode on the CUDA provider, thumbnail on ARM64 Fargate at its tier; both as the non-root user", async () => {
    const t = await template();
    const family = (f: string) => resources(t, "AWS::ECS::TaskDefinition").find(([, r]) => r.Properties.Family.endsWith(f))![1].Properties;
    const ocr = family("-task-ocr-gpu");
    expect(ocr).toMatchObject({ RequiresCompatibilities: ["EC2"], NetworkMode: "bridge" });
    expect(ocr.ContainerDefinitions[0]).toMatchObject({ User: "node", ResourceRequirements: [{ Type: "GPU", Value: "1" }] });
    expect(ocr.ContainerDefinitions[0].Environment).toEqual(expect.arrayContaining([{ Name: "ATLAS_OCR_PROVIDER", Value: "cuda" }, expect.objectContaining({ Name: "TASKS_URI" })]));
    const thumb = family(`-task-thumbnail-${TASK_TYPES.thumbnail.tier}`);
    const tier = tierByName(TASK_TYPES.thumbnail.tier);
    expect(thumb).toMatchObject({ RequiresCompatibilities: ["FARGATE"], RuntimePlatform: { CpuArchitecture: "ARM64" }, Cpu: String(tier.vcpu * 1024), Memory: String(tier.memoryMiB) });
    expect(thumb.ContainerDefinitions[0].User).toBe("node");
  });

  it("GIVEN the task roles THEN each reads only task inputs and writes only task outputs", async () => {
    const t = await template();
    for (const type of ["ocr", "thumbnail"]) {
      const [, policy] = resources(t, "AWS::IAM::Policy").find(([id]) => id.startsWith(`TaskPlatformDefinitions${type}taskroleDefaultPolicy`))!;
      const text = JSON.stringify(policy.Properties.PolicyDocument);
      expect(text).toContain("/tasks/*/input/*");
      expect(text).toContain("/tasks/*/output/*");
      const writes = policy.Properties.PolicyDocument.Statement.filter((s: { Action: string | string[] }) => [s.Action].flat().includes("s3:PutObject"));
      expect(JSON.stringify(writes)).not.toContain("/input/");
    }
  });

  it("GIVEN the HTTP API THEN every route of the handler needs IAM auth, and the stage logs access", async () => {
    const t = await template();
    const routes = resources(t, "AWS::ApiGatewayV2::Route").map(([, r]) => r.Properties);
    expect(routes.map((r) => r.RouteKey).sort()).toEqual(Object.keys(TASK_API_ROUTES).sort());
    for (const r of routes) expect(r.AuthorizationType).toBe("AWS_IAM");
    t.hasResourceProperties("AWS::ApiGatewayV2::Stage", { StageName: "$default", AutoDeploy: true, AccessLogSettings: Match.objectLike({ DestinationArn: Match.anyValue() }) });
    expect(t.toJSON().Outputs.TasksApiUrl).toBeDefined();
  });

  it("GIVEN each queue THEN one pipe from it to its task machine, one message per execution, with the task input template", async () => {
    const t = await template();
    const pipes = resources(t, "AWS::Pipes::Pipe");
    expect(pipes).toHaveLength(2);
    for (const queue of ["gpu", "cpu"]) {
      const [, pipe] = pipes.find(([id]) => id.startsWith(`TaskPlatformPipes${queue}`))!;
      expect(pipe.Properties).toMatchObject({
        DesiredState: "RUNNING",
        Source: { "Fn::GetAtt": [expect.stringMatching(new RegExp(`^TaskPlatformQueues${queue}[0-9A-F]{8}$`)), "Arn"] },
        Target: { Ref: expect.stringMatching(new RegExp(`^tasks${queue}StateMachine`)) },
        SourceParameters: { SqsQueueParameters: { BatchSize: 1 } },
        TargetParameters: { InputTemplate: PIPE_INPUT_TEMPLATE, StepFunctionStateMachineParameters: { InvocationType: "FIRE_AND_FORGET" } },
      });
    }
  });

  it("GIVEN the task machines THEN the claim is a conditional UpdateItem whose failed condition ends a duplicate; GPU tasks launch on the capacity provider without a LaunchType, CPU tasks on ARM64 Fargate", async () => {
    const definitions = await resolvedDefinitions();
    for (const queue of ["gpu", "cpu"] as const) {
      const states = definitions[taskWorkflowName(queue)].States;
      const claim = states["Claim the task"] as { Resource: string; Parameters: Record<string, unknown>; Catch: { ErrorEquals: string[]; Next: string }[] };
      expect(claim.Resource).toBe("arn:aws:states:::dynamodb:updateItem");
      expect(claim.Parameters.ConditionExpression).toBe("#status = :queued OR (#status = :failed AND attribute_not_exists(startedAt)) OR (#status = :running AND runId = :runId)");
      expect(claim.Catch[0]).toEqual({ ErrorEquals: ["DynamoDB.ConditionalCheckFailedException"], ResultPath: null, Next: "Give back the slot (duplicate)" });
      expect((states["Take a slot"] as { Retry: { ErrorEquals: string[]; JitterStrategy?: string }[] }).Retry[0]).toMatchObject({ ErrorEquals: ["DynamoDB.ConditionalCheckFailedException"], JitterStrategy: "FULL" });
    }
    const ocr = definitions[taskWorkflowName("gpu")].States.Ocr as { Resource: string; Parameters: Record<string, unknown> };
    expect(ocr.Resource).toBe("arn:aws:states:::ecs:runTask.sync");
    expect(ocr.Parameters.CapacityProviderStrategy).toEqual([{ CapacityProvider: expect.any(String), Weight: 1 }]);
    expect(ocr.Parameters).not.toHaveProperty("LaunchType");
    expect(ocr.Parameters).not.toHaveProperty("NetworkConfiguration");
    const thumbnail = definitions[taskWorkflowName("cpu")].States.Thumbnail as { Parameters: Record<string, unknown> };
    expect(thumbnail.Parameters).toMatchObject({ LaunchType: "FARGATE", PlatformVersion: "LATEST" });
    expect(thumbnail.Parameters).not.toHaveProperty("CapacityProviderStrategy");
    // The machine's role may run the GPU task definition and write the task table.
    const t = await template();
    const [, gpuPolicy] = resources(t, "AWS::IAM::Policy").find(([id]) => id.startsWith("tasksgpuStateMachineRoleDefaultPolicy"))!;
    const actions = gpuPolicy.Properties.PolicyDocument.Statement.flatMap((st: { Action: string | string[] }) => [st.Action].flat());
    expect(actions).toEqual(expect.arrayContaining(["ecs:RunTask", "dynamodb:UpdateItem", "lambda:InvokeFunction"]));
  });

  it("GIVEN a GPU instance type with no price WHEN configured THEN deploy-time settings refuse it in one line", () => {
    expect(() => readConfig({ ATLAS_GPU_INSTANCE_TYPE: "p5.48xlarge" })).toThrow("ATLAS_GPU_INSTANCE_TYPE 'p5.48xlarge' has no price in lib/aws-pricing.ts");
    expect(readConfig({ ATLAS_GPU_INSTANCE_TYPE: "g5.xlarge", ATLAS_GPU_MAX_INSTANCES: "4" })).toMatchObject({ gpuInstanceType: "g5.xlarge", gpuMaxInstances: 4 });
  });
});

describe("the pipes from the queues to a state machine passed in (a placeholder here)", () => {
  const app = new App();
  const stack = new Stack(app, "PipesTest", { env: { region: "us-east-1", account: "123456789012" } });
  const queues = new TaskQueues(stack, "Queues");
  const machine = new sfn.StateMachine(stack, "Placeholder", { definitionBody: sfn.DefinitionBody.fromChainable(new sfn.Pass(stack, "Pass")) });
  new TaskPipes(stack, "Pipes", { queues: { gpu: queues.queues.gpu.queue, cpu: queues.queues.cpu.queue }, machines: { gpu: machine, cpu: machine } });
  const t = Template.fromStack(stack);

  it("GIVEN each queue THEN one pipe, one message per execution, FIRE_AND_FORGET, with the task input template; its role consumes the queue and starts the machine", () => {
    const pipes = resources(t, "AWS::Pipes::Pipe");
    expect(pipes).toHaveLength(2);
    for (const [, p] of pipes) {
      expect(p.Properties).toMatchObject({
        Source: { "Fn::GetAtt": [expect.stringMatching(/^Queues(gpu|cpu)[0-9A-F]{8}$/), "Arn"] },
        Target: { Ref: expect.stringMatching(/^Placeholder/) },
        SourceParameters: { SqsQueueParameters: { BatchSize: 1, MaximumBatchingWindowInSeconds: 0 } },
        TargetParameters: { InputTemplate: PIPE_INPUT_TEMPLATE, StepFunctionStateMachineParameters: { InvocationType: "FIRE_AND_FORGET" } },
      });
    }
    t.hasResourceProperties("AWS::IAM::Policy", {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Action: Match.arrayWith(["sqs:ReceiveMessage", "sqs:DeleteMessage"]) }), Match.objectLike({ Action: "states:StartExecution", Resource: { Ref: Match.stringLikeRegexp("^Placeholder") } })]) },
    });
  });

  it("GIVEN the synthesized pipe, its tokens resolved WHEN the offline pipe runs it THEN it polls that queue and starts that target", async () => {
    const [[, pipe]] = resources(t, "AWS::Pipes::Pipe").filter(([id]) => id.startsWith("Pipesgpu"));
    const queueId = pipe.Properties.Source["Fn::GetAtt"][0];
    const props: PipeProperties = { ...pipe.Properties, Source: `arn:aws:sqs:us-east-1:000000000000:${queueId}`, Target: "arn:aws:states:us-east-1:123456789012:stateMachine:Placeholder" } as PipeProperties;
    const server = await startEmbeddedSqs();
    const sqs = new SQSClient({ endpoint: server.endpoint, region: "us-east-1", credentials: { accessKeyId: "x", secretAccessKey: "x" } });
    try {
      const url = (await sqs.send(new CreateQueueCommand({ QueueName: queueId }))).QueueUrl!;
      await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: '{"taskId":"t-1"}' }));
      const started = await new Promise<{ target: string; input: unknown }>((resolve) => {
        const poller = startPipePoller({ pipe: props, sqs, waitSeconds: 1, queueUrl: (arn) => (arn.endsWith(`:${queueId}`) ? url : "unknown"), start: async (target, input) => void poller.stop().then(() => resolve({ target, input: JSON.parse(input) })) });
      });
      expect(started).toMatchObject({ target: props.Target, input: { task: { taskId: "t-1" } } });
    } finally {
      sqs.destroy();
      await server.stop();
    }
  });
});
