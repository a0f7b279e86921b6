/**
 * AWS on-demand prices for what one run uses and for what the stack costs every month, us-east-1, USD.
 * The one place prices live: the CLI's cost line, the run record's `estimated_cost`, the benchmark's projections
 * and docs/COSTS.md all compute from here.
 *
 * Taken 2026-11-22 (Fargate, from the repository's earlier `lib/fargate-prices.ts`) and 2026-12-02 (the rest),
 * from the AWS pricing pages "AWS Fargate Pricing", "AWS Step Functions Pricing", "AWS Lambda Pricing",
 * "Amazon S3 Pricing" (Requests & data retrievals), "Amazon CloudWatch Pricing", "Amazon SNS Pricing",
 * "Amazon ECR Pricing" and "Amazon EventBridge Pricing" (Scheduler). The machine that wrote this could not load
 * those pages: the Lambda (ARM), S3 request, CloudWatch (metrics, alarms, PutMetricData) and Step Functions
 * figures were cross-checked against secondary sources quoting the same numbers; SNS, ECR, CloudWatch Logs and
 * EventBridge Scheduler are the long-standing list prices, not re-checked. Update `asOf` with any number.
 *
 * Free tiers (Lambda's 1 M requests and 400 000 GB-s, Step Functions' 4 000 transitions, 10 custom metrics, …)
 * are left out on purpose: they are per account and shared with everything else in it.
 */
export const AWS_PRICES = {
  region: "us-east-1",
  asOf: "2026-12-02",
  fargateArm64: {
    perVcpuHour: 0.03238,
    perGbHour: 0.00356,
    /** Ephemeral storage above the 20 GB every task gets for free. */
    perStorageGbHourAbove20: 0.000111,
    /** Fargate bills per second with a minimum of one minute per task. */
    minimumSeconds: 60,
  },
  stepFunctionsStandard: {
    /** $0.025 per 1 000 state transitions; a retry is a transition too. */
    perStateTransition: 0.025 / 1000,
  },
  lambdaArm64: {
    /** $0.20 per 1 M requests. */
    perRequest: 0.2 / 1e6,
    /** First 7.5 billion GB-s of a month; billed in 1 ms steps. */
    perGbSecond: 0.0000133334,
  },
  s3Standard: {
    /** PUT, COPY, POST and LIST: $0.005 per 1 000 (multipart parts, CreateMultipartUpload and Complete… each count). */
    perWriteRequest: 0.005 / 1000,
    /** GET, HEAD and every other request that is not free: $0.0004 per 1 000. DELETE is free. */
    perReadRequest: 0.0004 / 1000,
    perGbMonth: 0.023,
  },
  cloudWatch: {
    /** $0.01 per 1 000 PutMetricData requests. */
    perPutMetricDataRequest: 0.01 / 1000,
    /**
     * Per metric (one name + one set of dimension values) and month, first 10 000 metrics. The pricing page says
     * custom metrics are "prorated by the hour and metered only when you send metrics": a series a run sends
     * once costs one hour of it (`perCustomMetricHour`), charged to the run, or shared with the other runs that
     * send the same series in that hour (`RunUsage.customMetricSharedBy`); the Costs section also gives the
     * full-month figure as the upper bound.
     */
    perCustomMetricMonth: 0.3,
    /** A month of metric billing is 730 hours. */
    perCustomMetricHour: 0.3 / 730,
    perStandardAlarmMonth: 0.1,
    perDashboardMonth: 3.0,
    logsPerGbIngested: 0.5,
    logsPerGbMonthStored: 0.03,
  },
  sns: {
    /** Standard topic: $0.50 per 1 M publishes. */
    perPublish: 0.5 / 1e6,
    /** Email delivery: $2.00 per 100 000. */
    perEmailDelivery: 2 / 100_000,
  },
  ecr: { perGbMonth: 0.1 },
  eventBridgeScheduler: {
    /** $1.00 per 1 M invocations (after 14 M free a month: in practice nothing). */
    perInvocation: 1 / 1e6,
  },
  /**
   * GPU instances for the `ocr` tasks (x86_64, Linux on-demand, per hour; "Amazon EC2 On-Demand Pricing", list
   * prices not re-checked: update `asOf` with any number). Billed per second with a one-minute minimum from the
   * moment the instance runs until it terminates, busy or not: docs/TASKS.md, "What a GPU task costs".
   */
  ec2GpuOnDemandPerHour: {
    "g4dn.xlarge": 0.526,
    "g4dn.2xlarge": 0.752,
    "g5.xlarge": 1.006,
    "g6.xlarge": 0.8048,
  } as Record<string, number>,
  ec2: {
    minimumSeconds: 60,
    /** gp3 root volume, per GB-month (the ECS GPU-optimized AMI's 30 GB): prorated by the second like the instance. */
    gp3PerGbMonth: 0.08,
  },
  /** Per 1 M requests: SQS standard ($0.40; a 64 KB chunk is one request), EventBridge Pipes ($0.40), HTTP API ($1.00). */
  sqsPerRequest: 0.4 / 1e6,
  pipesPerRequest: 0.4 / 1e6,
  httpApiPerRequest: 1 / 1e6,
  /** DynamoDB on demand: $0.625 per 1 M write request units (1 KB each), $0.125 per 1 M read request units (4 KB). */
  dynamoDbOnDemand: { perWriteUnit: 0.625 / 1e6, perReadUnit: 0.125 / 1e6 },
} as const;

