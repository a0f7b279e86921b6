import type { Log } from "../../lib/run-step.ts";

/** A step's progress log: lib/run-step.ts writes each line to stderr as `[step] message` (stdout stays free for data). */
export type Logger = Log;

export function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}
