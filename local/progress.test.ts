import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { ProgressPrinter } from "./progress.ts";

/** The lines a person reads: one per event, no colour outside a terminal, continuation lines under the text. */
const T0 = 1_000_000;
function printed(events: Parameters<ProgressPrinter["handle"]>[0][]): string[] {
  const lines: string[] = [];
  const printer = new ProgressPrinter((l) => lines.push(...l.split("\n")), { color: false, startedAt: T0 });
  events.forEach(printer.handle);
  return lines;
}

describe("the progress printer", () => {
  it("GIVEN a step's output line THEN it is shown prefixed by the execution and the step (tier dropped)", () => {
    expect(printed([{ kind: "log", execution: "andorra-2021-06", time: T0 + 1500, state: "Extract (small)", line: "[extract] kept 111 nodes" }])).toEqual([
      "00:01.5        [andorra-2021-06] Extract | [extract] kept 111 nodes",
    ]);
  });

  it("GIVEN a heartbeat THEN one line gives the elapsed time and the memory now", () => {
    expect(printed([{ kind: "heartbeat", execution: "andorra-2021-06", time: T0 + 20_000, state: "Extract (small)", elapsedMs: 20_000, rssBytes: 312 * 2 ** 20 }])).toEqual([
      "00:20.0    … [andorra-2021-06] Extract (small) running for 20.0 s, 312 MiB in memory now",
    ]);
    // Before the first memory sample: no made-up 0 MiB.
    expect(printed([{ kind: "heartbeat", execution: "a", time: T0 + 1000, state: "Plan", elapsedMs: 1000, rssBytes: 0 }])).toEqual(["00:01.0    … [a] Plan running for 1.00 s"]);
  });

  it("GIVEN a failed attempt with a log file THEN the next line says where the log is (relative below the working directory)", () => {
    const inside = path.join(process.cwd(), ".data", "runs", "r1", "logs", "a", "extract-1.log");
    const outside = "/elsewhere/runs/r1/logs/a/extract-1.log";
    expect(
      printed([
        { kind: "state-failed", execution: "a", time: T0, state: "Extract (small)", type: "Task", error: "bad data (exit 65)", logFile: inside },
        { kind: "state-failed", execution: "a", time: T0, state: "Extract (small)", type: "Task", error: "bad data (exit 65)", logFile: outside },
        { kind: "state-failed", execution: "a", time: T0, state: "Plan", type: "Task", error: "InvalidInputError: no" },
      ]),
    ).toEqual([
      "00:00.0    ✗ [a] Extract (small) failed: bad data (exit 65)",
      "               log: .data/runs/r1/logs/a/extract-1.log",
      "00:00.0    ✗ [a] Extract (small) failed: bad data (exit 65)",
      `               log: ${outside}`,
      "00:00.0    ✗ [a] Plan failed: InvalidInputError: no",
    ]);
  });
});