/** A Fargate task's size: what it is billed for (workflows/tiers.ts gives each tier's). */
export interface FargateSize {
  vcpu: number;
  memoryMiB: number;
  ephemeralGiB: number;
}

/** What one Fargate ARM64 task of `seconds` of this size costs, with the one-minute minimum. */
export function fargateTaskCost(t: FargateSize, seconds: number): number {
  const p = AWS_PRICES.fargateArm64;
  const hours = Math.max(seconds, p.minimumSeconds) / 3600;
  const storageAbove20 = Math.max(0, t.ephemeralGiB - 20);
  return hours * (t.vcpu * p.perVcpuHour + (t.memoryMiB / 1024) * p.perGbHour + storageAbove20 * p.perStorageGbHourAbove20);
}

/** One ARM64 Lambda invocation: the request plus memory × duration, rounded up to the millisecond. */
export function lambdaInvocationCost(memoryMiB: number, durationMs: number): number {
  const p = AWS_PRICES.lambdaArm64;
  return p.perRequest + (memoryMiB / 1024) * (Math.ceil(Math.max(0, durationMs)) / 1000) * p.perGbSecond;
}

export type S3RequestClass = "write" | "read" | "free";

/**
 * How S3 bills a request, from its HTTP form: PUT, COPY, POST and LIST are the "write" class (multipart parts,
 * CreateMultipartUpload and CompleteMultipartUpload each count), GET and HEAD of an object the "read" class, DELETE
 * and multi-object delete (POST ?delete) are free. `objectKey` is empty for a bucket-level request (GET of a bucket
 * is a LIST).
 */
export function s3RequestClass(method: string, objectKey: string, query: Record<string, unknown>): S3RequestClass {
  const m = method.toUpperCase();
  if (m === "DELETE" || (m === "POST" && "delete" in query)) return "free";
  if (m === "PUT" || m === "POST") return "write";
  if (m === "GET" && !objectKey) return "write"; // ListObjects(V2), ListMultipartUploads…: billed as LIST
  return "read";
}

/** What a run used, as far as it can be counted from its record (and, locally, from the embedded S3 server). */
export interface RunUsage {
  /** Every ECS attempt (a retry or a tier escalation is a task of its own). */
  ecsTasks: { tier: string; size: FargateSize; seconds: number }[];
  /** Step Functions Standard state transitions: every state entered, plus every retry. */
  stateTransitions: number;
  lambdaInvocations: { memoryMiB: number; durationMs: number }[];
  /** Requests to the data bucket by billing class; null when they were not counted (runs on AWS). */
  s3Requests: { write: number; read: number } | null;
  putMetricDataRequests: number;
  /** Custom metric series (name + dimension values) the run sent: each is billed for the hour it was sent in. */
  customMetricSeries: number;
  /**
   * How many runs send the same series in the same hour and so share its hour (default 1: the run pays it alone).
   * CloudWatch bills a series once per hour, whoever sends it: when the N regions of a fan-out send the same
   * region-less series (functions/metrics.ts) within one hour, each region's share of it is 1/N.
   */
  customMetricSharedBy?: number;
  snsPublishes: number;
}

