import { Match, Template } from "aws-cdk-lib/assertions";
import { describe, expect, it } from "vitest";
import { TIERS } from "../workflows/tiers.ts";
import { synthesizeOffline } from "./synth-offline.ts";

/**
 * Testing decision: the stack is checked with direct assertions on the resources that matter (security,
 * sizes, schedules, alarms). No whole-template snapshot: it would change on every CDK upgrade and prove little.
 */
describe.each(["deploy", "dev"] as const)("AtlasStack synthesized offline in %s mode", (mode) => {
  const template = async (): Promise<Template> => (await synthesizeOffline(mode, `test-${mode}`)).template;

  it("has a private, encrypted, TLS-only bucket that expires raw/ and staging/", async () => {
    const t = await template();
    t.hasResourceProperties("AWS::S3::Bucket", {
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
      BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: "AES256" } }] },
      LifecycleConfiguration: {
        Rules: Match.arrayWith([
          Match.objectLike({ Prefix: "raw/", Status: "Enabled", ExpirationInDays: 45 }),
          Match.objectLike({ Prefix: "staging/", Status: "Enabled", ExpirationInDays: 7 }),
        ]),
      },
    });
    t.hasResourceProperties("AWS::S3::BucketPolicy", {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: "Deny", Condition: { Bool: { "aws:SecureTransport": "false" } } }),
        ]),
      },
    });
  });

  it("has a VPC without NAT gateways, with a free S3 gateway endpoint", async () => {
    const t = await template();
    t.resourceCountIs("AWS::EC2::NatGateway", 0);
    t.hasResourceProperties("AWS::EC2::VPCEndpoint", { VpcEndpointType: "Gateway" });
  });

  it("has one ARM64 Fargate task definition per tier, sized as the tiers say, running as a non-root user", async () => {
    const t = await template();
    t.resourceCountIs("AWS::ECS::TaskDefinition", TIERS.length);
    for (const tier of TIERS) {
      t.hasResourceProperties("AWS::ECS::TaskDefinition", {
        Family: Match.stringLikeRegexp(`-ski-atlas-${tier.name}$`),
        Cpu: String(tier.vcpu * 1024),
        Memory: String(tier.memoryMiB),
        EphemeralStorage: { SizeInGiB: tier.ephemeralGiB },
        RuntimePlatform: { CpuArchitecture: "ARM64", OperatingSystemFamily: "LINUX" },
        RequiresCompatibilities: ["FARGATE"],
        ContainerDefinitions: [Match.objectLike({ Name: "ski-atlas", User: "node" })],
      });
    }
    expect(TIERS.map((t) => [t.vcpu, t.memoryMiB / 1024, t.ephemeralGiB])).toEqual([
      [1, 2, 21],
      [2, 4, 21],
      [4, 16, 100],
      [8, 32, 200],
    ]);
  });

  it("keeps container and state machine logs for three months", async () => {
    const t = await template();
    const groups = Object.values(t.findResources("AWS::Logs::LogGroup"));
    expect(groups.length).toBeGreaterThanOrEqual(3);
    for (const g of groups) expect(g.Properties.RetentionInDays).toBeGreaterThan(0);
  });

  it("has both state machines, each with a timeout", async () => {
    const t = await template();
    t.resourceCountIs("AWS::StepFunctions::StateMachine", 2);
    const machines = Object.values(t.findResources("AWS::StepFunctions::StateMachine"));
    for (const m of machines) expect(JSON.stringify(m.Properties.DefinitionString)).toMatch(/TimeoutSeconds\\":\d+/);
  });

  it("starts the monthly machine at 06:00 UTC on the 1st with EventBridge Scheduler", async () => {
    const t = await template();
    t.hasResourceProperties("AWS::Scheduler::Schedule", {
      ScheduleExpression: "cron(0 6 1 * ? *)",
      Target: { Arn: { Ref: Match.stringLikeRegexp("^skiatlasmonthlyStateMachine") } },
    });
  });

  it("alarms on failed and timed-out executions of each machine, into SNS", async () => {
    const t = await template();
    for (const metric of ["ExecutionsFailed", "ExecutionsTimedOut"]) {
      const alarms = t.findResources("AWS::CloudWatch::Alarm", { Properties: { MetricName: metric, Namespace: "AWS/States" } });
      expect(Object.keys(alarms), metric).toHaveLength(2);
      for (const a of Object.values(alarms)) expect(a.Properties.AlarmActions).toEqual([{ Ref: expect.stringMatching(/^AlertsTopic/) }]);
    }
    t.resourceCountIs("AWS::SNS::Topic", 1);
  });

  it("has a dashboard with a row per workflow", async () => {
    const t = await template();
    const dashboards = Object.values(t.findResources("AWS::CloudWatch::Dashboard"));
    expect(dashboards).toHaveLength(1);
    const body = JSON.stringify(dashboards[0].Properties.DashboardBody);
    expect(body).toContain("## ski-atlas\\\\n");
    expect(body).toContain("## ski-atlas-monthly\\\\n");
  });

  it("creates the helper functions on ARM64", async () => {
    const t = await template();
    const fns = Object.entries(t.findResources("AWS::Lambda::Function")).filter(([id]) => id.startsWith("Functions"));
    expect(fns.map(([id]) => id.replace(/[A-F0-9]{8}$/, "")).sort()).toEqual(
      ["Functionsmetrics", "Functionsnotify", "Functionsplan", "Functionsplanmonth", "Functionssummarize"],
    );
    for (const [, fn] of fns) expect(fn.Properties.Architectures).toEqual(["arm64"]);
  });

  it("lets Notify publish only to its topic and Metrics put metrics only in its namespace", async () => {
    const t = await template();
    t.hasResourceProperties("AWS::IAM::Policy", {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Action: "cloudwatch:PutMetricData", Condition: { StringEquals: { "cloudwatch:namespace": "AtlasPipelines" } } }),
        ]),
      },
    });
    t.hasResourceProperties("AWS::IAM::Policy", {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Action: "sns:Publish", Resource: { Ref: Match.anyValue() } })]) },
    });
  });
});
