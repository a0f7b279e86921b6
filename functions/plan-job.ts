import type { S3Client } from "@aws-sdk/client-s3";
import { headObject } from "../lib/s3-objects.ts";
import { makeS3Client, parseS3Uri, s3Uri } from "../lib/s3.ts";
import { TIER_NAMES, type TierName } from "../workflows/tiers.ts";
import { loadConfig, requireBucket, type AtlasConfig } from "./config.ts";
import { InvalidInputError, SourceNotFoundError } from "./errors.ts";
import { sanitizeRunId } from "./plan.ts";
import { inputObject, rejectUnknownFields } from "./validate.ts";

/**
 * Plan of a one-container job (workflows/container-job.ts): `{ input: { config, runId? }, execution, job }` where
 * `job` is the workflow's own data (name, step, tier, prefix). Checks that the config is an S3 URI under the job's
 * prefix (the only place its task role may read) and that it exists, and fixes the output prefix.
 */
export interface JobPlanEvent {
  input?: { config?: unknown; runId?: unknown } | null;
  execution: { name: string; startTime: string };
  job: { name: string; step: string; tier: string; prefix: string };
}

export interface JobPlan {
  workflow: string;
  runId: string;
  config: string;
  uris: { config: string; publish: string };
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
    if (!(await headObject(deps.s3(), config))) throw new SourceNotFoundError(`config ${config} does not exist`);
  }
  const given = input.runId === undefined || input.runId === null ? undefined : String(input.runId);
  const runId = sanitizeRunId(given ?? String(event?.execution?.name ?? ""));
  if (!runId) throw new InvalidInputError(`runId ${JSON.stringify(input.runId)} has no usable characters: use letters, digits, . _ -`);
  return {
    workflow: job.name,
    runId,
    config,
    uris: { config, publish: s3Uri(bucket, `${job.prefix}runs/${runId}/`) },
    tiers: { [job.step]: job.tier as TierName },
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
