import { RETRYABLE_EXIT_CODES } from "../lib/exit-codes.ts";
import type { CauseRetryPolicy, ErrorRetryPolicy } from "./types.ts";

/**
 * What the `.sync` ECS integration fails a state with when RunTask answers HTTP 200 with a non-empty `failures`
 * list, which is how Fargate says "Capacity is unavailable at this time" (AWS docs, "Run Amazon ECS or Fargate
 * tasks with Step Functions": "Run a Job or Task Token: If a non-empty Failures field is encountered, the task is
 * failed with an AmazonECS.Unknown error"). Nothing started, so it is a capacity error like the exceptions below.
 */
export const ECS_RUNTASK_FAILURES = "AmazonECS.Unknown";

/**
 * ECS refused to start the task: no Fargate capacity in the zone (RunTask's `failures`, or an exception), RunTask
 * throttled, or a service-side error.
 * Nothing ran and nothing is billed while we wait, and a capacity crunch can last hours, so keep trying for
 * about six hours (20 attempts, 30 s growing to a 30 min ceiling).
 */
export const ECS_CAPACITY_RETRY: ErrorRetryPolicy = {
  kind: "error",
  name: "ecs-capacity",
  errors: [
    ECS_RUNTASK_FAILURES,
    "ECS.AmazonECSException",
    "ECS.ServerException",
    "ECS.ThrottlingException",
    "ECS.LimitExceededException",
  ],
  intervalSeconds: 30,
  maxAttempts: 20,
  backoffRate: 2,
  maxDelaySeconds: 1800,
};

/**
 * The container itself said "try again" (exit 75: source unreachable, S3 5xx, connection dropped), or the
 * task never got going for a reason that clears up on its own (image pull, network interface, Spot reclaim).
 * A few attempts: if the third one fails, a person should look. Bad input (exit 64/65/66/77) never matches.
 */
export const TRANSIENT_TASK_RETRY: CauseRetryPolicy = {
  kind: "cause",
  name: "transient-task-failure",
  causeMatches: [
    // Exit codes stop at 255, so "75" followed by another digit cannot occur.
    ...RETRYABLE_EXIT_CODES.map((code) => `*"ExitCode":${code}*`),
    "*CannotPullContainerError*",
    "*ResourceInitializationError*",
    "*SpotInterruption*",
    "*Timeout waiting for network interface*",
  ],
  waitSeconds: 60,
  maxAttempts: 3,
};

/**
 * Lambda's own transient faults (throttling, a cold-start hiccup, the service). The handler's deliberate errors
 * (`InvalidInputError`, `SourceNotFoundError`) are not listed, so bad input fails at once.
 */
export const LAMBDA_SERVICE_RETRY: ErrorRetryPolicy = {
  kind: "error",
  name: "lambda-service",
  errors: [
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
    "Lambda.ClientExecutionTimeoutException",
  ],
  intervalSeconds: 2,
  maxAttempts: 6,
  backoffRate: 2,
  maxDelaySeconds: 60,
};

/**
 * The source's server did not answer or answered 5xx while Plan read its size: mirrors have bad minutes.
 * `SourceOfflineError` (a local run whose machine cannot resolve or route to the host at all) is deliberately not
 * listed: no wait makes an offline laptop online, and the fix is a local copy as the source.
 */
export const SOURCE_UNAVAILABLE_RETRY: ErrorRetryPolicy = {
  kind: "error",
  name: "source-unavailable",
  errors: ["SourceUnavailableError"],
  intervalSeconds: 30,
  maxAttempts: 4,
  backoffRate: 2,
  maxDelaySeconds: 300,
};

/** A nested execution could not be started (API throttling). Its own failures are caught per item, not retried. */
export const START_EXECUTION_RETRY: ErrorRetryPolicy = {
  kind: "error",
  name: "start-execution-throttled",
  errors: ["StepFunctions.ThrottlingException", "StepFunctions.AWSStepFunctionsException", "StepFunctions.SdkClientException"],
  intervalSeconds: 5,
  maxAttempts: 6,
  backoffRate: 2,
  maxDelaySeconds: 120,
};

/**
 * DynamoDB's own transient errors through Step Functions' DynamoDB integration (throttling, a server error, the
 * client's connection), and a write that did not answer within its state's TimeoutSeconds (States.Timeout: the
 * task workflows' writes are idempotent for the execution that makes them, `countAttempt` aside, which may then
 * count one attempt twice). A failed condition (`DynamoDB.ConditionalCheckFailedException`) or a malformed request
 * is not listed: retrying cannot change either. Found by the 1,000-task load run: a burst on the semaphore's one
 * item kept the offline DynamoDB from answering some writes within 30 s, and those tasks FAILED before they started.
 */
export const DYNAMODB_SERVICE_RETRY: ErrorRetryPolicy = {
  kind: "error",
  name: "dynamodb-service",
  errors: [
    "DynamoDB.ProvisionedThroughputExceededException",
    "DynamoDB.ThrottlingException",
    "DynamoDB.RequestLimitExceeded",
    "DynamoDB.InternalServerErrorException",
    "DynamoDB.SdkClientException",
    "States.Timeout",
  ],
  intervalSeconds: 1,
  maxAttempts: 6,
  backoffRate: 2,
  maxDelaySeconds: 30,
};

/**
 * ECS refused to start a task on demand: RunTask's `failures` (no Fargate capacity; more than 100 tasks waiting
 * for a capacity provider's instances in the cluster) or an exception. Like ECS_CAPACITY_RETRY, but for about 25
 * minutes only (6 attempts, 30 s doubling to a 10 min ceiling): a task's caller is waiting on it, and a task that
 * cannot start for that long is better FAILED with the reason than waiting for hours.
 */
export const TASK_CAPACITY_RETRY: ErrorRetryPolicy = {
  ...ECS_CAPACITY_RETRY,
  name: "task-ecs-capacity",
  maxAttempts: 6,
  maxDelaySeconds: 600,
};

/**
 * A task on demand that stopped without finishing for a reason that is not the task's: it found no capacity in
 * time (a capacity provider's task waits 10 to 30 minutes for an instance, then stops as TaskFailedToStart), its
 * instance went away mid-way (EC2: "Host EC2 (instance …) stopped/terminated"; Fargate: "ECS is performing
 * maintenance on the underlying infrastructure hosting the task"), or the step said "try again" (exit 75, an image
 * pull). Run again twice, counting each attempt; its results are keyed by the task id, so a retry overwrites what a
 * killed attempt left and never adds to it.
 */
export const TASK_INTERRUPTED_RETRY: CauseRetryPolicy = {
  kind: "cause",
  name: "task-interrupted",
  causeMatches: [
    ...RETRYABLE_EXIT_CODES.map((code) => `*"ExitCode":${code}*`),
    "*TaskFailedToStart*",
    "*Host EC2*",
    "*maintenance on the underlying infrastructure*",
    "*CannotPullContainerError*",
    "*ResourceInitializationError*",
  ],
  waitSeconds: 30,
  maxAttempts: 2,
};
