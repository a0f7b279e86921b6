/**
 * From benchmark rows to size policies and projections (used by `bench/run.ts`, in a measuring run and in
 * `--report`). Pure: no measuring here, so the final numbers can be regenerated from bench/results.json.
 *
 * - Memory of a step = a line against the input's MiB. Its slope comes from the realistic-density rows (what a
 *   real region looks like: about 1% of the input kept); its intercept is raised until the line bounds every
 *   measured point of both densities, the ski-dense worst case included; then +10% on the intercept.
 *   A slope needs realistic rows of at least two sizes: with one, the ski-dense rows' slope is used (an upper
 *   bound: they keep far more of the input) and the report says so.
 * - Time of a step on a tier = its CPU seconds (user + system, all threads: what a loaded, shared machine does
 *   not inflate) fitted against input MB on the realistic rows, divided by the vCPUs it can use: at most the two
 *   it was measured on, fewer on a smaller tier.
 */
import { metricData, metricSeries } from "../functions/metrics.ts";
import { AWS_PRICES, estimateRunCost, type RunCostEstimate } from "../lib/aws-pricing.ts";
import { HELPER_LAMBDA_MEMORY_MIB, pickTier, sizeNeeds, tierByName, tierKeepsMargin, TIERS, type SizePolicy, type TierName } from "../workflows/tiers.ts";
import { SKI_ATLAS_SIZED_STEPS, type SkiAtlasSizedStep } from "../workflows/ski-atlas-sizing.ts";
import type { ThreadCpu } from "./thread-cpu.ts";

const MiB = 2 ** 20;
const STEPS = SKI_ATLAS_SIZED_STEPS;

export interface StepMeasure {
  wallS: number;
  peakRssMiB: number;
  /** User + system CPU seconds of the step (older results lack it: the wall time stands in). */
  cpuS?: number;
  /** The tier whose task environment (workflows/tiers.ts taskEnvironment) the step ran in (older results: none). */
  tier?: TierName;
}
export interface Row {
  input: string;
  density?: string;
  inputMB: number;
  inputMiB: number;
  extractMB: number;
  osmiumDecodeS: number;
  osmiumTagsFilterS: number;
  osmiumTagsFilterRssMiB: number;
  steps: Record<SkiAtlasSizedStep, StepMeasure>;
  extractAnalyzePublishS: number;
  ratioToDecode: number;
  mbPerS: number;
  /** The extract's block core, as its log names it (older results: the TypeScript, unnamed). */
  extractCore?: string;
  /** Extract with ATLAS_PBF_WORKERS=1, and its wall ÷ the default run's (older results lack both). */
  extractOneWorkerS?: number;
  workerSpeedup?: number;
  /** CPU seconds (user + system) of the same runs (older results lack them). */
  cpu?: {
    osmiumDecodeS: number;
    osmiumTagsFilterS: number;
    extractS: number;
    extractAnalyzePublishS: number;
    extractOneWorkerS?: number;
    /** One thread inflating every block once (bench/inflate-floor.ts): the floor of any reader of the file, with
     * Node's zlib, and with the compiled core's libdeflate (older results lack it). */
    inflateFloorS?: number;
    inflateFloorLibdeflateS?: number;
    /** The extract's CPU by thread group, with 2 workers and with 1 (bench/thread-cpu.ts). */
    extractThreads?: ThreadCpu;
    extractOneWorkerThreads?: ThreadCpu;
  };
}

export const densityOf = (row: Pick<Row, "density">) => row.density ?? "ski-dense";

export interface Line {
  a: number;
  b: number;
  r2: number;
}

/** Least squares y = a + b·x (b ≥ 0); `a` is then raised so the line covers every point (a bound, not an average). */
export function boundingFit(xs: number[], ys: number[]): Line {
  const n = xs.length;
  if (n === 0) return { a: 0, b: 0, r2: 1 };
  const mx = xs.reduce((s, x) => s + x, 0) / n, my = ys.reduce((s, y) => s + y, 0) / n;
  let sxy = 0, sxx = 0, syy = 0;
  for (let i = 0; i < n; i++) {
    sxy += (xs[i] - mx) * (ys[i] - my);
    sxx += (xs[i] - mx) ** 2;
    syy += (ys[i] - my) ** 2;
  }
  // Sizes within 1% of each other tell nothing about a slope (two densities of one size, say).
  const spread = Math.max(...xs) / Math.max(1e-9, Math.min(...xs)) > 1.01;
  const b = spread && sxx > 0 ? Math.max(0, sxy / sxx) : 0;
  let a = my - b * mx;
  for (let i = 0; i < n; i++) a = Math.max(a, ys[i] - b * xs[i]);
  const r2 = !spread || syy === 0 ? 1 : (sxy * sxy) / (sxx * syy);
  return { a, b, r2 };
}

