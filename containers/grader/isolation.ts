import type { S3Client } from "@aws-sdk/client-s3";
// The STS client of the AWS SDK's own credential providers, already a production dependency (through
// @aws-sdk/client-s3): the public @aws-sdk/client-sts is not in package.json, and no package may be added here.
// Same AssumeRoleCommand, same wire format; swap the import when client-sts becomes a dependency.
import { AssumeRoleCommand, STSClient } from "@aws-sdk/client-sts";
import { EXIT, StepError } from "../../lib/exit-codes.ts";
import { runIdProblem } from "../../lib/run-id.ts";
import { makeS3Client, parseS3Uri } from "../../lib/s3.ts";

/**
 * One grader run's reach: it reads only its own exam's folder (`TENANT_URI`, where its config sits) and writes only
 * its own run prefix (`OUTPUT_URI`, inside the exam's folder). The code checks every URI it is given against this;
 * on AWS, IAM enforces the same: the task role has no bucket access, and the run assumes the run role
 * (`ATLAS_RUN_ROLE_ARN`) with `sessionPolicy(scope)`, so even code that ignored the checks could not reach another
 * exam. Locally (ATLAS_LOCAL=1, no IAM) only the checks apply.
 */
export interface RunScope {
  /** The exam's folder: `s3://bucket/jobs/grader/exams/<exam>/` (a `file://…/` directory locally). */
  tenantUri: string;
  /** The run's output prefix: `<tenantUri>runs/<runId>/`. */
  outputUri: string;
  runId: string;
}

/** A session lasts at most this long: role chaining caps it at one hour, and an attempt's timeout is 15 minutes. */
export const SESSION_SECONDS = 3600;

/** Exit 77 when `uri` is outside the exam: the config pointing at another exam is an access violation, not a typo. */
export function requireInsideExam(uri: string, scope: RunScope, what: string): void {
  if (!isInside(uri, scope.tenantUri)) {
    throw new StepError(`${what} ${uri} is outside this run's exam ${scope.tenantUri}: a grader run reads only its own exam's objects`, EXIT.NO_PERMISSION);
  }
}

function isInside(uri: string, prefix: string): boolean {
  // `..` segments would let a string start with the prefix and still leave it (file:// URLs are resolved).
  return uri.startsWith(prefix) && !uri.slice(prefix.length).split("/").some((s) => s === ".." || s === ".");
}

/** Checks the scope the state machine passed (Plan computed it) before anything is read. Exit 64 when malformed. */
export function checkScope(scope: RunScope, configUri: string): void {
  const problem = runIdProblem(scope.runId, "RUN_ID");
  if (problem) throw new StepError(problem, EXIT.USAGE);
  if (scope.tenantUri.startsWith("s3://")) {
    const exam = /^s3:\/\/[^/]+\/jobs\/grader\/exams\/([^/]+)\/$/.exec(scope.tenantUri)?.[1];
    if (!exam || runIdProblem(exam)) throw new StepError(`TENANT_URI ${scope.tenantUri} is not an exam folder: s3://BUCKET/jobs/grader/exams/<exam>/`, EXIT.USAGE);
  }
  // On S3 the run prefix is inside the exam's folder; locally the exam is a directory and the run prefix in the
  // embedded bucket is named after it.
  const ownRun = scope.tenantUri.startsWith("s3://")
    ? scope.outputUri === `${scope.tenantUri}runs/${scope.runId}/`
    : /^s3:\/\/[^/]+\/jobs\/grader\/exams\/[^/]+\/runs\/[^/]+\/$/.test(scope.outputUri) && scope.outputUri.endsWith(`/runs/${scope.runId}/`);
  if (!ownRun) throw new StepError(`OUTPUT_URI ${scope.outputUri} is not this run's prefix <exam>/runs/${scope.runId}/`, EXIT.USAGE);
  requireInsideExam(configUri, scope, "CONFIG_URI");
}

/**
 * The inline session policy for one run (AWS evaluates a session as the intersection of the role's policies and
 * this): GetObject on the exam's folder, write actions on the run's own prefix only, ListBucket only for prefixes in
 * the exam's folder. The names in it were checked by `checkScope` (no IAM wildcards can sneak in).
 */
export function sessionPolicy(scope: RunScope, partition = "aws"): string {
  const exam = parseS3Uri(scope.tenantUri);
  const out = parseS3Uri(scope.outputUri);
  const objects = (bucket: string, prefix: string) => `arn:${partition}:s3:::${bucket}/${prefix}*`;
  return JSON.stringify({
    Version: "2012-10-17",
    Statement: [
      { Sid: "ReadOwnExam", Effect: "Allow", Action: "s3:GetObject", Resource: objects(exam.bucket, exam.key) },
      {
        Sid: "WriteOwnRun",
        Effect: "Allow",
        Action: ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"],
        Resource: objects(out.bucket, out.key),
      },
      {
        Sid: "ListOwnExam",
        Effect: "Allow",
        Action: "s3:ListBucket",
        Resource: `arn:${partition}:s3:::${exam.bucket}`,
        Condition: { StringLike: { "s3:prefix": [`${exam.key}*`] } },
      },
    ],
  });
}

/**
 * The S3 client of one run. With `ATLAS_RUN_ROLE_ARN` (on AWS): a session of the run role scoped by
 * `sessionPolicy`. Without it: the step's own client, allowed only in local runs (there is no IAM to ask).
 */
export async function scopedS3(env: Record<string, string | undefined>, scope: RunScope, own: S3Client, sts?: STSClient): Promise<{ s3: S3Client; scoped: boolean }> {
  const roleArn = env.ATLAS_RUN_ROLE_ARN?.trim();
  if (!roleArn) {
    if (env.ATLAS_LOCAL === "1") return { s3: own, scoped: false };
    throw new StepError("ATLAS_RUN_ROLE_ARN is not set: the grader reaches S3 only through a session scoped to its run (see containers/grader/README.md)", EXIT.USAGE);
  }
  const partition = roleArn.split(":")[1] || "aws";
  const client = sts ?? new STSClient({ region: env.AWS_REGION ?? "us-east-1" });
  try {
    const out = await client.send(
      new AssumeRoleCommand({
        RoleArn: roleArn,
        // Names the run in CloudTrail. Allowed characters: [\w+=,.@-], at most 64.
        RoleSessionName: `grader-${scope.runId}`.slice(0, 64),
        Policy: sessionPolicy(scope, partition),
        DurationSeconds: SESSION_SECONDS,
      }),
    );
    const c = out.Credentials;
    if (!c?.AccessKeyId || !c.SecretAccessKey || !c.SessionToken) throw new StepError(`AssumeRole of ${roleArn} returned no credentials`, EXIT.TEMP_FAIL);
    return {
      s3: makeS3Client({ ...env, AWS_ACCESS_KEY_ID: c.AccessKeyId, AWS_SECRET_ACCESS_KEY: c.SecretAccessKey, AWS_SESSION_TOKEN: c.SessionToken } as NodeJS.ProcessEnv),
      scoped: true,
    };
  } finally {
    if (!sts) client.destroy();
  }
}
