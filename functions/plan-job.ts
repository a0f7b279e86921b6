import type { S3Client } from "@aws-sdk/client-s3";
import { headObject } from "../lib/s3-objects.ts";
import { makeS3Client, parseS3Uri, s3Uri } from "../lib/s3.ts";
import { TIER_NAMES, type TierName } from "../workflows/tiers.ts";
import { loadConfig, requireBucket, type AtlasConfig } from "./config.ts";
import { InvalidInputError, SourceNotFoundError } from "./errors.ts";
import { runIdProblem } from "../lib/run-id.ts";
import { sanitizeRunId } from "./plan.ts";
import { inputObject, rejectUnknownFields } from "./validate.ts";

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
}

export interface JobPlan {
  workflow: string;
  runId: string;
  config: string;
  uris: { config: string; publish: string; tenant?: string };
  tiers: Record<string, TierName>;
}

export async function planJob(event: JobPlanEvent, deps: { config: AtlasConfig; s3: () => S3Client }): Promise<JobPlan> {
  const job = event?.job;
  if (!job?.name || !job.step || !(TIER_NAMES as readonly string[]).includes(job.tier) || !job.prefix?.endsWith("/")) {
    throw new InvalidInputError("plan-job needs job: { name, step, tier, prefix/ } from the workflow definition");
  }
  const input = inputObject(event?.input, "the execution input");
  rejectUnknownFields(input, ["config", "runId"], "input");
  const bucket = requireBucket(deps.config);
  if (typeof input.config !== "string") throw new InvalidInputError(`the input needs config, the S3 URI of the job's config, e.g. { "config": "s3://${bucket}/${job.prefix}config.json" }`);
  const config = input.config;
  if (config.startsWith("file://")) {
    if (!deps.config.local) throw new InvalidInputError(`config ${config} is a file:// URL: only local runs (ATLAS_LOCAL=1) read files`);
  } else {
    let loc;
    try {
      loc = parseS3Uri(config);
    } catch {
      throw new InvalidInputError(`config ${JSON.stringify(config)} is not an S3 URI (s3://bucket/key)`);
    }
    if (loc.bucket !== bucket || !loc.key.startsWith(job.prefix)) {
      throw new InvalidInputError(`config ${config} must be under s3://${bucket}/${job.prefix}: the ${job.name} task may read nothing else`);
    }
  }
  const tenant = job.tenants ? tenantOf(config, bucket, job.prefix, job.tenants) : undefined;
  if (!config.startsWith("file://") && !(await headObject(deps.s3(), config))) throw new SourceNotFoundError(`config ${config} does not exist`);
  // An explicit run id is checked, never rewritten (issue 10: `../../x` became `x` and could overwrite run x).
  // The default, the execution name, may hold characters a key should not: that one is made safe.
  let runId: string;
  if (input.runId === undefined || input.runId === null) {
    runId = sanitizeRunId(String(event?.execution?.name ?? ""));
    if (!runId) throw new InvalidInputError(`the execution name ${JSON.stringify(event?.execution?.name)} gives no run id: pass runId`);
  } else {
    const problem = runIdProblem(input.runId, "runId");
    if (problem) throw new InvalidInputError(problem);
    runId = input.runId as string;
  }
  const outputs = tenant ? tenant.prefix : job.prefix;
  return {
    workflow: job.name,
    runId,
    config,
    uris: { config, publish: s3Uri(bucket, `${outputs}runs/${runId}/`), ...(tenant ? { tenant: tenant.uri } : {}) },
    tiers: { [job.step]: job.tier as TierName },
  };
}

/**
 * The tenant a config belongs to. On S3: `<prefix><folder>/<tenant>/…` (the config anywhere in the tenant's folder).
 * Locally (a file:// config): the config file's directory is the tenant's folder, named after it.
 * `prefix` is the tenant's key prefix in the bucket (where its runs go); `uri` is what the run may read.
 */
export function tenantOf(config: string, bucket: string, jobPrefix: string, folder: string): { name: string; prefix: string; uri: string } {
  if (config.startsWith("file://")) {
    const dir = config.slice(0, config.lastIndexOf("/") + 1);
    const name = decodeURIComponent(dir.slice(0, -1).slice(dir.slice(0, -1).lastIndexOf("/") + 1));
    const problem = runIdProblem(name, `${folder} folder name`);
    if (problem) throw new InvalidInputError(`config ${config}: ${problem}`);
    return { name, prefix: `${jobPrefix}${folder}/${name}/`, uri: dir };
  }
  const { key } = parseS3Uri(config);
  const rest = key.slice(`${jobPrefix}${folder}/`.length);
  const name = rest.slice(0, rest.indexOf("/"));
  if (!key.startsWith(`${jobPrefix}${folder}/`) || !rest.includes("/") || runIdProblem(name)) {
    throw new InvalidInputError(`config ${config} must be in one ${folder} folder: s3://${bucket}/${jobPrefix}${folder}/<name>/<file>, the only objects a run may read`);
  }
  const prefix = `${jobPrefix}${folder}/${name}/`;
  return { name, prefix, uri: s3Uri(bucket, prefix) };
}

export async function handler(event: JobPlanEvent): Promise<JobPlan> {
  let client: S3Client | undefined;
  try {
    return await planJob(event, { config: loadConfig(), s3: () => (client ??= makeS3Client()) });
  } finally {
    client?.destroy();
  }
}