/** Distinct input sizes among rows (1% apart). */
function distinctSizes(rows: Row[]): number {
  const sizes = [...new Set(rows.map((r) => r.inputMB))].sort((x, y) => x - y);
  return sizes.filter((s, i) => i === 0 || s > sizes[i - 1] * 1.01).length;
}

const ceilTo = (x: number, step: number) => Math.ceil(x / step - 1e-9) * step;

export interface Fits {
  memoryMiB: Record<SkiAtlasSizedStep, Line>;
  /** CPU seconds against input MB, from the realistic rows (or every row when there is none). */
  cpuSeconds: Record<SkiAtlasSizedStep, Line>;
  /** Where each memory slope came from. */
  slopeFrom: Record<SkiAtlasSizedStep, "realistic" | "ski-dense" | "none">;
  extractMBPerInputMB: number;
  notes: string[];
}

export function fitRows(rows: Row[]): Fits {
  const realistic = rows.filter((r) => densityOf(r) === "realistic");
  const skiDense = rows.filter((r) => densityOf(r) !== "realistic");
  const notes: string[] = [];
  const memoryMiB = {} as Fits["memoryMiB"], cpuSeconds = {} as Fits["cpuSeconds"], slopeFrom = {} as Fits["slopeFrom"];
  const slopeRows = distinctSizes(realistic) >= 2 ? realistic : distinctSizes(skiDense) >= 2 ? skiDense : [];
  if (slopeRows !== realistic) {
    notes.push(
      slopeRows.length > 0
        ? "realistic rows of fewer than two sizes: memory slopes are the ski-dense rows' (an upper bound); measure 200 MB and 1 GB realistic inputs to fit them"
        : "no density has rows of two sizes: memory slopes are 0 (flat), which only rows of several sizes can confirm",
    );
  }
  const timeRows = realistic.length > 0 ? realistic : rows;
  for (const s of STEPS) {
    const slope = boundingFit(slopeRows.map((r) => r.inputMiB), slopeRows.map((r) => r.steps[s].peakRssMiB));
    // The intercept bounds every point of both densities under that slope.
    const a = Math.max(...rows.map((r) => r.steps[s].peakRssMiB - slope.b * r.inputMiB));
    memoryMiB[s] = { a, b: slope.b, r2: slope.r2 };
    slopeFrom[s] = slopeRows === realistic ? "realistic" : slopeRows.length > 0 ? "ski-dense" : "none";
    const cpu = (r: Row) => r.steps[s].cpuS ?? r.steps[s].wallS;
    cpuSeconds[s] =
      distinctSizes(timeRows) >= 2
        ? boundingFit(timeRows.map((r) => r.inputMB), timeRows.map(cpu))
        : // One size: time proportional to the input (no fixed part), the mean rate.
          { a: 0, b: timeRows.reduce((sum, r) => sum + cpu(r) / r.inputMB, 0) / timeRows.length, r2: 1 };
  }
  const extractMBPerInputMB = Math.max(...rows.map((r) => r.extractMB / r.inputMB));
  return { memoryMiB, cpuSeconds, slopeFrom, extractMBPerInputMB, notes };
}

