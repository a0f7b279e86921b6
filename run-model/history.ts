/**
 * An execution history in the shape of Step Functions' `GetExecutionHistory`: events with ids, `previousEventId`,
 * types such as `TaskStateEntered`, and one `…EventDetails` object each, inputs and outputs as JSON text. The AWS
 * SDK's events (timestamps as `Date`) and the local engine's (`local/history-writer.ts`, timestamps as ISO text)
 * are both read as this.
 */
export interface HistoryEvent {
  id: number;
  previousEventId?: number;
  timestamp: string | number | Date;
  type: string;
  [details: string]: unknown;
}

/** A history event as a run record keeps it: the timestamp as ISO text. */
export interface HistoryEventRecord extends HistoryEvent {
  timestamp: string;
}

/** The history's event types, by what they mean for a state. */
export const STATE_TYPES = ["Task", "Map", "Pass", "Choice", "Wait", "Parallel", "Succeed", "Fail"] as const;
export const TASK_START_EVENTS: ReadonlySet<string> = new Set(["TaskScheduled", "LambdaFunctionScheduled", "ActivityScheduled"]);
export const TASK_SUCCESS_EVENTS: ReadonlySet<string> = new Set(["TaskSucceeded", "LambdaFunctionSucceeded", "ActivitySucceeded"]);
export const TASK_FAILURE_EVENTS: ReadonlySet<string> = new Set([
  "TaskFailed",
  "TaskTimedOut",
  "TaskStartFailed",
  "TaskSubmitFailed",
  "LambdaFunctionFailed",
  "LambdaFunctionTimedOut",
  "LambdaFunctionStartFailed",
  "LambdaFunctionScheduleFailed",
  "ActivityFailed",
  "ActivityTimedOut",
  "ActivityScheduleFailed",
]);
/** A Map's or Parallel's own failure (their states stay open while the states inside them run). */
export const CONTAINER_FAILURE_EVENTS: ReadonlySet<string> = new Set(["MapStateFailed", "MapRunFailed", "ParallelStateFailed"]);
export const STATE_ABORT_EVENTS: ReadonlySet<string> = new Set(["TaskStateAborted", "MapStateAborted", "ParallelStateAborted", "WaitStateAborted"]);

export type ExecutionStatus = "SUCCEEDED" | "FAILED" | "TIMED_OUT" | "ABORTED";
export const EXECUTION_END: Readonly<Record<string, ExecutionStatus>> = {
  ExecutionSucceeded: "SUCCEEDED",
  ExecutionFailed: "FAILED",
  ExecutionTimedOut: "TIMED_OUT",
  ExecutionAborted: "ABORTED",
};

/** The event's `…EventDetails` object (each event carries at most one). */
export function detailsOf(event: object): Record<string, unknown> {
  for (const [key, value] of Object.entries(event)) {
    if (key.endsWith("EventDetails") && value && typeof value === "object") return value as Record<string, unknown>;
  }
  return {};
}

/** A history event in GetExecutionHistory's shape, at a time given in milliseconds. */
export function historyEvent(id: number, previousEventId: number | undefined, time: number, type: string, details?: Record<string, unknown>): HistoryEventRecord {
  const event: HistoryEventRecord = { id, timestamp: new Date(time).toISOString(), type };
  if (previousEventId !== undefined) event.previousEventId = previousEventId;
  if (details) event[detailsKeyOf(type)] = details;
  return event;
}

/** GetExecutionHistory names the details after the event (`taskFailedEventDetails`), except for state entry and exit. */
function detailsKeyOf(type: string): string {
  if (type.endsWith("StateEntered")) return "stateEnteredEventDetails";
  if (type.endsWith("StateExited")) return "stateExitedEventDetails";
  return `${type.charAt(0).toLowerCase()}${type.slice(1)}EventDetails`;
}

/** The event as a record keeps it (the SDK's `Date` timestamp as ISO text). */
export function toRecordEvent(event: HistoryEvent): HistoryEventRecord {
  return { ...event, id: event.id ?? 0, timestamp: new Date(toMillis(event.timestamp) ?? 0).toISOString(), type: String(event.type) };
}

/** Epoch milliseconds of a timestamp given as a `Date`, a number or text. */
export function toMillis(value: unknown): number | undefined {
  if (value instanceof Date) return value.getTime();
  if (typeof value === "number") return value;
  if (typeof value === "string") {
    const ms = Date.parse(value);
    return Number.isNaN(ms) ? undefined : ms;
  }
  return undefined;
}

/** JSON text as its value; anything else (or text that is not JSON) as is. */
export function parseJsonText(value: unknown): unknown {
  if (typeof value !== "string") return value ?? null;
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}
