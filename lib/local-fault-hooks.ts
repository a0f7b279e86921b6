import { EXIT, StepError } from "./exit-codes.ts";

/**
 * A fault hook's count, read by step code that can misbehave on purpose for a local test (a publish that crashes
 * after n copies, lib/publish-prefix.ts; a task killed after n outputs, lib/tasks/task-files.ts). Honoured only in
 * local runs (`ATLAS_LOCAL=1`), so a deployed task can never be told to kill itself; undefined when unset.
 */
export function localFaultCount(env: Record<string, string | undefined>, name: string): number | undefined {
  const raw = env[name]?.trim();
  if (env.ATLAS_LOCAL !== "1" || raw === undefined || raw === "") return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new StepError(`${name}='${raw}' is not a count`, EXIT.USAGE);
  return n;
}
