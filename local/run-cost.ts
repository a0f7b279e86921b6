import { estimateRunCost, type RunCostEstimate, type RunUsage } from "../lib/aws-pricing.ts";
import { metricData, metricSeries, type MetricsSummary } from "../functions/metrics.ts";
import { HELPER_LAMBDA_MEMORY_MIB } from "../workflows/tiers.ts";
import { forEachState } from "./engine.ts";
import { detailsOf, type HistoryEventRecord, type StateVisit } from "./run-record.ts";

/**
 * The tier an ECS attempt ran on when its state name does not say: the failure path's clean-up task
 * (`Roll back publish`), which workflows/compile.ts always runs on the small tier.
 */
const UNNAMED_ECS_TIER = "small";

/**
 * What an execution used, from its record (the same on AWS and locally): every Task attempt by the kind of
 * resource its state calls (read from the definition, else from the history's `TaskScheduled` events), every state
 * entered and every retry as a state transition, a PutMetricData request per Metrics invocation (the helper sends
 * at most 1 000 points per request and a run sends far fewer) and the metric series it sent (recomputed by the
 * helper's own `metricData` from the summary it returned, its named metrics included: `RunFailed` and, for
 * weather, the manifest's metrics; each priced as one hour paid by this run alone, which for the regions of a
 * fan-out sharing a series in the same hour is an upper bound), an SNS publish per Notify invocation that
 * succeeded. S3 requests are not in a record: the local engine counts them on its embedded S3 server (`s3Requests`);
 * on AWS they stay uncounted (null).
 */
export function runUsage(
  o: { workflow?: string; history: HistoryEventRecord[]; states: StateVisit[]; definition: unknown },
  s3Requests: RunUsage["s3Requests"] = null,
): RunUsage {
  const resources = new Map<string, { resource: string; functionName: string }>();
  const definition = o.definition as { States?: Record<string, Record<string, unknown>> } | null;
  if (definition?.States) {
    forEachState(definition as { States: Record<string, Record<string, unknown>> }, (name, s) => {
      if (typeof s.Resource === "string") {
        const fn = (s.Parameters as { FunctionName?: unknown } | undefined)?.FunctionName;
        resources.set(name, { resource: s.Resource, functionName: typeof fn === "string" ? fn : "" });
      }
    });
  }
  const usage: RunUsage = { ecsTasks: [], stateTransitions: 0, lambdaInvocations: [], s3Requests, putMetricDataRequests: 0, customMetricSeries: 0, snsPublishes: 0 };
  for (const visit of o.states) {
    usage.stateTransitions += 1 + Math.max(0, visit.attempts.length - 1);
    if (visit.type !== "Task") continue;
    const known = resources.get(visit.name);
    const isEcs = known ? known.resource.includes(":ecs:") : visit.attempts.some((a) => a.tier !== null);
    const isLambda = known ? known.resource.includes(":lambda:") : false;
    for (const attempt of visit.attempts) {
      const ms = attempt.duration_ms ?? 0;
      if (isEcs) usage.ecsTasks.push({ tier: attempt.tier ?? UNNAMED_ECS_TIER, seconds: ms / 1000 });
      else if (isLambda) {
        usage.lambdaInvocations.push({ memoryMiB: HELPER_LAMBDA_MEMORY_MIB, durationMs: ms });
        if (/metrics/i.test(known!.functionName)) {
          usage.putMetricDataRequests += 1;
          if (attempt.status === "SUCCEEDED") usage.customMetricSeries += metricSeriesSent(o.workflow ?? "", visit);
        }
        if (/notify/i.test(known!.functionName) && attempt.status === "SUCCEEDED") usage.snsPublishes += 1;
      }
    }
  }
  // Without a definition: the history still tells Lambda invocations apart (their durations are unknown).
  if (!definition?.States) {
    for (const e of o.history) {
      if (e.type === "TaskScheduled" && detailsOf(e).resourceType === "lambda") {
        usage.lambdaInvocations.push({ memoryMiB: HELPER_LAMBDA_MEMORY_MIB, durationMs: 0 });
      }
    }
  }
  return usage;
}

/**
 * How many series a Metrics visit sent: the helper's own `metricData` over the summary it returned (its `named`
 * metrics included), counted as CloudWatch bills them (distinct name + dimensions).
 */
function metricSeriesSent(workflow: string, visit: StateVisit): number {
  const output = visit.output as { metrics?: MetricsSummary } | null;
  if (!output?.metrics) return 0;
  const status = /failed/i.test(visit.name) ? "FAILED" : "SUCCEEDED";
  const named = Object.entries(output.metrics.named ?? {}).map(([name, value]) => ({ name, value }));
  return metricSeries(metricData({ workflow, status, extraMetrics: named }, new Date(0))).length;
}

export function runCost(o: Parameters<typeof runUsage>[0], s3Requests: RunUsage["s3Requests"] = null): RunCostEstimate {
  return estimateRunCost(runUsage(o, s3Requests));
}
