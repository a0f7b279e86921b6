import { AWS_PRICES, fargateTaskCost } from "../aws-pricing.ts";
import { tierByName } from "../tiers.ts";
import { TASK_TYPES, type TaskType } from "./task-types.ts";

/**
 * What one task cost, estimated from the project's prices (lib/aws-pricing.ts).
 *
 * CPU tasks run one Fargate task each: its seconds on its tier, with Fargate's one-minute minimum.
 *
 * GPU tasks share instances. An instance is billed from launch to termination whether busy or not: the cold start
 * (boot, ECS agent, image pull) and the idle tail before managed scaling removes it are real costs of the tasks it
 * ran. So an instance's bill is shared by the tasks it ran in proportion to their busy seconds:
 *
 *     cost(task) = instancePerSecond × max(instanceSeconds, 60) × busy(task) / Σ busy(tasks the instance ran)
 *
 * The shares add up to the instance's bill exactly, a burst of many tasks makes each cheap, and a lone task pays
 * for the whole instance. When a task finishes, its instance is still running: the estimate then uses the
 * instance's life and busy time so far (`instanceSoFar`); a later recount over the instance's whole life
 * (`shareGpuInstance`) can only lower the earlier tasks' shares as more tasks share the same instance, except for
 * the idle tail, which the last tasks pay. Without instance figures (offline runs) the estimate is the task's
 * busy seconds alone (`basis: "busy-only"`, a lower bound).
 */
export interface TaskCost {
  usd: number;
  basis: "fargate" | "gpu-instance-share" | "busy-only";
  /** Seconds the task's container ran. */
  busySeconds: number;
  /** GPU: the instance type and the instance seconds charged to this task. */
  instanceType?: string;
  instanceSecondsCharged?: number;
  prices: { region: string; asOf: string };
}

const round = (usd: number) => Number(usd.toFixed(7));

export function gpuPerSecond(instanceType: string): number {
  const hourly = AWS_PRICES.ec2GpuOnDemandPerHour[instanceType];
  if (hourly === undefined) throw new Error(`no price for GPU instance type '${instanceType}': add it to AWS_PRICES.ec2GpuOnDemandPerHour`);
  /** The root volume is billed with the instance (30 GB gp3). */
  const rootVolume = (30 * AWS_PRICES.ec2.gp3PerGbMonth) / 730;
  return (hourly + rootVolume) / 3600;
}

export interface GpuInstanceUse {
  instanceType: string;
  /** Launch to termination (or to now). */
  instanceSeconds: number;
  /** The busy seconds of every task the instance ran in that time (this task's included). */
  busySecondsOfAllTasks: number;
}

export function estimateTaskCost(type: TaskType, busySeconds: number, instanceSoFar?: GpuInstanceUse): TaskCost {
  const prices = { region: AWS_PRICES.region, asOf: AWS_PRICES.asOf };
  const spec = TASK_TYPES[type] as { queue: string; tier?: string };
  const busy = Math.max(0, busySeconds);
  if (spec.queue === "cpu") return { usd: round(fargateTaskCost(tierByName(spec.tier ?? "small"), busy)), basis: "fargate", busySeconds: busy, prices };
  if (!instanceSoFar) return { usd: round(gpuPerSecond(DEFAULT_GPU_INSTANCE_TYPE) * busy), basis: "busy-only", busySeconds: busy, instanceType: DEFAULT_GPU_INSTANCE_TYPE, instanceSecondsCharged: busy, prices };
  const [share] = shareGpuInstance(instanceSoFar.instanceType, instanceSoFar.instanceSeconds, [busy, Math.max(0, instanceSoFar.busySecondsOfAllTasks - busy)]);
  return { usd: share.usd, basis: "gpu-instance-share", busySeconds: busy, instanceType: instanceSoFar.instanceType, instanceSecondsCharged: share.instanceSeconds, prices };
}

/** One instance's bill shared by the tasks it ran, in proportion to their busy seconds (see above). */
export function shareGpuInstance(instanceType: string, instanceSeconds: number, busySeconds: number[]): { usd: number; instanceSeconds: number }[] {
  const billed = Math.max(instanceSeconds, AWS_PRICES.ec2.minimumSeconds);
  const total = busySeconds.reduce((a, b) => a + Math.max(0, b), 0);
  return busySeconds.map((b) => {
    // An instance that ran nothing (total 0) is nobody's: it shows up in the idle-GPU alarm, not in a task's cost.
    const seconds = total > 0 ? (billed * Math.max(0, b)) / total : 0;
    return { usd: round(gpuPerSecond(instanceType) * seconds), instanceSeconds: Number(seconds.toFixed(3)) };
  });
}

/** The GPU instance type the stack deploys unless told otherwise (stacks/constructs/GpuCapacity.ts). */
export const DEFAULT_GPU_INSTANCE_TYPE = "g4dn.xlarge";
