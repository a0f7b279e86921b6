/**
 * Whether the local process that keeps a record is still there. Records rewritten by the process doing the work
 * and closed by it when it ends (the local engine's executions, lib/execution-history.ts; the run records under
 * `.data/runs/`, run-records/record.ts) and locks held by a process (the offline task store's, cli/tasks-offline.ts)
 * all follow these rules: a process killed outright (kill -9, a crash, the machine going down) closes nothing.
 */

/** Whether a process with this pid exists on this machine (signal 0 only asks; EPERM means it exists, not ours). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * A record left RUNNING by a process that is gone: it was stopped with its process, and reads as ABORTED, as Step
 * Functions leaves a stopped execution. A record without a pid (written by an older version, or an AWS run followed
 * from here, whose execution lives on without this machine) cannot be judged and stays RUNNING. A pid taken over by
 * an unrelated process after a reboot makes a dead record look alive, never the reverse: the safe side for anything
 * that deletes or takes over what a live process holds.
 */
export function writerGone(record: { status: string; pid?: number | null }): boolean {
  return record.status === "RUNNING" && typeof record.pid === "number" && !processAlive(record.pid);
}
