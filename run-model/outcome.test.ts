import { describe, expect, it } from "vitest";
import { summarize } from "../functions/summarize.ts";
import { LAMBDA_INVALID_INPUT_CAUSE, NESTED_EXECUTION_CAUSE } from "../functions/test-fixtures.ts";
import { workflowByName } from "../workflows/index.ts";
import { offlineHint } from "../local/offline-hint.ts";
import { digestFailureLine, digestOf, failedItemsOf, outcomeLine, runOutcome } from "./outcome.ts";

/** The digest Summarize really writes for these region results. */
function digestFor(results: Parameters<typeof summarize>[0]["results"]) {
  return summarize({ period: "2026-11", results });
}
const OFFLINE_CAUSE = JSON.stringify({
  ExecutionArn: "arn:aws:states:local:000000000000:execution:ski-atlas:liechtenstein-2026-11",
  Name: "liechtenstein-2026-11",
  Status: "FAILED",
  Error: "SourceOfflineError",
  Cause: JSON.stringify({ errorType: "SourceOfflineError", errorMessage: "source https://download.geofabrik.de/x.osm.pbf is out of reach" }),
});

describe("runOutcome: what a run came to", () => {
  it("GIVEN a fan-out that Step Functions calls SUCCEEDED WHEN its digest says PARTIAL, FAILED or SUCCEEDED THEN that is the outcome", () => {
    const ok = { region: "andorra", status: "SUCCEEDED" as const };
    const failed = { region: "iceland", status: "FAILED" as const, error: { Error: "States.TaskFailed", Cause: NESTED_EXECUTION_CAUSE } };
    expect(runOutcome("SUCCEEDED", { digest: digestFor([ok, failed]) })).toBe("PARTIAL");
    expect(runOutcome("SUCCEEDED", { digest: digestFor([failed]) })).toBe("FAILED");
    expect(runOutcome("SUCCEEDED", { digest: digestFor([ok]) })).toBe("SUCCEEDED");
  });

  it("GIVEN a run without a digest (or the machine's initial empty one) WHEN asked THEN the execution's own status stands", () => {
    expect(runOutcome("SUCCEEDED", { plan: {} })).toBe("SUCCEEDED");
    expect(runOutcome("FAILED", { digest: {} })).toBe("FAILED");
    expect(runOutcome("ABORTED", undefined)).toBe("ABORTED");
    expect(digestOf({ digest: {} })).toBeUndefined();
  });
});

describe("the line a run ends with", () => {
  it("GIVEN a fan-out with failed items WHEN it ends THEN the line is the digest's subject, then each failed item and its cause", () => {
    const digest = digestFor([
      { region: "andorra", status: "SUCCEEDED" },
      { region: "iceland", status: "FAILED", error: { Error: "States.TaskFailed", Cause: NESTED_EXECUTION_CAUSE } },
      { region: "atlantis", status: "FAILED", error: { Error: "InvalidInputError", Cause: LAMBDA_INVALID_INPUT_CAUSE } },
    ]);
    const line = outcomeLine("SUCCEEDED", { digest }, undefined)!;
    expect(line).toBe(digestFailureLine(digest));
    expect(line).toMatch(/^ski-atlas-monthly 2026-11 PARTIAL \(1\/3 regions ok\); failed: iceland: extract: exit 137 .*; atlantis: InvalidInputError: unknown region "atlantis"/);
    expect(line).not.toContain("\n");
  });

  it("GIVEN a run that succeeded WHEN it ends THEN there is no error line; a failed step's line is kept as it is", () => {
    expect(outcomeLine("SUCCEEDED", { digest: digestFor([{ region: "andorra", status: "SUCCEEDED" }]) }, undefined)).toBeUndefined();
    expect(outcomeLine("FAILED", {}, "Analyze: injected fault (exit 65)")).toBe("Analyze: injected fault (exit 65)");
  });

  it("GIVEN items that failed offline WHEN the hint is asked THEN it names them and the workflow's own local-source option", () => {
    const digest = digestFor([
      { region: "andorra", status: "FAILED", error: { Error: "States.TaskFailed", Cause: OFFLINE_CAUSE } },
      { region: "liechtenstein", status: "FAILED", error: { Error: "States.TaskFailed", Cause: OFFLINE_CAUSE } },
      { region: "iceland", status: "FAILED", error: { Error: "States.TaskFailed", Cause: NESTED_EXECUTION_CAUSE } },
    ]);
    const monthly = workflowByName("ski-atlas-monthly").localSourceOption;
    expect(offlineHint(failedItemsOf(digest), monthly)).toBe(
      "andorra, liechtenstein need the network; offline, pass local copies with --sources andorra=PATH,liechtenstein=PATH",
    );
    const single = workflowByName("ski-atlas").localSourceOption;
    expect(offlineHint([{ item: "andorra", cause: "Plan: SourceOfflineError: …" }], single)).toBe(
      "andorra needs the network; offline, pass a local copy with --source PATH",
    );
    expect(offlineHint(failedItemsOf(digest).slice(2), monthly)).toBeUndefined();
  });
});
