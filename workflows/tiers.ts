import { TASK_ENV } from "../lib/task-env.ts";
import { FARGATE_FREE_EPHEMERAL_GIB, TIER_NAMES, TIERS, type Tier, type TierName } from "../lib/tiers.ts";

/** The tier table itself is lib/tiers.ts's (the task platform in lib/tasks/ sizes its tasks by it too). */
export { FARGATE_FREE_EPHEMERAL_GIB, TIER_NAMES, TIERS, tierByName, type Tier, type TierName } from "../lib/tiers.ts";

/**
 * Memory of every helper Lambda (stacks/constructs/HelperFunctions.ts): the run cost estimate (run-records/cost.ts)
 * needs it, and a run record does not carry it.
 */
export const HELPER_LAMBDA_MEMORY_MIB = 256;

/**
 * A step's timeout per tier, in seconds, from minutes for small, medium, large and xlarge. xsmall gets small's:
 * its inputs are a fraction of small's, on a quarter of the CPU.
 */
export function timeoutMinutes(small: number, medium: number, large: number, xlarge: number): Record<TierName, number> {
  return { xsmall: small * 60, small: small * 60, medium: medium * 60, large: large * 60, xlarge: xlarge * 60 };
}

/** The tier one up, or undefined at the top: an out-of-memory step is re-run there while one remains. */
export function nextTier(name: TierName): TierName | undefined {
  return TIER_NAMES[TIER_NAMES.indexOf(name) + 1];
}

/**
 * How much a step needs, as a linear fit against the size of the run's input (the source PBF).
 * The coefficients are measured by the benchmark (`npm run bench`), never guessed: see bench/README.md.
 */
export interface SizePolicy {
  /** Peak RSS in MiB = baseMemoryMiB + memoryMiBPerInputMiB × input MiB. */
  baseMemoryMiB: number;
  memoryMiBPerInputMiB: number;
  /** Peak disk in GiB = baseDiskGiB + diskGiBPerInputGiB × input GiB. */
  baseDiskGiB: number;
  diskGiBPerInputGiB: number;
}

/** Headroom kept on both memory and disk: a tier fits when the fit uses at most 70% of it. */
export const SIZING_MARGIN = 0.3;

/** What a step needs for an input of `inputBytes`, by its policy: peak memory (MiB) and disk (GiB). */
export function sizeNeeds(policy: SizePolicy, inputBytes: number): { memoryMiB: number; diskGiB: number } {
  const inputMiB = inputBytes / 2 ** 20;
  return {
    memoryMiB: policy.baseMemoryMiB + policy.memoryMiBPerInputMiB * inputMiB,
    diskGiB: policy.baseDiskGiB + policy.diskGiBPerInputGiB * (inputMiB / 1024),
  };
}

/** Whether a tier holds those needs and keeps the margin on both memory and disk. */
export function tierKeepsMargin(tier: Tier, needs: { memoryMiB: number; diskGiB: number }): boolean {
  return needs.memoryMiB <= tier.memoryMiB * (1 - SIZING_MARGIN) && needs.diskGiB <= tier.ephemeralGiB * (1 - SIZING_MARGIN);
}

/** The smallest tier whose memory and disk keep the margin, or the top tier when none does. */
export function pickTier(policy: SizePolicy, inputBytes: number): TierName {
  const needs = sizeNeeds(policy, inputBytes);
  return (TIERS.find((t) => tierKeepsMargin(t, needs)) ?? TIERS[TIERS.length - 1]).name;
}

/**
 * Where a task writes its temporary files: a folder the image creates for its non-root user (containers/Dockerfile).
 * On Fargate the container's writable layer lives on the task's ephemeral storage, so this folder has the tier's disk.
 */
export const TASK_WORK_DIR = "/work";

/**
 * How a tier's memory is shared inside a task. Node's old-space heap gets half: above it a step aborts with exit 134
 * (`JavaScript heap out of memory`) rather than taking the task past its memory limit. DuckDB gets a quarter: beyond
 * it DuckDB spills to its temp directory, and it holds copies of rows the JavaScript side may still hold. The last
 * quarter is for what neither limit counts: V8's young generation (up to ~200 MiB on top of the old space), Buffers,
 * native code, and DuckDB's overshoot of its own limit.
 */
