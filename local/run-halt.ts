/**
 * The local run's "stop everything" switch, shared by the interrupt handling (local/interrupt.ts) and the runners
 * that start work (ECS tasks, Lambda helpers). Once an interrupted run is being stopped, the engine may still react
 * to the tasks it sees dying (a Retry, a Catch into the failure path, a tier escalation): nothing new may start
 * then, or a step would be spawned after every step was stopped, and the failure path's Notify would report a
 * failure that is really an interruption. Work that asks to start is held forever: the process exits soon after.
 */
let halted = false;
let interruptOwners = 0;

export function haltNewWork(): void {
  halted = true;
}

export function newWorkHalted(): boolean {
  return halted;
}

/** Resolves at once while work may start; never, once the run is being stopped. */
export function holdIfHalted(): Promise<void> {
  return halted ? new Promise<void>(() => {}) : Promise.resolve();
}

/**
 * A caller that handles SIGINT/SIGTERM itself (the CLI's run) claims them, so the runners' last-resort handler
 * (kill the step processes and exit at once) leaves the stopping to it. Returns the release.
 */
export function claimInterrupts(): () => void {
  interruptOwners += 1;
  let released = false;
  return () => {
    if (!released) interruptOwners -= 1;
    released = true;
  };
}

export function interruptsClaimed(): boolean {
  return interruptOwners > 0;
}
