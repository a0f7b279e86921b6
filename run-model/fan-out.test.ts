import { describe, expect, it } from "vitest";
import { fanOutCounts, fanOutItems, mapOfIteration } from "./fan-out.ts";
import { interpretHistory } from "./interpret.ts";
import { fanOutHistory } from "./testing/fan-out-history.ts";

/** A fan-out's items as the run model reads them from a history shaped as Step Functions writes a Map's iterations. */
describe("a fan-out's items", () => {
  it("GIVEN three regions (one ok, one failed, one reused) WHEN read THEN each item is named, with its execution, outcome and failure", () => {
    const model = interpretHistory(
      fanOutHistory("2026-11", [
        { region: "andorra", outcome: "succeeded" },
        { region: "iceland", outcome: "failed", error: "SourceOfflineError", message: "download.invalid does not resolve" },
        { region: "alps", outcome: "not started", previous: "alps-2026-11" },
      ]).events,
    );
    const items = fanOutItems(model.visits);
    expect(items.map((i) => [i.map, i.iteration, i.region, i.execution, i.started, i.status])).toEqual([
      ["Regions", "Regions[0]", "andorra", "andorra-2026-11", true, "SUCCEEDED"],
      ["Regions", "Regions[1]", "iceland", "iceland-2026-11", true, "FAILED"],
      ["Regions", "Regions[2]", "alps", "alps-2026-11", false, "NOT_STARTED"],
    ]);
    expect(items[1].error?.error).toBe("States.TaskFailed");
    expect(items[1].error?.cause).toContain("SourceOfflineError");
    expect(items[0].error).toBeNull();
    expect(fanOutCounts(items)).toEqual({ RUNNING: 0, SUCCEEDED: 1, FAILED: 1, TIMED_OUT: 0, ABORTED: 0, NOT_STARTED: 1 });
    // The run came to what its digest says, though Step Functions ended it SUCCEEDED.
    expect([model.status, model.outcome]).toEqual(["SUCCEEDED", "PARTIAL"]);
  });

  it("GIVEN an iteration's name as the run model writes it WHEN its Map is asked for THEN the last part's name", () => {
    expect(mapOfIteration("Regions[12]")).toBe("Regions");
    expect(mapOfIteration("Outer[0]/Inner[3]")).toBe("Inner");
    expect(mapOfIteration("Regions")).toBeUndefined();
  });

  it("GIVEN a run with no Map WHEN read THEN it has no items", () => {
    expect(fanOutItems([])).toEqual([]);
  });
});
