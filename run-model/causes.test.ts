import { describe, expect, it } from "vitest";
import { describeCause, describeExitCode } from "./causes.ts";
import { ECS_OOM_CAUSE, LAMBDA_INVALID_INPUT_CAUSE, NESTED_EXECUTION_CAUSE } from "../functions/test-fixtures.ts";

describe("describeCause", () => {
  it("GIVEN an ECS task failure WHEN described THEN step, exit code and stopped reason come out", () => {
    const info = describeCause({ Error: "States.TaskFailed", Cause: ECS_OOM_CAUSE });
    expect(info).toMatchObject({ kind: "ecs", step: "extract", exitCode: 137 });
    expect(info.summary).toBe(
      "extract: exit 137 (out of memory); OutOfMemoryError: Container killed due to memory usage; Essential container in task exited",
    );
    expect(info.details).toContain("Failed step: extract");
    expect(info.details).toContain("Container exit code: 137 (out of memory)");
    expect(info.details).toContain("Stopped reason: Essential container in task exited");
  });

  it("GIVEN a Lambda error WHEN described THEN errorType and errorMessage come out, not the trace", () => {
    const info = describeCause({ Error: "InvalidInputError", Cause: LAMBDA_INVALID_INPUT_CAUSE });
    expect(info.kind).toBe("lambda");
    expect(info.summary).toBe('InvalidInputError: unknown region "atlantis"; known regions: andorra, iceland');
    expect(info.details.join("\n")).not.toContain("trace");
    expect(info.details.join("\n")).not.toContain("/var/task");
  });

  it("GIVEN a nested execution failure WHEN described THEN the inner ECS cause is found", () => {
    const info = describeCause({ Error: "States.TaskFailed", Cause: NESTED_EXECUTION_CAUSE });
    expect(info.kind).toBe("execution");
    expect(info.summary).toMatch(/^extract: exit 137 \(out of memory\)/);
    expect(info.details[0]).toBe("Nested execution: alps-2026-11");
  });

  it("GIVEN a timeout with a text cause or none WHEN described THEN the text is shown as is", () => {
    expect(describeCause({ Error: "States.Timeout", Cause: "Task timed out after 3600 seconds" }).summary).toBe(
      "States.Timeout: Task timed out after 3600 seconds",
    );
    expect(describeCause({ Error: "States.Timeout" })).toMatchObject({ kind: "none", summary: "States.Timeout" });
    expect(describeCause(undefined).summary).toBe("Unknown error");
  });

  it("GIVEN a temporary-failure exit WHEN described THEN the exit code meaning is named", () => {
    expect(describeExitCode(75)).toBe("75 (temporary failure)");
    expect(describeExitCode(3)).toBe("3");
  });
});
