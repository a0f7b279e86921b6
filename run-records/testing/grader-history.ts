import { historyEvent, type HistoryEventRecord } from "../../run-model/history.ts";

/**
 * A grader attempt as Step Functions writes it: the state machine starts the run session (sts:assumeRole), keeps it
 * at `$.runSession`, hands it to the task in RunTask's overrides; RunTask refuses once (its Retry), then the task
 * fails (ECS echoes its overrides in the Cause) and the run fails with it. The values look like STS's (an access key
 * id of 20 characters, a secret of 40, a long token).
 */
export const KEY_ID = "ASIAEXAMPLEKEY123456";
export const SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
export const TOKEN = `IQoJb3JpZ2luX2VjE${"x".repeat(300)}`;
export const SECRETS = [KEY_ID, SECRET, TOKEN];

const session = { AccessKeyId: KEY_ID, SecretAccessKey: SECRET, SessionToken: TOKEN };
const overrides = {
  Cpu: "1024",
  Memory: "2048",
  ContainerOverrides: [
    {
      Name: "grader",
      Command: ["grade"],
      Environment: [
        { Name: "RUN_ID", Value: "exam-1" },
        { Name: "ATLAS_TIER", Value: "small" },
        { Name: "AWS_ACCESS_KEY_ID", Value: KEY_ID },
        { Name: "AWS_SECRET_ACCESS_KEY", Value: SECRET },
        { Name: "AWS_SESSION_TOKEN", Value: TOKEN },
      ],
    },
  ],
};
export const document = { input: { runId: "exam-1" }, plan: { runId: "exam-1", tenant: "job" }, runSession: session };
const failedTask = { StoppedReason: "Essential container in task exited", Containers: [{ ExitCode: 75 }], Overrides: overrides };
// A nested Cause (a fan-out's item that failed): the task's Cause is text inside the execution's.
const nestedCause = JSON.stringify({ Error: "States.TaskFailed", Cause: JSON.stringify(failedTask) });

export function graderHistory(): HistoryEventRecord[] {
  const events: HistoryEventRecord[] = [];
  const add = (type: string, details?: Record<string, unknown>) => events.push(historyEvent(events.length + 1, events.length || undefined, Date.UTC(2026, 11, 1, 6, 0, events.length), type, details));
  const ecs = { resourceType: "ecs", resource: "runTask.sync", region: "eu-west-1" };
  add("ExecutionStarted", { input: '{"runId":"exam-1"}' });
  add("TaskStateEntered", { name: "Grade: start run session", input: JSON.stringify({ plan: document.plan }) });
  add("TaskScheduled", { resourceType: "aws-sdk:sts", resource: "assumeRole", region: "eu-west-1", parameters: '{"RoleArn":"arn:aws:iam::123456789012:role/run","RoleSessionName":"grader-run"}' });
  add("TaskSucceeded", { resourceType: "aws-sdk:sts", resource: "assumeRole", output: JSON.stringify({ Credentials: { ...session, Expiration: "2026-12-01T07:00:00Z" } }) });
  add("TaskStateExited", { name: "Grade: start run session", output: JSON.stringify(document) });
  add("TaskStateEntered", { name: "Grade", input: JSON.stringify(document) });
  add("TaskScheduled", { ...ecs, parameters: JSON.stringify({ Cluster: "c", Overrides: overrides }) });
  // Refused by RunTask (its Retry runs it again), with text quoting the token: plain text, not JSON.
  add("TaskFailed", { ...ecs, error: "ECS.AmazonECSException", cause: `RunTask refused a request carrying ${TOKEN} (Service: AmazonECS)` });
  add("TaskScheduled", { ...ecs, parameters: JSON.stringify({ Cluster: "c", Overrides: overrides }) });
  add("TaskFailed", { ...ecs, error: "States.TaskFailed", cause: JSON.stringify(failedTask) });
  add("TaskStateExited", { name: "Grade", output: JSON.stringify({ ...document, error: { Error: "States.TaskFailed", Cause: nestedCause } }) });
  add("FailStateEntered", { name: "Failed", input: JSON.stringify({ ...document, error: { Error: "States.TaskFailed", Cause: nestedCause } }) });
  add("ExecutionFailed", { error: "States.TaskFailed", cause: JSON.stringify(failedTask) });
  return events;
}
