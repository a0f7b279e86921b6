import { writerGone } from "../lib/process-alive.ts";
import type { RunRecord } from "./record.ts";

/**
 * A local run record as it stands now. The process running a local run rewrites its record while it runs and
 * closes it when it ends, even on Ctrl-C (local/interrupt.ts); a process killed outright (kill -9, a crash, the
 * machine going down) leaves it RUNNING. Such a record reads as ABORTED, by the same rule as the engine's executions
 * (lib/process-alive.ts), so `npm run runs` and the console do not show it running for ever and `runs clean` may
 * remove it. The file itself is left as it is: reading never writes.
 */
export function seenNow(record: RunRecord): RunRecord {
  if (!writerGone(record)) return record;
  const stoppedAt = record.updated_at;
  const duration = Math.max(0, Date.parse(stoppedAt) - Date.parse(record.started_at));
  const running = <T extends string>(status: T) => (status === "RUNNING" ? "ABORTED" : status);
  const { pid, ...rest } = record;
  return {
    ...rest,
    status: "ABORTED",
    error: {
      error: "States.Aborted",
      cause: `the process running it (pid ${pid}) ended without recording an end (killed, or its machine stopped); its last write was at ${stoppedAt}`,
      line: `aborted: the process running it (pid ${pid}) is gone`,
    },
    stopped_at: stoppedAt,
    duration_ms: Number.isNaN(duration) ? null : duration,
    children: record.children.map((c) => ({ ...c, status: running(c.status) })),
    states: record.states.map((v) => ({ ...v, status: running(v.status), attempts: v.attempts.map((a) => ({ ...a, status: running(a.status) })) })),
  };
}
