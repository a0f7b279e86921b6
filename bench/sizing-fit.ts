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
import { UPLOAD_PART_BYTES, uploadRequests } from "../lib/s3-objects.ts";
import { successPath, type AslStates } from "../run-model/definition.ts";
import { STATE_NAMES } from "../run-model/state-names.ts";
import { downloadPartSize } from "../containers/ski-atlas/download.ts";
import { RANGE_CHUNK, RANGE_CHUNKS_HELD, RANGE_READ_AHEAD } from "../containers/ski-atlas/pbf/source.ts";
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
 * What a real run's record counted (bench/run-counts.json, written by `npm run bench:counts`, bench/run-counts.ts):
 * the S3 requests of a ski-atlas month on the local engine's embedded S3 server, and the sizes they depended on.
 */
export interface MeasuredRun {
  measuredBy: string;
  measuredAt: string;
  scenario: string;
  /** The raw input's bytes and the extract's: the requests that grow with them are taken out (`inputS3Requests`). */
  inputBytes: number;
  extractBytes: number;
  s3Requests: { write: number; read: number };
}

/**
 * What a successful run is made of, for a projection: the states it enters (from the compiled definition: a state
 * added to the machine is counted at once), its Lambda invocations, and its S3 requests apart from those that grow
 * with the input (from a real run's record).
 */
export interface RunShape {
  stateTransitions: number;
  lambdaStates: string[];
  s3Base: { write: number; read: number };
  measured: MeasuredRun;
}

/**
 * A Lambda helper's billed duration in a projection, by state: what the sample run measured (Plan 0.11 s, Metrics
 * 0.42 s, Notify 0.01 s), rounded up for a cold start's share. A Lambda state without one stops the projection.
 */
const PROJECTED_LAMBDA_MS: Record<string, number> = {
  [STATE_NAMES.step("plan")]: 300,
  [STATE_NAMES.metricsSucceeded]: 500,
  [STATE_NAMES.notifySucceeded]: 100,
};

/**
 * The S3 requests that grow with the input: the download's upload of the raw file and the extract's of its output
 * (`uploadRequests`), and the extract's ranged GETs of RANGE_CHUNK. Up to RANGE_CHUNKS_HELD chunks are held, so a
 * raw file that fits is read once; a larger one twice (pass 1 from the end, pass 2 forwards) plus the read-ahead
 * at the two turns: the Andorra extract read in 16, 32 and 64 KiB chunks (109, 55 and 28 of them, 16 held) made
 * 1.99, 2.13 and 2.14 GETs per chunk, each within this bound.
 */
export function inputS3Requests(inputBytes: number, extractBytes: number): { write: number; read: number } {
  const chunks = Math.max(1, Math.ceil(inputBytes / RANGE_CHUNK));
  return {
    write: uploadRequests(inputBytes, downloadPartSize(inputBytes)) + uploadRequests(extractBytes),
    read: chunks <= RANGE_CHUNKS_HELD ? chunks : 2 * chunks + 2 * RANGE_READ_AHEAD,
  };
}

/**
 * The shape of a successful ski-atlas run: its states from the compiled machine's success path
 * (run-model/definition.ts `successPath`), its S3 requests from a real run's record less what its input added.
 * Throws when the machine has a Lambda state without a projected duration, or an ECS task that is not one of the
 * sized steps: a projection would otherwise leave it out.
 */
export function runShape(definition: AslStates, measured: MeasuredRun): RunShape {
  const path = successPath(definition);
  const lambdaStates = path.filter((s) => s.resource?.includes(":lambda:")).map((s) => s.name);
  for (const name of lambdaStates) {
    if (PROJECTED_LAMBDA_MS[name] === undefined) throw new Error(`the success path calls the Lambda state '${name}', which has no projected duration (PROJECTED_LAMBDA_MS)`);
  }
  const sized = new Set<string>(STEPS.map((s) => STATE_NAMES.step(s)));
  for (const s of path.filter((p) => p.resource?.includes(":ecs:"))) {
    if (!sized.has(s.name)) throw new Error(`the success path runs the ECS task '${s.name}', which is not one of the sized steps (${[...sized].join(", ")})`);
  }
  const grown = inputS3Requests(measured.inputBytes, measured.extractBytes);
  return {
    stateTransitions: path.length,
    lambdaStates,
    s3Base: { write: measured.s3Requests.write - grown.write, read: measured.s3Requests.read - grown.read },
    measured,
  };
}

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
  shape: RunShape,
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
  const grown = inputS3Requests(region.bytes, region.bytes * fits.extractMBPerInputMB);
  const metricSeriesSent = skiAtlasMetricSeries(region.name);
  const cost = estimateRunCost({
    ecsTasks: STEPS.map((s) => ({ tier: tiers[s], size: tierByName(tiers[s]), seconds: stepSeconds[s] })),
    stateTransitions: shape.stateTransitions,
    lambdaInvocations: shape.lambdaStates.map((state) => ({ memoryMiB: HELPER_LAMBDA_MEMORY_MIB, durationMs: PROJECTED_LAMBDA_MS[state] })),
    s3Requests: { write: shape.s3Base.write + grown.write, read: shape.s3Base.read + grown.read },
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

export function projectionAssumptions(shape: RunShape): string {
  return (
    `step time = CPU seconds fitted against input MB on the realistic rows ÷ the vCPUs the step can use on its tier ` +
    `(at most the cores it was measured on); download at least input ÷ ${PROJECTED_DOWNLOAD_MB_PER_S} MB/s; ` +
    `${shape.stateTransitions} state transitions (the compiled machine's success path), ${shape.lambdaStates.length} Lambda invocations ` +
    `(${shape.lambdaStates.join(", ")}), S3 requests ${shape.s3Base.write} write + ${shape.s3Base.read} read (${shape.measured.scenario}: ` +
    `${shape.measured.s3Requests.write} + ${shape.measured.s3Requests.read}, less what its input added) plus the uploads of the input and the extract ` +
    `(one PUT, or its ${UPLOAD_PART_BYTES / MiB} MiB parts + 2) and a ${RANGE_CHUNK / MiB} MiB ranged GET per chunk of the input (two passes beyond ${(RANGE_CHUNK * RANGE_CHUNKS_HELD) / MiB} MiB); ` +
    `${metricAssumption(skiAtlasMetricSeries("iceland"))}; prices ${AWS_PRICES.region} of ${AWS_PRICES.asOf}; ` +
    `tiers: ${TIERS.map((t) => `${t.name} ${t.vcpu} vCPU/${t.memoryMiB / 1024} GB`).join(", ")}`
  );
}