export const NODE_HEAP_SHARE = 0.5;
export const DUCKDB_MEMORY_SHARE = 0.25;
/** DuckDB may spill to half the task's disk: the rest is for the step's own files (the source PBF, the outputs). */
export const DUCKDB_SPILL_DISK_SHARE = 0.5;

/**
 * The environment that sizes a task to its tier, passed per run as RunTask's container override (the one task
 * definition per container does not know the tier): Node's heap cap, DuckDB's limits, and the tier's name
 * (`ATLAS_TIER`, so a task, its logs and its Cause say which size it ran on). The local engine's ECS runner gets it
 * from the same override, so a step behaves the same in both places.
 */
export function tierEnvironment(tier: Tier): Record<string, string> {
  return {
    [TASK_ENV.tier]: tier.name,
    NODE_OPTIONS: `--max-old-space-size=${Math.floor(tier.memoryMiB * NODE_HEAP_SHARE)}`,
    [TASK_ENV.duckdbMemoryLimit]: `${Math.floor(tier.memoryMiB * DUCKDB_MEMORY_SHARE)}MiB`,
    [TASK_ENV.duckdbMaxTempDirectorySize]: `${Math.floor(tier.ephemeralGiB * DUCKDB_SPILL_DISK_SHARE)}GiB`,
  };
}

/**
 * Everything a task of this tier runs with besides its step's own variables: the tier's environment, and the
 * task definition's `TMPDIR` (the same for every tier). `workDir` is the task's scratch folder: `TASK_WORK_DIR` in
 * the image, a fresh folder per task locally.
 */
export function taskEnvironment(tier: Tier, workDir: string = TASK_WORK_DIR): Record<string, string> {
  // os.tmpdir() follows TMPDIR: every step's temporary files, and DuckDB's spill files, go to the work dir.
  return { ...tierEnvironment(tier), TMPDIR: workDir };
}

/**
 * RunTask's task-level overrides for a tier, as the ECS API names them: vCPU units and MiB as strings, and the disk
 * only above Fargate's free 20 GiB (`EphemeralStorage.SizeInGiB` takes 21–200, so a free tier must leave it out).
 */
export interface TaskSizeOverrides {
  Cpu: string;
  Memory: string;
  EphemeralStorage?: { SizeInGiB: number };
}

export function taskSizeOverrides(tier: Tier): TaskSizeOverrides {
  return {
    Cpu: String(tier.vcpu * 1024),
    Memory: String(tier.memoryMiB),
    ...(tier.ephemeralGiB > FARGATE_FREE_EPHEMERAL_GIB ? { EphemeralStorage: { SizeInGiB: tier.ephemeralGiB } } : {}),
  };
}

/**
 * The size of every container's one task definition: the smallest tier. Every run overrides it (the state machine
 * picks the tier), so it only sizes a task someone starts by hand; ECS accepts task-level overrides above or below
 * it, since the containers reserve no CPU or memory of their own.
 */
export const TASK_DEFINITION_TIER: Tier = TIERS[0];

/**
 * The tier table as the state machine holds it (`$.tiers`, written by Initialize): one column per setting, each
 * indexed by the tier's position (`States.ArrayGetItem($.tiers.task, <index>)`), so that the machine picks a tier,
 * and one up after an out-of-memory kill (`States.MathAdd(<index>, 1)`), from this one table. Columns rather than
 * rows because an intrinsic's result cannot be followed by a path: a column gives the one value a field needs.
 * `next` is the position one up (the top tier's is its own: the machine never escalates from it).
 */
export interface MachineTierTable {
  name: string[];
  next: number[];
  task: TaskSizeOverrides[];
  environment: Record<string, string[]>;
}

export function machineTierTable(): MachineTierTable {
  const environments = TIERS.map(tierEnvironment);
  return {
    name: [...TIER_NAMES],
    next: TIERS.map((_, i) => Math.min(i + 1, TIERS.length - 1)),
    task: TIERS.map(taskSizeOverrides),
    environment: Object.fromEntries(Object.keys(environments[0]).map((name) => [name, environments.map((e) => e[name])])),
  };
}
