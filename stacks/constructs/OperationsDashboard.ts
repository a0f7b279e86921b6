import { Duration } from "aws-cdk-lib";
import * as cloudwatch from "aws-cdk-lib/aws-cloudwatch";
import { Construct } from "constructs";
import type { Workflow } from "../../workflows/types.ts";
import type { WorkflowMachine } from "./WorkflowMachine.ts";

/** One row per workflow: executions, their duration, and what the runs produced (from the Metrics helper). */
export class OperationsDashboard extends Construct {
  readonly dashboard: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: { workflows: Workflow[]; machines: Map<string, WorkflowMachine> }) {
    super(scope, id);
    this.dashboard = new cloudwatch.Dashboard(this, "Dashboard", { defaultInterval: Duration.days(35) });
    for (const workflow of props.workflows) {
      const machine = props.machines.get(workflow.name)!.stateMachine;
      const produced = (metricName: string) =>
        new cloudwatch.MathExpression({
          expression: `SEARCH('{AtlasPipelines,Workflow,Region} MetricName="${metricName}" Workflow="${workflow.name}"', 'Sum', 86400)`,
          label: metricName,
          period: Duration.days(1),
        });
      this.dashboard.addWidgets(
        new cloudwatch.TextWidget({ markdown: `## ${workflow.name}\n${workflow.description}`, width: 24, height: 2 }),
        new cloudwatch.GraphWidget({
          title: `${workflow.name}: executions`,
          left: [machine.metricStarted(), machine.metricSucceeded(), machine.metricFailed(), machine.metricTimedOut()],
          width: 8,
        }),
        new cloudwatch.GraphWidget({ title: `${workflow.name}: duration`, left: [machine.metricTime()], width: 8 }),
        new cloudwatch.GraphWidget({
          title: `${workflow.name}: what the runs report`,
          left: (workflow.dashboardMetrics ?? ["RunFailed"]).map(produced),
          width: 8,
        }),
      );
    }
  }
}
