import { Match, Template } from "aws-cdk-lib/assertions";
import { describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import { PROJECT_ROOT } from "../lib/project-root.ts";
import { TASK_DEFINITION_TIER, TIERS, tierEnvironment, type TierName } from "../workflows/tiers.ts";
import { allWorkflows } from "../workflows/index.ts";
import { containerSteps } from "../workflows/types.ts";
import { readConfig } from "../workflows/config.ts";
import { taskWorkflows } from "../workflows/tasks.ts";

/** Every container image of every registered workflow, and the workflows themselves. */
const WORKFLOWS = allWorkflows();
const CONTAINERS = [...new Set(WORKFLOWS.flatMap((w) => containerSteps(w).map((s) => s.container)))];
/** The task machines (workflows/tasks.ts), one per queue, beside the workflows: each runs its type's task definition. */
const TASK_MACHINES = taskWorkflows(readConfig({}));
const MACHINES = WORKFLOWS.length + TASK_MACHINES.length;
import { synthesizeOffline } from "./synth-offline.ts";
import { latestRunQuery } from "./constructs/OperationsDashboard.ts";
import { metricData, metricSeries } from "../functions/metrics.ts";
import { WEATHER_METRIC_NAMES } from "../containers/weather/publish.ts";

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

  it("has ONE ARM64 Fargate task definition per container, the smallest tier's size, running as a non-root user (each run overrides the size)", async () => {
    const t = await template();
    // Besides these, one per task type (stacks/task-platform.test.ts).
    const workflowTasks = Object.values(t.findResources("AWS::ECS::TaskDefinition")).filter((r) => !/-task-[a-z]+-[a-z]+$/.test(r.Properties.Family));
    expect(workflowTasks).toHaveLength(CONTAINERS.length);
    for (const container of CONTAINERS) {
      t.hasResourceProperties("AWS::ECS::TaskDefinition", {
        Family: Match.stringLikeRegexp(`-${container}$`),
        Cpu: String(TASK_DEFINITION_TIER.vcpu * 1024),
        Memory: String(TASK_DEFINITION_TIER.memoryMiB),
        // Fargate's free 20 GiB; a run on a bigger tier asks for more with RunTask's override (21–200 GiB).
        EphemeralStorage: Match.absent(),
        RuntimePlatform: { CpuArchitecture: "ARM64", OperatingSystemFamily: "LINUX" },
        RequiresCompatibilities: ["FARGATE"],
        ContainerDefinitions: [Match.objectLike({ Name: container, User: "node", Cpu: Match.absent(), Memory: Match.absent(), MemoryReservation: Match.absent() })],
      });
    }
    expect(TIERS.map((t) => [t.vcpu, t.memoryMiB / 1024, t.ephemeralGiB])).toEqual([
      [0.25, 1, 20],
      [1, 2, 20],
      [2, 4, 20],
      [4, 16, 100],
      [8, 32, 200],
    ]);
  });

  it("gives every task the work dir and the deployed commit; the tier's heap, DuckDB limits and name come with each run's override", async () => {
    const t = await template();
    const commit = execFileSync("git", ["rev-parse", "HEAD"], { cwd: PROJECT_ROOT }).toString().trim();
    for (const container of CONTAINERS) {
      const [definition] = Object.values(t.findResources("AWS::ECS::TaskDefinition", { Properties: { Family: Match.stringLikeRegexp(`-${container}$`) } }));
      const env = Object.fromEntries(
        (definition.Properties.ContainerDefinitions[0].Environment as { Name: string; Value: unknown }[]).map((e) => [e.Name, e.Value]),
      );
      expect(env.TMPDIR, container).toBe("/work");
      expect(env.CODE_VERSION).toMatch(new RegExp(`^${commit}(-dirty)?$`));
      for (const name of Object.keys(tierEnvironment(TIERS[0]))) expect(env[name], `${container}: ${name}`).toBeUndefined();
    }
    const expected: Record<TierName, Record<string, string>> = {
      xsmall: { NODE_OPTIONS: "--max-old-space-size=512", ATLAS_DUCKDB_MEMORY_LIMIT: "256MiB", ATLAS_DUCKDB_MAX_TEMP_DIRECTORY_SIZE: "10GiB" },
      small: { NODE_OPTIONS: "--max-old-space-size=1024", ATLAS_DUCKDB_MEMORY_LIMIT: "512MiB", ATLAS_DUCKDB_MAX_TEMP_DIRECTORY_SIZE: "10GiB" },
      medium: { NODE_OPTIONS: "--max-old-space-size=2048", ATLAS_DUCKDB_MEMORY_LIMIT: "1024MiB", ATLAS_DUCKDB_MAX_TEMP_DIRECTORY_SIZE: "10GiB" },
      large: { NODE_OPTIONS: "--max-old-space-size=8192", ATLAS_DUCKDB_MEMORY_LIMIT: "4096MiB", ATLAS_DUCKDB_MAX_TEMP_DIRECTORY_SIZE: "50GiB" },
      xlarge: { NODE_OPTIONS: "--max-old-space-size=16384", ATLAS_DUCKDB_MEMORY_LIMIT: "8192MiB", ATLAS_DUCKDB_MAX_TEMP_DIRECTORY_SIZE: "100GiB" },
    };
    for (const tier of TIERS) expect(tierEnvironment(tier), tier.name).toEqual({ ATLAS_TIER: tier.name, ...expected[tier.name] });
  });

  it("lets each state machine run its containers' one task definition each (RunTask on it, no other)", async () => {
    const t = await template();
    const definitions = Object.keys(t.findResources("AWS::ECS::TaskDefinition"));
    const statements = Object.values(t.findResources("AWS::IAM::Policy"))
      .flatMap((p) => p.Properties.PolicyDocument.Statement as { Action: unknown; Resource: unknown }[])
      .filter((st) => JSON.stringify(st.Action).includes("ecs:RunTask"));
    const referenced = statements.map((st) => [...new Set([...JSON.stringify(st.Resource).matchAll(/"Ref":"([A-Za-z0-9]+)"/g)].map((m) => m[1]))]);
    // ski-atlas, weather, grader, training: one machine each, each running its own container's definition; and each
    // task machine its type's (ocr on the GPU instances, thumbnail on Fargate).
    expect(referenced).toHaveLength(CONTAINERS.length + TASK_MACHINES.length);
    for (const refs of referenced) expect(refs.length === 1 && definitions.includes(refs[0]), JSON.stringify(refs)).toBe(true);
    expect(new Set(referenced.flat()).size).toBe(CONTAINERS.length + TASK_MACHINES.length);
  });

  it("keeps container and state machine logs for three months", async () => {
    const t = await template();
    const groups = Object.values(t.findResources("AWS::Logs::LogGroup"));
    expect(groups.length).toBeGreaterThanOrEqual(3);
    for (const g of groups) expect(g.Properties.RetentionInDays).toBeGreaterThan(0);
  });

  it("has one state machine per workflow, each with a timeout", async () => {
    const t = await template();
    t.resourceCountIs("AWS::StepFunctions::StateMachine", MACHINES);
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
      expect(Object.keys(alarms), metric).toHaveLength(MACHINES);
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
      ["Functionsmetrics", "Functionsnotify", "Functionsplan", "Functionsplanjob", "Functionsplanmonth", "Functionsplanweather", "Functionssummarize"],
    );
    for (const [, fn] of fns) expect(fn.Properties.Architectures).toEqual(["arm64"]);
  });

  it("GIVEN a monthly rerun looks up earlier attempts WHEN synthesized THEN plan-month gets the region machine's ARN and DescribeExecution on its executions only", async () => {
    const t = await template();
    const [[, planMonth]] = Object.entries(t.findResources("AWS::Lambda::Function")).filter(([id]) => id.startsWith("Functionsplanmonth"));
    expect(planMonth.Properties.Environment.Variables.ATLAS_MACHINE_ARN_SKI_ATLAS).toEqual({ Ref: expect.stringMatching(/^skiatlasStateMachine/) });
    const role = planMonth.Properties.Role["Fn::GetAtt"][0];
    const policies = Object.values(t.findResources("AWS::IAM::Policy")).filter((p) => JSON.stringify(p.Properties.Roles).includes(role));
    const statements = policies.flatMap((p) => p.Properties.PolicyDocument.Statement as { Action: string; Resource: unknown }[]);
    const describe = statements.filter((s) => String(s.Action).startsWith("states:"));
    expect(describe).toHaveLength(1);
    expect(describe[0].Action).toBe("states:DescribeExecution");
    // execution:<the ski-atlas machine's name>:* — never another machine's executions, never '*'.
    expect(JSON.stringify(describe[0].Resource)).toMatch(/:execution:/);
    expect(JSON.stringify(describe[0].Resource)).toMatch(/skiatlasStateMachine/);
    expect(JSON.stringify(describe[0].Resource)).not.toMatch(/skiatlasmonthlyStateMachine/);
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

/**
 * The weather workflow and the container jobs (issue 7): their schedules, alarms, dashboard rows, task roles and
 * network, as the stacks derive them from the workflow files alone.
 */
describe("AtlasStack: weather, grader and training", () => {
  const template = async (): Promise<Template> => (await synthesizeOffline("deploy", "test-deploy")).template;
  const machineRef = (name: string) => ({ Ref: Match.stringLikeRegexp(`^${name.replaceAll("-", "")}StateMachine`) });

  it("GIVEN the registered workflows WHEN synthesized THEN both schedules exist: monthly ski atlas and daily weather at 02:00 UTC", async () => {
    const t = await template();
    const schedules = Object.values(t.findResources("AWS::Scheduler::Schedule"));
    // And the tasks' dead-letter sweep (functions/dead-lettered-tasks.ts).
    expect(schedules.map((s) => s.Properties.ScheduleExpression).sort()).toEqual(["cron(0 2 * * ? *)", "cron(0 6 1 * ? *)", "rate(5 minutes)"]);
    t.hasResourceProperties("AWS::Scheduler::Schedule", { ScheduleExpression: "cron(0 2 * * ? *)", Target: { Arn: machineRef("weather") } });
  });

  it("GIVEN every workflow's alarms WHEN synthesized THEN each is there, on its own metric, into SNS", async () => {
    const t = await template();
    const alarms = Object.values(t.findResources("AWS::CloudWatch::Alarm"));
    for (const w of WORKFLOWS) {
      for (const a of w.alarms ?? []) {
        const found = alarms.filter(
          (x) =>
            x.Properties.MetricName === a.metric &&
            x.Properties.Namespace === "AtlasPipelines" &&
            JSON.stringify(x.Properties.Dimensions) === JSON.stringify([{ Name: "Workflow", Value: w.name }]),
        );
        expect(found, `${w.name} ${a.id}`).toHaveLength(1);
        expect(found[0].Properties).toMatchObject({ Threshold: a.threshold, ComparisonOperator: "GreaterThanOrEqualToThreshold", Statistic: "Sum" });
        expect(found[0].Properties.AlarmActions).toEqual([{ Ref: expect.stringMatching(/^AlertsTopic/) }]);
      }
    }
    expect(WORKFLOWS.find((w) => w.name === "weather")?.alarms?.map((a) => [a.metric, a.threshold])).toEqual([["IngestionErrors", 1]]);
    // Flagged records are a warning on the dashboard, never a page.
    expect(alarms.filter((x) => x.Properties.MetricName === "QualityWarnings")).toEqual([]);
    const executionAlarms = alarms.filter((x) => x.Properties.Namespace === "AWS/States");
    expect(executionAlarms).toHaveLength(2 * MACHINES);
  });

  /** The dashboard's body as one string, without the layers of JSON escaping (`## weather\nDaily…` reads `## weathernDaily…`). */
  const dashboardBody = (t: Template) => JSON.stringify(Object.values(t.findResources("AWS::CloudWatch::Dashboard"))[0].Properties.DashboardBody).replaceAll("\\", "");

  it("GIVEN the dashboard WHEN synthesized THEN weather's row shows RecordsIngested and IngestionErrors, and every workflow has a row", async () => {
    const body = dashboardBody(await template());
    for (const w of WORKFLOWS) expect(body).toContain(`## ${w.name}n${w.description.slice(0, 10)}`);
    for (const name of ["RecordsIngested", "IngestionErrors", "QualityWarnings"]) expect(body).toContain(`["AtlasPipelines","${name}","Workflow","weather"`);
  });

  it("GIVEN every alarm and dashboard graph on AtlasPipelines WHEN synthesized THEN each watches a series the Metrics helper sends: dimension Workflow alone", async () => {
    const t = await template();
    // What a workflow's runs send, by the helper's own code: RUN_METRICS plus the named metrics its publish reports.
    const named: Record<string, string[]> = { weather: WEATHER_METRIC_NAMES };
    const sent = new Map(
      WORKFLOWS.filter((w) => w.metrics).map((w) => [
        w.name,
        new Set(metricSeries(metricData({ workflow: w.name, status: "FAILED", extraMetrics: (named[w.name] ?? []).map((name) => ({ name, value: 0 })) }, new Date(0)))),
      ]),
    );
    const ours = Object.values(t.findResources("AWS::CloudWatch::Alarm")).filter((a) => a.Properties.Namespace === "AtlasPipelines");
    expect(ours.length).toBeGreaterThan(0);
    for (const a of ours) {
      const workflow = a.Properties.Dimensions.find((d: { Name: string }) => d.Name === "Workflow")?.Value;
      const series = `${a.Properties.MetricName}|${a.Properties.Dimensions.map((d: { Name: string; Value: string }) => `${d.Name}=${d.Value}`).join(",")}`;
      expect(sent.get(workflow)?.has(series), series).toBe(true);
    }
    const graphed = [...dashboardBody(t).matchAll(/\["AtlasPipelines","([^"]+)",((?:"[^"]+",?)*)/g)];
    expect(graphed.length).toBeGreaterThanOrEqual(WORKFLOWS.filter((w) => w.metrics).length);
    for (const [, name, rest] of graphed) {
      const dims = [...rest.matchAll(/"([^"]+)","([^"]+)"/g)].map(([, k, v]) => `${k}=${v}`);
      expect(dims, name).toHaveLength(1);
      const workflow = dims[0].replace("Workflow=", "");
      expect(sent.get(workflow)?.has(`${name}|${dims[0]}`), `${name} ${dims[0]}`).toBe(true);
    }
  });

  it("GIVEN the dashboard and alarms WHEN synthesized THEN RunFailed is graphed as a daily Sum (failures), run counts come from each machine's free AWS/States metrics, and every alarm treats missing data as not breaching", async () => {
    const t = await template();
    // One string per widget: `"metric",…` up to the next widget.
    const widgets = dashboardBody(t).split('{"type":').slice(1);
    const withRunFailed = widgets.filter((w) => w.includes('["AtlasPipelines","RunFailed",'));
    const graphing = WORKFLOWS.filter((w) => w.metrics && (w.dashboardMetrics ?? ["RunFailed"]).includes("RunFailed"));
    expect(withRunFailed).toHaveLength(graphing.length);
    for (const widget of withRunFailed) {
      // A successful run sends no RunFailed point (functions/metrics.ts): its Sum is the failures, never a run count.
      const [, options] = widget.match(/\["AtlasPipelines","RunFailed","Workflow","[^"]+",(\{[^}]*\})\]/)!;
      expect(JSON.parse(options)).toMatchObject({ stat: "Sum", period: 86400 });
      expect(widget).not.toMatch(/"title":"[^"]*(executions|count|number of runs)/i);
    }
    for (const w of WORKFLOWS) {
      const executions = widgets.find((x) => x.includes(`"title":"${w.name}: executions per day"`));
      for (const metric of ["ExecutionsSucceeded", "ExecutionsFailed"]) {
        const machine = `\\{"Ref":"${w.name.replaceAll("-", "")}StateMachine[0-9A-F]{8}"\\}`;
        expect(executions, `${w.name} ${metric}`).toMatch(new RegExp(`\\["AWS/States","${metric}","StateMachineArn","",${machine},"",\\{"period":86400,"stat":"Sum"\\}\\]`));
      }
    }
    // An alarm on a metric a successful run does not send must not fire on the silence.
    const alarms = Object.values(t.findResources("AWS::CloudWatch::Alarm"));
    expect(alarms.length).toBeGreaterThan(0);
    for (const a of alarms) expect(a.Properties.TreatMissingData, a.Properties.AlarmDescription).toBe("notBreaching");
  });

  it("GIVEN the dashboard WHEN synthesized THEN each workflow with a Metrics step has Logs Insights tables of its run-summary lines, in the Metrics function's log group", async () => {
    const t = await template();
    const metricsFn = Object.entries(t.findResources("AWS::Lambda::Function")).find(([id]) => /^Functionsmetrics/.test(id))![0];
    const body = dashboardBody(t);
    for (const w of WORKFLOWS) {
      const filter = `filter type = "run-summary" and workflow = "${w.name}"`;
      expect(body.includes(filter), w.name).toBe(Boolean(w.metrics));
    }
    const logWidgets = body.split(`"type":"log"`).length - 1;
    expect(logWidgets).toBe(2 * WORKFLOWS.filter((w) => w.metrics).length);
    expect(body.split(`"query":"SOURCE '/aws/lambda/",{"Ref":"${metricsFn}"},"' | filter type`).length - 1).toBe(logWidgets);
    // ski-atlas's table: the latest run per region, its counts, and each step's duration and tier (lines joined
    // by the widget with a newline and a pipe; the newline reads `n` once unescaped).
    const skiAtlas = latestRunQuery(WORKFLOWS.find((w) => w.name === "ski-atlas")!).join("n| ");
    expect(body).toContain(skiAtlas);
    for (const column of ["latest(`counts.lifts`)", "latest(`durationsMs.extract`)", "latest(`tiers.analyze`)", "by region_or_run"]) expect(skiAtlas).toContain(column);
  });

  it("GIVEN training WHEN synthesized THEN it runs on 8 vCPU and 32 GB; every image runs as a non-root user", async () => {
    const t = await template();
    const machine = Object.values(t.findResources("AWS::StepFunctions::StateMachine")).find((m) => JSON.stringify(m.Properties.DefinitionString).includes("training"))!;
    const definition = JSON.stringify(machine.Properties.DefinitionString);
    // Plan-job names the job's tier (xlarge) from the workflow; the machine takes its row of the table.
    expect(definition).toContain('\\"tier\\":\\"xlarge\\"');
    expect(definition).toContain("States.ArrayGetItem($.tiers.task");
    for (const c of CONTAINERS) {
      t.hasResourceProperties("AWS::ECS::TaskDefinition", { ContainerDefinitions: [Match.objectLike({ Name: c, User: "node" })] });
    }
  });

  it("GIVEN the isolated grader WHEN synthesized THEN its tasks get the HTTPS-only security group and its role reaches only jobs/grader/", async () => {
    const t = await template();
    const groups = t.findResources("AWS::EC2::SecurityGroup", { Properties: { GroupDescription: Match.stringLikeRegexp("^Isolated") } });
    expect(Object.keys(groups)).toHaveLength(1);
    const [groupId, group] = Object.entries(groups)[0];
    expect(group.Properties.SecurityGroupEgress).toEqual([expect.objectContaining({ CidrIp: "0.0.0.0/0", FromPort: 443, ToPort: 443, IpProtocol: "tcp" })]);
    expect(group.Properties.SecurityGroupIngress).toBeUndefined();

    const machines = t.findResources("AWS::StepFunctions::StateMachine");
    const definitionOf = (name: string) => JSON.stringify(Object.entries(machines).find(([id]) => id.startsWith(`${name}StateMachine`))![1].Properties.DefinitionString);
    expect(definitionOf("grader")).toContain(groupId);
    expect(definitionOf("weather")).not.toContain(groupId);

    // The task role has no permission at all; the run role reaches one exam and one run through the session's tags
    // and trusts only the grader's state machine, with both tags (what that allows: stacks/security.test.ts).
    const roleIdOf = (description: string) => {
      const found = Object.keys(t.findResources("AWS::IAM::Role", { Properties: { Description: Match.stringLikeRegexp(description) } }));
      expect(found, description).toHaveLength(1);
      return found[0];
    };
    const taskRoleId = roleIdOf("^Runs the grader steps");
    const runRoleId = roleIdOf("^Assumed by the state machine for each attempt of a grader run");
    const machineRoleId = Object.keys(t.findResources("AWS::IAM::Role")).find((id) => id.startsWith("graderStateMachineRole"))!;
    const policiesOf = (roleId: string) =>
      Object.values(t.findResources("AWS::IAM::Policy"))
        .filter((p) => JSON.stringify(p.Properties.Roles).includes(`"${roleId}"`))
        .flatMap((p) => p.Properties.PolicyDocument.Statement);
    expect(policiesOf(taskRoleId)).toEqual([]);
    const runRole = t.findResources("AWS::IAM::Role")[runRoleId];
    expect(runRole.Properties.AssumeRolePolicyDocument.Statement).toEqual([
      expect.objectContaining({
        Action: ["sts:AssumeRole", "sts:TagSession"],
        Condition: {
          ArnEquals: { "aws:PrincipalArn": [{ "Fn::GetAtt": [machineRoleId, "Arn"] }] },
          StringLike: { "aws:RequestTag/tenant": "?*", "aws:RequestTag/runId": "?*" },
          "ForAllValues:StringEquals": { "aws:TagKeys": ["tenant", "runId"] },
        },
      }),
    ]);
    expect(runRole.Properties.MaxSessionDuration).toBe(3600);
    const resources = JSON.stringify(policiesOf(runRoleId));
    expect(resources).toContain("/jobs/grader/exams/${aws:PrincipalTag/tenant}/*");
    expect(resources).toContain("/jobs/grader/exams/${aws:PrincipalTag/tenant}/runs/${aws:PrincipalTag/runId}/*");
    // The machine starts the session (with both tags) and hands the task its credentials.
    expect(definitionOf("grader")).toContain(":states:::aws-sdk:sts:assumeRole");
    expect(definitionOf("grader")).toContain('{\\"Name\\":\\"AWS_SESSION_TOKEN\\",\\"Value.$\\":\\"$.runSession.SessionToken\\"}');
    for (const other of ["/raw/*", "/staging/*", "/weather/*", "/jobs/training/*", "/*/20??-??/*", "/jobs/grader/*"]) expect(resources).not.toContain(other);
  });
});
