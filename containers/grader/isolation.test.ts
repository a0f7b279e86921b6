import { S3Client } from "@aws-sdk/client-s3";
import { AssumeRoleCommand, STSClient } from "@aws-sdk/client-sts";
import { mockClient } from "aws-sdk-client-mock";
import { describe, expect, it } from "vitest";
import { checkScope, scopedS3, sessionPolicy, type RunScope } from "./isolation.ts";

const SCOPE: RunScope = {
  tenantUri: "s3://atlas-data/jobs/grader/exams/math-101/",
  outputUri: "s3://atlas-data/jobs/grader/exams/math-101/runs/r1/",
  runId: "r1",
};
const ROLE = "arn:aws:iam::123456789012:role/atlas-grader-run-role";

describe("the per-run session policy", () => {
  it("GIVEN a run WHEN its session policy is built THEN it reads only its exam, writes only its run prefix and lists only its exam", () => {
    expect(JSON.parse(sessionPolicy(SCOPE))).toEqual({
      Version: "2012-10-17",
      Statement: [
        { Sid: "ReadOwnExam", Effect: "Allow", Action: "s3:GetObject", Resource: "arn:aws:s3:::atlas-data/jobs/grader/exams/math-101/*" },
        {
          Sid: "WriteOwnRun",
          Effect: "Allow",
          Action: ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"],
          Resource: "arn:aws:s3:::atlas-data/jobs/grader/exams/math-101/runs/r1/*",
        },
        { Sid: "ListOwnExam", Effect: "Allow", Action: "s3:ListBucket", Resource: "arn:aws:s3:::atlas-data", Condition: { StringLike: { "s3:prefix": ["jobs/grader/exams/math-101/*"] } } },
      ],
    });
    // AWS caps a packed session policy at 2,048 characters.
    expect(sessionPolicy(SCOPE).length).toBeLessThan(2048);
  });

  it("GIVEN ATLAS_RUN_ROLE_ARN WHEN the run's S3 client is made THEN it assumes that role once, with the session policy, and uses those credentials", async () => {
    const sts = mockClient(STSClient);
    sts.on(AssumeRoleCommand).resolves({ Credentials: { AccessKeyId: "ASIAX", SecretAccessKey: "secret", SessionToken: "token", Expiration: new Date() } });
    const client = new STSClient({ region: "eu-west-1" });
    const own = new S3Client({ region: "eu-west-1" });
    const { s3, scoped } = await scopedS3({ ATLAS_RUN_ROLE_ARN: ROLE, AWS_REGION: "eu-west-1" }, SCOPE, own, client);
    expect(scoped).toBe(true);
    expect(s3).not.toBe(own);
    const calls = sts.commandCalls(AssumeRoleCommand);
    expect(calls).toHaveLength(1);
    expect(calls[0].args[0].input).toEqual({ RoleArn: ROLE, RoleSessionName: "grader-r1", Policy: sessionPolicy(SCOPE), DurationSeconds: 3600 });
    const credentials = await s3.config.credentials();
    expect(credentials).toMatchObject({ accessKeyId: "ASIAX", secretAccessKey: "secret", sessionToken: "token" });
    s3.destroy();
    own.destroy();
    sts.restore();
  });

  it("GIVEN a role in another partition WHEN the policy is built THEN its ARNs use that partition", async () => {
    const sts = mockClient(STSClient);
    sts.on(AssumeRoleCommand).resolves({ Credentials: { AccessKeyId: "a", SecretAccessKey: "b", SessionToken: "c", Expiration: new Date() } });
    const client = new STSClient({ region: "cn-north-1" });
    const { s3 } = await scopedS3({ ATLAS_RUN_ROLE_ARN: "arn:aws-cn:iam::1:role/r" }, SCOPE, new S3Client({}), client);
    expect(sts.commandCalls(AssumeRoleCommand)[0].args[0].input.Policy).toContain("arn:aws-cn:s3:::atlas-data/jobs/grader/exams/math-101/*");
    s3.destroy();
    sts.restore();
  });

  it("GIVEN no run role WHEN not local THEN the step refuses to run with its own credentials (exit 64)", async () => {
    await expect(scopedS3({}, SCOPE, new S3Client({}))).rejects.toMatchObject({ exitCode: 64, message: expect.stringMatching(/ATLAS_RUN_ROLE_ARN/) });
  });
});

describe("checkScope", () => {
  it.each([
    [{ ...SCOPE, tenantUri: "s3://atlas-data/jobs/grader/" }, "s3://atlas-data/jobs/grader/c.json", 64, /not an exam folder/],
    [{ ...SCOPE, outputUri: "s3://atlas-data/jobs/grader/exams/other/runs/r1/" }, "s3://atlas-data/jobs/grader/exams/math-101/c.json", 64, /not this run's prefix/],
    [{ ...SCOPE, runId: "../x" }, "s3://atlas-data/jobs/grader/exams/math-101/c.json", 64, /invalid RUN_ID/],
    [SCOPE, "s3://atlas-data/jobs/grader/exams/other/c.json", 77, /outside this run's exam/],
    [SCOPE, "s3://atlas-data/jobs/grader/exams/math-101/../other/c.json", 77, /outside this run's exam/],
  ])("GIVEN a scope %j and config %s WHEN checked THEN exit %i", (scope, config, exitCode, message) => {
    expect(() => checkScope(scope, config)).toThrow(expect.objectContaining({ exitCode, message: expect.stringMatching(message) }));
  });
});
