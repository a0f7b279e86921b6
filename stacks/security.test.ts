import { App, Aspects, Stack } from "aws-cdk-lib";
import { Annotations, Match } from "aws-cdk-lib/assertions";
import * as s3 from "aws-cdk-lib/aws-s3";
import { AwsSolutionsChecks } from "cdk-nag";
import { describe, expect, it } from "vitest";
import { REGION_NAMES } from "../lib/regions.ts";
import { STACK_SUPPRESSIONS } from "./nag.ts";
import { synthesizeOffline } from "./synth-offline.ts";

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
