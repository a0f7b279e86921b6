import * as path from "node:path";
import { releaseLeaseOfStoppedWriter } from "../lib/prefix-lease.ts";
import { makeS3Client } from "../lib/s3.ts";
import { runningTaskCount, stopAllTasks, type RunningTask } from "./ecs-runner.ts";
import { claimInterrupts } from "./run-halt.ts";
import type { RunRecorder } from "./run-recorder.ts";

/** 128 + SIGINT: what a shell reports for Ctrl-C. A SIGTERM ends the run the same way. */
export const EXIT_INTERRUPTED = 130;

const SIGNALS = ["SIGINT", "SIGTERM"] as const;

/**
 * Attempts at cleaning up after a stopped publish. Right after the kill, the embedded S3 may still be handling the
 * dead step's last request (a lease renewal cut off mid-body) and cut a response to the same object ("aborted"):
 * the clean-up is idempotent (a conditional lease release), so it is retried.
 */
const CLEANUP_ATTEMPTS = 3;
const CLEANUP_RETRY_WAIT_MS = 500;

/** Past this, an interrupted run exits anyway (whatever it still waits for): Ctrl-C must end the run. */
const INTERRUPT_LIMIT_MS = 90_000;

type Write = (line: string) => void;

/**
 * Calls `handler` on Ctrl-C (SIGINT) or SIGTERM, ahead of any other listener, and claims the signals so the ECS
 * runner's last resort (stop the steps, exit at once) leaves the stopping to the handler. Returns the removal.
 */
export function onInterrupt(handler: (signal: NodeJS.Signals) => void): () => void {
  const release = claimInterrupts();
  for (const signal of SIGNALS) process.prependListener(signal, handler);
  return () => {
    release();
    SIGNALS.forEach((signal) => process.removeListener(signal, handler));
  };
}

/**
 * Ctrl-C (SIGINT) or SIGTERM during a local run, in this order:
 *  1. one line: "interrupted (SIGINT): stopping N steps…";
 *  2. the run record takes no more events (the steps about to die end ABORTED, as StopExecution leaves them);
 *     every step process is stopped, its whole process group, and nothing new starts (local/run-halt.ts);
 *  3. the run is recorded as ABORTED (from here a second Ctrl-C exits at once and loses nothing);
 *  4. the lease of a publish that was stopped half-way is released, so the next publish need not wait out its TTL
 *     (nothing else: a publish changes nothing visible before its commit, lib/publish-prefix.ts);
 *  5. exit 130.
 * Returns the function that removes the handlers (once the run is over).
 */
export function abortRunOnSignal(recorder: RunRecorder, write: Write = (l) => process.stderr.write(`${l}\n`)): () => void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals) => {
    if (stopping) {
      write(`interrupted again (${signal}): exiting now`);
      process.exit(EXIT_INTERRUPTED); // the ECS runner's exit hook still kills every step's process group
    }
    stopping = true;
    setTimeout(() => {
      write(`error: stopping the run took over ${INTERRUPT_LIMIT_MS / 1000} s: exiting now`);
      process.exit(EXIT_INTERRUPTED);
    }, INTERRUPT_LIMIT_MS).unref();
    const steps = runningTaskCount();
    write(`interrupted (${signal}): stopping ${steps} step${steps === 1 ? "" : "s"}…`);
    void (async () => {
      let where = "";
      try {
        // The record stops taking events first: the steps about to be killed end ABORTED, not failed with exit 137.
        const recorded = recorder.abort();
        const stopped = await stopAllTasks();
        await recorded;
        where = ` in ${path.relative(process.cwd(), recorder.file) || recorder.file}`;
        for (const task of stopped) await rollBackStoppedPublish(task, write);
      } catch (err) {
        write(`error: while stopping the run: ${(err as Error).message.split("\n")[0]}`);
      } finally {
        write(`run ${recorder.id} recorded as ABORTED${where}`);
        process.exit(EXIT_INTERRUPTED);
      }
    })();
  };
  return onInterrupt(handler);
}

/**
 * A stopped publish changed nothing readers see unless it had committed (lib/publish-prefix.ts): what it leaves is
 * its lease, released here since its process is known to be gone, and its unfinished version folder, which no
 * reader follows and the next publish removes. Nothing else is touched.
 */
export async function rollBackStoppedPublish(task: RunningTask, write: Write): Promise<void> {
  const publishUri = task.env.PUBLISH_URI;
  if (!publishUri) return;
  const prefix = publishUri.endsWith("/") ? publishUri : `${publishUri}/`;
  // The real embedded S3 (the task's own endpoint may have been an injected stall).
  const s3 = makeS3Client(task.baseEnv);
  const log = (message: string) => write(`  [${task.step} interrupted] ${message}`);
  const cleanUp = () => releaseLeaseOfStoppedWriter(s3, prefix, task.pid, log);
  try {
    for (let attempt = 1; ; attempt++) {
      try {
        await cleanUp();
        break;
      } catch (err) {
        if (attempt >= CLEANUP_ATTEMPTS) throw err;
        await new Promise((resolve) => setTimeout(resolve, CLEANUP_RETRY_WAIT_MS));
      }
    }
  } catch (err) {
    write(
      `error: could not release the lease of the interrupted ${task.step} of ${prefix} (${(err as Error).message.split("\n")[0]}): ` +
        `it expires by itself`,
    );
  } finally {
    s3.destroy();
  }
}
