import { LAMBDA_SERVICE_RETRY } from "./retry-policies.ts";
import type { FunctionStep, Workflow } from "./types.ts";

/**
 * The steps every publishing workflow ends with, written once: the run's Metrics and its Notify. (There is no
 * clean-up on the failure path: a publish changes nothing readers see before its manifest commits, and the next
 * publish removes what an unfinished one left: docs/ARCHITECTURE.md, "Publishing: the commit protocol".)
 */

/** Metrics of a run: reads the published manifest (hence `manifests`, the key patterns it may read). */
export function runMetrics(workflow: string, manifests: string[]): FunctionStep {
  return {
    kind: "function",
    id: "metrics",
    fn: "metrics",
    payload: { workflow, plan: "$.plan", steps: "$.steps", run: "$.run" },
    resultPath: "$.metrics",
    resultFields: ["counts", "bytes", "durationsMs", "totalMs", "tiers", "escalations", "retries", "named"],
    timeoutSeconds: 60,
    retries: [LAMBDA_SERVICE_RETRY],
    onError: "continue",
    access: { read: manifests },
  };
}

/** Notify with what a person wants to read: the input, the plan and the metrics (or the failure). */
export const RUN_NOTIFY: Workflow["notify"] = {
  fn: "notify",
  payload: { input: "$.input", plan: "$.plan", metrics: "$.metrics" },
  timeoutSeconds: 60,
  retries: [LAMBDA_SERVICE_RETRY],
};
