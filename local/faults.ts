/**
 * Fault injection for the local engine, for tests and for anyone checking how their workflow copes:
 *
 *   ATLAS_FAULTS=extract:oom:1,download:exit75:2,notify:error
 *
 * Each entry is `<step>:<fault>[:<times>]`: the first `<times>` attempts (default 1) of that step fail that way.
 * `<step>` is a container step (its command, e.g. `extract`) or a helper function (e.g. `plan`, `notify`).
 *
 * Container steps: `oom` (a real child that grows until the tier's memory limit kills it), `exit<N>` (exits
 * with code N: 75 is retryable, 65 is bad data), `hang` (never finishes: the state's timeout must stop it),
 * `s3down` (the embedded S3 server goes away for a moment while the step runs), `crash<N>` (the real publish
 * step kills itself after copying N files: ATLAS_FAULT_CRASH_AFTER_COPIES), `pause<N>` (the real publish step of ski-atlas or weather
 * stops after copying N files and waits there, holding its lease, as if stuck: for trying Ctrl-C mid-publish;
 * ATLAS_FAULT_PAUSE_AFTER_COPIES), `interrupt<N>` (a task on demand's real step is SIGKILLed after writing N of its
 * outputs, and ECS reports the task stopped because its instance went away: lib/tasks/task-files.ts's hook),
 * `capacity` (no task starts: on Fargate RunTask
 * answers with `failures`, "Capacity is unavailable at this time", and the state fails with AmazonECS.Unknown as on
 * AWS; on a capacity provider the task stops unplaced, TaskFailedToStart, as after its wait in PROVISIONING), `heap` (a real Node child with a small `--max-old-space-size` fills its heap and aborts: exit 134,
 * "JavaScript heap out of memory" on stderr), `s3stall` (the real step, its S3
 * connections accepted and never answered: lib/s3.ts's timeouts must end it with exit 75), `s3halfbody` (the
 * real step, every S3 response with a body cut after its headers and half the body; see local/s3-stall.ts).
 * Functions: `error` (a non-retryable error), `throttle` (Lambda.TooManyRequestsException, retryable),
 * `oom` (Runtime.OutOfMemory, as Lambda reports a function that ran out of memory), `hang` (never answers: the
 * state's timeout must stop it), `s3down` (the embedded S3 server is away when the function starts).
 *
 * The CLI checks the entries against the workflow it runs before anything starts (`faultTargets`): a step the
 * workflow does not have (a typo such as `extrct`) or a fault that does not apply to that step (`crash<N>` and
 * `pause<N>` outside a publish) is refused, not silently ignored. Each injection is announced as it happens (the
 * `fault-injected` progress event); a `crash<N>` or `pause<N>` that did not fire, because the step made fewer than N
 * copies (an unchanged month copies nothing), is said when the step ends (local/ecs-runner.ts).
 */
import type { Workflow } from "../workflows/types.ts";

export type FaultKind =
  | "oom"
  | "hang"
  | "s3down"
  | "error"
  | "throttle"
  | "capacity"
  | "s3stall"
  | "s3halfbody"
  | "heap"
  | "refused"
  | { exitCode: number }
  | { crashAfterCopies: number }
  | { pauseAfterCopies: number }
  | { interruptAfterOutputs: number };

/** The fault kinds written as a plain word in ATLAS_FAULTS. */
const NAMED_FAULTS = ["oom", "hang", "s3down", "error", "throttle", "capacity", "heap", "s3stall", "s3halfbody", "refused"];

/** What each kind of step can be made to do (`exit<N>` is a container fault). */
const CONTAINER_FAULTS = ["oom", "hang", "s3down", "capacity", "heap", "s3stall", "s3halfbody", "exit<N>"];
const FUNCTION_FAULTS = ["error", "throttle", "oom", "hang", "s3down"];
/**
 * `crash<N>` and `pause<N>` are hooks in the copy loop of lib/publish-prefix.ts, read only by these steps (their
 * containers' config.ts): on any other step they could never fire, so they are refused there.
 */
