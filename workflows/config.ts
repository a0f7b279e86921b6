import { AWS_PRICES } from "../lib/aws-pricing.ts";
import type { InputCheckConfig } from "../lib/input-checks.ts";
import { DEFAULT_GPU_INSTANCE_TYPE } from "../lib/tasks/task-cost.ts";

/** The local engine's data bucket (in the embedded S3 server). */
export const LOCAL_BUCKET = "atlas-local";

/**
 * Deploy-time settings, read from the environment in one place. `sst deploy` and the tests see the same
 * defaults; override them in `.env.<stage>` (SST loads it) or the shell.
 */
export interface AtlasConfig {
  /** The regions the monthly run covers, from lib/regions.ts. */
  monthlyRegions: string[];
  /** How many regions the monthly run works on at once (the Map's MaxConcurrency). */
  monthlyMaxConcurrency: number;
  /** Hosts a source URL may point at. */
  allowedSourceHosts: string[];
  /** Where alarms and run notifications go (optional e-mail subscription). */
  alertEmail?: string;
  /** The GPU instance type of the `ocr` tasks (x86_64 with an NVIDIA GPU; priced in lib/aws-pricing.ts). */
  gpuInstanceType: string;
  /** At most this many GPU instances at once: no more than the account's quota for the type's family allows. */
  gpuMaxInstances: number;
  /**
   * How many tasks of each queue run at once (ATLAS_TASKS_GPU_CONCURRENCY, ATLAS_TASKS_CPU_CONCURRENCY); the others
   * wait their turn, QUEUED. GPU: one task per instance (one GPU each), so by default the most instances there may
   * be. CPU: each task is a 1 vCPU Fargate task; keep it within the account's Fargate vCPU quota.
   */
  taskConcurrency: { gpu: number; cpu: number };
  /**
   * Where operators read docs/RUNBOOK.md (ATLAS_RUNBOOK_URL, e.g. the file's page in your Git host): each alarm links
   * to its section there. Unset: the alarms name the file's path in the repository.
   */
  runbookUrl?: string;
}

const DEFAULT_MONTHLY_REGIONS = [
  "iceland",
  "andorra",
  "liechtenstein",
  "new-zealand",
  "alps",
  "south-america",
  "africa",
  "australia-oceania",
  "north-america",
  "europe",
  "asia",
];

/** CPU tasks at once by default: 8 one-vCPU Fargate tasks, within a new account's Fargate vCPU quota. */
const DEFAULT_CPU_TASK_CONCURRENCY = 8;

function wholeNumber(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const value = Number(env[name] ?? fallback);
  if (!Number.isInteger(value) || value < min || value > max) throw new Error(`${name} must be a whole number from ${min} to ${max}, got '${env[name]}'`);
  return value;
}

export function readConfig(env: NodeJS.ProcessEnv = process.env): AtlasConfig {
  const list = (value: string | undefined, fallback: string[]) =>
    value ? value.split(",").map((s) => s.trim()).filter(Boolean) : fallback;
  const concurrency = Number(env.ATLAS_MONTHLY_MAX_CONCURRENCY ?? 4);
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 40) {
    throw new Error(`ATLAS_MONTHLY_MAX_CONCURRENCY must be a whole number from 1 to 40, got '${env.ATLAS_MONTHLY_MAX_CONCURRENCY}'`);
  }
  const gpuInstanceType = env.ATLAS_GPU_INSTANCE_TYPE?.trim() || DEFAULT_GPU_INSTANCE_TYPE;
  if (!(gpuInstanceType in AWS_PRICES.ec2GpuOnDemandPerHour)) {
    throw new Error(`ATLAS_GPU_INSTANCE_TYPE '${gpuInstanceType}' has no price in lib/aws-pricing.ts (task costs need it): use one of ${Object.keys(AWS_PRICES.ec2GpuOnDemandPerHour).join(", ")}, or add its price`);
  }
  const gpuMaxInstances = Number(env.ATLAS_GPU_MAX_INSTANCES ?? 2);
  if (!Number.isInteger(gpuMaxInstances) || gpuMaxInstances < 1 || gpuMaxInstances > 100) {
    throw new Error(`ATLAS_GPU_MAX_INSTANCES must be a whole number from 1 to 100, got '${env.ATLAS_GPU_MAX_INSTANCES}'`);
  }
  const taskConcurrency = {
    gpu: wholeNumber(env, "ATLAS_TASKS_GPU_CONCURRENCY", gpuMaxInstances, 1, 100),
    cpu: wholeNumber(env, "ATLAS_TASKS_CPU_CONCURRENCY", DEFAULT_CPU_TASK_CONCURRENCY, 1, 1000),
  };
  const runbookUrl = env.ATLAS_RUNBOOK_URL?.trim() || undefined;
  if (runbookUrl && !/^https:\/\/[^\s#]+$/.test(runbookUrl)) {
    throw new Error(`ATLAS_RUNBOOK_URL must be the https:// address of docs/RUNBOOK.md, without a #section (each alarm adds its own), got '${runbookUrl}'`);
  }
  return {
    gpuInstanceType,
    gpuMaxInstances,
    taskConcurrency,
    monthlyRegions: list(env.ATLAS_MONTHLY_REGIONS, DEFAULT_MONTHLY_REGIONS),
    monthlyMaxConcurrency: concurrency,
    allowedSourceHosts: list(env.ATLAS_ALLOWED_SOURCE_HOSTS, ["download.geofabrik.de"]),
    alertEmail: env.ATLAS_ALERT_EMAIL || undefined,
    runbookUrl,
  };
}

/**
 * What the CLI checks a run's input against before it starts anything: what the Plan it starts will check it
 * against. Offline, the local engine's settings; with `--aws`, the allowlist the stack gives its functions (the
 * same deploy-time setting), and no bucket (the deployed bucket's name is the stack's): Plan checks what needs it.
 */
export function cliInputCheckConfig(target: "local" | "aws", env: NodeJS.ProcessEnv = process.env): InputCheckConfig {
  return {
    local: target === "local",
    allowedSourceHosts: readConfig(env).allowedSourceHosts,
    bucket: target === "local" ? LOCAL_BUCKET : undefined,
  };
}
