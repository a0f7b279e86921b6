import * as path from "node:path";
import { parseArgs } from "node:util";
import { costLine } from "../lib/aws-pricing.ts";
import { StepError } from "../lib/exit-codes.ts";
import { s3Settings } from "../lib/s3.ts";
import { table } from "../lib/text-table.ts";
import { faultTargets, isFaultLine, parseFaults } from "../local/faults.ts";
import { ProgressPrinter, seconds } from "../local/progress.ts";
import { abortRunOnSignal } from "../local/interrupt.ts";
import type { RunSummary } from "../local/run-local.ts";
import type { RunRecord } from "../local/run-record.ts";
import { MANIFEST_NAME } from "../lib/manifest.ts";
import { allWorkflows } from "../workflows/index.ts";
import { outDirProblem } from "./out-dir.ts";

function help(): string {
  const workflows = allWorkflows();
  const perWorkflow = workflows
    .map((w) => [`  ${w.name}: ${w.description}`, ...Object.entries(w.cli.options).map(([name, text]) => `    --${name.padEnd(16)} ${text}`)].join("\n"))
    .join("\n");
  return `atlas-pipelines: run a workflow's state machine locally (offline) or on AWS, and follow it.

usage: npm start -- [workflow] [options]
       npm start -- tasks submit|status|list|redrive …   (tasks on demand: npm start -- tasks --help)

workflows and their options (default workflow: ${workflows[0].name}):
${perWorkflow}

common options:
  --out DIR            copy the published output to DIR/… (default: the run's folder under .data/runs/)
  --json               print the run record on stdout (docs/RUN_RECORD.md; progress still goes to stderr)
  --ui                 serve the run console (npm run console) and follow this run in it
  --aws                start the deployed state machine on AWS and follow it (needs credentials)
  --state-machine-arn ARN   with --aws: the machine to start (default: found by name)
  --verbose            also show what each step prints, as it prints it, prefixed by the step
  -h, --help           this help

environment:
  ATLAS_FAULTS         inject failures locally, e.g. extract:oom:1,download:exit75:2 (see local/faults.ts);
                       a step the workflow does not have is refused, with its steps listed
  ATLAS_RETRY_WAIT_MS  local wait between retries, in ms (default 1000; AWS uses the policies' waits)
  ATLAS_HEARTBEAT_MS   how often a running step reports its time and memory, in ms (default 10000)
  ATLAS_S3_CONNECT_TIMEOUT_MS, ATLAS_S3_REQUEST_TIMEOUT_MS, ATLAS_S3_IDLE_TIMEOUT_MS, ATLAS_S3_MAX_ATTEMPTS
                       the S3 client's bounds, passed to every local step (see README: defaults 5000, 120000, 30000, 4)

Ctrl-C (or SIGTERM, or closing the terminal) stops every step, rolls back a half-done publish, records the run as
ABORTED and exits 128 + the signal's number (130 for Ctrl-C); with --aws it stops following only (the execution
keeps running) and prints the command that stops it.

examples:
  npm start
  npm start -- --region andorra --source ../shared/data/osm/andorra-2021-06-22.osm.pbf --period 2021-06 --out out
  npm start -- --aws --region iceland`;
}

class UsageError extends Error {}

