import * as os from "node:os";
import * as path from "node:path";
import { releaseLeaseOfStoppedWriter } from "../lib/prefix-lease.ts";
import { makeS3Client } from "../lib/s3.ts";
import { runningTaskCount, stopAllTasks, type RunningTask } from "./ecs-runner.ts";
import { claimInterrupts } from "./run-halt.ts";
import type { RunRecorder } from "./run-recorder.ts";

/**
 * Ctrl-C (SIGINT), SIGTERM, and SIGHUP (the terminal was closed): each stops the run the same way. Without a SIGHUP
 * handler, closing the terminal would end the process on the spot, leaving the record RUNNING and the lease and
 * journal in the bucket.
 */
const SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;

/**
 * A second signal this soon after the first is the same keypress delivered twice, not a person asking again. A
 * terminal sends Ctrl-C to its whole foreground process group, so any parent that also relays it (the `tsx` CLI
 * re-sends SIGINT to a child that has not acknowledged it within 30 ms: the cause of issue 21's "one Ctrl-C handled
 * twice"; npm start now runs `node --import tsx`, one process) delivers it again within milliseconds. A person's
 * second Ctrl-C comes after reading the first one's line: well over a second.
 */
export const SAME_KEYPRESS_MS = 1_000;

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
 * Calls `handler` on Ctrl-C (SIGINT), SIGTERM or SIGHUP, ahead of any other listener, and claims the signals so the
 * ECS runner's last resort (stop the steps, exit at once) leaves the stopping to the handler. Returns the removal.
 */
export function onInterrupt(handler: (signal: NodeJS.Signals) => void): () => void {
  const release = claimInterrupts();
  for (const signal of SIGNALS) process.prependListener(signal, handler);
  return () => {
    release();
    SIGNALS.forEach((signal) => process.removeListener(signal, handler));
  };
}

/** 128 + the signal's number, as a shell reports a process the signal ended. */
export function exitCodeOf(signal: NodeJS.Signals): number {
  return 128 + os.constants.signals[signal];
}

/**
 * What a signal means while the run is already being stopped (since `firstAt`): the same keypress delivered again
 * (within SAME_KEYPRESS_MS: nothing to do), a person asking again (SIGINT or SIGTERM later on: exit at once), or
 * the terminal going away while the run is being stopped (SIGHUP: nobody is asking; the stopping goes on).
 */
export function repeatedSignal(signal: NodeJS.Signals, firstAt: number, now: number): "same-keypress" | "exit-now" | "carry-on" {
  if (now - firstAt < SAME_KEYPRESS_MS) return "same-keypress";
  return signal === "SIGHUP" ? "carry-on" : "exit-now";
}

/** Writes a line to stderr; once the terminal is gone (EIO, EPIPE) there is nobody to tell, and the run goes on. */
function writeStderr(line: string): void {
  try {
    process.stderr.write(`${line}\n`);
  } catch {
    /* the terminal is gone */
  }
}

/** An error on stdout or stderr (a closed terminal: EIO; a closed pipe: EPIPE) must not end the run half-way. */
const ignoreStreamError = () => {};

/**
 * Ctrl-C (SIGINT), SIGTERM or SIGHUP (the terminal was closed) during a local run, in this order:
 *  1. one line: "interrupted (SIGINT): stopping N steps…";
 *  2. the run record takes no more events (the steps about to die end ABORTED, as StopExecution leaves them);
 *     every step process is stopped, its whole process group, and nothing new starts (local/run-halt.ts);
 *  3. the run is recorded as ABORTED;
 *  4. the lease of a publish that was stopped half-way is released, so the next publish need not wait out its TTL
 *     (nothing else: a publish changes nothing visible before its commit, lib/publish-prefix.ts);
 *  5. exit 128 + the signal's number (130 for Ctrl-C, 129 for SIGHUP, 143 for SIGTERM).
 * One Ctrl-C is one interruption: the same signal delivered again at once is ignored (`repeatedSignal`); a second
 * Ctrl-C a person presses later exits at once (a lease it leaves expires by itself, or the next publish takes it
 * over). Writing to a terminal that is gone never ends the run. Returns the function that removes the handlers
 * (once the run is over).
 */
export function abortRunOnSignal(recorder: RunRecorder, write: Write = writeStderr): () => void {
  let firstAt: number | undefined;
  process.stdout.on("error", ignoreStreamError);
  process.stderr.on("error", ignoreStreamError);
  const handler = (signal: NodeJS.Signals) => {
    if (firstAt !== undefined) {
      const meaning = repeatedSignal(signal, firstAt, Date.now());
      if (meaning === "same-keypress") return;
      if (meaning === "carry-on") {
        write(`${signal}: the terminal went away; still stopping the run`);
        return;
      }
      write(`interrupted again (${signal}): exiting now`);
      process.exit(exitCodeOf(signal)); // the ECS runner's exit hook still kills every step's process group
    }
    firstAt = Date.now();
    const exitCode = exitCodeOf(signal);
    setTimeout(() => {
      write(`error: stopping the run took over ${INTERRUPT_LIMIT_MS / 1000} s: exiting now`);
      process.exit(exitCode);
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
        for (const task of stopped) await releaseStoppedPublishLease(task, write);
      } catch (err) {
        write(`error: while stopping the run: ${(err as Error).message.split("\n")[0]}`);
      } finally {
        write(`run ${recorder.id} recorded as ABORTED${where}`);
        process.exit(exitCode);
      }
    })();
  };
  const release = onInterrupt(handler);
  return () => {
    release();
    process.stdout.removeListener("error", ignoreStreamError);
    process.stderr.removeListener("error", ignoreStreamError);
  };
}

/**
 * A stopped publish changed nothing readers see unless it had committed (lib/publish-prefix.ts): what it leaves is
 * its lease, released here since its process is known to be gone, and its unfinished version folder, which no
 * reader follows and the next publish removes. Nothing else is touched.
 */
export async function releaseStoppedPublishLease(task: RunningTask, write: Write): Promise<void> {
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
