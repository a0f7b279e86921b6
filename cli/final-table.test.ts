import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ANDORRA_PBF } from "../lib/data-catalog.ts";
import { dataFile } from "../lib/data-files.ts";
import { RUNS_DIR_ENV } from "../run-records/record.ts";
import { ACCOUNT_DIR_ENV, REPO_ROOT } from "../local/run-local.ts";
import { verifyMain } from "./verify.ts";

/**
 * What the real command line prints at the end of a run, in one scratch account (the Andorra extract standing in
 * for both regions of a fan-out):
 *  1. a fan-out of andorra and liechtenstein;
 *  2. the same month again with `--force liechtenstein`: andorra is reused, liechtenstein runs as its 2nd attempt;
 *  3. andorra by hand with `--out` and `ATLAS_FAULTS=publish:pause3`: the month is unchanged, so publish copies
 *     nothing and the pause can never happen.
 */
let scratch: string;
let andorra: string;
const runs: { code: number | null; stderr: string }[] = [];

function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["--import", "tsx", "cli/main.ts", ...args], {
      cwd: REPO_ROOT,
      env: { ...process.env, ATLAS_FAULTS: "", ATLAS_RETRY_WAIT_MS: "10", NO_COLOR: "1", [RUNS_DIR_ENV]: path.join(scratch, "runs"), [ACCOUNT_DIR_ENV]: path.join(scratch, "account"), ...env },
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("close", (code) => resolve({ code, stderr }));
  });
}

/** The final table's header, then its rows (up to the first line after the table), split into cells. */
function tableRows(stderr: string): string[][] {
  const lines = stderr.split("\n");
  const dashes = lines.findIndex((l) => /^-+( +-+)+$/.test(l));
  const rows: string[][] = [lines[dashes - 1].split(/ {2,}/).map((c) => c.trim())];
  for (const line of lines.slice(dashes + 1)) {
    if (!line.trim() || /^(reused from|published:|files:|counts:|estimated|run directory)/.test(line)) break;
    rows.push(line.split(/ {2,}/).map((c) => c.trim()));
  }
  return rows;
}

beforeAll(async () => {
  scratch = await mkdtemp(path.join(tmpdir(), "cli-final-table-"));
  andorra = await dataFile(ANDORRA_PBF);
  const fanOut = ["ski-atlas-monthly", "--regions", "andorra,liechtenstein", "--sources", `andorra=${andorra},liechtenstein=${andorra}`, "--period", "2021-06"];
  runs.push(await cli(fanOut));
  runs.push(await cli([...fanOut, "--force", "liechtenstein"]));
  runs.push(await cli(["--region", "andorra", "--source", andorra, "--period", "2021-06", "--out", path.join(scratch, "out")], { ATLAS_FAULTS: "publish:pause3" }));
}, 400_000);
afterAll(() => rm(scratch, { recursive: true, force: true }));

describe("the fan-out's final table", () => {
  it("GIVEN a fan-out of two regions WHEN it ends THEN every row names its region, and each item's execution is named in full", () => {
    const { code, stderr } = runs[0];
    expect(code, stderr).toBe(0);
    const rows = tableRows(stderr);
    expect(rows[0]).toEqual(["region", "step", "status", "attempts", "duration", "tier", "peak RSS"]);
    const body = rows.slice(1);
    expect(body.every((r) => ["(all)", "andorra", "liechtenstein"].includes(r[0])), JSON.stringify(body)).toBe(true);
    expect(body.filter((r) => r[1] === "ski-atlas andorra-2021-06" || r[1] === "ski-atlas liechtenstein-2021-06").map((r) => [r[0], r[2]]).sort()).toEqual([
      ["andorra", "succeeded"],
      ["liechtenstein", "succeeded"],
    ]);
    // Each region's own steps, under its name: not two identical rows.
    for (const region of ["andorra", "liechtenstein"]) expect(body.filter((r) => r[0] === region && r[1] === "Publish")).toHaveLength(1);
    expect(stderr).not.toMatch(/^reused from/m);
  });

  it("GIVEN the same month again with one region forced WHEN it ends THEN the other is said to be reused, and the forced one's 2nd attempt is named in full", () => {
    const { code, stderr } = runs[1];
    expect(code, stderr).toBe(0);
    const body = tableRows(stderr).slice(1);
    expect(body).toContainEqual(["andorra", "ski-atlas andorra-2021-06", "reused", "0"]);
    expect(body.find((r) => r[1] === "ski-atlas liechtenstein-2021-06-2")?.slice(0, 3)).toEqual(["liechtenstein", "ski-atlas liechtenstein-2021-06-2", "succeeded"]);
    expect(stderr).toMatch(/^reused from an earlier run \(not run again; --force <region> reruns one\): andorra \(andorra-2021-06, succeeded \d{4}-\d\d-\d\d \d\d:\d\d UTC\)$/m);
  });
});

describe("what a single run says it published", () => {
  it("GIVEN a month published with --out WHEN npm run verify checks the copy THEN the count it says is the count the run printed", async () => {
    const { code, stderr } = runs[2];
    expect(code, stderr).toBe(0);
    const printed = /^published: s3:\/\/\S+ \((\d+) files \+ manifest\.json, embedded S3\)$/m.exec(stderr);
    expect(printed, stderr).not.toBeNull();
    const out: string[] = [];
    const io = { stdout: { write: (t: string) => out.push(t) }, stderr: { write: (t: string) => out.push(t) } };
    expect(await verifyMain([path.join(scratch, "out", "andorra", "2021-06")], process.env, io)).toBe(0);
    expect(out.join("")).toBe(`OK ${printed![1]} files\n`);
  });

  it("GIVEN publish:pause3 on a month that is already published as it is WHEN publish copies nothing THEN the run says the pause did not happen", () => {
    const { stderr } = runs[2];
    expect(stderr).toMatch(/⚡ \[andorra-2021-06-2\] Publish: injected fault pause3/);
    expect(stderr).toMatch(/\[andorra-2021-06-2\] Publish \| \[fault\] pause3 did not fire: publish made fewer than 3 copies \(an unchanged month or day copies nothing\)$/m);
  });
});
