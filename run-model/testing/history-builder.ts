import { historyEvent, type HistoryEventRecord } from "../history.ts";

/**
 * Execution histories shaped as Step Functions writes them, built event by event for the run model's tests: each
 * event follows the one before (`previousEventId`), times in seconds after T0.
 */
export const T0 = Date.parse("2026-11-01T06:00:00Z");

export class History {
  readonly events: HistoryEventRecord[] = [];
  add(seconds: number, type: string, details?: Record<string, unknown>): this {
    const id = this.events.length + 1;
    this.events.push(historyEvent(id, id > 1 ? id - 1 : undefined, T0 + seconds * 1000, type, details));
    return this;
  }
  enter(seconds: number, type: string, name: string, input: unknown = {}): this {
    return this.add(seconds, `${type}StateEntered`, { name, input: JSON.stringify(input) });
  }
  exit(seconds: number, type: string, name: string, output: unknown = {}): this {
    return this.add(seconds, `${type}StateExited`, { name, output: JSON.stringify(output) });
  }
  through(seconds: number, type: string, name: string, input: unknown = {}): this {
    return this.enter(seconds, type, name, input).exit(seconds, type, name);
  }
  /** One ECS attempt on `tier`, failing with `cause` or succeeding. */
  ecs(seconds: number, tier: string, outcome: { cause?: string; after: number }): this {
    const parameters = JSON.stringify({ Overrides: { ContainerOverrides: [{ Name: "ski-atlas", Environment: [{ Name: "ATLAS_TIER", Value: tier }] }] } });
    this.add(seconds, "TaskScheduled", { resourceType: "ecs", resource: "runTask.sync", region: "eu-west-1", parameters });
    return outcome.cause
      ? this.add(seconds + outcome.after, "TaskFailed", { resourceType: "ecs", resource: "runTask.sync", error: "States.TaskFailed", cause: outcome.cause })
      : this.add(seconds + outcome.after, "TaskSucceeded", { resourceType: "ecs", resource: "runTask.sync", output: "{}" });
  }
  /** One nested execution started and waited for (a fan-out's item), ending with `failure` or succeeding. */
  execution(seconds: number, failure?: { error: string; cause: string; after: number }): this {
    this.add(seconds, "TaskScheduled", { resourceType: "states", resource: "startExecution.sync:2", region: "eu-west-1", parameters: "{}" });
    return failure
      ? this.add(seconds + failure.after, "TaskFailed", { resourceType: "states", resource: "startExecution.sync:2", error: failure.error, cause: failure.cause })
      : this.add(seconds + 1, "TaskSucceeded", { resourceType: "states", resource: "startExecution.sync:2", output: "{}" });
  }
}

/** An ECS task's Cause: stopped with `exitCode` (and the container's `reason`), its command the step `step`. */
export const stoppedTask = (exitCode: number, reason?: string, step = "extract"): string =>
  JSON.stringify({ StoppedReason: "Essential container in task exited", Containers: [{ ExitCode: exitCode, ...(reason ? { Reason: reason } : {}) }], Overrides: { ContainerOverrides: [{ Command: [step] }] } });
