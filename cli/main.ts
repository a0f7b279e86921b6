import * as path from "node:path";
import { parseArgs } from "node:util";
import { StepError } from "../lib/exit-codes.ts";
import { s3Settings } from "../lib/s3.ts";
import { faultTargets, isFaultLine, parseFaults } from "../local/faults.ts";
import { ProgressPrinter } from "../local/progress.ts";
import { abortRunOnSignal } from "../local/interrupt.ts";
import { allWorkflows } from "../workflows/index.ts";
import { printFinalTable } from "./final-table.ts";
import { outDirProblem } from "./out-dir.ts";
import { workflowInput } from "./workflow-inputs.ts";

function help(): string {
  const workflows = allWorkflows();
  const perWorkflow = workflows
    .map((w) => [`  ${w.name}: ${w.description}`, ...Object.entries(workflowInput(w).options).map(([name, text]) => `    --${name.padEnd(16)} ${text}`)].join("\n"))
    .join("\n");
  return `atlas-pipelines: run a workflow's state machine locally (offline) or on AWS, and follow it.

usage: npm start -- [workflow] [options]
       npm start -- tasks submit|status|list|redrive …   (tasks on demand: npm start -- tasks --help)
       npm start -- rerun <run-id> [--aws]   (a failed run again, same input, next attempt: docs/RUNBOOK.md)

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
                       the S3 client's bounds, passed to every local step (docs/WORKFLOWS.md: defaults 5000, 120000, 30000, 4)

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
  const workflowOptions = new Set(workflows.flatMap((w) => Object.keys(workflowInput(w).options)));
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
  // `rerun <run-id>`: a failed run's workflow and input, under its next free execution name (cli/rerun.ts).
  const rerun = positionals[0] === "rerun"
    ? await (await import("./rerun.ts")).rerunFromCli(positionals.slice(1), { aws: values.aws, workflows, options: values }).catch((err: Error) => {
        throw err.name === "RerunRefused" ? new UsageError(err.message) : err;
      })
    : undefined;
  const name = rerun?.workflow ?? positionals[0] ?? workflows[0].name;
  const workflow = workflows.find((w) => w.name === name);
  if (!workflow) throw new UsageError(`unknown workflow '${name}' (expected one of ${workflows.map((w) => w.name).join(", ")})`);
  if (positionals.length > 1 && !rerun) throw new UsageError(`unexpected argument '${positionals[1]}'`);
  const all = values as Record<string, string | boolean | undefined>;
  const given = Object.fromEntries([...workflowOptions].filter((o) => all[o] !== undefined).map((o) => [o, String(all[o])]));
  const cli = workflowInput(workflow);
  const foreign = Object.keys(given).filter((o) => !(o in cli.options));
  if (foreign.length) throw new UsageError(`${workflow.name} does not take --${foreign.join(", --")}`);
  const note = (line: string) => process.stderr.write(`${line}\n`);
  if (rerun) note(`re-running ${rerun.workflow} ${rerun.of} as ${rerun.name}`);
  const input = rerun?.input ?? await cli.input(given, values.aws ? "aws" : "local", note).catch((err: Error) => {
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
    return runOnAws({ workflow: workflow.name, input, name: rerun?.name, stateMachineArn: rerun?.stateMachineArn ?? values["state-machine-arn"], json: values.json, onEvent: printer.handle });
  }

  const retryWaitMs = Number(process.env.ATLAS_RETRY_WAIT_MS ?? 1000);
  // Loaded only now (it synthesizes the stack, seconds of CPU): bad options are refused before paying for it.
  const { runLocal } = await import("../local/run-local.ts");
  const ui = values.ui ? await (await import("./console-server.ts")).startConsole({}) : undefined;
  let stopAbortHandler = () => {};
  const run = await runLocal({
    workflow: workflow.name,
    input,
    name: rerun?.name,
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
  printFinalTable(run.summary, run.record, (line = "") => process.stderr.write(`${line}\n`));
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

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: Error) => {
    const usage = err instanceof UsageError || (err as { code?: string }).code?.startsWith("ERR_PARSE_ARGS");
    console.error(`error: ${err.message.split("\n")[0]}${usage ? " (see npm start -- --help)" : ""}`);
    process.exit(usage ? 64 : err instanceof StepError ? err.exitCode : 1);
  },
);
