import { randomBytes } from "node:crypto";

/**
 * The local stand-in for Step Functions' AWS SDK integration `sts:assumeRole`, which the state machine uses to start a
 * scoped step's session (workflows/run-session.ts). There is no IAM offline: the embedded S3 server takes its one key
 * pair, so the "session" is that key pair with a session token of its own, in AssumeRole's response shape (what the
 * state's ResultSelector reads). The tags and the role are checked only on AWS (stacks/security.test.ts evaluates
 * the policies); locally the grader's own checks apply (containers/grader/isolation.ts).
 */
export const STS_ASSUME_ROLE_RESOURCE = "arn:aws:states:::aws-sdk:sts:assumeRole";

export interface AssumeRoleParameters {
  RoleArn: string;
  RoleSessionName: string;
  DurationSeconds?: number;
  Tags?: { Key: string; Value: string }[];
}

export function localAssumeRole(params: AssumeRoleParameters, baseEnv: Record<string, string>) {
  const seconds = params.DurationSeconds ?? 3600;
  return {
    Credentials: {
      AccessKeyId: baseEnv.AWS_ACCESS_KEY_ID,
      SecretAccessKey: baseEnv.AWS_SECRET_ACCESS_KEY,
      SessionToken: `local-session-${randomBytes(8).toString("hex")}`,
      Expiration: new Date(Date.now() + seconds * 1000).toISOString(),
    },
    AssumedRoleUser: {
      AssumedRoleId: `AROALOCAL:${params.RoleSessionName}`,
      Arn: `${params.RoleArn.replace(":iam::", ":sts::").replace(":role/", ":assumed-role/")}/${params.RoleSessionName}`,
    },
    PackedPolicySize: 0,
  };
}
