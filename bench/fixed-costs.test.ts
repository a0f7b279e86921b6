import { readFile } from "node:fs/promises";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "../lib/project-root.ts";
import { fixedCostReport } from "./fixed-costs.ts";

/**
 * The fixed monthly cost was once given twice with different totals (issue 22). docs/COSTS.md now states it once,
 * as `npm run costs:fixed` computes it: a change to the stack that moves the total must move the doc too.
 */
describe("npm run costs:fixed and docs/COSTS.md", () => {
  it("GIVEN the offline-synthesized stack WHEN its fixed monthly costs are counted THEN docs/COSTS.md states that total, once, with that many alarms", async () => {
    const report = await fixedCostReport();
    const doc = await readFile(path.join(PROJECT_ROOT, "docs/COSTS.md"), "utf8");
    const totals = [...doc.matchAll(/^\| \*\*total\*\* \| \| \*\*\$(\d+\.\d\d)\*\* \|$/gm)].map((m) => m[1]);
    expect(totals).toEqual([report.total.toFixed(2)]);
    const alarms = report.lines.find((l) => l.item.startsWith("CloudWatch alarms"))!;
    expect(doc).toMatch(new RegExp(`^\\| CloudWatch alarms [^|]*\\| ${alarms.quantity} \\| \\$${alarms.usd.toFixed(2)} \\|$`, "m"));
  });
});
