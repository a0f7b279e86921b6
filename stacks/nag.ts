import { Aspects, Stack } from "aws-cdk-lib";
import { AwsSolutionsChecks, NagSuppressions, type NagPackSuppression } from "cdk-nag";
import type { IConstruct } from "constructs";
import { NAMESPACE } from "../functions/metrics.ts";

/**
 * cdk-nag's AwsSolutions pack runs on every synthesis (deploys and tests alike), so a finding fails the build
 * instead of waiting for a review. Each suppression below says why the finding does not apply; anything not
 * listed here has been fixed in the construct that caused it.
 */
export function checkWithCdkNag(stack: Stack): void {
  Aspects.of(stack).add(new AwsSolutionsChecks({ verbose: true }));
  NagSuppressions.addStackSuppressions(stack, STACK_SUPPRESSIONS, true);
}

/** A regex `appliesTo` entry, as cdk-nag expects it. */
const pattern = (source: string) => ({ regex: `/${source}/` });

export const STACK_SUPPRESSIONS: NagPackSuppression[] = [
  {
    id: "AwsSolutions-IAM4",
    reason:
      "AWSLambdaBasicExecutionRole only lets a function write its own CloudWatch Logs; it is the managed policy AWS maintains for exactly that.",
    appliesTo: ["Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"],
  },
  {
    id: "AwsSolutions-L1",
    reason:
      "The helpers run on nodejs24.x (stacks/constructs/HelperFunctions.ts). SST v2 writes a placeholder runtime at synthesis and sets the real one when it builds the function; its own deploy-time custom resource is SST's.",
  },
  {
    id: "AwsSolutions-ECS2",
    reason: "The only task-level variables are CODE_VERSION, AWS_REGION and the tier's Node, DuckDB and TMPDIR settings: not secrets. A scoped step's session credentials come per attempt through the RunTask overrides (workflows/run-session.ts), not the task definition. Secrets would come from Secrets Manager.",
  },
  {
    id: "AwsSolutions-IAM5",
    reason:
      "Step Functions' Lambda integration (and EventBridge Scheduler's Lambda target, for the tasks' dead-letter sweep) invokes a function by qualified ARN (`<function>:$LATEST` or a version), so the grant covers the versions of that one function.",
    appliesTo: [pattern("^Resource::<(Functions|TaskPlatformFunctions)[A-Za-z0-9]+\\.Arn>:\\*$")],
  },
  {
    id: "AwsSolutions-IAM5",
    reason:
      "ecs:RunTask on a task definition family must allow every revision (`family:*`): a deploy registers a new revision each time the image changes.",
    appliesTo: [pattern('^Resource::arn:\\{"Fn::Select":\\[1,\\{"Fn::Split":\\[":",\\{"Ref":"(Tasks|TaskPlatformDefinitions)')],
  },
  {
    id: "AwsSolutions-IAM5",
    reason:
      "Nested executions are named at run time ({region}-{period}), so DescribeExecution/StopExecution on the child machine's executions needs `execution:<machine>:*`.",
    appliesTo: [pattern("^Resource::arn:<AWS::Partition>:states:.*:execution:")],
  },
  {
    id: "AwsSolutions-IAM5",
    reason:
      `Actions without resource-level permissions: ecs:DescribeTasks/StopTask for tasks whose ARNs exist only at run time (the .sync integration), X-Ray trace writes, CloudWatch Logs delivery for the state machine's log group, ecr:GetAuthorizationToken, and cloudwatch:PutMetricData (limited to the ${NAMESPACE} namespace by a condition).`,
    appliesTo: ["Resource::*"],
  },
  {
    id: "AwsSolutions-IAM5",
    reason:
      "Object keys under a workflow's own prefixes (raw/, staging/ and published data per region, weather/, jobs/<name>/; for a scoped run role, one tenant's folder and one run's prefix named by the session's tags): the keys are only known at run time, the prefixes are the least privilege (see stacks/constructs/bucket-grants.ts, stacks/constructs/ScopedRunRole.ts).",
    appliesTo: [pattern("^Resource::<Data[A-Za-z0-9]+\\.Arn>/.+\\*")],
  },
];

/** The access-log bucket cannot log to itself. */
export function suppressAccessLogBucketFindings(bucket: IConstruct): void {
  NagSuppressions.addResourceSuppressions(bucket, [
    { id: "AwsSolutions-S1", reason: "This is the access-log bucket of the data bucket; logging it to itself would loop." },
  ]);
}
