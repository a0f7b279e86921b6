import { stat } from "node:fs/promises";
import { posix } from "node:path";
import { fileURLToPath } from "node:url";
import { getRegion, periodOf, periodProblem, regionProblem, type RegionInfo } from "./regions.ts";
import { runIdProblem } from "./run-id.ts";
import { parseS3Uri, s3Uri } from "./s3.ts";

/**
 * The checks of a run's input, in one place for the two callers that must agree on them: the Plan Lambdas, which
 * throw them as `InvalidInputError` (the errorType their Catch matches, never retried), and the CLI, which refuses
 * the same input with exit 64 before any engine, run folder or notification exists. Only what the input and the
 * configuration decide is checked here: sizing, HEAD requests, S3 listings and existence on S3 stay in Plan.
 */
export class InvalidInputError extends Error {
  constructor(message: string) {
    super(message);
    // Set explicitly (bundlers may rename classes): Lambda reports `name` as the errorType.
    this.name = "InvalidInputError";
  }
}

/** What the checks depend on besides the input. */
export interface InputCheckConfig {
  /** Run by the local engine (`ATLAS_LOCAL=1`): file:// sources and loopback hosts are allowed. */
  local: boolean;
  /** Hosts a source URL may point at (`ATLAS_ALLOWED_SOURCE_HOSTS`). */
  allowedSourceHosts: string[];
  /**
   * The data bucket. Undefined when the caller does not know it (the CLI with `--aws`: the deployed bucket's name
   * is the stack's): the checks bound to it are then left to Plan.
   */
  bucket?: string;
}

/** Hosts an offline run may fetch from over plain http (the local engine's fixture servers). */
export const LOOPBACK_HOSTS: readonly string[] = ["127.0.0.1", "localhost", "[::1]"];

/** The registry entry of a valid, known region, or InvalidInputError saying what is allowed (the known regions). */
export function requireRegion(name: unknown): RegionInfo {
  const problem = regionProblem(name);
  if (problem) throw new InvalidInputError(problem);
  return getRegion(name as string)!;
}

export function requirePeriod(period: unknown, now?: Date): string {
  const problem = periodProblem(period, now);
  if (problem) throw new InvalidInputError(problem);
  return period as string;
}

/** The UTC month of the execution's start time (`$$.Execution.StartTime`, an ISO timestamp): a run's default period. */
export function periodOfStartTime(startTime: unknown): string {
  return periodOf(startDate(startTime, "period", "YYYY-MM"));
}

/** The UTC day of the execution's start time: a weather run's default runId. */
export function dayOfStartTime(startTime: unknown): string {
  return startDate(startTime, "runId", "YYYY-MM-DD").toISOString().slice(0, 10);
}

/** The execution's start time as a date, or the InvalidInputError that says which field to pass instead. */
function startDate(startTime: unknown, field: string, format: string): Date {
  const date = typeof startTime === "string" || typeof startTime === "number" ? new Date(startTime) : undefined;
  if (!date || Number.isNaN(date.getTime())) {
    throw new InvalidInputError(`no ${field} given and the execution start time ${JSON.stringify(startTime)} is not a date: pass ${field} as ${format}`);
  }
  return date;
}

/** An execution input must be a JSON object; a scheduled run with no input may pass null. */
export function inputObject(input: unknown, what: string): Record<string, unknown> {
  if (input === undefined || input === null) return {};
  if (typeof input !== "object" || Array.isArray(input)) {
    throw new InvalidInputError(`${what} must be a JSON object, got ${Array.isArray(input) ? "an array" : typeof input}`);
  }
  return input as Record<string, unknown>;
}

/** Rejects fields the input does not define, so a typo ("regoin") fails loudly instead of being ignored. */
export function rejectUnknownFields(input: Record<string, unknown>, allowed: readonly string[], what: string): void {
  // Step Functions adds AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID to a nested execution's input.
  const unknown = Object.keys(input).filter((k) => !allowed.includes(k) && !k.startsWith("AWS_STEP_FUNCTIONS_"));
  if (unknown.length > 0) {
    throw new InvalidInputError(
      `unknown ${what} field${unknown.length > 1 ? "s" : ""} ${unknown.map((k) => `"${k}"`).join(", ")}: ` +
        `expected ${allowed.join(", ")}`,
    );
  }
}

