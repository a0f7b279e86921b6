import { lstat, realpath, rm } from "node:fs/promises";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { EXIT } from "../lib/exit-codes.ts";
import { table } from "../lib/text-table.ts";
import { seconds } from "../local/progress.ts";
import { listRunFolders, readRecord, RUNS_DIR_ENV, RUNS_ROOT, type RunRecord } from "../run-records/record.ts";

const HELP = `usage: npm run runs [-- list] [--status S] [--workflow W]
       npm run runs -- show <id>
       npm run runs -- clean --keep N

  list    past runs, newest first: status, workflow, key input, start, duration, where the outputs are
  show    one run: its timeline (each task attempt with tier and peak memory) and the failed state's Cause
  clean   delete all but the newest N run folders (newest by the time in the folder's name; a running run is
          never deleted; one left RUNNING by a process that is gone shows and is cleaned as ABORTED)

Runs are read from .data/runs/ (or $${RUNS_DIR_ENV}). The console (npm run console) shows the same records.`;

class UsageError extends Error {}

export async function main(argv: string[], out: (line: string) => void = console.log, root = RUNS_ROOT): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      status: { type: "string" },
      workflow: { type: "string" },
      keep: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    out(HELP);
    return 0;
  }
  const [command = "list", ...rest] = positionals;
  switch (command) {
    case "list": {
      const runs = (await listRunFolders(root)).filter(
        ({ record: r }) => (!values.status || r.status === values.status.toUpperCase()) && (!values.workflow || r.workflow === values.workflow),
      );
      if (runs.length === 0) {
        out(`no runs in ${path.relative(process.cwd(), root) || root}${values.status || values.workflow ? " match" : " yet (npm start makes one)"}`);
        return 0;
      }
      const rows = runs.map(({ name, record: r }) => [
        r.status,
        r.workflow,
        Object.entries(r.key_input).map(([k, v]) => `${k}=${v}`).join(" "),
        r.started_at.replace("T", " ").slice(0, 19),
        r.duration_ms === null ? "running" : seconds(r.duration_ms),
        outputsOf(r),
        name, // what `show` takes: the folder's name, whatever id its run.json claims
      ]);
      table(["status", "workflow", "input", "started (UTC)", "duration", "outputs", "id"], rows).forEach((l) => out(l));
      return 0;
    }
    case "show": {
      const id = rest[0];
      if (!id) throw new UsageError("show needs a run id (see npm run runs)");
      const record = await readRecord(root, id);
      if (!record) throw Object.assign(new Error(`no run '${id}' in ${path.relative(process.cwd(), root) || root}: npm run runs lists them`), { exitCode: EXIT.NO_INPUT });
      show(record, out);
      return 0;
    }
    case "clean": {
      const keep = keepCount(values.keep);
      const runs = await listRunFolders(root);
      // A live run is never removed, however old; one whose process is gone already reads ABORTED (readRecord).
      const doomed = runs.slice(keep).filter((r) => r.record.status !== "RUNNING");
      let removed = 0;
      let failed = 0;
      for (const { name } of doomed) {
        const problem = await removeRunFolder(root, name);
        if (problem === undefined) removed += 1;
        else if (problem !== null) {
          failed += 1;
          out(`error: could not remove ${name}: ${problem}`);
        }
      }
      out(`removed ${removed} run${removed === 1 ? "" : "s"}, kept ${runs.length - removed}`);
      return failed ? 1 : 0;
    }
    default:
      throw new UsageError(`unknown command '${command}' (expected list, show or clean)`);
  }
}

/** `--keep N`: a whole number of runs, written as one (`""`, `-1`, `1.5`, `1e3` and ` 2` are refused, not read as a number). */
function keepCount(text: string | undefined): number {
  if (text === undefined) throw new UsageError("clean needs --keep N (how many of the newest runs to keep)");
  if (!/^\d+$/.test(text)) throw new UsageError(`--keep '${text}' is not a count: use a whole number of runs to keep, e.g. --keep 20`);
  return Number(text);
}

/**
 * Removes the run folder called `name` (a name from listing `root`, never an id read from inside a run.json), only
 * if it is a real folder directly inside the runs folder: a symlink is never followed, whatever it points at.
 * Undefined once this call removed it; null if it was gone already (removed by someone else: not counted); else
 * what went wrong.
 */
