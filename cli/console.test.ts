import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, readdir, readFile, rm } from "node:fs/promises";
import * as path from "node:path";
import type { Page } from "puppeteer-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ACCOUNT_DIR_ENV, REPO_ROOT } from "../local/run-local.ts";
import { causeSentence } from "../run-model/causes.ts";
import { RUNS_DIR_ENV, type RunRecord } from "../run-records/record.ts";
import { schemaProblems } from "../local/testing/run-record-schema.ts";
import { startConsole, type ConsoleServer } from "./console-server.ts";
import { launchBrowser } from "./testing/browser.ts";
import { smallInputTier, stepState } from "../local/testing/planned-tiers.ts";
import { SKI_ATLAS_SIZED_STEPS } from "../workflows/ski-atlas-sizing.ts";

/**
 * The console in a real browser (Debian's headless chromium), over real local runs made by the real command line
 * as child processes: a run of the sample region and one started at the same moment whose Analyze fails with exit 75
 * through its three retries, a monthly fan-out of two regions of which one cannot be reached (PARTIAL), and one
 * interrupted with SIGINT while a step runs. The checks are what a person sees on the page, at 1400 and 800 px.
 */
const CLI = path.join(REPO_ROOT, "cli", "main.ts");
/** Generous bounds: "does not hang", not "is fast" (the machine is shared). */
const RUN_BOUND_MS = 600_000;
const PAGE_BOUND_MS = 60_000;

interface CliRun {
  child: ChildProcess;
  done: Promise<{ code: number | null; stdout: string; stderr: string }>;
}