/**
 * Checks a source URL against the allowlist and returns it parsed:
 * - `https://` from a host in `ATLAS_ALLOWED_SOURCE_HOSTS`;
 * - with `ATLAS_LOCAL=1` only: `http://` or `https://` from a loopback host, and `file://` paths that exist;
 * - nothing else (no other schemes, no credentials in the URL).
 */
export async function checkSourceUrl(source: string, config: Pick<InputCheckConfig, "local" | "allowedSourceHosts">): Promise<URL> {
  let url: URL;
  try {
    url = new URL(source);
  } catch {
    throw new InvalidInputError(`source ${JSON.stringify(source)} is not a URL: expected https://host/path.osm.pbf`);
  }
  const allowed = config.allowedSourceHosts.join(", ");
  if (url.protocol === "file:") {
    if (!config.local) {
      throw new InvalidInputError(`file:// sources are only allowed in local runs (ATLAS_LOCAL=1); use https:// from ${allowed}`);
    }
    const path = fileURLToPath(url);
    const info = await stat(path).catch(() => undefined);
    if (!info?.isFile()) throw new InvalidInputError(`source file ${path} does not exist (or is not a file)`);
    return url;
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw new InvalidInputError(`source scheme ${url.protocol.replace(/:$/, "")}:// is not allowed: use https:// from ${allowed}`);
  }
  if (url.username || url.password) throw new InvalidInputError("source URLs must not carry credentials");
  const host = url.hostname.toLowerCase();
  const loopback = LOOPBACK_HOSTS.includes(host);
  if (config.local && loopback) return url;
  if (url.protocol === "http:") {
    throw new InvalidInputError(
      `http:// sources are not allowed (only from ${LOOPBACK_HOSTS.join("/")} in local runs): use https:// from ${allowed}`,
    );
  }
  if (!config.allowedSourceHosts.includes(host)) {
    throw new InvalidInputError(`source host ${host} is not allowed: sources must come from ${allowed} (ATLAS_ALLOWED_SOURCE_HOSTS)`);
  }
  return url;
}

// ---- ski-atlas (one region, one month) ----

export const SKI_ATLAS_INPUT_FIELDS = ["region", "period", "source", "allowShrink"] as const;

export interface CheckedSkiAtlasInput {
  region: RegionInfo;
  /** Undefined: the execution's start month (Plan's default). */
  period?: string;
  source: URL;
  allowShrink: boolean;
}

/** ski-atlas's input `{ region, period?, source?, allowShrink? }`: everything but the source's size. */
export async function checkSkiAtlasInput(raw: unknown, config: InputCheckConfig): Promise<CheckedSkiAtlasInput> {
  const input = inputObject(raw, "the execution input");
  rejectUnknownFields(input, SKI_ATLAS_INPUT_FIELDS, "input");
  if (input.region === undefined) throw new InvalidInputError('the input needs a region, e.g. { "region": "iceland" }');
  const region = requireRegion(input.region);
  const period = input.period === undefined ? undefined : requirePeriod(input.period);
  if (region.localOnly && !config.local) {
    throw new InvalidInputError(`region "${region.name}" is local-only: run it with the local engine (ATLAS_LOCAL=1)`);
  }
  // null means "the registry's URL": the monthly fan-out always passes the field.
  if (input.source !== undefined && input.source !== null && typeof input.source !== "string") {
    throw new InvalidInputError("source must be a URL string");
  }
  const source = (input.source as string | null | undefined) ?? region.url;
  if (!source) {
    throw new InvalidInputError(`region "${region.name}" has no download URL: pass its source (a file:// URL) in the input`);
  }
  if (input.allowShrink !== undefined && typeof input.allowShrink !== "boolean") {
    throw new InvalidInputError("allowShrink must be true or false (true publishes a month that shrank against the previous one)");
  }
  const url = await checkSourceUrl(source, config);
  sourceBasename(url);
  return { region, period, source: url, allowShrink: input.allowShrink === true };
}

