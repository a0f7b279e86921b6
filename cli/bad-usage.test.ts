import { spawn } from "node:child_process";
import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT } from "../local/run-local.ts";

/**
 * The real command line (`npm start -- …` runs `node --import tsx cli/main.ts …`) with bad options: each is refused before any
 * run starts, with one `error:` line that names the option and says what to fix, and exit 64. Nothing is run:
 * no run directory appears under .data/runs/.
 */
let scratch: string;
beforeAll(async () => {
  scratch = await mkdtemp(path.join(tmpdir(), "cli-bad-usage-"));
  await writeFile(path.join(scratch, "a-file"), "x");
  await mkdir(path.join(scratch, "a-dir"));
});
afterAll(() => rm(scratch, { recursive: true, force: true }));

function cli(args: string[]): Promise<{ status: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["--import", "tsx", "cli/main.ts", ...args], { cwd: REPO_ROOT, env: { ...process.env, ATLAS_FAULTS: "" }, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("close", (status) => resolve({ status, stderr }));
  });
}

const runsDir = path.join(REPO_ROOT, ".data", "runs");
const runDirs = async () => (await readdir(runsDir).catch(() => [])).sort();

describe("npm start with bad options", () => {
  const cases: [string, () => string[], RegExp][] = [
    ["a run id that climbs out of its prefix (grader)", () => ["grader", "--run-id", "../../x"], /^error: invalid --run-id "\.\.\/\.\.\/x": use 1-80 letters/],
    ["a run id that climbs out of its prefix (weather)", () => ["weather", "--run-id", "../../x"], /^error: --run-id "\.\.\/\.\.\/x" is not a day: use YYYY-MM-DD/],
    ["a missing --config", () => ["grader", "--config", path.join(scratch, "nope.json")], /^error: --config .*nope\.json: no such file or directory/],
    ["--config naming a directory", () => ["grader", "--config", path.join(scratch, "a-dir")], /^error: --config .*a-dir is a directory: pass the file itself/],
    ["a weather --source that is a file", () => ["weather", "--source", path.join(scratch, "a-file")], /^error: --source .*a-file is not a directory/],
    ["--out naming a file", () => ["weather", "--out", path.join(scratch, "a-file")], /^error: --out .*a-file is not a directory/],
    ["--out below a file", () => ["weather", "--out", path.join(scratch, "a-file", "sub")], /^error: --out .*sub(: a part of the path is a file| cannot be created)/],
    // A directory nobody can create files in, root included (sysfs), so the check cannot pass by luck.
    ["--out that cannot be written", () => ["weather", "--out", "/sys/kernel"], /^error: --out \/sys\/kernel is not writable: (permission denied|read-only file system)/],
    // Node's recursive mkdir never returns on /proc: the check must not start one there.
    ["--out in /proc", () => ["weather", "--out", "/proc/atlas-out/x"], /^error: --out \/proc\/atlas-out\/x cannot be created: \/proc takes no new folders/],
    ["a period that has not begun", () => ["ski-atlas", "--period", "3000-01"], /^error: --period: period 3000-01 has not begun/],
    ["a period before the earliest", () => ["ski-atlas", "--period", "1999-01"], /^error: --period: period 1999-01 is before 2005-01/],
    ["a rerun of a run that is not there", () => ["rerun", "no-such-run-here"], /^error: no run 'no-such-run-here' in .* and no execution of that name: npm run runs lists the runs/],
  ];

  it.each(cases)("GIVEN %s WHEN started THEN exit 64 with one line naming the option, before any run", async (_, args, message) => {
    const before = await runDirs();
    const { status, stderr } = await cli(args());
    const errors = stderr.split("\n").filter((l) => l.startsWith("error:"));
    expect(errors, stderr).toHaveLength(1);
    expect(errors[0]).toMatch(message);
    expect(stderr).not.toMatch(/\n\s+at /); // no stack trace
    expect(status).toBe(64);
    expect(await runDirs()).toEqual(before);
  });
});
