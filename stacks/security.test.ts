import { App, Aspects, Stack } from "aws-cdk-lib";
import { Annotations, Match } from "aws-cdk-lib/assertions";
import * as s3 from "aws-cdk-lib/aws-s3";
import { AwsSolutionsChecks } from "cdk-nag";
import { beforeAll, describe, expect, it } from "vitest";
import { REGION_NAMES } from "../lib/regions.ts";
import { STACK_SUPPRESSIONS } from "./nag.ts";
import { synthesizeOffline } from "./synth-offline.ts";
import { IamEvaluator, type Session } from "./testing/iam-evaluator.ts";

type Resource = { Type: string; Properties: Record<string, any> };

async function synthesized() {
  const { stack, template } = await synthesizeOffline("deploy", "security");
  return { stack, resources: template.toJSON().Resources as Record<string, Resource> };
}

describe("cdk-nag (AwsSolutions pack) on the synthesized stack", () => {
  it("GIVEN the app's stack WHEN checked THEN there are no unsuppressed errors or warnings", async () => {
    const { stack } = await synthesized();
    const findings = [
      ...Annotations.fromStack(stack).findError("*", Match.stringLikeRegexp("AwsSolutions-.*")),
      ...Annotations.fromStack(stack).findWarning("*", Match.stringLikeRegexp("AwsSolutions-.*")),
    ];
    expect(findings.map((f) => `${f.id}: ${String(f.entry.data).slice(0, 120)}`)).toEqual([]);
  });

  it("GIVEN the suppressions WHEN read THEN each one gives a real reason", () => {
    expect(STACK_SUPPRESSIONS.length).toBeGreaterThan(0);
    for (const s of STACK_SUPPRESSIONS) expect(s.reason.length, s.id).toBeGreaterThan(60);
  });

  it("GIVEN a bucket without encryption, logs or TLS WHEN checked THEN the pack reports it (the checks really run)", () => {
    const stack = new Stack(new App(), "Bad");
    new s3.Bucket(stack, "Leaky", { encryption: s3.BucketEncryption.UNENCRYPTED });
    Aspects.of(stack).add(new AwsSolutionsChecks());
    const errors = Annotations.fromStack(stack).findError("*", Match.stringLikeRegexp("AwsSolutions-S(1|10)"));
    expect(errors.length).toBeGreaterThanOrEqual(2);
  });
});

describe("least privilege in the synthesized stack", () => {
  const policiesOf = (resources: Record<string, Resource>, rolePrefix: string) =>
    Object.entries(resources)
      .filter(([, r]) => r.Type === "AWS::IAM::Policy")
      .filter(([, r]) => (r.Properties.Roles as { Ref: string }[]).some((role) => role.Ref.startsWith(rolePrefix)))
      .flatMap(([, r]) => r.Properties.PolicyDocument.Statement as Record<string, any>[]);

  /** `{"Fn::Join": ["", [{"Fn::GetAtt": ["DataBucket…", "Arn"]}, "/raw/iceland/*"]]}` → `/raw/iceland/*`. */
  const objectPattern = (resource: unknown): string | undefined => {
    const join = (resource as { "Fn::Join"?: [string, unknown[]] })["Fn::Join"];
    const parts = join?.[1];
    const first = parts?.[0] as { "Fn::GetAtt"?: [string, string] } | undefined;
    return first?.["Fn::GetAtt"]?.[0].startsWith("Data") ? String(parts![1]) : undefined;
  };

  it("GIVEN the ski-atlas task role THEN it writes only under its regions' raw/, staging/ and published prefixes", async () => {
    const { resources } = await synthesized();
    const statements = policiesOf(resources, "Tasksskiatlastaskrole");
    const writes = statements.filter((s) => [s.Action].flat().includes("s3:PutObject"));
    expect(writes.length).toBeGreaterThan(0);
    const allowed = new Set(REGION_NAMES.flatMap((r) => [`/raw/${r}/*`, `/staging/${r}/*`, `/${r}/*`]));
    for (const s of writes) {
      for (const resource of [s.Resource].flat()) expect(allowed, JSON.stringify(resource)).toContain(objectPattern(resource));
    }
  });

  it("GIVEN every S3 grant of every role THEN no action is a wildcard and no object resource is the whole bucket", async () => {
    const { resources } = await synthesized();
    const statements = Object.values(resources)
      .filter((r) => r.Type === "AWS::IAM::Policy")
      .flatMap((r) => r.Properties.PolicyDocument.Statement as Record<string, any>[]);
    const s3Statements = statements.filter((s) => [s.Action].flat().some((a: string) => a.startsWith("s3:")));
    expect(s3Statements.length).toBeGreaterThan(0);
    for (const s of s3Statements) {
      for (const action of [s.Action].flat()) expect(action).not.toMatch(/\*/);
      for (const resource of [s.Resource].flat()) {
        expect(resource).not.toBe("*");
        const p = objectPattern(resource);
        if (p !== undefined) expect(p).not.toBe("/*");
      }
    }
  });

  it("GIVEN the helper functions THEN only Notify may publish to SNS and only Metrics may put metrics", async () => {
    const { resources } = await synthesized();
    const byRole = (prefix: string) => policiesOf(resources, prefix).flatMap((s) => [s.Action].flat());
    for (const fn of ["Functionsplan", "Functionssummarize", "Functionsplanmonth"]) {
      expect(byRole(fn), fn).not.toContain("sns:Publish");
      expect(byRole(fn), fn).not.toContain("cloudwatch:PutMetricData");
    }
    expect(byRole("Functionsnotify")).toContain("sns:Publish");
    expect(byRole("Functionsmetrics")).toContain("cloudwatch:PutMetricData");
  });

  it("GIVEN the bucket policy THEN requests without TLS are denied", async () => {
    const { resources } = await synthesized();
    const policies = Object.values(resources).filter((r) => r.Type === "AWS::S3::BucketPolicy");
    expect(policies.length).toBeGreaterThanOrEqual(1);
    for (const p of policies) {
      expect(p.Properties.PolicyDocument.Statement).toContainEqual(
        expect.objectContaining({ Effect: "Deny", Action: "s3:*", Condition: { Bool: { "aws:SecureTransport": "false" } } }),
      );
    }
  });

  it("GIVEN every container definition THEN it runs as the non-root user", async () => {
    const { resources } = await synthesized();
    const containers = Object.values(resources)
      .filter((r) => r.Type === "AWS::ECS::TaskDefinition")
      .flatMap((r) => r.Properties.ContainerDefinitions as Record<string, any>[]);
    expect(containers.length).toBeGreaterThan(0);
    for (const c of containers) expect(c.User, c.Name).toBe("node");
  });

  it("GIVEN every function and container environment THEN no variable carries a secret", async () => {
    const { resources } = await synthesized();
    const envs = Object.values(resources).flatMap((r) => [
      ...(r.Type === "AWS::Lambda::Function" ? Object.entries(r.Properties.Environment?.Variables ?? {}) : []),
      ...(r.Type === "AWS::ECS::TaskDefinition"
        ? (r.Properties.ContainerDefinitions as { Environment?: { Name: string; Value: unknown }[] }[]).flatMap((c) =>
            (c.Environment ?? []).map((e) => [e.Name, e.Value] as [string, unknown]),
          )
        : []),
    ]);
    expect(envs.length).toBeGreaterThan(0);
    for (const [name, value] of envs) {
      expect(name).not.toMatch(/SECRET|PASSWORD|TOKEN|PRIVATE|ACCESS_KEY/i);
      expect(JSON.stringify(value)).not.toMatch(/AKIA[0-9A-Z]{16}/);
    }
  });
});

