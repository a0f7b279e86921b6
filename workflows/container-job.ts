import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { LAMBDA_SERVICE_RETRY, ECS_CAPACITY_RETRY } from "./retry-policies.ts";
import { RETRYABLE_EXIT_CODES } from "../lib/exit-codes.ts";
import { checkJobInput, type JobSpec } from "../lib/input-checks.ts";
import { runIdProblem } from "../lib/run-id.ts";
import { toSourceUrl } from "../lib/source-url.ts";
import { cliInputCheckConfig } from "./config.ts";
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
  /** Options of `npm start -- <name>`; `config` and `run-id` are always two. */
  cli?: {
    /** Options that shape the generated default config, with their help text: not taken with `--config`. */
    options?: Record<string, string>;
    /** The config when `--config` is not given; `note` tells the user what it chose. */
    defaultConfig?: (target: "local" | "aws", options: Record<string, string | undefined>, note: (line: string) => void) => Promise<string | undefined>;
  };
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
    cli: {
      options: {
        config: `the job's config: a local JSON file (offline) or s3://BUCKET/${prefix}… (default offline: a generated sample)`,
        "run-id": "names the output prefix (default: the execution name): letters, digits, . _ -",
        ...o.cli?.options,
      },
      async input(options, target, note = () => {}) {
        const { config, "run-id": runId } = options;
        const shaping = Object.keys(o.cli?.options ?? {}).filter((name) => options[name] !== undefined);
        if (config !== undefined && shaping.length) throw new Error(`--${shaping[0]} shapes the generated config: pass it or --config, not both`);
        const input: Record<string, unknown> = {};
        if (runId !== undefined) {
          const problem = runIdProblem(runId, "--run-id");
          if (problem) throw new Error(problem);
          input.runId = runId;
        }
        const chosen = config ?? (await o.cli?.defaultConfig?.(target, options, note));
        if (chosen === undefined) throw new Error(`--config is required for ${o.name}${target === "aws" ? " with --aws" : ""}`);
        if (target === "aws" && !chosen.startsWith("s3://")) throw new Error("--config must be an s3:// URI with --aws");
        input.config = toSourceUrl(chosen, "--config", "file");
        // A local config is read now: one that is not JSON would otherwise pass every check and fail the step.
        if (String(input.config).startsWith("file:")) await checkJsonFile(fileURLToPath(String(input.config)), "--config");
        // Plan's own checks, so that bad input is refused before anything runs.
        checkJobInput(input, job, cliInputCheckConfig(target));
        return input;
      },
    },
  };
}

/** Throws one line when `file` is not a JSON document (its first parse error, with where it is). */
async function checkJsonFile(file: string, option: string): Promise<void> {
  const text = await readFile(file, "utf8");
  try {
    JSON.parse(text);
  } catch (err) {
    throw new Error(`${option} ${file} is not JSON (${(err as Error).message.split("\n")[0]}): a job's config is a JSON document`);
  }
}
