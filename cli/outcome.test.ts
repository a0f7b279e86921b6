import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ACCOUNT_DIR_ENV, REPO_ROOT } from "../local/run-local.ts";
import type { RunRecord } from "../run-records/record.ts";
import { runCli } from "./testing/run-cli.ts";

/**
 * The real command line on a fan-out whose regions fail offline: the headline, the final table, the `--json`
 * record, the record on disk and the exit code all say the same outcome, and the last line names each failed
 * region with its cause and the option that gives it a local source.
 *
 * "Offline" is made certain whatever the machine: a source under `.invalid` (RFC 6761) never resolves, so Plan
 * meets the same ENOTFOUND an offline laptop meets for download.geofabrik.de.
 */
const DATA_DIR = process.env.ATLAS_DATA_DIR ?? path.resolve(REPO_ROOT, "..", "shared", "data");
const ANDORRA = path.join(DATA_DIR, "osm", "andorra-2021-06-22.osm.pbf");
const UNREACHABLE = "https://download.invalid/europe/liechtenstein-latest.osm.pbf";

let scratch: string;
beforeAll(async () => {
  scratch = await mkdtemp(path.join(tmpdir(), "cli-outcome-"));
});
afterAll(() => rm(scratch, { recursive: true, force: true }));

interface CliRun {
  status: number | null;
  stderr: string;
  record: RunRecord;
  lastLine: string;
}

/** `env` names the run's own account (ATLAS_ACCOUNT_DIR): execution names of other runs neither reused nor used up. */
async function cli(args: string[], env: Record<string, string>): Promise<CliRun> {
  const { status, stdout, stderr } = await runCli([...args, "--json"], {
    ...process.env,
    ATLAS_FAULTS: "",
    ATLAS_RETRY_WAIT_MS: "10",
    ATLAS_RUNS_DIR: path.join(scratch, "runs"),
    ATLAS_ALLOWED_SOURCE_HOSTS: "download.invalid",
    NO_COLOR: "1",
    ...env,
  });
  try {
    return { status, stderr, record: JSON.parse(stdout) as RunRecord, lastLine: stderr.trimEnd().split("\n").at(-1) ?? "" };
  } catch (err) {
    throw new Error(`${(err as Error).message}\n${stderr}`);
  }
}

/** The final table's row of a state of one execution: [status, attempts, duration in ms]. */
/** A fan-out's final table row by its region (`(all)` for the fan-out's own states) and state: status, attempts, ms. */
function tableRow(stderr: string, region: string, state: string): [string, number, number] | undefined {
  const cells = stderr.split("\n").map((l) => l.split(/ {2,}/)).find((c) => c[0] === region && c[1] === state);
  const m = cells && /^([\d.]+) (s|min)$/.exec(cells[4] ?? "");
  return m ? [cells[2], Number(cells[3]), Number(m[1]) * (m[2] === "min" ? 60_000 : 1000)] : undefined;
}

async function recordOnDisk(record: RunRecord): Promise<RunRecord> {
  return JSON.parse(await readFile(path.join(record.run_dir!, "run.json"), "utf8")) as RunRecord;
}

