import { spawn, type ChildProcess } from "node:child_process";
import { mkdir, readdir, readFile, rm } from "node:fs/promises";
import * as path from "node:path";
import type { Page } from "puppeteer-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT } from "../local/run-local.ts";
import { RUNS_DIR_ENV, type RunRecord } from "../run-records/record.ts";
import { schemaProblems } from "../local/testing/run-record-schema.ts";
import { startConsole, type ConsoleServer } from "./console-server.ts";
import { launchBrowser } from "./testing/browser.ts";
import { smallInputTier, stepState } from "../local/testing/planned-tiers.ts";
import { SKI_ATLAS_SIZED_STEPS } from "../workflows/ski-atlas-sizing.ts";

/**
 * The console in a real browser (Debian's headless chromium), over real local runs of the sample region made by
 * the real command line as child processes: two started at the same moment (one with an injected bad-data
 * failure), and one interrupted with SIGINT while a step runs. The checks are what a person sees on the page.
 */
const CLI = path.join(REPO_ROOT, "cli", "main.ts");
/** Generous bounds: "does not hang", not "is fast" (the machine is shared). */
const RUN_BOUND_MS = 600_000;
const PAGE_BOUND_MS = 60_000;

interface CliRun {
  child: ChildProcess;
  done: Promise<{ code: number | null; stdout: string; stderr: string }>;
}

