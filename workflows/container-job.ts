import { LAMBDA_SERVICE_RETRY, ECS_CAPACITY_RETRY } from "./retry-policies.ts";
import { RETRYABLE_EXIT_CODES } from "../lib/exit-codes.ts";
import type { JobSpec } from "../lib/input-checks.ts";
import { TIER_NAMES, type TierName } from "./tiers.ts";
import { RUN_NOTIFY, runMetrics } from "./standard-steps.ts";
import type { BucketAccess, Workflow } from "./types.ts";

/**
 * A generic one-container job as a workflow: Plan (checks the config URI, fixes the output prefix) → the
 * container on a fixed tier → Metrics → Notify. The job reads its config from the S3 URI in the input
 * (`{ "config": "s3://BUCKET/jobs/<name>/…", "runId"?: "…" }`) and writes its results, then `manifest.json`
 * last, under `s3://BUCKET/jobs/<name>/runs/<runId>/` (env `CONFIG_URI`, `OUTPUT_URI`, `RUN_ID`).
 */
export interface ContainerJobOptions {
  name: string;
  description: string;
  /** `containers/<container>/` (default: the job's name). Its task role is its own. */
  container?: string;
  /** The ECS command: `[<step>]`. Its first word is also the step's id. */
  command: string[];
  /** The job's size: one tier, no escalation (a job that needs more gets a bigger tier in its definition). */
  tier: TierName;
  timeoutMinutes: number;
  /** Attempts in all, first run included. Only failures that can pass (exit 75, image pull, Spot) are retried. */
  attempts: number;
  /** Extra data bucket patterns the job reads, besides its own prefix `jobs/<name>/*`. */
  reads?: string[];
  /** `https-egress-only`: no inbound, outbound HTTPS only (for untrusted code). */
  network?: Workflow["network"];
  /**
   * A job shared by tenants (the grader's `exams`): each run's config sits in `jobs/<name>/<tenants>/<tenant>/`,
   * its results go to `…/<tenant>/runs/<runId>/`, and the task reaches S3 only through a session the state machine
   * starts for the run, narrowed to that tenant's folder for reading and that run's prefix for writing (`scopedSession`).
   */
  tenants?: string;
}

export function containerJob(o: ContainerJobOptions): Workflow {
  if (!(TIER_NAMES as readonly string[]).includes(o.tier)) throw new Error(`${o.name}: unknown tier ${o.tier}`);
  if (o.attempts < 1 || !Number.isInteger(o.attempts)) throw new Error(`${o.name}: attempts must be a whole number ≥ 1`);
  const step = o.command[0];
  const prefix = `jobs/${o.name}/`;
  const seconds = o.timeoutMinutes * 60;
  const access: BucketAccess = { readWrite: [`${prefix}*`], read: o.reads ?? [] };
  const runs = o.tenants ? `${prefix}${o.tenants}/*/runs/` : `${prefix}runs/`;
  // What Plan is told about the job; the CLI checks an input against the same.
  const job: JobSpec = { name: o.name, step, tier: o.tier, prefix, ...(o.tenants ? { tenants: o.tenants } : {}) };
  return {
    name: o.name,
    description: o.description,
    // Every attempt may use its whole timeout, plus the retry waits and the helpers.
    timeoutSeconds: o.attempts * (seconds + 120) + 600,
    exampleInput: { config: `s3://BUCKET/${prefix}config.json` },
    network: o.network ?? "default",
    steps: [
      {
        kind: "function",
        id: "plan",
        fn: "plan-job",
        payload: {
          input: "$.input",
          execution: { name: "$$.Execution.Name", startTime: "$$.Execution.StartTime" },
          job: { ...job },
          tierNames: "$.tiers.name",
        },
        resultPath: "$.plan",
        // A job shared by tenants also gets its tenant's name (the scoped session's tag).
        resultFields: ["workflow", "runId", "config", "uris", "tiers", "tierIndex", ...(o.tenants ? ["tenant"] : [])],
        timeoutSeconds: 60,
        retries: [LAMBDA_SERVICE_RETRY],
        onError: "fail",
        access: { read: [`${prefix}*`] },
      },
      {
        kind: "container",
        id: step,
        container: o.container ?? o.name,
        command: o.command,
        environment: {
          RUN_ID: "$.plan.runId",
          CONFIG_URI: "$.plan.uris.config",
          OUTPUT_URI: "$.plan.uris.publish",
          ...(o.tenants ? { TENANT_URI: "$.plan.uris.tenant" } : {}),
        },
        timeoutSeconds: Object.fromEntries(TIER_NAMES.map((t) => [t, seconds])) as Record<TierName, number>,
        retries: [
          ECS_CAPACITY_RETRY,
          ...(o.attempts > 1
            ? [
                {
                  kind: "cause" as const,
                  name: `${o.name}-attempts`,
                  causeMatches: [
                    ...RETRYABLE_EXIT_CODES.map((code) => `*"ExitCode":${code}*`),
                    "*CannotPullContainerError*",
                    "*ResourceInitializationError*",
                    "*SpotInterruption*",
                  ],
                  waitSeconds: 30,
                  maxAttempts: o.attempts - 1,
                },
              ]
            : []),
        ],
        escalateOnOutOfMemory: false,
        access,
        ...(o.tenants ? { scopedSession: { tenantsPrefix: `${prefix}${o.tenants}/`, tenantPath: "$.plan.tenant", runIdPath: "$.plan.runId" } } : {}),
      },
    ],
    metrics: runMetrics(o.name, [`${runs}*/manifest.json`]),
    notify: RUN_NOTIFY,
    // Durations and retries per run are in the run-summary table (Logs Insights), not metrics.
    dashboardMetrics: ["RunFailed"],
    job,
  };
}
