import { Duration } from "aws-cdk-lib";
import * as iam from "aws-cdk-lib/aws-iam";
import * as sfn from "aws-cdk-lib/aws-stepfunctions";
import * as tasks from "aws-cdk-lib/aws-stepfunctions-tasks";
import type { Construct } from "constructs";
import type { ScopedSession } from "./types.ts";

/**
 * A run's scoped session (`ScopedSession` in workflows/types.ts), started by the state machine before each attempt of
 * the step: `sts:AssumeRole` on the container's run role with the session tags below, through Step Functions' AWS SDK
 * integration. Why the state machine and not the task: AWS evaluates a session as the intersection of the role's
 * policies with the session policy *the caller* passes (IAM, "Policy evaluation logic": session policies), and tags a
 * session with what *the caller* passes (IAM, "Passing session tags in AWS STS"). When the task was the caller, code
 * in it that skipped the session policy (a compromised dependency) got the role's whole reach, every exam's answer
 * key included. The state machine's role is the only principal the run role trusts, and only with both tags; the task
 * gets the resulting credentials, which it cannot re-scope: a session cannot assume the run role again (not trusted),
 * and the role's policy resolves `${aws:PrincipalTag/tenant}` to the tag the state machine set.
 *
 * The price: the credentials pass through the execution's state (its history) and the task's overrides, readable by
 * whoever may read those (`states:GetExecutionHistory`, `ecs:DescribeTasks`), for at most an hour, on that one run's
 * objects. The state machine's own logs leave the execution data out (stacks/constructs/WorkflowMachine.ts).
 */

/** The session tags, by what they hold: the policy of the run role reads them as `${aws:PrincipalTag/<key>}`. */
export const RUN_SESSION_TAG_KEYS = { tenant: "tenant", runId: "runId" } as const;

/** Role chaining (the state machine's own session assumes the run role) caps a session at one hour; an attempt
 * runs 15 minutes at most, and every attempt gets a fresh session. */
export const RUN_SESSION_SECONDS = 3600;

/** Where the state machine keeps an attempt's session credentials (one scoped step per workflow). */
export const RUN_SESSION_PATH = "$.runSession";

/** The container's environment from the session: the AWS SDK's standard variables, so every S3 client takes them. */
export const RUN_SESSION_ENVIRONMENT = {
  AWS_ACCESS_KEY_ID: `${RUN_SESSION_PATH}.AccessKeyId`,
  AWS_SECRET_ACCESS_KEY: `${RUN_SESSION_PATH}.SecretAccessKey`,
  AWS_SESSION_TOKEN: `${RUN_SESSION_PATH}.SessionToken`,
} as const;

/** The Task state that starts the session, its result at RUN_SESSION_PATH. */
export function startRunSession(scope: Construct, stateName: string, session: ScopedSession, runRoleArn: string, container: string): tasks.CallAwsService {
  return new tasks.CallAwsService(scope, stateName, {
    comment: "Starts this attempt's session of the run role, tagged with the run's tenant and id: the task gets only its credentials.",
    service: "sts",
    action: "assumeRole",
    parameters: {
      RoleArn: runRoleArn,
      // Tags, not the session name, say whose run it is (CloudTrail records them with the AssumeRole call).
      RoleSessionName: `${container}-run`,
      DurationSeconds: RUN_SESSION_SECONDS,
      Tags: [
        { Key: RUN_SESSION_TAG_KEYS.tenant, Value: sfn.JsonPath.stringAt(session.tenantPath) },
        { Key: RUN_SESSION_TAG_KEYS.runId, Value: sfn.JsonPath.stringAt(session.runIdPath) },
      ],
    },
    iamResources: [runRoleArn],
    iamAction: "sts:AssumeRole",
    // Passing tags is its own permission (sts:TagSession), on the caller's side as on the role's trust policy.
    additionalIamStatements: [new iam.PolicyStatement({ actions: ["sts:TagSession"], resources: [runRoleArn] })],
    resultSelector: {
      "AccessKeyId.$": "$.Credentials.AccessKeyId",
      "SecretAccessKey.$": "$.Credentials.SecretAccessKey",
      "SessionToken.$": "$.Credentials.SessionToken",
    },
    resultPath: RUN_SESSION_PATH,
    taskTimeout: sfn.Timeout.duration(Duration.seconds(60)),
  });
}