/**
 * The grader's isolation, shown on the synthesized template by a policy evaluation (stacks/testing/iam-evaluator.ts,
 * AWS's evaluation rules over the template's own policy documents). The task's code is assumed hostile: it skips
 * every check, passes no session policy, and asks for another exam's answer key in every way open to it. Only a
 * session the state machine started, tagged with the run's exam and run id, reaches anything, and only that exam's
 * folder (read) and that run's prefix (write).
 */
describe("the grader's isolation, by policy evaluation", () => {
  let iam: IamEvaluator;
  let bucket: string;
  const roles: Record<"task" | "run" | "machine" | "otherMachine", string> = { task: "", run: "", machine: "", otherMachine: "" };
  const examKey = (exam: string, rest: string) => `jobs/grader/exams/${exam}/${rest}`;
  const get = (principal: Session, key: string) => iam.evaluate({ principal, action: "s3:GetObject", resource: iam.objectArn(bucket, key) });
  const put = (principal: Session, key: string) => iam.evaluate({ principal, action: "s3:PutObject", resource: iam.objectArn(bucket, key) });
  const list = (principal: Session, prefix: string) => iam.evaluate({ principal, action: "s3:ListBucket", resource: iam.bucketArn(bucket), context: { "s3:prefix": prefix } });
  /** The session run A's attempt gets: the state machine assumes the run role with the run's tags. */
  const runA = () => {
    const { session, why } = iam.assumeRole({ role: roles.machine }, roles.run, { tenant: "exam-a", runId: "r1" });
    expect(session, why).toBeDefined();
    return session!;
  };

  beforeAll(async () => {
    const { resources } = await synthesized();
    iam = new IamEvaluator(resources);
    const one = (pattern: RegExp) => {
      const found = Object.keys(resources).filter((id) => pattern.test(id) && resources[id].Type === "AWS::IAM::Role");
      expect(found, String(pattern)).toHaveLength(1);
      return found[0];
    };
    roles.task = one(/^Tasksgradertaskrole/);
    roles.run = one(/^Tasksgraderrun/i);
    roles.machine = one(/^graderStateMachineRole/);
    roles.otherMachine = one(/^trainingStateMachineRole/);
    bucket = Object.keys(resources).find((id) => id.startsWith("DataBucket") && resources[id].Type === "AWS::S3::Bucket")!;
  });

  it("GIVEN the task of run A, its code ignoring every check and passing no session policy WHEN it reads exam B's answer key, directly or through the run role (with no tags, or exam B's) THEN every way is denied", () => {
    const task: Session = { role: roles.task };
    const answerKeyB = examKey("exam-b", "config.json");
    expect(get(task, answerKeyB)).toEqual({ allowed: false, why: "no statement allows it (implicit deny)" });
    expect(get(task, examKey("exam-a", "config.json")).allowed).toBe(false);
    expect(list(task, "jobs/grader/exams/").allowed).toBe(false);
    for (const tags of [undefined, { tenant: "exam-b", runId: "r1" }]) {
      const attempt = iam.assumeRole(task, roles.run, tags);
      const reach = attempt.session ? get(attempt.session, answerKeyB) : { allowed: false, why: attempt.why };
      expect(reach, JSON.stringify(tags)).toEqual({ allowed: false, why: "sts:AssumeRole: the role's trust policy does not allow it" });
    }
  });

  it("GIVEN run A's session WHEN it reads, writes and lists THEN only exam A's folder is read and only run r1's prefix written", () => {
    const a = runA();
    expect(get(a, examKey("exam-a", "config.json"))).toEqual({ allowed: true, why: "identity policy (ReadOwnTenant)" });
    expect(get(a, examKey("exam-a", "submissions.jsonl")).allowed).toBe(true);
    expect(put(a, examKey("exam-a", "runs/r1/grades.csv"))).toEqual({ allowed: true, why: "identity policy (WriteOwnRun)" });
    expect(list(a, "jobs/grader/exams/exam-a/runs/")).toEqual({ allowed: true, why: "identity policy (ListOwnTenant)" });
    // Another exam's answer key, another run's prefix, its own exam's config: all denied.
    expect(get(a, examKey("exam-b", "config.json"))).toEqual({ allowed: false, why: "no statement allows it (implicit deny)" });
    expect(get(a, examKey("exam-a-2", "config.json")).allowed).toBe(false); // a prefix of another exam's name
    expect(put(a, examKey("exam-a", "runs/r2/grades.csv")).allowed).toBe(false);
    expect(put(a, examKey("exam-a", "config.json")).allowed).toBe(false);
    expect(put(a, examKey("exam-b", "runs/r1/grades.csv")).allowed).toBe(false);
    expect(iam.evaluate({ principal: a, action: "s3:DeleteObject", resource: iam.objectArn(bucket, examKey("exam-b", "runs/r1/manifest.json")) }).allowed).toBe(false);
    expect(list(a, "jobs/grader/exams/exam-b/").allowed).toBe(false);
    expect(list(a, "jobs/grader/exams/").allowed).toBe(false);
    expect(get(a, "jobs/training/config.json").allowed).toBe(false);
  });

  it("GIVEN run A's session WHEN it tries to become run B (assume the run role again with B's tags) THEN it is refused", () => {
    expect(iam.assumeRole(runA(), roles.run, { tenant: "exam-b", runId: "r1" }).why).toBe("sts:AssumeRole: the role's trust policy does not allow it");
  });

  it("GIVEN the grader's state machine WHEN it starts a session without both tags, with an empty one, or with one more THEN the trust policy refuses; another machine cannot at all", () => {
    const machine: Session = { role: roles.machine };
    const refused: Record<string, string>[] = [{}, { tenant: "exam-a" }, { runId: "r1" }, { tenant: "", runId: "r1" }, { tenant: "exam-a", runId: "r1", admin: "yes" }];
    for (const tags of refused) {
      expect(iam.assumeRole(machine, roles.run, tags).session, JSON.stringify(tags)).toBeUndefined();
    }
    expect(iam.assumeRole({ role: roles.otherMachine }, roles.run, { tenant: "exam-a", runId: "r1" }).session).toBeUndefined();
  });

  it("GIVEN a session of the run role without tags (were one to exist) WHEN it reads its exam THEN nothing matches: every statement names a tag", () => {
    expect(get({ role: roles.run }, examKey("exam-a", "config.json")).allowed).toBe(false);
  });

  it("GIVEN run A's session WHEN it reads its own exam without TLS THEN the bucket policy's Deny wins (the evaluator reads resource policies too)", () => {
    const decision = iam.evaluate({ principal: runA(), action: "s3:GetObject", resource: iam.objectArn(bucket, examKey("exam-a", "config.json")), context: { "aws:SecureTransport": "false" } });
    expect(decision.allowed).toBe(false);
    expect(decision.why).toMatch(/^explicit Deny/);
  });

  it("GIVEN every role of the stack WHEN asked to read exam B's answer key or write into its runs THEN only the grader's Plan may read it (it checks the config exists), and no role may write there", () => {
    const readers = iam.roles().filter((role) => get({ role }, examKey("exam-b", "config.json")).allowed);
    expect(readers).toEqual([expect.stringMatching(/^FunctionsplanjobServiceRole/)]);
    const writers = iam.roles().filter((role) => put({ role }, examKey("exam-b", "runs/r9/grades.csv")).allowed);
    expect(writers).toEqual([]);
  });
});