/** The file name at the end of the source URL, used as the raw object's name. */
export function sourceBasename(url: URL): string {
  const base = posix.basename(decodeURIComponent(url.pathname));
  const safe = base.replace(/[^A-Za-z0-9._-]+/g, "-").replace(/^[.-]+/, "");
  if (!safe) throw new InvalidInputError(`source ${url.href} does not end with a file name (expected …/name.osm.pbf)`);
  return safe;
}

// ---- ski-atlas-monthly (the fan-out) ----

export interface CheckedMonthInput {
  /** Deduplicated, in the order given. */
  regions: string[];
  period?: string;
  sources: Record<string, string>;
  /** The regions to rerun even though their month succeeded. */
  forced: Set<string>;
}

function regionList(value: unknown, what: string): string[] {
  const list = typeof value === "string" ? value.split(",").map((r) => r.trim()) : value;
  if (!Array.isArray(list)) throw new InvalidInputError(`${what} must be a list of region names, e.g. ["iceland", "andorra"]`);
  if (list.length === 0) throw new InvalidInputError(`${what} is empty: list at least one region`);
  return list as string[];
}

/** The regions `input.force` names: `true` is every region of the run. */
export function forcedRegions(force: unknown, regions: string[]): Set<string> {
  if (force === undefined || force === false) return new Set();
  if (force === true) return new Set(regions);
  if (!Array.isArray(force) || force.some((r) => typeof r !== "string")) {
    throw new InvalidInputError('force must be true or a list of regions of this run, e.g. ["andorra"]');
  }
  const outside = force.filter((r) => !regions.includes(r));
  if (outside.length > 0) throw new InvalidInputError(`force names regions that are not in this run: ${outside.join(", ")}`);
  return new Set(force as string[]);
}

/**
 * The fan-out's input `{ regions?, period?, sources?, force? }` (`regions` may be "iceland,andorra"), with the
 * configured regions as the default. Each region's own input is then ski-atlas's (checkSkiAtlasInput).
 */
export function checkMonthInput(raw: unknown, defaultRegions: unknown, config: Pick<InputCheckConfig, "local">): CheckedMonthInput {
  const input = inputObject(raw, "the execution input");
  rejectUnknownFields(input, ["regions", "period", "sources", "force"], "input");
  const sources = input.sources ?? {};
  if (typeof sources !== "object" || Array.isArray(sources) || Object.values(sources).some((s) => typeof s !== "string")) {
    throw new InvalidInputError('sources must map region names to source URLs, e.g. {"iceland": "https://…"}');
  }
  const requested = input.regions !== undefined ? regionList(input.regions, "regions") : regionList(defaultRegions, "the default regions");
  const period = input.period === undefined ? undefined : requirePeriod(input.period);
  const regions = [...new Set(requested.map((r) => requireRegion(r).name))];
  const localOnly = regions.filter((r) => getRegion(r)?.localOnly);
  if (localOnly.length > 0 && !config.local) {
    throw new InvalidInputError(`region${localOnly.length > 1 ? "s" : ""} ${localOnly.join(", ")} only run with the local engine (ATLAS_LOCAL=1)`);
  }
  const unknownSources = Object.keys(sources).filter((r) => !regions.includes(r));
  if (unknownSources.length > 0) throw new InvalidInputError(`sources names regions that are not in this run: ${unknownSources.join(", ")}`);
  return { regions, period, sources: sources as Record<string, string>, forced: forcedRegions(input.force, regions) };
}

// ---- weather ----

/** A UTC calendar day, YYYY-MM-DD, that exists. */
export function isRunDay(text: unknown): text is string {
  if (typeof text !== "string" || !/^\d{4}-\d{2}-\d{2}$/.test(text)) return false;
  const d = new Date(`${text}T00:00:00Z`);
  return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === text;
}

export interface CheckedWeatherInput {
  /** Undefined: the execution's start day (Plan's default). */
  runId?: string;
  /** The prefix to ingest, ending in `/`; undefined: the bucket's incoming prefix (Plan's default). */
  source?: string;
}

