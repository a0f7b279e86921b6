import { CLEANUP_CAPACITY_RETRY, CLEANUP_TASK_RETRY, LAMBDA_SERVICE_RETRY } from "./retry-policies.ts";
import type { FailureStep, FunctionStep, Workflow } from "./types.ts";

/**
 * The steps every publishing workflow ends with, written once: the run's Metrics, its Notify, and the rollback
 * of an interrupted publish on the failure path.
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

/** A run that failed mid-publish leaves a journal under its prefix: put the previous version back before reporting. */
export function rollbackPublish(container: string): FailureStep {
  return {
    name: "Roll back publish",
    container,
    command: ["rollback"],
    environment: { PUBLISH_URI: "$.plan.uris.publish" },
    timeoutSeconds: 15 * 60,
    whenPresent: "$.plan.uris.publish",
    retries: [CLEANUP_CAPACITY_RETRY, CLEANUP_TASK_RETRY],
  };
}