const COPY_FAULTS: Record<string, Record<string, string[]>> = {
  "ski-atlas": { publish: ["crash<N>", "pause<N>"] },
  weather: { publish: ["crash<N>", "pause<N>"] },
  // A task's instance going away after the step wrote N outputs (lib/tasks/task-files.ts's hook).
  ocr: { ocr: ["interrupt<N>"] },
  thumbnail: { thumbnail: ["interrupt<N>"] },
};

export type FaultTargetKind = "container" | "function" | "pipe";
/** A step ATLAS_FAULTS may name: its kind, and the faults it takes. */
export interface FaultTarget {
  kind: FaultTargetKind;
  faults: string[];
}

/**
 * The steps ATLAS_FAULTS may name in a run of `workflow`, by the name the engine counts attempts under: each
 * container step's command, each helper function, and the same of every
 * workflow it starts (the monthly fan-out runs ski-atlas).
 */
export function faultTargets(workflow: Workflow, all: Workflow[]): Map<string, FaultTarget> {
  const targets = new Map<string, FaultTarget>();
  const container = (step: string, image: string) => {
    const faults = new Set([...(targets.get(step)?.faults ?? CONTAINER_FAULTS), ...(COPY_FAULTS[image]?.[step] ?? [])]);
    targets.set(step, { kind: "container", faults: [...faults] });
  };
  const fn = (step: string) => targets.set(step, { kind: "function", faults: FUNCTION_FAULTS });
  const add = (w: Workflow) => {
    for (const step of w.steps) {
      if (step.kind === "container") container(step.command[0], step.container);
      else if (step.kind === "function") fn(step.fn);
      else if (step.kind === "fanOut") {
        const child = all.find((c) => c.name === step.workflow);
        if (child && child !== w) add(child);
      }
    }
    for (const step of w.cleanupOnFailure ?? []) if (step.kind === "function") fn(step.fn);
    if (w.metrics) fn(w.metrics.fn);
    if (w.notify) fn(w.notify.fn);
  };
  add(workflow);
  return targets;
}

export interface Fault {
  step: string;
  kind: FaultKind;
  times: number;
}

/**
 * Parses ATLAS_FAULTS. With `targets` (the run's workflow and `faultTargets`), each entry must name one of its
 * steps, with a fault that applies to that kind of step.
 */
export function parseFaults(spec: string | undefined, targets?: { workflow: string; steps: Map<string, FaultTarget> }): Fault[] {
  if (!spec?.trim()) return [];
  return spec.split(",").map((entry) => {
    const [step, kindText, timesText] = entry.trim().split(":");
    const usage = `ATLAS_FAULTS entry '${entry}' is not <step>:<oom|exit<N>|hang|s3down|s3stall|s3halfbody|crash<N>|pause<N>|interrupt<N>|capacity|heap|error|throttle>[:<times>]`;
    if (!step || !kindText) throw new Error(usage);
    let kind: FaultKind;
    const exit = /^exit(\d{1,3})$/.exec(kindText);
    const crash = /^crash(\d{1,3})$/.exec(kindText);
    const pause = /^pause(\d{1,3})$/.exec(kindText);
    const interrupt = /^interrupt(\d{1,3})$/.exec(kindText);
    if (exit) kind = { exitCode: Number(exit[1]) };
    else if (crash) kind = { crashAfterCopies: Number(crash[1]) };
    else if (pause) kind = { pauseAfterCopies: Number(pause[1]) };
    else if (interrupt) kind = { interruptAfterOutputs: Number(interrupt[1]) };
    else if (NAMED_FAULTS.includes(kindText)) kind = kindText as FaultKind;
    else throw new Error(usage);
    const times = timesText === undefined ? 1 : Number(timesText);
    if (!Number.isInteger(times) || times < 1) throw new Error(usage);
    if (targets) {
      const target = targets.steps.get(step);
      if (!target) {
        throw new Error(`ATLAS_FAULTS entry '${entry}': ${targets.workflow} has no step '${step}' (its steps: ${[...targets.steps.keys()].join(", ")})`);
      }
      const name = typeof kind === "string" ? kind : "exitCode" in kind ? "exit<N>" : "crashAfterCopies" in kind ? "crash<N>" : "pauseAfterCopies" in kind ? "pause<N>" : "interrupt<N>";
      if (!target.faults.includes(name)) {
        const copying = name === "crash<N>" || name === "pause<N>";
        throw new Error(
          `ATLAS_FAULTS entry '${entry}': '${step}' is a ${target.kind} step, whose faults are ${target.faults.join(", ")}` +
            (copying ? ` (${name} fires in a publish's copy loop: ${copyFaultSteps()})` : ""),
        );
      }
    }
    return { step, kind, times };
  });
}

