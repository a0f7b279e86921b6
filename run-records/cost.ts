import { estimateRunCost, shareMetricSeriesHours, type RunCostEstimate, type RunUsage } from "../lib/aws-pricing.ts";
import { metricData, metricSeries, type MetricsSummary } from "../functions/metrics.ts";
import { forEachState } from "../run-model/definition.ts";
import { detailsOf, type HistoryEventRecord } from "../run-model/history.ts";
import type { StateVisit } from "../run-model/interpret.ts";
import { ECS_CAPACITY_RETRY } from "../workflows/retry-policies.ts";
import { HELPER_LAMBDA_MEMORY_MIB, TASK_DEFINITION_TIER, tierByName } from "../workflows/tiers.ts";

/**
 * What an execution used, from its record (the same on AWS and locally):
 * - every Task attempt by the kind of resource its state calls (read from the definition, else from the history's
 *   `TaskScheduled` events), except an ECS attempt that RunTask refused: no task started, so Fargate bills nothing
 *   (`ecsTaskStarted`);
 * - a state transition for every state entered and every retry: Step Functions Standard "counts a state transition
 *   each time a step of your workflow is executed", and "each retry will be charged as an additional state
 *   transition" (AWS Step Functions pricing). A state entered again (a step run again by the shared retry states, a
 *   state in each Map iteration) is executed again: the run model makes each entry a visit of its own, and a
 *   visit's attempts after its first are its Retry's;
 * - a PutMetricData request per Metrics invocation that sent data (the helper sends at most 1 000 points per
 *   request and a run sends far fewer; none when it has nothing to send) and the metric series it sent (recomputed
 *   by the helper's own `metricData` from the summary it returned, its named metrics included: `RunFailed` when the
 *   run failed and, for weather, the manifest's metrics, so a successful ski-atlas run sends none; each distinct
 *   series-hour priced as paid by this run alone, which for a region of a fan-out is an upper bound:
 *   `withSharedMetricSeries` shares them for the fan-out's total);
 * - an SNS publish per Notify invocation that succeeded.
 * S3 requests are not in a record: the local engine counts them on its embedded S3 server (`s3Requests`); on AWS
 * they stay uncounted (null).
 */
export function runUsage(
  o: { workflow?: string; history: HistoryEventRecord[]; states: StateVisit[]; definition: unknown },
  s3Requests: RunUsage["s3Requests"] = null,
): RunUsage {
  const resources = taskResources(o.definition);
  const usage: RunUsage = { ecsTasks: [], stateTransitions: 0, lambdaInvocations: [], s3Requests, putMetricDataRequests: 0, customMetricSeries: 0, snsPublishes: 0 };
  for (const visit of o.states) {
    // The visit's entry, and its own Retry's attempts after the first.
    usage.stateTransitions += 1 + Math.max(0, visit.attempts.length - 1);
    if (visit.type !== "Task") continue;
    const known = resources.get(visit.name);
    // A task on a capacity provider's EC2 instances (the GPU tasks) is billed as its instance's time, which the
    // instance's tasks share: the task's own record prices it (lib/tasks/task-cost.ts), not the run's Fargate part.
    if (known?.capacityProvider) continue;
    const isEcs = known ? known.resource.includes(":ecs:") : visit.attempts.some((a) => a.tier !== null);
    const isLambda = known ? known.resource.includes(":lambda:") : false;
    for (const attempt of visit.attempts) {
      const ms = attempt.duration_ms ?? 0;
      // An attempt whose tier the history does not say ran at the task definition's size.
      if (isEcs) {
        const tier = attempt.tier ?? TASK_DEFINITION_TIER.name;
        if (ecsTaskStarted(attempt)) usage.ecsTasks.push({ tier, size: tierByName(tier), seconds: ms / 1000 });
      }
      else if (isLambda) {
        usage.lambdaInvocations.push({ memoryMiB: HELPER_LAMBDA_MEMORY_MIB, durationMs: ms });
        // A run that succeeded sends no custom metric, so no PutMetricData request (functions/metrics.ts).
        if (isMetrics(known!) && metricSeriesSent(o.workflow ?? "", visit).length > 0) usage.putMetricDataRequests += 1;
        if (/notify/i.test(known!.functionName) && attempt.status === "SUCCEEDED") usage.snsPublishes += 1;
      }
    }
  }
  usage.customMetricSeries = metricSeriesHours(o, resources).length;
  // Without a definition: the history still tells Lambda invocations apart (their durations are unknown).
  if (!resources.size) {
    for (const e of o.history) {
      if (e.type === "TaskScheduled" && detailsOf(e).resourceType === "lambda") {
        usage.lambdaInvocations.push({ memoryMiB: HELPER_LAMBDA_MEMORY_MIB, durationMs: 0 });
      }
    }
  }
  return usage;
}

