import * as path from "node:path";
import type { RunRecorder } from "./run-recorder.ts";

/** 128 + SIGINT: what a shell reports for Ctrl-C. A SIGTERM ends the run the same way. */
export const EXIT_INTERRUPTED = 130;

const SIGNALS = ["SIGINT", "SIGTERM"] as const;

/**
 * Ctrl-C (SIGINT) or SIGTERM during a local run: the run is recorded as ABORTED, one line says so, and the
 * process exits 130. The step processes go with it: the ECS runner kills every task's process group when the
 * process exits. Runs before any other handler (prepended), so the record is on disk before anything exits.
 * Returns the function that removes the handlers (once the run is over).
 */
export function abortRunOnSignal(recorder: RunRecorder, write: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): () => void {
  const handler = (signal: NodeJS.Signals) => {
    let where = "";
    try {
      recorder.abortSync();
      where = ` in ${path.relative(process.cwd(), recorder.file) || recorder.file}`;
    } finally {
      write(`interrupted (${signal}): every step stopped; run ${recorder.id} recorded as ABORTED${where}`);
      process.exit(EXIT_INTERRUPTED);
    }
  };
  for (const signal of SIGNALS) process.prependListener(signal, handler);
  return () => SIGNALS.forEach((signal) => process.removeListener(signal, handler));
}