/** The estimate a run record carries (`estimated_cost`, docs/RUN_RECORD.md). */
export interface RunCostEstimate {
  total_usd: number;
  parts: {
    fargate_usd: number;
    step_functions_usd: number;
    lambda_usd: number;
    /** null when the S3 requests were not counted. */
    s3_requests_usd: number | null;
    cloudwatch_usd: number;
    sns_usd: number;
  };
  usage: {
    ecs_tasks: number;
    fargate_billed_seconds: number;
    state_transitions: number;
    lambda_invocations: number;
    s3_write_requests: number | null;
    s3_read_requests: number | null;
    put_metric_data_requests: number;
    custom_metric_series: number;
    sns_publishes: number;
  };
  /** Where the prices come from: `AWS_PRICES.region` and `asOf`. */
  prices: { region: string; as_of: string };
}

const round = (usd: number) => Number(usd.toFixed(7));

export function estimateRunCost(usage: RunUsage): RunCostEstimate {
  const p = AWS_PRICES;
  const fargate = usage.ecsTasks.reduce((sum, t) => sum + fargateTaskCost(t.size, t.seconds), 0);
  const stepFunctions = usage.stateTransitions * p.stepFunctionsStandard.perStateTransition;
  const lambda = usage.lambdaInvocations.reduce((sum, i) => sum + lambdaInvocationCost(i.memoryMiB, i.durationMs), 0);
  const s3 = usage.s3Requests ? usage.s3Requests.write * p.s3Standard.perWriteRequest + usage.s3Requests.read * p.s3Standard.perReadRequest : null;
  const sharedBy = usage.customMetricSharedBy ?? 1;
  if (!(sharedBy >= 1)) throw new Error(`customMetricSharedBy must be at least 1 (the run itself), got ${sharedBy}`);
  const cloudwatch =
    usage.putMetricDataRequests * p.cloudWatch.perPutMetricDataRequest + (usage.customMetricSeries / sharedBy) * p.cloudWatch.perCustomMetricHour;
  const sns = usage.snsPublishes * p.sns.perPublish;
  return {
    total_usd: round(fargate + stepFunctions + lambda + (s3 ?? 0) + cloudwatch + sns),
    parts: {
      fargate_usd: round(fargate),
      step_functions_usd: round(stepFunctions),
      lambda_usd: round(lambda),
      s3_requests_usd: s3 === null ? null : round(s3),
      cloudwatch_usd: round(cloudwatch),
      sns_usd: round(sns),
    },
    usage: {
      ecs_tasks: usage.ecsTasks.length,
      fargate_billed_seconds: Math.round(usage.ecsTasks.reduce((s, t) => s + Math.max(t.seconds, p.fargateArm64.minimumSeconds), 0)),
      state_transitions: usage.stateTransitions,
      lambda_invocations: usage.lambdaInvocations.length,
      s3_write_requests: usage.s3Requests?.write ?? null,
      s3_read_requests: usage.s3Requests?.read ?? null,
      put_metric_data_requests: usage.putMetricDataRequests,
      custom_metric_series: usage.customMetricSeries,
      sns_publishes: usage.snsPublishes,
    },
    prices: { region: p.region, as_of: p.asOf },
  };
}

/**
 * An estimate whose `seriesHours` custom metric series-hours are shared with other runs that sent the same series
 * in the same hours, so that this run pays `billedSeriesHours` of them (the sum of its 1/k shares): its
 * CloudWatch part and total less the difference. The usage still counts the series the run sent.
 */
export function shareMetricSeriesHours(estimate: RunCostEstimate, seriesHours: number, billedSeriesHours: number): RunCostEstimate {
  if (!(billedSeriesHours >= 0 && billedSeriesHours <= seriesHours)) throw new Error(`billed series-hours ${billedSeriesHours} must be between 0 and the ${seriesHours} sent`);
  const saved = (seriesHours - billedSeriesHours) * AWS_PRICES.cloudWatch.perCustomMetricHour;
  if (saved === 0) return estimate;
  return {
    ...estimate,
    total_usd: round(estimate.total_usd - saved),
    parts: { ...estimate.parts, cloudwatch_usd: round(estimate.parts.cloudwatch_usd - saved) },
  };
}