/**
 * Whether an ECS attempt started a task. RunTask refusing one (no Fargate capacity: its `failures` list, which the
 * .sync integration raises as AmazonECS.Unknown; throttling and the other ECS.* exceptions of the call) starts none,
 * and Fargate bills from a task's start: these are the errors the ECS capacity policy retries
 * (workflows/retry-policies.ts). Every other attempt (one that succeeded, exited non-zero, or timed out) ran a task.
 */
export function ecsTaskStarted(attempt: Pick<StateVisit["attempts"][number], "error">): boolean {
  return attempt.error === null || !ECS_CAPACITY_RETRY.errors.includes(attempt.error);
}

type TaskResource = { resource: string; functionName: string; capacityProvider: boolean };

/** Each Task state's resource and, for a Lambda, the function it invokes, from the definition (empty without one). */
function taskResources(definition: unknown): Map<string, TaskResource> {
  const resources = new Map<string, TaskResource>();
  const d = definition as { States?: Record<string, Record<string, unknown>> } | null;
  if (!d?.States) return resources;
  forEachState(d as { States: Record<string, Record<string, unknown>> }, (name, s) => {
    if (typeof s.Resource === "string") {
      const parameters = s.Parameters as { FunctionName?: unknown; CapacityProviderStrategy?: unknown } | undefined;
      const fn = parameters?.FunctionName;
      resources.set(name, { resource: s.Resource, functionName: typeof fn === "string" ? fn : "", capacityProvider: Array.isArray(parameters?.CapacityProviderStrategy) });
    }
  });
  return resources;
}

const isMetrics = (r: TaskResource) => r.resource.includes(":lambda:") && /metrics/i.test(r.functionName);

/**
 * The custom metric series-hours a run's Metrics steps sent, as `<name>|<dimensions>@<UTC hour>`: CloudWatch bills
 * each distinct one once (a retried Metrics step in the same hour sends the same series again for free).
 */
export function metricSeriesHours(
  o: { workflow?: string; states: StateVisit[]; definition: unknown },
  resources = taskResources(o.definition),
): string[] {
  const keys = new Set<string>();
  for (const visit of o.states) {
    const known = resources.get(visit.name);
    if (visit.type !== "Task" || !known || !isMetrics(known)) continue;
    for (const attempt of visit.attempts) {
      if (attempt.status !== "SUCCEEDED") continue;
      const hour = (attempt.started_at ?? visit.entered_at ?? "").slice(0, 13);
      for (const series of metricSeriesSent(o.workflow ?? "", visit)) keys.add(`${series}@${hour}`);
    }
  }
  return [...keys];
}

/**
 * The series a Metrics visit sent: the helper's own `metricData` over the summary it returned (its `named`
 * metrics included), as CloudWatch bills them (distinct name + dimensions).
 */
function metricSeriesSent(workflow: string, visit: StateVisit): string[] {
  const output = visit.output as { metrics?: MetricsSummary } | null;
  if (!output?.metrics) return [];
  const status = /failed/i.test(visit.name) ? "FAILED" : "SUCCEEDED";
  const named = Object.entries(output.metrics.named ?? {}).map(([name, value]) => ({ name, value }));
  return metricSeries(metricData({ workflow, status, extraMetrics: named }, new Date(0)));
}

/**
 * The executions of a fan-out send the same region-less series (functions/metrics.ts), and CloudWatch bills a
 * series-hour once, whoever sends it: each execution's estimate with its share, a series-hour that k of them sent
 * costing each 1/k. For the fan-out's own total (its record); each execution's own record prices it alone.
 */
export function withSharedMetricSeries(children: { estimated_cost: RunCostEstimate; workflow: string; states: StateVisit[]; definition: unknown }[]): RunCostEstimate[] {
  const keys = children.map((c) => metricSeriesHours(c));
  const senders = new Map<string, number>();
  for (const own of keys) for (const key of own) senders.set(key, (senders.get(key) ?? 0) + 1);
  return children.map((child, i) => shareMetricSeriesHours(child.estimated_cost, keys[i].length, keys[i].reduce((sum, key) => sum + 1 / senders.get(key)!, 0)));
}

export function runCost(o: Parameters<typeof runUsage>[0], s3Requests: RunUsage["s3Requests"] = null): RunCostEstimate {
  return estimateRunCost(runUsage(o, s3Requests));
}
