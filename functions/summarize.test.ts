import { describe, expect, it } from "vitest";
import { ECS_OOM_CAUSE, NESTED_EXECUTION_CAUSE } from "./test-fixtures.ts";
import { handler, summarize } from "./summarize.ts";

const ANDORRA_OUTPUT = { plan: { region: "andorra" }, metrics: { counts: { ski_areas: 3, lifts: 27 }, totalMs: 22_500 } };

describe("summarize", () => {
  it("GIVEN one region succeeded and one failed WHEN summarized THEN the digest is PARTIAL with the failure's cause", () => {
    const out = summarize({
      period: "2026-11",
      results: [
        { region: "andorra", status: "SUCCEEDED", output: ANDORRA_OUTPUT },
        { region: "alps", status: "FAILED", error: { Error: "States.TaskFailed", Cause: NESTED_EXECUTION_CAUSE } },
      ],
    });
    expect(out.status).toBe("PARTIAL");
    expect(out.succeeded).toEqual(["andorra"]);
    expect(out.failed).toEqual([
      {
        region: "alps",
        cause:
          "extract: exit 137 (out of memory); OutOfMemoryError: Container killed due to memory usage; Essential container in task exited",
      },
    ]);
    expect(out.subject).toBe("[atlas] ski-atlas-monthly 2026-11 PARTIAL (1/2 regions ok)");
    expect(out.body).toBe(
      [
        "ski-atlas-monthly 2026-11 PARTIAL: 1 of 2 regions succeeded",
        "",
        "Succeeded:",
        "  andorra: ski_areas 3, lifts 27 (22.5 s)",
        "",
        "Failed:",
        "  alps: extract: exit 137 (out of memory); OutOfMemoryError: Container killed due to memory usage; Essential container in task exited",
      ].join("\n"),
    );
  });

  it("GIVEN all regions succeeded (outputs as JSON strings) WHEN summarized THEN SUCCEEDED with counts", () => {
    const out = summarize({
      period: "2026-11",
      results: [
        { region: "andorra", status: "SUCCEEDED", output: JSON.stringify(ANDORRA_OUTPUT) },
        { region: "iceland", status: "SUCCEEDED", output: { Output: JSON.stringify({ metrics: { counts: { lifts: 5 } } }) } },
      ],
    });
    expect(out.status).toBe("SUCCEEDED");
    expect(out.failed).toEqual([]);
    expect(out.body).toContain("  andorra: ski_areas 3, lifts 27 (22.5 s)");
    expect(out.body).toContain("  iceland: lifts 5");
  });

  it("GIVEN results shaped by the compiled Map (metrics at the top) WHEN summarized THEN counts are read from there", () => {
    const out = summarize({
      period: "2026-11",
      results: [{ name: "andorra-2026-11", region: "andorra", status: "SUCCEEDED", metrics: ANDORRA_OUTPUT.metrics }],
    });
    expect(out.body).toContain("  andorra: ski_areas 3, lifts 27 (22.5 s)");
  });

  it("GIVEN every region failed WHEN summarized THEN FAILED", () => {
    const out = summarize({
      period: "2026-11",
      results: [
        { region: "alps", status: "FAILED", error: { Error: "States.TaskFailed", Cause: ECS_OOM_CAUSE } },
        { region: "iceland", error: { Error: "States.Timeout" } },
      ],
    });
    expect(out.status).toBe("FAILED");
    expect(out.failed.map((f) => f.cause)).toEqual([expect.stringMatching(/^extract: exit 137/), "States.Timeout"]);
  });

  it("GIVEN no results WHEN summarized THEN FAILED: nothing ran", () => {
    expect(summarize({ period: "2026-11", results: [] })).toMatchObject({ status: "FAILED", body: expect.stringContaining("No region ran.") });
  });

  it("GIVEN results that are not a list WHEN summarized THEN InvalidInputError", async () => {
    await expect(handler({ period: "2026-11", results: "nope" as never })).rejects.toMatchObject({ name: "InvalidInputError" });
  });

  it("GIVEN a rerun where andorra was reused, iceland ran attempt -2 and alps is still running WHEN summarized THEN the digest says reused and still running", () => {
    const out = summarize({
      period: "2026-11",
      results: [
        { region: "andorra", name: "andorra-2026-11", status: "SUCCEEDED", started: false },
        { region: "iceland", name: "iceland-2026-11-2", status: "SUCCEEDED", output: ANDORRA_OUTPUT },
        { region: "alps", name: "alps-2026-11", status: "RUNNING", started: false },
      ],
    });
    expect(out.status).toBe("PARTIAL");
    expect(out.succeeded).toEqual(["andorra", "iceland"]);
    expect(out.body).toContain("  andorra: reused andorra-2026-11 (succeeded before; nothing downloaded or published again)");
    expect(out.body).toContain("  iceland: ski_areas 3, lifts 27");
    expect(out.failed).toEqual([{ region: "alps", cause: "alps-2026-11 is still running; not started again" }]);
  });
});