function startCli(args: string[], runsRoot: string, faults?: string): CliRun {
  const env: NodeJS.ProcessEnv = { ...process.env, [RUNS_DIR_ENV]: runsRoot, ATLAS_RETRY_WAIT_MS: "10", NO_COLOR: "1" };
  delete env.ATLAS_FAULTS;
  if (faults) env.ATLAS_FAULTS = faults;
  const child = spawn(process.execPath, ["--import", "tsx", CLI, ...args], { cwd: REPO_ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (c: Buffer) => (stdout += c.toString()));
  child.stderr!.on("data", (c: Buffer) => (stderr += c.toString()));
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => child.on("close", (code) => resolve({ code, stdout, stderr })));
  return { child, done };
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, boundMs = RUN_BOUND_MS): Promise<T> {
  const end = Date.now() + boundMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error(`gave up waiting: ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function readJson<T>(file: string): Promise<T | undefined> {
  return readFile(file, "utf8").then((t) => JSON.parse(t) as T, () => undefined);
}

let root: string;
let server: ConsoleServer;
let browser: Awaited<ReturnType<typeof launchBrowser>>;
let page: Page;
let succeeded: { code: number | null; record: RunRecord };
let failed: { code: number | null; record: RunRecord; stderr: string };

/**
 * The runs (and the screenshots saved in their folders) stay after the test, for a person to look at; the next
 * test run starts from empty folders.
 */
const TEST_RUNS = path.join(REPO_ROOT, ".data", "test-runs");

beforeAll(async () => {
  root = path.join(TEST_RUNS, "console");
  await rm(root, { recursive: true, force: true });
  await mkdir(root, { recursive: true });
  // Two runs started at the same moment.
  const [ok, bad] = await Promise.all([startCli(["--json"], root).done, startCli(["--json"], root, "analyze:exit65").done]);
  succeeded = { code: ok.code, record: JSON.parse(ok.stdout) };
  failed = { code: bad.code, record: JSON.parse(bad.stdout), stderr: bad.stderr };
  server = await startConsole({ runsRoot: root });
  browser = await launchBrowser();
  page = await browser.browser.newPage();
  page.setDefaultTimeout(PAGE_BOUND_MS);
  await page.setViewport({ width: 1400, height: 1000 });
}, RUN_BOUND_MS + 60_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

async function screenshot(record: RunRecord, name: string): Promise<void> {
  const dir = path.join(record.run_dir!, "screenshots");
  await mkdir(dir, { recursive: true });
  await page.screenshot({ path: path.join(dir, `${name}.png`) as `${string}.png`, fullPage: true });
}

const graphNodes = () =>
  page.$$eval("#graph .node", (nodes) => Object.fromEntries(nodes.map((n) => [n.getAttribute("data-state"), n.getAttribute("data-status")])));

describe("two runs started at the same moment", () => {
  it("GIVEN two runs started at once WHEN they end THEN each has its own folder and record, as --json printed it", async () => {
    expect([succeeded.code, failed.code]).toEqual([0, 1]);
    expect(succeeded.record.id).not.toBe(failed.record.id);
    expect((await readdir(root)).sort()).toEqual([succeeded.record.id, failed.record.id].sort());
    for (const printed of [succeeded.record, failed.record]) {
      expect(schemaProblems(printed)).toEqual([]);
      const onDisk = await readJson<RunRecord>(path.join(root, printed.id, "run.json"));
      expect(onDisk).toEqual(printed);
      expect(printed.run_dir).toBe(path.join(root, printed.id));
    }
    expect([succeeded.record.status, failed.record.status]).toEqual(["SUCCEEDED", "FAILED"]);
  });
});

describe("the run console in a browser", () => {
  it("GIVEN both runs WHEN the list is filtered by status THEN only the failed run is left", async () => {
    await page.goto(server.url);
    await page.waitForSelector("#runs-table tbody tr");
    const rows = () => page.$$eval("#runs-table tbody tr", (trs) => trs.map((tr) => [tr.getAttribute("data-run"), tr.getAttribute("data-status")]));
    expect((await rows()).length).toBe(2);
    await page.select("#filter-status", "FAILED");
    await page.waitForFunction('document.querySelectorAll("#runs-table tbody tr").length === 1');
    expect(await rows()).toEqual([[failed.record.id, "FAILED"]]);
  });

  it("GIVEN the succeeded run WHEN opened THEN the graph, the timeline, the files and the map show what ran and what it published", async () => {
    await page.goto(server.urlFor(succeeded.record.id));
    await page.waitForSelector("#map-counts span[data-layer]");
    const nodes = await graphNodes();
    for (const state of ["Initialize", "Plan", "Download: pick tier", "Download", "Extract", "Analyze", "Publish", "Metrics", "Notify success", "Succeeded"]) {
      expect(nodes[state], state).toBe("SUCCEEDED");
    }
    expect(Object.values(nodes)).not.toContain("FAILED");

    const bars = await page.$$eval("#timeline-svg .bar", (gs) =>
      gs.map((g) => ({ state: g.getAttribute("data-state"), status: g.getAttribute("data-status"), tier: g.getAttribute("data-tier"), peak: g.getAttribute("data-peak") })),
    );
    expect(bars.map((b) => b.state)).toEqual(["Plan", "Download", "Extract", "Analyze", "Publish", "Metrics", "Notify success"]);
    // Each container step's one Task state, its attempt's bar naming the tier it ran on (the sample region's tiers).
    for (const [state, tier] of SKI_ATLAS_SIZED_STEPS.map((step) => [stepState(step), smallInputTier(step)])) {
      const bar = bars.find((b) => b.state === state)!;
      expect(bar.tier, state).toBe(tier);
      expect(Number(bar.peak)).toBeGreaterThan(0);
    }

    const files = await page.$$eval("#files tr[data-file]", (trs) => trs.map((tr) => tr.getAttribute("data-file")));
    expect(files).toEqual(succeeded.record.outputs.files.map((f) => f.name));
    expect(files).toEqual(expect.arrayContaining(["manifest.json", "ski_areas.parquet", "lifts.parquet", "pistes.parquet", "ski_areas_analyzed.csv"]));

    const counts = (succeeded.record.output as { metrics: { counts: Record<string, number> } }).metrics.counts;
    const shown = await page.$$eval("#map-counts span[data-layer]", (spans) => Object.fromEntries(spans.map((s) => [s.getAttribute("data-layer"), Number(s.getAttribute("data-count"))])));
    expect(shown).toEqual({ ski_areas: counts.ski_areas, lifts: counts.lifts, pistes: counts.pistes });
    expect(await page.$$eval("#map .leaflet-overlay-pane path", (ps) => ps.length)).toBeGreaterThanOrEqual(counts.lifts + counts.pistes);
    expect(await page.$eval("table.preview", (t) => Number(t.getAttribute("data-rows")))).toBe(counts.ski_areas);
    await screenshot(succeeded.record, "console-succeeded");
  });

  it("GIVEN the run with an injected bad-data failure WHEN opened THEN the failed state, its Cause and its log are shown", async () => {
    await page.goto(server.urlFor(failed.record.id));
    await page.waitForSelector("#run-error .line");
    expect(await page.$eval("#run-status .status", (s) => s.textContent)).toBe("FAILED");
    expect(await page.$eval("#run-error .line", (p) => p.textContent)).toBe("Analyze: injected fault (exit 65)");
    expect(failed.stderr).toContain("error: Analyze: injected fault (exit 65)");
    expect(await page.$eval("#run-error .cause", (p) => p.textContent)).toContain('"ExitCode": 65');

    const nodes = await graphNodes();
    expect(nodes.Analyze).toBe("CAUGHT");
    expect(nodes["Roll back publish"]).toBe("SUCCEEDED");
    expect(nodes["Notify failure"]).toBe("SUCCEEDED");
    expect(nodes.Failed).toBe("FAILED");
    expect(nodes.Publish).toBeUndefined(); // only the states this run entered…
    await page.click("#show-all");
    await page.waitForSelector('#graph .node[data-state="Publish"]');
    expect((await graphNodes()).Publish).toBe("NOT_RUN"); // …until every state is asked for

    await page.click('#graph .node[data-state="Analyze"]');
    await page.waitForSelector("#state-detail .state-error");
    expect(await page.$eval("#state-detail .state-error", (e) => e.textContent)).toContain('"ExitCode": 65');
    await page.click("#state-detail button.link");
    await page.waitForSelector("#state-detail pre.log");
    expect(await page.$eval("#state-detail pre.log", (e) => e.textContent)).toContain("injected fault (exit 65)");
    const bar = await page.$eval('#timeline-svg .bar[data-state="Analyze"]', (g) => g.getAttribute("data-status"));
    expect(bar).toBe("FAILED");
    await screenshot(failed.record, "console-failed");
  });
});

describe("an interrupted run", () => {
  it("GIVEN a run followed live in the console WHEN it gets SIGINT mid-step THEN it stops every step, says so, exits 130, and shows as ABORTED", async () => {
    const interruptedRoot = path.join(TEST_RUNS, "console-interrupted");
    await rm(interruptedRoot, { recursive: true, force: true });
    await mkdir(interruptedRoot, { recursive: true });
    const live = await startConsole({ runsRoot: interruptedRoot });
    try {
      const run = startCli([], interruptedRoot);
      // Wait until a container step is running (its record says so).
      const record = await until("a running ECS step in the record", async () => {
        const [id] = await readdir(interruptedRoot);
        const r = id ? await readJson<RunRecord>(path.join(interruptedRoot, id, "run.json")) : undefined;
        return r?.states.some((s) => s.status === "RUNNING" && s.attempts.some((a) => a.tier)) ? r : undefined;
      });
      await page.goto(live.urlFor(record.id));
      await page.waitForSelector('body[data-run-status="RUNNING"]');
      const runningStep = record.states.find((s) => s.status === "RUNNING" && s.attempts.some((a) => a.tier))!.name;

      run.child.kill("SIGINT");
      const { code, stderr } = await run.done;
      expect(code).toBe(130);
      const lines = stderr.trim().split("\n");
      const interrupted = lines.filter((l) => l.startsWith("interrupted"));
      expect(interrupted).toHaveLength(1);
      expect(interrupted[0]).toMatch(/^interrupted \(SIGINT\): stopping \d+ steps?…$/);
      expect(lines.at(-1)).toMatch(new RegExp(`^run ${record.id} recorded as ABORTED in .*run\\.json$`));

      const after = (await readJson<RunRecord>(path.join(interruptedRoot, record.id, "run.json")))!;
      expect(schemaProblems(after)).toEqual([]);
      expect(after.status).toBe("ABORTED");
      expect(after.history.at(-1)?.type).toBe("ExecutionAborted");
      expect(after.states.find((s) => s.status === "ABORTED")?.name).toBeDefined();
      expect(after.states.filter((s) => s.status === "RUNNING")).toEqual([]);

      // No step process of this run is left (they are found by the run folder in their environment).
      await until("every step process of the run gone", async () => ((await processesOfRun(after.run_dir!)).length === 0 ? true : undefined), 20_000);

      // The page was not reloaded: it followed the record to its end.
      await page.waitForSelector('body[data-run-status="ABORTED"]');
      const nodes = await graphNodes();
      expect(Object.values(nodes)).toContain("ABORTED");
      expect(nodes[runningStep] === "ABORTED" || Object.values(nodes).includes("ABORTED")).toBe(true);
      await screenshot(after, "console-aborted");
    } finally {
      await live.close();
    }
  }, RUN_BOUND_MS);
});

/** Processes whose environment names the run's folder (every step the engine starts gets it). */
async function processesOfRun(runDir: string): Promise<number[]> {
  const marker = `ATLAS_LOCAL_SINK_DIR=${runDir}\0`;
  const pids = (await readdir("/proc").catch(() => [] as string[])).filter((p) => /^\d+$/.test(p) && Number(p) !== process.pid);
  const found: number[] = [];
  for (const pid of pids) {
    const environ = await readFile(`/proc/${pid}/environ`, "utf8").catch(() => "");
    if (environ.includes(marker)) found.push(Number(pid));
  }
  return found;
}
