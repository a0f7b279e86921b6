import type { AslDefinition } from "../stacks/resolve-asl.ts";
import { historyEvent, type HistoryEventRecord } from "../run-model/history.ts";
import { forEachState } from "../run-model/definition.ts";

/** An event of aws-local-stepfunctions' `eventLogs`, as far as the history needs it. */
export interface InterpreterEvent {
  type: string;
  timestamp: number;
  index?: number;
  input?: unknown;
  output?: unknown;
  Error?: string;
  Cause?: unknown;
  state?: { name: string; type: string; input?: unknown; output?: unknown };
  parentState?: { name: string };
}

/**
 * Writes one local execution's interpreter events down as Step Functions' `GetExecutionHistory` would show them
 * (run-model/history.ts), so that the run model reads a local run and a run on AWS alike. A Task attempt's
 * `TaskScheduled` carries the parameters the engine's handler was called with (RunTask's overrides: the tier), as
 * on AWS: the handlers hand them over (`scheduled`) as they are called, which is right after the interpreter
 * announces the state's entry or retry and before that announcement reaches the writer.
 */
export class HistoryWriter {
  private readonly events: HistoryEventRecord[] = [];
  /** Last event id per thread (the top level, or one Map iteration), for `previousEventId`. */
  private readonly last = new Map<string, number>();
  /** Task states whose current attempt failed (so their exit is not a TaskSucceeded). */
  private readonly failedAttempt = new Set<string>();
  /** Parameters of attempts whose TaskScheduled is not written yet, per state, in the order they were called. */
  private readonly parameters = new Map<string, unknown[]>();
  private readonly resources = new Map<string, string>();

  constructor(
    definition: AslDefinition | undefined,
    private readonly onEvent: (event: HistoryEventRecord) => void,
  ) {
    if (definition) forEachState(definition, (name, s) => typeof s.Resource === "string" && this.resources.set(name, s.Resource));
  }

  get history(): readonly HistoryEventRecord[] {
    return this.events;
  }

  /** A Task handler was called for `state` with these parameters (what Step Functions passes the resource). */
  scheduled(state: string, parameters: unknown): void {
    this.parameters.set(state, [...(this.parameters.get(state) ?? []), parameters]);
  }

  push(e: InterpreterEvent): void {
    const thread = e.index !== undefined ? `[${e.index}]` : "";
    const t = e.timestamp;
    switch (e.type) {
      case "ExecutionStarted":
        return this.add("", t, "ExecutionStarted", { input: json(e.input), inputDetails: { truncated: false } });
      case "ExecutionSucceeded":
        return this.add("", t, "ExecutionSucceeded", { output: json(e.output), outputDetails: { truncated: false } });
      case "ExecutionFailed":
        return this.add("", t, "ExecutionFailed", { error: e.Error ?? "Error", cause: causeText(e.Cause) });
      case "ExecutionTimeout":
        return this.add("", t, "ExecutionTimedOut", { error: "States.Timeout", cause: "the execution's TimeoutSeconds elapsed" });
      case "MapIterationStarted":
        // An iteration is a thread of its own that begins after the Map's latest event.
        return this.add(thread, t, "MapIterationStarted", { name: e.parentState?.name, index: e.index }, this.last.get(""));
      case "MapIterationSucceeded":
      case "MapIterationFailed":
        return this.add(thread, t, e.type, { name: e.parentState?.name, index: e.index });
    }
    const state = e.state;
    if (!state) return;
    const key = `${thread}/${state.name}`;
    const resource = this.resourceOf(state.name);
    switch (e.type) {
      case "StateEntered":
        this.add(thread, t, `${state.type}StateEntered`, { name: state.name, input: json(state.input), inputDetails: { truncated: false } });
        if (state.type === "Task") this.scheduleAttempt(thread, t, resource, key, state.name);
        return;
      case "StateRetried":
        return this.scheduleAttempt(thread, t, resource, key, state.name);
      case "StateFailed":
        if (state.type === "Task") {
          this.failedAttempt.add(key);
          this.add(thread, t, "TaskFailed", { ...resource, error: e.Error ?? "States.TaskFailed", cause: causeText(e.Cause) });
        } else if (state.type === "Map" || state.type === "Parallel") {
          this.add(thread, t, `${state.type}StateFailed`);
        }
        return;
      case "StateExited":
        if (state.type === "Task" && !this.failedAttempt.has(key)) this.add(thread, t, "TaskSucceeded", { ...resource, output: json(state.output) });
        if (state.type === "Map") this.add(thread, t, "MapStateSucceeded");
        this.add(thread, t, `${state.type}StateExited`, { name: state.name, output: json(state.output), outputDetails: { truncated: false } });
        return;
    }
  }

  private add(thread: string, time: number, type: string, details?: Record<string, unknown>, previous = this.last.get(thread)): void {
    const id = this.events.length + 1;
    const event = historyEvent(id, previous ?? (id > 1 ? this.last.get("") : undefined), time, type, details);
    this.events.push(event);
    this.last.set(thread, id);
    this.onEvent(event);
  }

  private scheduleAttempt(thread: string, time: number, resource: { resourceType: string; resource: string }, key: string, state: string): void {
    this.failedAttempt.delete(key);
    const parameters = this.parameters.get(state)?.shift();
    this.add(thread, time, "TaskScheduled", { ...resource, region: "local", parameters: json(parameters ?? {}) });
    this.add(thread, time, "TaskStarted", { ...resource });
  }

  /** `arn:aws:states:::ecs:runTask.sync` → `{ resourceType: "ecs", resource: "runTask.sync" }`, as the history names it. */
  private resourceOf(stateName: string): { resourceType: string; resource: string } {
    const arn = this.resources.get(stateName) ?? "";
    const service = arn.split(":::")[1] ?? arn;
    const at = service.indexOf(":");
    return at < 0 ? { resourceType: service, resource: "" } : { resourceType: service.slice(0, at), resource: service.slice(at + 1) };
  }
}

function json(value: unknown): string {
  return JSON.stringify(value ?? null);
}

function causeText(cause: unknown): string {
  if (typeof cause === "string") return cause;
  if (cause instanceof Error) return cause.message;
  return cause === undefined ? "" : JSON.stringify(cause);
}