/**
 * A step's line about what an injected fault did: `[fault] …`, after the step's own `[publish] ` (lib/publish-prefix.ts's
 * hooks firing), or the local ECS runner's own (a hook that did not fire). The CLI shows such lines even without
 * --verbose. The stand-in processes' `[fault] injected …` repeats the progress view's ⚡ line, and is left out.
 */
export const FAULT_LINE_PREFIX = "[fault]";
export function isFaultLine(line: string): boolean {
  return /^(\[[\w-]+\] )?\[fault\] (?!injected )/.test(line);
}

/** Where crash<N> and pause<N> apply, for the error line: `ski-atlas publish (crash<N>, pause<N>), …`. */
function copyFaultSteps(): string {
  // Only the steps with a copy loop: the task images' hooks (interrupt<N>) fire after outputs, not in a publish.
  const inCopyLoop = (fault: string) => fault === "crash<N>" || fault === "pause<N>";
  return Object.entries(COPY_FAULTS)
    .flatMap(([image, steps]) =>
      Object.entries(steps)
        .filter(([, faults]) => faults.some(inCopyLoop))
        .map(([step, faults]) => `${image} ${step} (${faults.filter(inCopyLoop).join(", ")})`),
    )
    .join(", ");
}

/**
 * The targets ATLAS_FAULTS may name for the offline task platform (local/task-worker.ts): the task workflows' steps,
 * and each machine's pipe, by the machine's name (`tasks-cpu:refused:5`: its first 5 StartExecution calls are refused,
 * as when a deploy left the pipe's target missing, so its messages end in the dead-letter queue).
 */
export function taskFaultTargets(workflows: Workflow[]): Map<string, FaultTarget> {
  const targets = new Map<string, FaultTarget>();
  for (const w of workflows) {
    for (const [step, target] of faultTargets(w, workflows)) targets.set(step, target);
    targets.set(w.name, { kind: "pipe", faults: ["refused"] });
  }
  return targets;
}

/** Counts attempts per step and answers which fault, if any, this attempt gets. */
export class FaultPlan {
  private readonly attempts = new Map<string, number>();
  constructor(private readonly faults: Fault[]) {}

  /** Call once per attempt of `step`. */
  next(step: string): FaultKind | undefined {
    const attempt = (this.attempts.get(step) ?? 0) + 1;
    this.attempts.set(step, attempt);
    let seen = 0;
    for (const fault of this.faults.filter((f) => f.step === step)) {
      if (attempt <= seen + fault.times) return fault.kind;
      seen += fault.times;
    }
    return undefined;
  }
}

export function describeFault(kind: FaultKind): string {
  if (typeof kind === "string") return kind;
  if ("exitCode" in kind) return `exit${kind.exitCode}`;
  if ("interruptAfterOutputs" in kind) return `interrupt${kind.interruptAfterOutputs}`;
  return "crashAfterCopies" in kind ? `crash${kind.crashAfterCopies}` : `pause${kind.pauseAfterCopies}`;
}
