import * as path from "node:path";
import type { ProgressEvent } from "../run-model/progress-events.ts";

/** Width of the elapsed-time column (`00:12.3` and two spaces): continuation lines are indented by it. */
const TIME_COLUMN = " ".repeat(9);

/**
 * Prints one plain line per event: readable in a terminal and in CI logs alike (no cursor tricks, no colour
 * unless the stream is a TTY). Times are elapsed since the first event.
 */
export class ProgressPrinter {
  private readonly t0: number;
  private readonly color: boolean;

  constructor(
    private readonly write: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
    options: { color?: boolean; startedAt?: number } = {},
  ) {
    this.t0 = options.startedAt ?? Date.now();
    this.color = options.color ?? Boolean(process.stderr.isTTY && !process.env.NO_COLOR);
  }

  handle = (event: ProgressEvent): void => {
    const line = this.format(event);
    if (line) this.write(`${elapsed(event.time - this.t0)}  ${line}`);
  };

  format(event: ProgressEvent): string | undefined {
    const who = event.execution.length > 28 ? `${event.execution.slice(0, 27)}…` : event.execution;
    const c = (code: number, text: string) => (this.color ? `\x1b[${code}m${text}\x1b[0m` : text);
    switch (event.kind) {
      case "execution-started":
        return `${c(1, "▶")} ${event.machine} ${who} started`;
      case "execution-finished":
        return event.status === "SUCCEEDED"
          ? `${c(32, "✔")} ${event.machine} ${who} succeeded in ${seconds(event.durationMs)}`
          : `${c(31, "✘")} ${event.machine} ${who} ${event.status.toLowerCase()}: ${event.error ?? ""}`;
      case "state-started":
        return `  ${c(36, "→")} [${who}] ${event.state} started${event.attempt > 1 ? ` (attempt ${event.attempt})` : ""}`;
      case "state-succeeded":
        return `  ${c(32, "✓")} [${who}] ${event.state} succeeded in ${seconds(event.durationMs)}`;
      case "state-failed":
        return `  ${c(31, "✗")} [${who}] ${event.state} failed: ${event.error ?? "unknown error"}${logLine(event.logFile)}`;
      case "retrying":
        return `  ${c(33, "↻")} [${who}] ${event.state} retrying: attempt ${event.attempt} in ${seconds(event.waitMs)}${logLine(event.logFile)}`;
      case "tier-escalated":
        return `  ${c(35, "⬆")} [${who}] ${event.state.split(":")[0]} out of memory: tier escalated ${event.detail}`;
      case "log":
        return `      [${who}] ${event.state.replace(/ \(.*\)$/, "")} | ${event.line}`;
      case "heartbeat":
        // One line per beat, in a TTY and a pipe alike: a rewritten line would garble the log a pipe keeps.
        // Memory is left out until the first sample of the step's processes has come in.
        return `  ${c(2, "…")} [${who}] ${event.state} running for ${seconds(event.elapsedMs)}${event.rssBytes > 0 ? `, ${mebibytes(event.rssBytes)} in memory now` : ""}`;
      case "fault-injected":
        // A hang is otherwise silent for as long as the state's timeout, up to hours: say so once, when it starts.
        return event.fault === "hang"
          ? `  ${c(33, "⚡")} [${who}] ${event.state}: injected fault hang: the step hangs until the state's timeout, ${seconds(event.timeoutMs)} (TimeoutSeconds ${event.timeoutMs / 1000})`
          : `  ${c(33, "⚡")} [${who}] ${event.state}: injected fault ${event.fault}`;
    }
  }
}

/** Where a failed attempt's output is, on a line of its own under the failure. */
function logLine(file: string | undefined): string {
  if (!file) return "";
  const relative = path.relative(process.cwd(), file);
  return `\n${TIME_COLUMN}      log: ${relative && !relative.startsWith("..") ? relative : file}`;
}

export function mebibytes(bytes: number): string {
  return `${Math.round(bytes / 2 ** 20)} MiB`;
}

export function elapsed(ms: number): string {
  const total = Math.max(0, ms) / 1000;
  const m = Math.floor(total / 60);
  const s = (total % 60).toFixed(1).padStart(4, "0");
  return `${String(m).padStart(2, "0")}:${s}`;
}

export function seconds(ms: number): string {
  return ms < 10_000 ? `${(ms / 1000).toFixed(2)} s` : ms < 120_000 ? `${(ms / 1000).toFixed(1)} s` : `${(ms / 60_000).toFixed(1)} min`;
}