describe("npm start -- ski-atlas-monthly: one outcome everywhere", () => {
  it.skipIf(!existsSync(ANDORRA))(
    "GIVEN one region with a local source and one that needs the network WHEN run offline with --out THEN PARTIAL everywhere, exit 1, the last line names the failed region, its cause and --sources, and --out holds the published region",
    async () => {
      const out = path.join(scratch, "out");
      const run = await cli([
        "ski-atlas-monthly",
        "--regions", "andorra,liechtenstein",
        "--period", "2021-06",
        "--sources", `andorra=${ANDORRA},liechtenstein=${UNREACHABLE}`,
        "--out", out,
      ], { [ACCOUNT_DIR_ENV]: path.join(scratch, "account-partial") });
      const { stderr, record } = run;
      expect(run.status, stderr).toBe(1);
      expect(record.status).toBe("PARTIAL");
      expect((await recordOnDisk(record)).status).toBe("PARTIAL");
      expect(stderr).toMatch(new RegExp(`✘ ski-atlas-monthly ${record.execution.name} partial: `));
      expect(stderr).not.toMatch(/✔ ski-atlas-monthly/);
      expect(stderr).toContain(`ski-atlas-monthly ${record.execution.name}: PARTIAL in `);
      // The state that sends the digest is named for it; the digest says PARTIAL too.
      expect(tableRow(stderr, "(all)", "Send digest")?.[0]).toBe("succeeded");
      expect(stderr).toContain("[notify] [atlas] ski-atlas-monthly 2021-06 PARTIAL (1/2 regions ok)");

      expect(run.lastLine).toMatch(/^error: ski-atlas-monthly 2021-06 PARTIAL \(1\/2 regions ok\); failed: liechtenstein: SourceOfflineError: .*download\.invalid does not resolve/);
      expect(run.lastLine).toMatch(/\(liechtenstein needs the network; offline, pass a local copy with --sources liechtenstein=PATH\)$/);
      expect(run.lastLine).not.toContain("andorra:");
      expect(record.error?.line).toMatch(/^ski-atlas-monthly 2021-06 PARTIAL \(1\/2 regions ok\); failed: liechtenstein: SourceOfflineError/);

      // Offline is final: Plan ran once, not five times with "a retry may help".
      expect(tableRow(stderr, "liechtenstein", "Plan")?.slice(0, 2)).toEqual(["caught", 1]);
      expect(stderr).not.toContain("a retry may help");

      // --out: the fan-out's published region, as DIR/region/period/…
      const manifest = JSON.parse(await readFile(path.join(out, "andorra", "2021-06", "manifest.json"), "utf8")) as { files: { name: string }[] };
      for (const f of manifest.files) expect(existsSync(path.join(out, "andorra", "2021-06", f.name)), f.name).toBe(true);
      expect(existsSync(path.join(out, "liechtenstein"))).toBe(false);
      const andorra = record.children.find((c) => c.key_input.region === "andorra")!;
      expect(andorra.status).toBe("SUCCEEDED");
      expect(stderr).toContain(`files: ${path.relative(REPO_ROOT, out)}`);
    },
    300_000,
  );

  it(
    "GIVEN every region failing, Plan throttled twice first WHEN run THEN FAILED everywhere, exit 1, and Plan's retries counted with each attempt timed from its own start",
    async () => {
      const wait = 400;
      const run = await cli(["ski-atlas-monthly", "--regions", "liechtenstein", "--period", "2021-06", "--sources", `liechtenstein=${UNREACHABLE}`], {
        [ACCOUNT_DIR_ENV]: path.join(scratch, "account-failed"),
        ATLAS_FAULTS: "plan:throttle:2",
        ATLAS_RETRY_WAIT_MS: String(wait),
      });
      const { stderr, record } = run;
      expect(run.status, stderr).toBe(1);
      expect(record.status).toBe("FAILED");
      expect((await recordOnDisk(record)).status).toBe("FAILED");
      expect(stderr).toMatch(new RegExp(`✘ ski-atlas-monthly ${record.execution.name} failed: `));
      expect(stderr).toContain(`ski-atlas-monthly ${record.execution.name}: FAILED in `);
      expect(run.lastLine).toMatch(/^error: ski-atlas-monthly 2021-06 FAILED \(0\/1 regions ok\); failed: liechtenstein: SourceOfflineError: .*\(liechtenstein needs the network; offline, pass a local copy with --sources liechtenstein=PATH\)$/);

      // Two throttles (retried), then the offline error (not retried): three attempts.
      expect(record.children.map((c) => [c.name, c.status])).toEqual([["liechtenstein-2021-06", "FAILED"]]);
      const child = JSON.parse(await readFile(path.join(record.run_dir!, "children", "liechtenstein-2021-06", "run.json"), "utf8")) as RunRecord;
      const plan = child.states.find((s) => s.name === "Plan")!;
      expect(plan.attempts.map((a) => a.error)).toEqual(["Lambda.TooManyRequestsException", "Lambda.TooManyRequestsException", "SourceOfflineError"]);
      // Each attempt starts after the wait that followed the one before (not at the state's entry).
      for (let i = 1; i < plan.attempts.length; i++) {
        expect(Date.parse(plan.attempts[i].started_at) - Date.parse(plan.attempts[i - 1].stopped_at!)).toBeGreaterThanOrEqual(wait - 50);
      }
      const row = tableRow(stderr, "liechtenstein", "Plan")!;
      expect(row.slice(0, 2)).toEqual(["caught", 3]);
      // The table's duration is the attempts' own time, so it leaves out the two waits between them.
      const attemptsMs = plan.attempts.reduce((sum, a) => sum + a.duration_ms!, 0);
      expect(row[2]).toBeCloseTo(attemptsMs, -1.5);
      expect(row[2]).toBeLessThanOrEqual(Date.parse(plan.exited_at!) - Date.parse(plan.entered_at) - 2 * (wait - 50));
    },
    300_000,
  );
});