/** The size policies for workflows/ski-atlas-sizing.ts from the fits (base memory +10%). */
export function policiesFrom(fits: Fits): Record<SkiAtlasSizedStep, SizePolicy> {
  const e = fits.extractMBPerInputMB;
  // Disk (not sampled: from file sizes): download keeps the raw file; extract reads the raw object from S3 by
  // ranges (no local copy) and writes only the extract; analyze the extract plus its outputs (a fraction of it);
  // publish the staged outputs.
  const disk: Record<SkiAtlasSizedStep, number> = { download: 1.0, extract: e, analyze: 2 * e, publish: e };
  return Object.fromEntries(
    STEPS.map((s) => [
      s,
      {
        baseMemoryMiB: ceilTo(fits.memoryMiB[s].a * 1.1, 8),
        memoryMiBPerInputMiB: Number(ceilTo(fits.memoryMiB[s].b, 0.005).toFixed(3)),
        baseDiskGiB: 0.5,
        diskGiBPerInputGiB: Number(ceilTo(disk[s], 0.01).toFixed(2)),
      } satisfies SizePolicy,
    ]),
  ) as Record<SkiAtlasSizedStep, SizePolicy>;
}

/** Peak memory and disk a policy predicts for an input, the tier pickTier gives it, and whether that keeps the margin. */
export function fitsWithMargin(policy: SizePolicy, inputBytes: number): { tier: TierName; needMiB: number; needDiskGiB: number; fits: boolean } {
  const tier = pickTier(policy, inputBytes);
  const needs = sizeNeeds(policy, inputBytes);
  return { tier, needMiB: needs.memoryMiB, needDiskGiB: needs.diskGiB, fits: tierKeepsMargin(tierByName(tier), needs) };
}

/**
 * Download bandwidth for projections: one HTTPS stream from Geofabrik (servers in Germany) into us-east-1.
 * Not measured here (the machine has no such link); 50 MB/s is a conservative figure for one transatlantic
 * stream, and far below what a Fargate task's network takes, so the task size does not enter it.
 */
export const PROJECTED_DOWNLOAD_MB_PER_S = 50;

/**
 * A successful ski-atlas run enters 13 states (Initialize, Plan, a tier Choice and a task for each of the 4 container
 * steps, Metrics, Notify success, Succeeded): counted from the record of `npm start -- ski-atlas --region sample`.
 */
export const SKI_ATLAS_SUCCESS_TRANSITIONS = 13;

/**
 * S3 requests of a run beyond the per-part ones: what the sample region's run made on the embedded S3 server
 * (26 PUT/POST/LIST, 15 GET/HEAD: manifests, leases, the staged files, the copies of publish). Large inputs add a
 * PUT per 16 MiB multipart part of the download and a ranged GET per 16 MiB read by extract.
 */
export const SKI_ATLAS_BASE_S3_REQUESTS = { write: 26, read: 15 };
const PART_MIB = 16;

/** The vCPUs a step measured on `measuredCpus` cores can use on a tier: no more than it was measured with. */
const usableVcpus = (tier: TierName, measuredCpus: number) => Math.min(tierByName(tier).vcpu, measuredCpus);

/**
 * The custom metric series a successful ski-atlas run sends, by the Metrics helper's own code
 * (functions/metrics.ts): none since RunFailed is sent only on failure; region-less if any, so the same for every
 * region (the per-region detail is a log line).
 */
function skiAtlasMetricSeries(region: string): number {
  return metricSeries(metricData({ workflow: "ski-atlas", status: "SUCCEEDED", plan: { region } }, new Date(0))).length;
}

/**
 * How many regions of the monthly fan-out share each hour of its metric series. The fan-out starts the regions in
 * order, at most `maxConcurrency` at a time (workflows/ski-atlas-monthly.ts), from its schedule on the hour; each
 * region-less series is billed once for every clock hour in which some region's Metrics step sends it, so the
 * fan-out's span in hours, spread over its regions, is each region's share: all in one hour, 1/N each.
 */
export function fanOutMetricSharing(wallMinutes: number[], maxConcurrency: number): { spanMinutes: number; hours: number; sharedBy: number } {
  const slots = Array.from({ length: Math.max(1, maxConcurrency) }, () => 0);
  for (const wall of wallMinutes) {
    const free = slots.indexOf(Math.min(...slots));
    slots[free] += wall;
  }
  const spanMinutes = Math.max(...slots);
  const hours = Math.max(1, Math.ceil(spanMinutes / 60));
  return { spanMinutes, hours, sharedBy: Math.max(1, wallMinutes.length / hours) };
}