/** Each run's own account (ATLAS_ACCOUNT_DIR): execution names of earlier test runs neither reused nor used up. */
function startCli(args: string[], runsRoot: string, faults?: string, extraEnv: NodeJS.ProcessEnv = {}): CliRun {
  const env: NodeJS.ProcessEnv = { ...process.env, [RUNS_DIR_ENV]: runsRoot, [ACCOUNT_DIR_ENV]: path.join(runsRoot, "..", `${path.basename(runsRoot)}-account`), ATLAS_RETRY_WAIT_MS: "10", NO_COLOR: "1", ...extraEnv };
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
/** The fan-out's region that succeeded: a ski-atlas run of its own (a child record). */
let succeeded: { record: RunRecord };
let failed: { code: number | null; record: RunRecord; stderr: string };
let fanOut: { code: number | null; record: RunRecord; stderr: string };

/**
 * The runs (and the screenshots saved in their folders) stay after the test, for a person to look at; the next
 * test run starts from empty folders.
 */
const TEST_RUNS = path.join(REPO_ROOT, ".data", "test-runs");
/** The sample region's file, written by a run of the sample region as it starts (cli/workflow-inputs.ts). */
const SAMPLE_PBF = path.join(REPO_ROOT, ".data", "sample", "sample.osm.pbf");
/** A source under `.invalid` (RFC 6761) never resolves: that region fails offline whatever the machine. */
const UNREACHABLE = "https://download.invalid/europe/liechtenstein-latest.osm.pbf";
const WIDE = { width: 1400, height: 1000 };
const NARROW = { width: 800, height: 900 };

beforeAll(async () => {
  root = path.join(TEST_RUNS, "console");
  await Promise.all([root, `${root}-account`].map((dir) => rm(dir, { recursive: true, force: true })));
  await mkdir(root, { recursive: true });
  // Two runs started at (about) the same moment: the sample region, whose Analyze fails with exit 75 on every attempt
  // (three retries); and a monthly fan-out of the sample region (its file written by the first run as it starts)
  // and one out of reach, whose sample item is the succeeded run the console is shown.
  const bad = startCli(["--json"], root, "analyze:exit75:9");
  await until("the sample region's file", async () => (existsSync(SAMPLE_PBF) ? true : undefined));
  const month = startCli(["ski-atlas-monthly", "--json", "--regions", "sample,liechtenstein", "--sources", `sample=${SAMPLE_PBF},liechtenstein=${UNREACHABLE}`], root, undefined, {
    ATLAS_ALLOWED_SOURCE_HOSTS: "download.invalid",
  });
  const [badDone, monthDone] = await Promise.all([bad.done, month.done]);
  failed = { code: badDone.code, record: JSON.parse(badDone.stdout), stderr: badDone.stderr };
  fanOut = { code: monthDone.code, record: JSON.parse(monthDone.stdout), stderr: monthDone.stderr };
  const sampleItem = fanOut.record.children.find((c) => c.key_input.region === "sample");
  succeeded = { record: (await readJson<RunRecord>(path.join(root, fanOut.record.id, "children", sampleItem?.name ?? "?", "run.json")))! };
  server = await startConsole({ runsRoot: root });
  browser = await launchBrowser();
  page = await browser.browser.newPage();
  page.setDefaultTimeout(PAGE_BOUND_MS);
  await page.setViewport(WIDE);
}, RUN_BOUND_MS + 60_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

async function screenshot(record: RunRecord, name: string, fullPage = true): Promise<void> {
  const dir = path.join(record.run_dir!, "screenshots");
  await mkdir(dir, { recursive: true });
  await page.screenshot({ path: path.join(dir, `${name}.png`) as `${string}.png`, fullPage });
}

/** Opens a page afresh (a new document, as a person following a link from elsewhere would). */
async function open(url: string, viewport = WIDE): Promise<void> {
  await page.setViewport(viewport);
  await page.goto("about:blank");
  await page.goto(url);
}

const graphNodes = () =>
  page.$$eval("#graph .node", (nodes) => Object.fromEntries(nodes.map((n) => [n.getAttribute("data-state"), n.getAttribute("data-status")])));

interface Box {
  left: number;
  top: number;
  right: number;
  bottom: number;
}
const rectOf = (selector: string) =>
  page.$eval(selector, (el) => {
    const r = el.getBoundingClientRect();
    return { left: r.left, top: r.top, right: r.right, bottom: r.bottom };
  });
const inside = (inner: Box, outer: Box, slack = 1) =>
  inner.left >= outer.left - slack && inner.top >= outer.top - slack && inner.right <= outer.right + slack && inner.bottom <= outer.bottom + slack;
/** The window (page expressions are strings: the tests are compiled without the DOM library). */
const viewportBox = () => page.evaluate("({ left: 0, top: 0, right: window.innerWidth, bottom: window.innerHeight })") as Promise<Box>;
const pageWidth = () => page.evaluate("document.documentElement.scrollWidth") as Promise<number>;
/** Every state and every edge (Catch edges too) of the graph, as drawn on the page. */
const drawnRects = () =>
  page.$$eval("#graph .node, #graph .edge path", (els) =>
    els.map((el) => {
      const r = el.getBoundingClientRect();
      return { what: el.closest("[data-state]")?.getAttribute("data-state") ?? `edge ${el.parentElement?.getAttribute("data-from")}→${el.parentElement?.getAttribute("data-to")}`, left: r.left, top: r.top, right: r.right, bottom: r.bottom };
    }),
  );
const zoomOf = async () => Number(await page.$eval("#graph", (g) => g.getAttribute("data-zoom")));

describe("two runs started at the same moment", () => {
  it("GIVEN two runs started at once WHEN they end THEN each has its own folder and record, as --json printed it", async () => {
    expect([failed.code, fanOut.code]).toEqual([1, 1]);
    expect(failed.record.id).not.toBe(fanOut.record.id);
    expect((await readdir(root)).sort()).toEqual([failed.record.id, fanOut.record.id].sort());
    for (const printed of [failed.record, fanOut.record]) {
      expect(schemaProblems(printed)).toEqual([]);
      const onDisk = await readJson<RunRecord>(path.join(root, printed.id, "run.json"));
      expect(onDisk).toEqual(printed);
      expect(printed.run_dir).toBe(path.join(root, printed.id));
    }
    expect([failed.record.status, fanOut.record.status, succeeded.record.status]).toEqual(["FAILED", "PARTIAL", "SUCCEEDED"]);
    expect(schemaProblems(succeeded.record)).toEqual([]);
  });
});

describe("the list of runs", () => {
  it("GIVEN the runs WHEN listed at 1400 px THEN each row leads with its execution's name (the link in), then status, start, end, the failed step and why, and outputs; a status filter leaves the failed run", async () => {
    await open(server.url);
    await page.waitForSelector("#runs-table tbody tr");
    expect(await page.$$eval("#runs-table thead th", (ths) => ths.map((th) => th.textContent))).toEqual(["run", "status", "started", "ended", "failed step", "outputs"]);
    const row = await page.$eval(`#runs-table tr[data-run="${failed.record.id}"]`, (tr) => ({
      link: tr.querySelector("td.run a")?.textContent,
      href: tr.querySelector("td.run a")?.getAttribute("href"),
      ended: tr.querySelector("td.ended .when")?.textContent,
      step: tr.querySelector("td.failed-step strong")?.textContent,
      why: tr.querySelector("td.failed-step .why")?.textContent,
    }));
    expect(row).toEqual({
      link: failed.record.execution.name,
      href: `#/run/${encodeURIComponent(failed.record.id)}`,
      ended: await page.evaluate((iso) => new Date(iso).toLocaleString(), failed.record.stopped_at!),
      step: "Analyze",
      why: causeSentence(failed.record.error!.error, failed.record.error!.cause),
    });
    expect(row.why).toMatch(/^exit 75 \(temporary failure\)/);
    expect(await page.$eval(`#runs-table tr[data-run="${fanOut.record.id}"] td.failed-step strong`, (s) => s.textContent)).toBe("Regions");

    const rows = () => page.$$eval("#runs-table tbody tr", (trs) => trs.map((tr) => [tr.getAttribute("data-run"), tr.getAttribute("data-status")]));
    expect((await rows()).length).toBe(2);
    await page.select("#filter-status", "FAILED");
    await page.waitForFunction('document.querySelectorAll("#runs-table tbody tr").length === 1');
    expect(await rows()).toEqual([[failed.record.id, "FAILED"]]);
  });

  it("GIVEN the runs WHEN listed at 800 px THEN every run's link, end and failed step are on screen, nothing wider than the window", async () => {
    await open(server.url, NARROW);
    await page.waitForSelector("#runs-table tbody tr");
    expect(await page.$$eval("#runs-table thead th", (ths) => ths.filter((th) => th.getBoundingClientRect().width > 0).map((th) => th.textContent))).toEqual(["run", "status", "ended", "failed step"]);
    expect(await pageWidth()).toBeLessThanOrEqual(NARROW.width);
    const screen = await viewportBox();
    for (const id of [failed.record.id, fanOut.record.id]) {
      for (const cell of ["td.run a", "td.ended", "td.failed-step"]) expect(inside(await rectOf(`#runs-table tr[data-run="${id}"] ${cell}`), screen), `${id} ${cell}`).toBe(true);
    }
    await screenshot(failed.record, "list-800");
  });
});

describe("a run in the console", () => {
  it("GIVEN the fan-out's region that succeeded (a run of its own) WHEN opened THEN the graph, the timeline, the files and the map show what ran and what it published", async () => {
    await open(server.urlFor(succeeded.record.id));
    await page.waitForSelector("#map-counts span[data-layer]");
    expect(await page.$("#failure")).toBeNull();
    expect(await page.$("#graph .node.selected")).toBeNull();
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

  /** The failure-first view of the failed run, the same at both widths. */
  async function expectFailureFirst(viewport: { width: number; height: number }): Promise<void> {
    await open(server.urlFor(failed.record.id), viewport);
    await page.waitForSelector("#failure .sentence");
    await page.waitForSelector("#graph .node.selected");
    expect(await page.$eval("#run-status .status", (s) => s.textContent)).toBe("FAILED");
    // The failed state is selected (in the address too), and on screen without scrolling by hand.
    expect(await page.evaluate("location.hash")).toBe(`#/run/${encodeURIComponent(failed.record.id)}?state=Analyze`);
    expect(await page.$eval("#graph .node.selected", (n) => [n.getAttribute("data-state"), n.getAttribute("data-status"), n.classList.contains("failed-run")])).toEqual(["Analyze", "CAUGHT", true]);
    const node = await rectOf("#graph .node.selected");
    expect(inside(node, await rectOf("#graph")), "the failed state inside the graph's box").toBe(true);
    expect(inside(node, await viewportBox()), "the failed state in the window").toBe(true);
    // The reason in one sentence, with the exit code and what it means; the raw Cause below it, folded.
    const sentence = causeSentence(failed.record.error!.error, failed.record.error!.cause);
    expect(sentence).toBe("exit 75 (temporary failure); Essential container in task exited");
    expect(await page.$eval("#failure .reason", (p) => p.textContent)).toBe(`Analyze failed on attempt 4 of 4 (small): ${sentence}`);
    expect(inside(await rectOf("#failure .sentence"), await viewportBox()), "the sentence in the window").toBe(true);
    expect(await page.$eval("#failure .said", (p) => p.textContent)).toContain("error: injected fault (exit 75)");
    expect(await page.$eval("#failure details.raw", (d) => d.hasAttribute("open"))).toBe(false);
    expect(await page.$eval("#failure details.raw pre.cause", (p) => p.textContent)).toContain('"ExitCode": 75');
    // Attempts numbered 1..N across the step's retries, each with its sentence; the 4th is the one that failed the run.
    const attempts = await page.$$eval("#state-detail table.attempts tbody tr[data-attempt]:not(.why)", (trs) =>
      trs.map((tr) => [tr.querySelector("td")?.textContent, tr.getAttribute("data-status"), tr.classList.contains("failed-run")]),
    );
    expect(attempts).toEqual([
      ["#1", "FAILED", false],
      ["#2", "FAILED", false],
      ["#3", "FAILED", false],
      ["#4", "FAILED", true],
    ]);
    expect(await page.$$eval("#state-detail table.attempts tr.why .sentence", (ds) => ds.map((d) => d.textContent))).toEqual([sentence, sentence, sentence, sentence]);
    expect(await page.$eval('#graph .node[data-state="Analyze"]', (n) => [n.getAttribute("data-attempts"), n.querySelector("text.sub")?.textContent])).toEqual(["4", "Task · 4 attempts · small · ↻"]);
    // The model agrees: four visits of Analyze, one attempt each, numbered 1..4.
    expect(failed.record.states.filter((v) => v.name === "Analyze").map((v) => v.attempts.map((a) => a.number))).toEqual([[1], [2], [3], [4]]);
    // Zoom and fit are there; the window is no wider than the page.
    for (const control of ["#graph-fit", "#graph-zoom-in", "#graph-zoom-out", "#show-all"]) expect(inside(await rectOf(control), { ...(await viewportBox()), top: -Infinity, bottom: Infinity }), control).toBe(true);
    expect(await pageWidth()).toBeLessThanOrEqual(viewport.width);
  }

  it.each([WIDE, NARROW])(
    "GIVEN the failed run WHEN opened at $width px THEN failure first: its failed state selected and in view, the reason in one sentence, the raw detail folded, attempts 1..4",
    async (viewport) => {
      await expectFailureFirst(viewport);
      await screenshot(failed.record, `console-failed-${viewport.width}`, false);
    },
  );

  it("GIVEN the failed run WHEN fitted, zoomed and shown whole THEN every state and edge (Catch edges too) stays inside the box, and the log of attempt 4 is the 4th attempt's", async () => {
    await open(server.urlFor(failed.record.id));
    await page.waitForSelector("#graph .node.selected");
    const box = await rectOf("#graph");
    await page.click("#graph-fit");
    const fitted = await zoomOf();
    expect(fitted).toBeGreaterThan(0);
    for (const r of await drawnRects()) expect(inside(r, box), r.what).toBe(true);
    expect((await drawnRects()).some((r) => r.what.startsWith("edge ") && r.what.includes("→Metrics (failed run)"))).toBe(true);
    await page.click("#graph-zoom-in");
    expect(await zoomOf()).toBeGreaterThan(fitted);
    await page.click("#graph-zoom-out");
    await page.click("#graph-zoom-out");
    expect(await zoomOf()).toBeLessThan(fitted);

    expect((await graphNodes()).Publish).toBeUndefined(); // only the states this run entered…
    await page.click("#show-all");
    await page.waitForSelector('#graph .node[data-state="Publish"]');
    expect((await graphNodes()).Publish).toBe("NOT_RUN"); // …until every state is asked for, fitted in the same box
    const whole = await rectOf("#graph");
    for (const r of await drawnRects()) expect(inside(r, whole), r.what).toBe(true);

    await page.click('#graph .node[data-state="Analyze"]');
    await page.waitForSelector('#state-detail tr[data-attempt="4"] button.link');
    await page.click('#state-detail tr[data-attempt="4"] button.link');
    await page.waitForSelector('#state-detail pre.log[data-attempt="4"]');
    const analyze4 = failed.record.states.filter((v) => v.name === "Analyze")[3].attempts[0];
    expect(await page.$eval('#state-detail pre.log[data-attempt="4"]', (e) => e.textContent)).toBe(await readFile(analyze4.log_file!, "utf8"));
    const bars = await page.$$eval('#timeline-svg .bar[data-state="Analyze"]', (gs) => gs.map((g) => [g.getAttribute("data-attempt"), g.getAttribute("data-status")]));
    expect(bars).toEqual([["1", "FAILED"], ["2", "FAILED"], ["3", "FAILED"], ["4", "FAILED"]]);
  });

  /** The PARTIAL fan-out, the same at both widths. */
  async function expectPartialFanOut(viewport: { width: number; height: number }): Promise<void> {
    await open(server.urlFor(fanOut.record.id), viewport);
    await page.waitForSelector("#failure .sentence");
    await page.waitForSelector("#graph .node.selected");
    expect(await page.$eval("#run-status .status", (s) => s.textContent)).toBe("PARTIAL");
    expect(await page.$eval("#failure .reason", (p) => p.textContent)).toBe(`Regions: ${fanOut.record.error!.line}`);
    expect(await page.$eval("#graph .node.selected", (n) => n.getAttribute("data-state"))).toBe("Regions");
    expect(inside(await rectOf("#graph .node.selected"), await viewportBox())).toBe(true);
    // The Map: PARTIAL, with its items counted; the end state is not a green "Succeeded".
    const look = (state: string) => page.$eval(`#graph .node[data-state="${state}"]`, (n) => [n.getAttribute("data-status"), n.querySelector("text.sub")?.textContent]);
    expect(await look("Regions")).toEqual(["PARTIAL", "Map · 1 ok · 1 failed"]);
    expect(await look("Succeeded")).toEqual(["PARTIAL", "Succeed · the run: PARTIAL"]);
    expect(await page.$eval('#graph .node[data-state="Succeeded"] rect', (r) => r.getAttribute("fill"))).not.toBe("#2e8540");
    // Each item named, with its outcome, its run and why it failed.
    const items = await page.$$eval("#fanout-section table.fan-out tbody tr", (trs) =>
      trs.map((tr) => [tr.getAttribute("data-item"), tr.getAttribute("data-status"), tr.querySelector("a")?.getAttribute("href"), tr.querySelector("td.why")?.textContent]),
    );
    const child = (region: string) => `#/run/${encodeURIComponent(fanOut.record.children.find((c) => c.key_input.region === region)!.id)}`;
    expect(items).toEqual([
      ["sample", "SUCCEEDED", child("sample"), ""],
      ["liechtenstein", "FAILED", child("liechtenstein"), expect.stringMatching(/^SourceOfflineError: source https:\/\/download\.invalid\/.* does not resolve/)],
    ]);
    expect(await page.$eval("#fanout-section h2 .counts", (s) => s.textContent)).toBe("1 succeeded, 1 failed");
    expect(await pageWidth()).toBeLessThanOrEqual(viewport.width);
  }

  it.each([WIDE, NARROW])(
    "GIVEN the PARTIAL fan-out WHEN opened at $width px THEN its Map is selected and PARTIAL with counts, its regions named with their outcome, and it does not end on a green Succeeded",
    async (viewport) => {
      await expectPartialFanOut(viewport);
      await screenshot(fanOut.record, `console-partial-${viewport.width}`, false);
    },
  );

  it("GIVEN the PARTIAL fan-out WHEN its failed region's link is followed THEN that region's own run opens on the state that failed it", async () => {
    await open(server.urlFor(fanOut.record.id), NARROW);
    await page.waitForSelector('#fanout-section tr[data-item="liechtenstein"] a');
    await page.click('#fanout-section tr[data-item="liechtenstein"] a');
    const child = fanOut.record.children.find((c) => c.key_input.region === "liechtenstein")!;
    const reason = `#run-sections[data-run="${child.id}"] #failure .failed-state`;
    await page.waitForSelector(reason);
    expect(await page.$eval(reason, (a) => a.textContent)).toBe("Plan");
    expect(await page.$eval("#graph .node.selected", (n) => n.getAttribute("data-state"))).toBe("Plan");
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
      await open(live.urlFor(record.id));
      await page.waitForSelector('body[data-run-status="RUNNING"]');
      const runningStep = record.states.find((s) => s.status === "RUNNING" && s.attempts.some((a) => a.tier))!.name;
      // While it runs, the whole machine is drawn: the states it has not reached yet grey.
      await page.waitForSelector('#graph .node[data-state="Notify success"]');
      expect(await page.$eval("#show-all", (c) => [c.matches(":checked"), c.matches(":disabled")])).toEqual([true, true]);
      const live1 = await graphNodes();
      expect(Object.values(live1)).toContain("RUNNING");
      for (const ahead of ["Metrics", "Notify success", "Succeeded", "Failed"]) expect(live1[ahead], ahead).toBe("NOT_RUN");
      expect(await page.$eval('#graph .node[data-state="Succeeded"] rect', (r) => r.getAttribute("fill"))).toBe("#e0e0e0");
      expect(live1.Initialize).toBe("SUCCEEDED");

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
      // Opened afresh, it opens on the state the interruption stopped.
      const stoppedAt = after.states.findLast((s) => s.status === "ABORTED" && s.type === "Task")!.name;
      await open(live.urlFor(record.id));
      await page.waitForSelector("#failure .reason");
      expect(await page.$eval("#failure .reason", (p) => p.textContent)).toBe(`stopped at ${stoppedAt}: ${after.error!.line}`);
      expect(await page.$eval("#graph .node.selected", (n) => n.getAttribute("data-state"))).toBe(stoppedAt);
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
