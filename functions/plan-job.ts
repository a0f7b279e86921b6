import type { S3Client } from "@aws-sdk/client-s3";
import { headObject } from "../lib/s3-objects.ts";
import { checkJobInput } from "../lib/input-checks.ts";
import { makeS3Client, s3Uri } from "../lib/s3.ts";
import { TIER_NAMES, type TierName } from "../workflows/tiers.ts";
import { loadConfig, requireBucket, type AtlasConfig } from "./config.ts";
import { InvalidInputError, SourceNotFoundError } from "./errors.ts";
import { sanitizeRunId } from "./plan.ts";
import { plannedTiers } from "./plan-tiers.ts";

/**
 * Plan of a one-container job (workflows/container-job.ts): `{ input: { config, runId? }, execution, job }` where
 * `job` is the workflow's own data (name, step, tier, prefix, and `tenants`, the folder of a job shared by tenants).
 * Checks that the config is an S3 URI under the job's prefix (the only place its task role may read) and that it
 * exists, and fixes the output prefix. With `tenants` (the grader's `exams`), the config must sit in one tenant's
 * folder, `<prefix><tenants>/<tenant>/…`; that folder is the run's `uris.tenant`, the only objects the run may read,
 * and its results go to `<tenant folder>runs/<runId>/`, the only place it may write.
 */
export interface JobPlanEvent {
  input?: { config?: unknown; runId?: unknown } | null;
  execution: { name: string; startTime: string };
  job: { name: string; step: string; tier: string; prefix: string; tenants?: string };
  /** The state machine's tier table's names (`$.tiers.name`): Plan answers with positions in it. */
  tierNames?: unknown;
}

export interface JobPlan {
  workflow: string;
  runId: string;
  config: string;
  uris: { config: string; publish: string; tenant?: string };
  /** A job shared by tenants: the run's tenant (an exam's folder name), a tag of the run's scoped session. */
  tenant?: string;
  tiers: Record<string, TierName>;
  tierIndex: Record<string, number>;
}

export async function planJob(event: JobPlanEvent, deps: { config: AtlasConfig; s3: () => S3Client }): Promise<JobPlan> {
  const job = event?.job;
  if (!job?.name || !job.step || !(TIER_NAMES as readonly string[]).includes(job.tier) || !job.prefix?.endsWith("/")) {
    throw new InvalidInputError("plan-job needs job: { name, step, tier, prefix/ } from the workflow definition");
  }
  const bucket = requireBucket(deps.config);
  // The same checks the CLI runs before it starts anything (lib/input-checks.ts).
  const { config, runId: givenRunId, tenant } = checkJobInput(event?.input, job, { local: deps.config.local, bucket });
  if (!config.startsWith("file://") && !(await headObject(deps.s3(), config))) throw new SourceNotFoundError(`config ${config} does not exist`);
  // The default, the execution name, may hold characters a key should not: that one is made safe.
  let runId = givenRunId;
  if (runId === undefined) {
    runId = sanitizeRunId(String(event?.execution?.name ?? ""));
    if (!runId) throw new InvalidInputError(`the execution name ${JSON.stringify(event?.execution?.name)} gives no run id: pass runId`);
  }
  const outputs = tenant ? tenant.prefix : job.prefix;
  return {
    workflow: job.name,
    runId,
    config,
    uris: { config, publish: s3Uri(bucket, `${outputs}runs/${runId}/`), ...(tenant ? { tenant: tenant.uri } : {}) },
    ...(tenant ? { tenant: tenant.name } : {}),
    ...plannedTiers({ [job.step]: job.tier as TierName }, event?.tierNames),
  };
}

export async function handler(event: JobPlanEvent): Promise<JobPlan> {
  let client: S3Client | undefined;
  try {
    return await planJob(event, { config: loadConfig(), s3: () => (client ??= makeS3Client()) });
  } finally {
    client?.destroy();
  }
}