export interface Projection {
  region: string;
  inputMB: number;
  tiers: Record<SkiAtlasSizedStep, TierName>;
  stepSeconds: Record<SkiAtlasSizedStep, number>;
  wallMinutes: number;
  cost: RunCostEstimate;
  overflows: string[];
}

export function projectRegion(
  region: { name: string; bytes: number },
  policies: Record<SkiAtlasSizedStep, SizePolicy>,
  fits: Fits,
  measuredCpus: number,
  /** Runs sharing each hour of its metric series (1: the run alone; see `fanOutMetricSharing`). */
  metricSeriesSharedBy = 1,
): Projection {
  const mb = region.bytes / 1e6;
  const tiers = {} as Record<SkiAtlasSizedStep, TierName>;
  const stepSeconds = {} as Record<SkiAtlasSizedStep, number>;
  const overflows: string[] = [];
  for (const s of STEPS) {
    const f = fitsWithMargin(policies[s], region.bytes);
    tiers[s] = f.tier;
    if (!f.fits) overflows.push(`${s} needs ${(f.needMiB / 1024).toFixed(1)} GiB`);
    const cpuS = fits.cpuSeconds[s].a + fits.cpuSeconds[s].b * mb;
    stepSeconds[s] = cpuS / usableVcpus(f.tier, measuredCpus);
    // Download: its CPU share measured from a local file, or the network, whichever is slower.
    if (s === "download") stepSeconds[s] = Math.max(stepSeconds[s], mb / PROJECTED_DOWNLOAD_MB_PER_S);
  }
  const parts = Math.ceil(region.bytes / (PART_MIB * MiB));
  const metricSeriesSent = skiAtlasMetricSeries(region.name);
  const cost = estimateRunCost({
    ecsTasks: STEPS.map((s) => ({ tier: tiers[s], size: tierByName(tiers[s]), seconds: stepSeconds[s] })),
    stateTransitions: SKI_ATLAS_SUCCESS_TRANSITIONS,
    // Plan, Metrics and Notify: well under a second each (the sample run: 0.11, 0.42 and 0.01 s).
    lambdaInvocations: [300, 500, 100].map((durationMs) => ({ memoryMiB: HELPER_LAMBDA_MEMORY_MIB, durationMs })),
    s3Requests: { write: SKI_ATLAS_BASE_S3_REQUESTS.write + parts, read: SKI_ATLAS_BASE_S3_REQUESTS.read + parts },
    // A successful run sends no custom metric (RunFailed only on failure): then no PutMetricData request either.
    putMetricDataRequests: metricSeriesSent > 0 ? 1 : 0,
    customMetricSeries: metricSeriesSent,
    customMetricSharedBy: metricSeriesSharedBy,
    snsPublishes: 1,
  });
  const wall = STEPS.reduce((sum, s) => sum + stepSeconds[s], 0);
  return { region: region.name, inputMB: mb, tiers, stepSeconds, wallMinutes: wall / 60, cost, overflows };
}

/** What the projections assume CloudWatch gets from a successful run (the series count from the Metrics helper's code). */
const metricAssumption = (series: number) =>
  series === 0
    ? "no custom metric (a successful run sends none: RunFailed only on failure), so no PutMetricData and no metric series-hour"
    : `one PutMetricData and an hour of each metric series sent (${series}, region-less), paid by the run alone`;

export const PROJECTION_ASSUMPTIONS =
  `step time = CPU seconds fitted against input MB on the realistic rows ÷ the vCPUs the step can use on its tier ` +
  `(at most the cores it was measured on); download at least input ÷ ${PROJECTED_DOWNLOAD_MB_PER_S} MB/s; ` +
  `${SKI_ATLAS_SUCCESS_TRANSITIONS} state transitions, 3 Lambda invocations, S3 requests ${SKI_ATLAS_BASE_S3_REQUESTS.write} write + ` +
  `${SKI_ATLAS_BASE_S3_REQUESTS.read} read plus one of each per ${PART_MIB} MiB; ${metricAssumption(skiAtlasMetricSeries("iceland"))}; prices ${AWS_PRICES.region} of ${AWS_PRICES.asOf}; ` +
  `tiers: ${TIERS.map((t) => `${t.name} ${t.vcpu} vCPU/${t.memoryMiB / 1024} GB`).join(", ")}`;