/** weather's input `{ source?, runId? }`: the day, and a source that is an S3 prefix (or, locally, a file:// one). */
export function checkWeatherInput(raw: unknown, config: Pick<InputCheckConfig, "local">): CheckedWeatherInput {
  const input = inputObject(raw, "the execution input");
  rejectUnknownFields(input, ["source", "runId"], "input");
  let runId: string | undefined;
  if (input.runId !== undefined && input.runId !== null) {
    if (!isRunDay(input.runId)) throw new InvalidInputError(`runId ${JSON.stringify(input.runId)} is not a day: use YYYY-MM-DD`);
    runId = input.runId;
  }
  const source = input.source ?? undefined;
  if (source === undefined) return { runId };
  if (typeof source !== "string") throw new InvalidInputError("source must be an s3://bucket/prefix/ string");
  if (source.startsWith("file://")) {
    if (!config.local) throw new InvalidInputError(`source ${source} is a file:// URL: only local runs (ATLAS_LOCAL=1) read files`);
  } else {
    try {
      parseS3Uri(source);
    } catch {
      throw new InvalidInputError(`source ${JSON.stringify(source)} is not an S3 prefix: use s3://bucket/prefix/`);
    }
  }
  return { runId, source: source.endsWith("/") ? source : `${source}/` };
}

// ---- one-container jobs (workflows/container-job.ts) ----

/** The job's own data, as the workflow passes it to its Plan. */
export interface JobSpec {
  name: string;
  step: string;
  tier: string;
  prefix: string;
  /** The folder of a job shared by tenants (the grader's `exams`). */
  tenants?: string;
}

export interface CheckedJobInput {
  config: string;
  /** Undefined: made from the execution name (Plan's default). */
  runId?: string;
  /** The tenant's folder, for a job shared by tenants (undefined also when the bucket is not known). */
  tenant?: { name: string; prefix: string; uri: string };
}

/**
 * A job's input `{ config, runId? }`: the config is an S3 URI under the job's prefix (the only place its task role
 * may read; in one tenant's folder for a job shared by tenants) or, locally, a file:// URL; an explicit run id is
 * checked, never rewritten (issue 10: `../../x` became `x` and could overwrite run x). The config's existence on S3
 * is Plan's to check.
 */
export function checkJobInput(raw: unknown, job: JobSpec, config: Pick<InputCheckConfig, "local" | "bucket">): CheckedJobInput {
  const input = inputObject(raw, "the execution input");
  rejectUnknownFields(input, ["config", "runId"], "input");
  const bucket = config.bucket ?? "BUCKET";
  if (typeof input.config !== "string") {
    throw new InvalidInputError(`the input needs config, the S3 URI of the job's config, e.g. { "config": "s3://${bucket}/${job.prefix}config.json" }`);
  }
  const configUri = input.config;
  let runId: string | undefined;
  if (input.runId !== undefined && input.runId !== null) {
    const problem = runIdProblem(input.runId, "runId");
    if (problem) throw new InvalidInputError(problem);
    runId = input.runId as string;
  }
  if (configUri.startsWith("file://")) {
    if (!config.local) throw new InvalidInputError(`config ${configUri} is a file:// URL: only local runs (ATLAS_LOCAL=1) read files`);
  } else {
    let loc;
    try {
      loc = parseS3Uri(configUri);
    } catch {
      throw new InvalidInputError(`config ${JSON.stringify(configUri)} is not an S3 URI (s3://bucket/key)`);
    }
    if (config.bucket === undefined) return { config: configUri, runId };
    if (loc.bucket !== config.bucket || !loc.key.startsWith(job.prefix)) {
      throw new InvalidInputError(`config ${configUri} must be under s3://${config.bucket}/${job.prefix}: the ${job.name} task may read nothing else`);
    }
  }
  const tenant = job.tenants && config.bucket !== undefined ? tenantOf(configUri, config.bucket, job.prefix, job.tenants) : undefined;
  return { config: configUri, runId, tenant };
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