async function removeRunFolder(root: string, name: string): Promise<string | null | undefined> {
  const runsDir = await realpath(root);
  const dir = path.join(runsDir, name);
  if (path.dirname(dir) !== runsDir) return "not a folder directly inside the runs folder";
  const stat = await lstat(dir).catch((err: NodeJS.ErrnoException) => err);
  if (stat instanceof Error) return stat.code === "ENOENT" ? null : stat.message;
  if (!stat.isDirectory()) return "not a folder (a symlink is never followed)";
  try {
    await rm(dir, { recursive: true });
    return undefined;
  } catch (err) {
    return (err as Error).message.split("\n")[0];
  }
}

function outputsOf(r: RunRecord): string {
  const copy = r.outputs.files.find((f) => f.path)?.path;
  if (copy) return path.relative(process.cwd(), path.dirname(copy));
  if (r.outputs.location) return r.outputs.location;
  if (r.children.length) return `${r.children.length} child runs`;
  return "";
}

/** The timeline of a run: each state with its attempts, then the failure and its full Cause. */
export function show(r: RunRecord, out: (line: string) => void): void {
  const t0 = Date.parse(r.started_at);
  const at = (iso: string) => `+${seconds(Date.parse(iso) - t0).padStart(8)}`;
  out(`${r.workflow} ${r.id}: ${r.status}${r.duration_ms === null ? " (running)" : ` in ${seconds(r.duration_ms)}`}`);
  out(`${r.source} execution ${r.execution.arn}`);
  out(`started ${r.started_at}${r.stopped_at ? `, stopped ${r.stopped_at}` : ""}`);
  out(`input ${JSON.stringify(r.input)}`);
  if (r.parent) out(`part of run ${r.parent.id}`);
  out("");
  const rows: string[][] = [];
  for (const v of r.states) {
    const name = `${v.iteration ? `${v.iteration} ` : ""}${v.name}`;
    if (v.attempts.length === 0) {
      if (v.type === "Task" || v.type === "Map" || v.type === "Wait" || v.status !== "SUCCEEDED") rows.push([at(v.entered_at), name, v.status.toLowerCase(), "", "", "", ""]);
      continue;
    }
    for (const a of v.attempts) {
      rows.push([
        at(a.started_at),
        name,
        a.status.toLowerCase() + (v.status === "CAUGHT" && a === v.attempts.at(-1) ? " (caught)" : ""),
        String(a.number),
        a.duration_ms === null ? "running" : seconds(a.duration_ms),
        a.tier ?? "",
        a.peak_rss_bytes ? `${Math.round(a.peak_rss_bytes / 2 ** 20)} MiB` : "",
      ]);
    }
  }
  table(["at", "state", "status", "attempt", "duration", "tier", "peak RSS"], rows).forEach((l) => out(l));
  if (r.children.length) {
    out("");
    table(
      ["item", "status", "duration", "child run"],
      r.children.map((c) => [Object.values(c.key_input).join(" ") || c.name, c.status, c.duration_ms === null ? "running" : seconds(c.duration_ms), c.id]),
    ).forEach((l) => out(l));
  }
  // The state the run model found failed the run (run-model/interpret.ts), its last failed visit.
  const failed = r.error?.state ? [...r.states].reverse().find((v) => v.name === r.error!.state && (v.status === "FAILED" || v.status === "CAUGHT")) : undefined;
  if (r.error) {
    out("");
    out(`error: ${r.error.line}`);
    if (failed) {
      out(`failed state: ${failed.name} (${failed.error})`);
      out(`cause: ${pretty(failed.cause ?? "")}`);
      const log = failed.attempts.at(-1)?.log_file;
      if (log) out(`log: ${path.relative(process.cwd(), log)}`);
    } else {
      out(`cause: ${pretty(r.error.cause)}`);
    }
  }
  if (r.outputs.files.length) {
    out("");
    out(`published ${r.outputs.location}: ${r.outputs.files.map((f) => f.name).join(", ")}`);
  }
}

function pretty(text: string): string {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

if (import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith("cli/runs.ts")) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: Error & { code?: string; exitCode?: number }) => {
      const usage = err instanceof UsageError || err.code?.startsWith("ERR_PARSE_ARGS");
      console.error(`error: ${err.message.split("\n")[0]}${usage ? " (see npm run runs -- --help)" : ""}`);
      process.exit(usage ? EXIT.USAGE : (err.exitCode ?? 1));
    },
  );
}