/** The sum of several estimates (a fan-out and the executions it started). */
export function addRunCosts(estimates: RunCostEstimate[]): RunCostEstimate {
  const [first, ...rest] = estimates;
  if (!first) throw new Error("addRunCosts needs at least one estimate");
  // null (not counted) stays null only when no estimate counted it.
  const add = (a: number | null, b: number | null) => (a === null && b === null ? null : (a ?? 0) + (b ?? 0));
  const sum = structuredClone(first);
  for (const e of rest) {
    sum.total_usd = round(sum.total_usd + e.total_usd);
    const parts = sum.parts as Record<string, number | null>, usage = sum.usage as Record<string, number | null>;
    for (const [k, v] of Object.entries(e.parts)) parts[k] = k === "s3_requests_usd" ? add(parts[k], v) : round(add(parts[k], v)!);
    for (const [k, v] of Object.entries(e.usage)) usage[k] = add(usage[k], v);
  }
  if (sum.parts.s3_requests_usd !== null) sum.parts.s3_requests_usd = round(sum.parts.s3_requests_usd);
  return sum;
}

const usd = (x: number) => `$${x < 0.001 && x > 0 ? x.toFixed(6) : x.toFixed(5)}`;

/** The CLI's cost line: the total and its parts, in one line. */
export function costLine(estimate: RunCostEstimate): string {
  const p = estimate.parts;
  const parts = [
    `Fargate ${usd(p.fargate_usd)} (${estimate.usage.ecs_tasks} tasks)`,
    `Step Functions ${usd(p.step_functions_usd)} (${estimate.usage.state_transitions} transitions)`,
    `Lambda ${usd(p.lambda_usd)} (${estimate.usage.lambda_invocations} invocations)`,
    p.s3_requests_usd === null
      ? "S3 requests not counted"
      : `S3 requests ${usd(p.s3_requests_usd)} (${estimate.usage.s3_write_requests} write, ${estimate.usage.s3_read_requests} read)`,
    `CloudWatch ${usd(p.cloudwatch_usd)} (${estimate.usage.custom_metric_series} metric series-hours sent)`,
    `SNS ${usd(p.sns_usd)}`,
  ];
  return `estimated AWS cost of this run (${estimate.prices.region}, ARM64, prices of ${estimate.prices.as_of}): ${usd(estimate.total_usd)} = ${parts.join(" + ")}`;
}

/** What the deployed stack holds whatever runs: counted from the synthesized template (stacks/) plus sizes. */
export interface StackInventory {
  alarms: number;
  dashboards: number;
  schedules: number;
  /** Scheduled invocations a month (a daily schedule ~30, a monthly one 1). */
  scheduledInvocationsPerMonth: number;
  /** Custom metric series (name + dimension values) the metrics helper sends in a month (region-less: a few per workflow). */
  customMetrics: number;
  /** Container images kept in ECR, GB. */
  ecrGb: number;
  /** CloudWatch Logs kept (retention × monthly volume), GB, and ingested a month, GB. */
  logsStoredGb: number;
  logsIngestedGbPerMonth: number;
}

export interface FixedMonthlyCost {
  item: string;
  quantity: string;
  usd: number;
}

/** The costs that do not depend on how many runs there are, one line each, for `npm run costs:fixed` (docs/COSTS.md). */
export function fixedMonthlyCosts(inv: StackInventory): FixedMonthlyCost[] {
  const cw = AWS_PRICES.cloudWatch;
  return [
    { item: "CloudWatch alarms (standard resolution)", quantity: `${inv.alarms}`, usd: inv.alarms * cw.perStandardAlarmMonth },
    { item: "CloudWatch custom metrics, if every series were sent every hour (upper bound; billed by the hour they are sent, so charged per run above)", quantity: `${inv.customMetrics}`, usd: inv.customMetrics * cw.perCustomMetricMonth },
    { item: "CloudWatch dashboards", quantity: `${inv.dashboards}`, usd: inv.dashboards * cw.perDashboardMonth },
    { item: "CloudWatch Logs storage", quantity: `${inv.logsStoredGb} GB`, usd: inv.logsStoredGb * cw.logsPerGbMonthStored },
    { item: "CloudWatch Logs ingestion", quantity: `${inv.logsIngestedGbPerMonth} GB`, usd: inv.logsIngestedGbPerMonth * cw.logsPerGbIngested },
    { item: "ECR image storage", quantity: `${inv.ecrGb} GB`, usd: inv.ecrGb * AWS_PRICES.ecr.perGbMonth },
    {
      item: "EventBridge Scheduler",
      quantity: `${inv.schedules} schedules, ${inv.scheduledInvocationsPerMonth} invocations`,
      usd: inv.scheduledInvocationsPerMonth * AWS_PRICES.eventBridgeScheduler.perInvocation,
    },
  ];
}
