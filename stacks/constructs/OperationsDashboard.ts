import { Duration } from "aws-cdk-lib";
import * as cloudwatch from "aws-cdk-lib/aws-cloudwatch";
import { Construct } from "constructs";
import { NAMESPACE, RUN_METRICS, RUN_SUMMARY_TYPE } from "../../functions/metrics.ts";
import { containerSteps, type Workflow } from "../../workflows/types.ts";
import type { WorkflowMachine } from "./WorkflowMachine.ts";

const PER_DAY = Duration.days(1);
const [RUN_FAILED_METRIC] = RUN_METRICS;

export interface OperationsDashboardProps {
  workflows: Workflow[];
  machines: Map<string, WorkflowMachine>;
  /** The Metrics function's log group (`/aws/lambda/<function>`), where its run-summary lines are. */
  metricsLogGroup: string;
}

/**
 * One row per workflow: executions per day, their duration and the few custom metrics its runs send (region-less: see
 * functions/metrics.ts); then, for a workflow with a Metrics step, the detail of its runs from the Metrics
 * function's run-summary log lines through Logs Insights: the latest run per region (or per run id, for
 * workflows without regions) with its counts, durations and tiers per step, and the latest lines as written.
 */
export class OperationsDashboard extends Construct {
  readonly dashboard: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: OperationsDashboardProps) {
    super(scope, id);
    this.dashboard = new cloudwatch.Dashboard(this, "Dashboard", { defaultInterval: Duration.days(35) });
    for (const workflow of props.workflows) {
      const machine = props.machines.get(workflow.name)!.stateMachine;
      // The same metric the alarms watch (stacks/constructs/WorkflowMachine.ts): dimension Workflow alone. Sum per
      // day: RunFailed is sent (as 1) only by a failed run, so its Sum is the failures and a day without a point had
      // none; it counts no runs (a successful run sends no custom metric), the executions graph does.
      const sent = (metricName: string) =>
        new cloudwatch.Metric({
          namespace: NAMESPACE,
          metricName,
          dimensionsMap: { Workflow: workflow.name },
          statistic: "Sum",
          period: PER_DAY,
          ...(metricName === RUN_FAILED_METRIC ? { label: "failed runs (RunFailed, sent only on failure)" } : {}),
        });
      const reports = workflow.metrics
        ? [new cloudwatch.GraphWidget({ title: `${workflow.name}: what the runs report`, left: (workflow.dashboardMetrics ?? ["RunFailed"]).map(sent), width: 8 })]
        : [];
      this.dashboard.addWidgets(
        new cloudwatch.TextWidget({ markdown: `## ${workflow.name}\n${workflow.description}`, width: 24, height: 2 }),
        // The run counts (and so the success rate): Step Functions' own metrics (AWS/States, free), per day like the
        // custom metrics beside them.
        new cloudwatch.GraphWidget({
          title: `${workflow.name}: executions per day`,
          left: [machine.metricStarted(), machine.metricSucceeded(), machine.metricFailed(), machine.metricTimedOut()].map((m) => m.with({ period: PER_DAY })),
          width: 8,
        }),
        new cloudwatch.GraphWidget({ title: `${workflow.name}: duration`, left: [machine.metricTime()], width: 8 }),
        ...reports,
      );
      // A workflow without a Metrics step (the monthly fan-out: its regions' runs report as ski-atlas) sends nothing.
      if (!workflow.metrics) continue;
      this.dashboard.addWidgets(
        new cloudwatch.LogQueryWidget({
          title: `${workflow.name}: latest run per region (or run id)`,
          logGroupNames: [props.metricsLogGroup],
          queryLines: latestRunQuery(workflow),
          view: cloudwatch.LogQueryVisualizationType.TABLE,
          width: 24,
          height: 6,
        }),
        new cloudwatch.LogQueryWidget({
          title: `${workflow.name}: latest run-summary lines`,
          logGroupNames: [props.metricsLogGroup],
          queryLines: [...runSummaryFilter(workflow), "sort @timestamp desc", "limit 20", "fields @timestamp, @message"],
          view: cloudwatch.LogQueryVisualizationType.TABLE,
          width: 24,
          height: 6,
        }),
      );
    }
  }
}

/** Logs Insights field reference: backquoted, since count and step names may hold characters a bare name may not. */
const field = (name: string) => `\`${name}\``;

function runSummaryFilter(workflow: Workflow): string[] {
  return [`filter type = ${JSON.stringify(RUN_SUMMARY_TYPE)} and workflow = ${JSON.stringify(workflow.name)}`];
}

/**
 * The latest run of each region (or run id): status, period, duration, bytes, escalations and retries, the
 * workflow's `dashboardCounts`, and each container step's duration and tier. Lines of a Logs Insights query, for
 * `LogQueryWidget.queryLines` (joined with `\n|`).
 */
export function latestRunQuery(workflow: Workflow): string[] {
  const latest = (name: string, as: string) => `latest(${field(name)}) as ${field(as)}`;
  const columns = [
    latest("status", "status"),
    latest("period", "period"),
    latest("totalMs", "total_ms"),
    latest("bytes", "bytes"),
    latest("escalations", "escalations"),
    latest("retries", "retries"),
    ...(workflow.dashboardCounts ?? []).map((kind) => latest(`counts.${kind}`, kind)),
    ...containerSteps(workflow).flatMap((s) => [latest(`durationsMs.${s.id}`, `${s.id}_ms`), latest(`tiers.${s.id}`, `${s.id}_tier`)]),
  ];
  return [
    ...runSummaryFilter(workflow),
    'fields coalesce(region, runId, "-") as region_or_run',
    `stats ${columns.join(", ")} by region_or_run`,
    "sort region_or_run asc",
  ];
}
