import { EXIT } from "../lib/exit-codes.ts";
import { oneLine } from "../lib/one-line.ts";

/**
 * The one place a Step Functions error becomes words: the notification's body and subject, a fan-out's digest, the
 * CLI's progress and final line, the run record and the console all describe a failure with `describeCause`, so
 * the e-mail and the terminal say the same thing.
 */

/** A Step Functions error as a Catch records it (`ResultPath: "$.error"`). */
export interface StatesError {
  Error?: string;
  /** Text, as Step Functions gives it (an object is taken as its JSON). */
  Cause?: unknown;
}

/** The one-line sentence for an Error and its Cause (`describeCause(…).sentence`). */
export function causeSentence(error: string | undefined, cause: unknown): string {
  return describeCause({ Error: error, Cause: cause }).sentence;
}

export interface CauseInfo {
  /** Where the cause came from: an ECS task, a Lambda function, a nested execution, or plain text. */
  kind: "ecs" | "lambda" | "execution" | "text" | "none";
  /** One line for subjects and digests: the step (when the Cause names one) and the sentence. */
  summary: string;
  /** What happened, in one line, without the step: the exit code and what it means, the reasons ECS gave. */
  sentence: string;
  /** Readable lines for a notification body. */
  details: string[];
  step?: string;
  exitCode?: number;
}

const EXIT_MEANINGS: Record<number, string> = {
  [EXIT.USAGE]: "usage or configuration error",
  [EXIT.DATA_ERROR]: "bad input data",
  [EXIT.NO_INPUT]: "input not found",
  [EXIT.TEMP_FAIL]: "temporary failure",
  [EXIT.NO_PERMISSION]: "access denied",
  [EXIT.OUT_OF_MEMORY]: "out of memory",
  [EXIT.HEAP_EXHAUSTED]: "JavaScript heap out of memory",
};

export function describeExitCode(code: number): string {
  const meaning = EXIT_MEANINGS[code];
  return meaning ? `${code} (${meaning})` : String(code);
}

function parseJson(text: string | undefined): Record<string, unknown> | undefined {
  if (!text || !/^\s*\{/.test(text)) return undefined;
  try {
    const value = JSON.parse(text);
    return value && typeof value === "object" && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

interface EcsContainer {
  Name?: string;
  ExitCode?: number;
  Reason?: string;
}

function ecsStep(task: Record<string, unknown>, containers: EcsContainer[]): string | undefined {
  const overrides = (task.Overrides as { ContainerOverrides?: { Command?: unknown[] }[] } | undefined)?.ContainerOverrides ?? [];
  for (const o of overrides) {
    const last = o?.Command?.at(-1);
    if (typeof last === "string" && last) return last;
  }
  return containers.find((c) => c?.Name)?.Name;
}

function fromEcs(error: string, task: Record<string, unknown>): CauseInfo {
  const containers = (Array.isArray(task.Containers) ? task.Containers : []) as EcsContainer[];
  const failed = containers.find((c) => typeof c?.ExitCode === "number" && c.ExitCode !== 0) ?? containers[0];
  const step = ecsStep(task, containers);
  const exitCode = typeof failed?.ExitCode === "number" ? failed.ExitCode : undefined;
  const stopped = typeof task.StoppedReason === "string" ? task.StoppedReason : undefined;
  const reason = typeof failed?.Reason === "string" ? failed.Reason : undefined;

  const details = [`Failed step: ${step ?? "unknown"}`, `Error: ${error}`];
  if (exitCode !== undefined) details.push(`Container exit code: ${describeExitCode(exitCode)}`);
  if (reason) details.push(`Container reason: ${reason}`);
  if (stopped) details.push(`Stopped reason: ${stopped}`);
  if (typeof task.StopCode === "string") details.push(`Stop code: ${task.StopCode}`);
  if (typeof task.TaskArn === "string") details.push(`Task: ${task.TaskArn}`);

  const parts = [...new Set([exitCode !== undefined ? `exit ${describeExitCode(exitCode)}` : undefined, reason, stopped].filter(Boolean))];
  const sentence = oneLine(parts.join("; ") || error);
  return { kind: "ecs", summary: oneLine(`${step ?? "task"}: ${sentence}`), sentence, details, step, exitCode };
}

function fromLambda(error: string, payload: Record<string, unknown>): CauseInfo {
  const type = typeof payload.errorType === "string" ? payload.errorType : error;
  const message = typeof payload.errorMessage === "string" ? payload.errorMessage : "";
  const sentence = oneLine(message ? `${type}: ${message}` : type);
  return {
    kind: "lambda",
    summary: sentence,
    sentence,
    details: [`Error: ${type}`, ...(message ? [`Message: ${message}`] : [])],
  };
}

/**
 * Makes a Step Functions error readable: ECS task JSON (`StoppedReason`, container exit code, the step from the
 * command override), Lambda error JSON (`errorType`, `errorMessage`), a nested execution's description (its own
 * `Error`/`Cause`, recursively), or plain text.
 */
export function describeCause(error: StatesError | null | undefined, depth = 0): CauseInfo {
  const name = error?.Error || "Unknown error";
  const cause = typeof error?.Cause === "string" ? error.Cause : error?.Cause === undefined || error?.Cause === null ? "" : JSON.stringify(error.Cause);
  const json = parseJson(cause);
  if (json && (Array.isArray(json.Containers) || typeof json.StoppedReason === "string" || typeof json.TaskArn === "string")) {
    return fromEcs(name, json);
  }
  if (json && (typeof json.errorMessage === "string" || typeof json.errorType === "string")) return fromLambda(name, json);
  // RunTask answered with `failures` (AmazonECS.Unknown, e.g. no Fargate capacity): no task started.
  if (json && Array.isArray(json.Failures) && json.Failures.length > 0) {
    const reason = (json.Failures[0] as { Reason?: unknown })?.Reason;
    const sentence = oneLine(typeof reason === "string" && reason ? reason : name);
    return { kind: "ecs", summary: oneLine(`${name}: ${sentence}`), sentence, details: [`Error: ${name}`, `RunTask failure: ${sentence}`] };
  }
  if (json && typeof json.ExecutionArn === "string" && depth < 3) {
    const inner = describeCause({ Error: json.Error as string | undefined, Cause: json.Cause as string | undefined }, depth + 1);
    const label = typeof json.Name === "string" ? json.Name : json.ExecutionArn;
    return { ...inner, kind: "execution", details: [`Nested execution: ${label}`, ...inner.details] };
  }
  if (!cause) return { kind: "none", summary: name, sentence: name, details: [`Error: ${name}`] };
  const sentence = oneLine(`${name}: ${cause.split("\n")[0]}`);
  return { kind: "text", summary: sentence, sentence, details: [`Error: ${name}`, `Cause: ${oneLine(cause, 2000)}`] };
}