/** Runs `check`; what it throws is a usage error (exit 64). */
function usage<T>(check: () => T): T {
  try {
    return check();
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

async function main(argv: string[]): Promise<number> {
  // Tasks on demand have commands of their own (cli/tasks.ts).
  if (argv[0] === "tasks") return (await import("./tasks.ts")).tasksMain(argv.slice(1));
  // Reads the deploy-time settings (ATLAS_MONTHLY_*), which a user may have mistyped.
  const workflows = usage(() => allWorkflows());
  const workflowOptions = new Set(workflows.flatMap((w) => Object.keys(w.cli.options)));
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      ...Object.fromEntries([...workflowOptions].map((name) => [name, { type: "string" as const }])),
      out: { type: "string" },
      json: { type: "boolean", default: false },
      aws: { type: "boolean", default: false },
      "state-machine-arn": { type: "string" },
      verbose: { type: "boolean", default: false },
      ui: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    console.log(help());
    return 0;
  }
  const name = positionals[0] ?? workflows[0].name;
  const workflow = workflows.find((w) => w.name === name);
  if (!workflow) throw new UsageError(`unknown workflow '${name}' (expected one of ${workflows.map((w) => w.name).join(", ")})`);
  if (positionals.length > 1) throw new UsageError(`unexpected argument '${positionals[1]}'`);
  const all = values as Record<string, string | boolean | undefined>;
  const given = Object.fromEntries([...workflowOptions].filter((o) => all[o] !== undefined).map((o) => [o, String(all[o])]));
  const foreign = Object.keys(given).filter((o) => !(o in workflow.cli.options));
  if (foreign.length) throw new UsageError(`${workflow.name} does not take --${foreign.join(", --")}`);
  const note = (line: string) => process.stderr.write(`${line}\n`);
  const input = await workflow.cli.input(given, values.aws ? "aws" : "local", note).catch((err: Error) => {
    // Data that is missing or wrong (lib/data-files.ts) keeps its own exit code and line: it is not a usage mistake.
    if (err instanceof StepError) throw err;
    throw new UsageError(err.message);
  });
  // Before anything runs: a run must not publish a month and only then find that --out cannot take it.
  const outProblem = values.out && !values.aws ? await outDirProblem(path.resolve(values.out)) : undefined;
  if (outProblem) throw new UsageError(outProblem);
  const faults = usage(() => parseFaults(process.env.ATLAS_FAULTS, { workflow: workflow.name, steps: faultTargets(workflow, workflows) }));
  // The S3 timeouts and attempts the local steps will get (ATLAS_S3_*): a bad one is refused now, not ignored.
  if (!values.aws) usage(() => s3Settings(process.env));
  const printer = new ProgressPrinter();

  if (values.aws) {
    const { runOnAws } = await import("./run-aws.ts");
    return runOnAws({ workflow: workflow.name, input, stateMachineArn: values["state-machine-arn"], json: values.json, onEvent: printer.handle });
  }

  const retryWaitMs = Number(process.env.ATLAS_RETRY_WAIT_MS ?? 1000);
  // Loaded only now (it synthesizes the stack, seconds of CPU): bad options are refused before paying for it.
  const { runLocal } = await import("../local/run-local.ts");
  const ui = values.ui ? await (await import("./console-server.ts")).startConsole({}) : undefined;
  let stopAbortHandler = () => {};
  const run = await runLocal({
    workflow: workflow.name,
    input,
    faults,
    retryWaitMs,
    outDir: values.out ? path.resolve(values.out) : undefined,
    onEvent: (event) => {
      // A step's `[fault] …` lines (an injected crash or pause firing, or not) show without --verbose too.
      if (event.kind !== "log" || values.verbose || isFaultLine(event.line)) printer.handle(event);
    },
    onRecorder: (recorder) => {
      stopAbortHandler = abortRunOnSignal(recorder);
      if (ui) process.stderr.write(`console: ${ui.urlFor(recorder.id)}\n`);
    },
  });
  stopAbortHandler();
  await run.stop();
  printFinalTable(run.summary, run.record);
  // Waits until the record is handed to the pipe: exiting right after a large write would cut it short.
  if (values.json) await new Promise((resolve) => process.stdout.write(`${JSON.stringify(run.record, null, 2)}\n`, resolve));
  if (ui) {
    // Serving goes on until Ctrl-C, so the run's outcome is said now.
    if (run.record.error) console.error(`error: ${run.record.error.line}`);
    process.stderr.write(`console still serving at ${ui.urlFor(run.record.id)} (Ctrl-C to stop)\n`);
    await ui.keepServing(run.record.status === "SUCCEEDED" ? 0 : 1);
  }
  // The summary's status is the run's outcome (a fan-out with failed items is PARTIAL or FAILED, local/run-outcome.ts),
  // as the headline and the record say; its error lists what failed and why.
  if (run.summary.status !== "SUCCEEDED") {
    console.error(`error: ${run.summary.error ?? run.summary.status}`);
    return 1;
  }
  return 0;
}

function printFinalTable(summary: RunSummary, record: RunRecord): void {
  const out = (line = "") => process.stderr.write(`${line}\n`);
  out();
  out(`${summary.workflow} ${summary.execution}: ${summary.status} in ${seconds(summary.duration_ms)}`);
  out();
  const { header, rows, reused } = fanOutItems(record).length ? fanOutTable(summary, record) : { header: STEP_COLUMNS, rows: stepRows(summary.states), reused: [] };
  table(header, rows).forEach((l) => out(l));
  // Regions a fan-out did not run again: their month was published by an earlier run.
  if (reused.length) out(`reused from an earlier run (not run again; --force <region> reruns one): ${reused.join(", ")}`);
  if (summary.counts) {
    out();
    out(`counts: ${Object.entries(summary.counts).map(([k, v]) => `${k}=${v}`).join(", ")}`);
  }
  if (summary.escalations) out(`tier escalations: ${Object.keys(summary.escalations as object).join(", ")}`);
  if (summary.outputs.keys.length) {
    out(`published: s3://${summary.outputs.bucket}/${commonPrefix(summary.outputs.keys)} (${fileCount(summary.outputs.keys)}, embedded S3)`);
  }
  if (summary.outputs.copiedTo) out(`files: ${path.relative(process.cwd(), summary.outputs.copiedTo) || "."}`);
  out(costLine(summary.estimated_cost));
  out(`run directory (logs, local metrics and notifications): ${path.relative(process.cwd(), summary.run_dir)}`);
}

const STEP_COLUMNS = ["step", "status", "attempts", "duration", "tier", "peak RSS"];
type SummaryState = RunSummary["states"][number];

/** The states that do work: Lambda and ECS tasks, nested executions and maps (not Choice or Pass bookkeeping). */
function stepRows(states: SummaryState[], label = (s: SummaryState) => [s.name]): string[][] {
  return states
    .filter((s) => s.attempts > 0 && (s.type === "Task" || s.type === "Map"))
    .map((s) => [...label(s), s.status.toLowerCase(), String(s.attempts), seconds(s.duration_ms), s.tier ?? "", s.peak_rss_bytes ? `${Math.round(s.peak_rss_bytes / 2 ** 20)} MiB` : ""]);
}

/** One item of a fan-out, from the run record: the item the Map handed over, and what became of it. */
interface FanOutItem {
  region: string;
  /** The item's execution (`andorra-2021-06`, or `-2`, … for later attempts). */
  execution: string;
  /** Nothing started: an earlier execution's status stands (`previous`). */
  started: boolean;
  previous?: { name?: string; status?: string; stopDate?: string } | null;
  visits: RunRecord["states"];
}

function fanOutItems(record: RunRecord): FanOutItem[] {
  const byIteration = new Map<string, FanOutItem>();
  for (const visit of record.states) {
    if (!visit.iteration) continue;
    const item = (visit.input ?? {}) as { region?: unknown; name?: unknown; start?: unknown; previous?: FanOutItem["previous"] };
    let entry = byIteration.get(visit.iteration);
    if (!entry) {
      entry = { region: String(item.region ?? visit.iteration), execution: String(item.name ?? ""), started: item.start !== false, previous: item.previous, visits: [] };
      byIteration.set(visit.iteration, entry);
    }
    entry.visits.push(visit);
  }
  return [...byIteration.values()];
}

/**
 * A fan-out's table: its own steps, then one block per region (every row names its region): the item (its execution,
 * or "reused" when an earlier run's month stands), then the steps of the execution it started.
 */
function fanOutTable(summary: RunSummary, record: RunRecord): { header: string[]; rows: string[][]; reused: string[] } {
  const items = fanOutItems(record);
  const perItem = new Set(items.flatMap((i) => i.visits.map((v) => v.name)));
  const regionOf = new Map(items.map((i) => [i.execution, i.region]));
  const fanOut = allWorkflows().find((w) => w.name === record.workflow)?.steps.find((s) => s.kind === "fanOut");
  const child = fanOut?.kind === "fanOut" ? fanOut.workflow : "item";
  const rows: string[][] = [];
  const reused: string[] = [];
  for (const parent of summary.states.filter((s) => s.execution === summary.execution && !perItem.has(s.name))) {
    rows.push(...stepRows([parent], (s) => ["(all)", s.name]));
    if (parent.type !== "Map") continue;
    for (const item of items) {
      if (!item.started) {
        const earlier = item.previous;
        const when = earlier?.stopDate ? ` ${earlier.stopDate.slice(0, 16).replace("T", " ")} UTC` : "";
        rows.push([item.region, `${child} ${earlier?.name ?? item.execution}`, earlier?.status === "RUNNING" ? "still running" : "reused", "0", "", "", ""]);
        if (earlier?.status !== "RUNNING") reused.push(`${item.region} (${earlier?.name ?? item.execution}, ${String(earlier?.status ?? "SUCCEEDED").toLowerCase()}${when})`);
        continue;
      }
      const task = item.visits.find((v) => v.type === "Task");
      const attempts = task?.attempts ?? [];
      const ms = attempts.reduce((sum, a) => sum + (a.duration_ms ?? 0), 0);
      rows.push([item.region, `${child} ${item.execution}`, String(task?.status ?? "not run").toLowerCase(), String(attempts.length), seconds(ms), "", ""]);
      rows.push(...stepRows(summary.states.filter((s) => s.execution === item.execution), (s) => [item.region, `  ${s.name}`]));
    }
  }
  // Steps of executions no item names (none today): kept, under their execution's name.
  rows.push(...stepRows(summary.states.filter((s) => s.execution !== summary.execution && !regionOf.has(s.execution)), (s) => ["", `${s.execution} ${s.name}`]));
  return { header: ["region", ...STEP_COLUMNS], rows, reused };
}

/** `7 files + manifest.json`: the data files as `npm run verify` counts them (the manifest's list), and the manifests. */
function fileCount(keys: string[]): string {
  const manifests = keys.filter((k) => path.posix.basename(k) === MANIFEST_NAME).length;
  const data = keys.length - manifests;
  const files = `${data} file${data === 1 ? "" : "s"}`;
  return manifests === 0 ? files : `${files} + ${manifests === 1 ? MANIFEST_NAME : `${manifests} manifests`}`;
}

function commonPrefix(keys: string[]): string {
  const dirs = keys.map((k) => k.slice(0, k.lastIndexOf("/") + 1));
  return dirs.reduce((a, b) => {
    let i = 0;
    while (i < a.length && a[i] === b[i]) i++;
    return a.slice(0, i);
  });
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: Error) => {
    const usage = err instanceof UsageError || (err as { code?: string }).code?.startsWith("ERR_PARSE_ARGS");
    console.error(`error: ${err.message.split("\n")[0]}${usage ? " (see npm start -- --help)" : ""}`);
    process.exit(usage ? 64 : err instanceof StepError ? err.exitCode : 1);
  },
);
