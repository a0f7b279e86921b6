import { describe, expect, it } from "vitest";
import { buildRecord } from "./record.ts";
import { REDACTED, redactHistory } from "./redact.ts";
import { document, graderHistory, SECRET, SECRETS } from "./testing/grader-history.ts";

describe("credentials in run records", () => {
  it("GIVEN a grader execution's history with its run session WHEN it becomes a record THEN no credential is left anywhere in it", () => {
    const history = graderHistory();
    const record = buildRecord({ id: "r1", source: "aws", workflow: "grader", execution: { name: "exam-1", arn: "arn:x" }, history });
    const text = JSON.stringify(record);
    for (const secret of SECRETS) expect(text.includes(secret), secret.slice(0, 20)).toBe(false);
    // Where they were, they read as redacted; the history given is not changed.
    const grade = record.states.find((v) => v.name === "Grade")!;
    expect((grade.input as typeof document).runSession).toEqual({ AccessKeyId: REDACTED, SecretAccessKey: REDACTED, SessionToken: REDACTED });
    expect(record.error!.cause).toContain(`{"Name":"AWS_SECRET_ACCESS_KEY","Value":"${REDACTED}"}`);
    const failedOutput = record.states.find((v) => v.name === "Failed")!.input as { error: { Cause: string } };
    expect(JSON.parse(failedOutput.error.Cause).Cause).toContain(`{"Name":"AWS_SESSION_TOKEN","Value":"${REDACTED}"}`);
    expect(grade.attempts[0].cause).toBe(`RunTask refused a request carrying ${REDACTED} (Service: AmazonECS)`);
    expect(JSON.stringify(history)).toContain(SECRET);
  });

  it("GIVEN the same history WHEN redacted THEN everything but the credentials is as it was: tiers, other variables, untouched text", () => {
    const history = graderHistory();
    const record = buildRecord({ id: "r1", source: "aws", workflow: "grader", execution: { name: "exam-1", arn: "arn:x" }, history });
    expect(record.states.find((v) => v.name === "Grade")!.attempts.map((a) => [a.number, a.tier, a.error])).toEqual([
      [1, "small", "ECS.AmazonECSException"],
      [2, "small", "States.TaskFailed"],
    ]);
    // The failed step is still found: its attempt's Cause and the execution's are redacted alike.
    expect(record.error).toMatchObject({ state: "Grade", line: expect.stringMatching(/^Grade: exit 75 .*; Essential container in task exited$/) });
    const redacted = redactHistory(history);
    const parameters = JSON.parse(String(redacted[6].taskScheduledEventDetails && (redacted[6].taskScheduledEventDetails as { parameters: string }).parameters));
    expect(parameters.Overrides.ContainerOverrides[0].Environment).toEqual([
      { Name: "RUN_ID", Value: "exam-1" },
      { Name: "ATLAS_TIER", Value: "small" },
      { Name: "AWS_ACCESS_KEY_ID", Value: REDACTED },
      { Name: "AWS_SECRET_ACCESS_KEY", Value: REDACTED },
      { Name: "AWS_SESSION_TOKEN", Value: REDACTED },
    ]);
    // Events without credentials are kept as written: the very same objects.
    expect(redacted[0]).toBe(history[0]);
    expect(redacted[2]).toBe(history[2]);
  });
});
