import { Aws, Duration, RemovalPolicy } from "aws-cdk-lib";
import * as cloudwatch from "aws-cdk-lib/aws-cloudwatch";
import * as actions from "aws-cdk-lib/aws-cloudwatch-actions";
import * as logs from "aws-cdk-lib/aws-logs";
import * as scheduler from "aws-cdk-lib/aws-scheduler";
import * as targets from "aws-cdk-lib/aws-scheduler-targets";
import type * as sns from "aws-cdk-lib/aws-sns";
import * as sfn from "aws-cdk-lib/aws-stepfunctions";
import { Construct } from "constructs";
import { NAMESPACE } from "../../functions/metrics.ts";
import { failedExecutionsCommand, stateMachineConsoleUrl } from "../../lib/console-url.ts";
import { alarmDescription, runbookAnchor } from "../runbook.ts";
import { WorkflowDefinition, type WorkflowBindings } from "../../workflows/compile.ts";
import type { Workflow } from "../../workflows/types.ts";

export interface WorkflowMachineProps {
  workflow: Workflow;
  bindings: WorkflowBindings;
  alerts: sns.ITopic;
  /** Where docs/RUNBOOK.md is read (ATLAS_RUNBOOK_URL); the alarms link to their sections there. */
  runbookUrl?: string;
  /** What the alarms say to do about a failed execution (default: re-run it, `npm start -- rerun`). */
  afterFailure?: [label: string, command: string];
}

/** One workflow's state machine, with its alarms and its schedule next to it. */
export class WorkflowMachine extends Construct {
  readonly stateMachine: sfn.StateMachine;
  readonly alarms: cloudwatch.Alarm[];

  constructor(scope: Construct, id: string, props: WorkflowMachineProps) {
    super(scope, id);
    const { workflow } = props;
    const definition = new WorkflowDefinition(this, "Definition", workflow, props.bindings);
    this.stateMachine = new sfn.StateMachine(this, "StateMachine", {
      comment: workflow.description,
      definitionBody: sfn.DefinitionBody.fromChainable(definition.startState),
      timeout: Duration.seconds(workflow.timeoutSeconds),
      tracingEnabled: true,
      logs: {
        destination: new logs.LogGroup(this, "Logs", { retention: logs.RetentionDays.THREE_MONTHS, removalPolicy: RemovalPolicy.DESTROY }),
        // Every state transition, without the data: enough to reconstruct a run, nothing sensitive.
        level: sfn.LogLevel.ALL,
        includeExecutionData: false,
      },
    });

    // Each failed or timed-out execution pages once; the per-run Notify message carries the details. Each alarm's
    // description says what it means and links to the machine, its failed executions and its runbook section.
    const region = Aws.REGION;
    const machineArn = this.stateMachine.stateMachineArn;
    const links: [string, string][] = [
      ["State machine and its executions (Status filter: Failed)", stateMachineConsoleUrl(machineArn, region)],
      ["Failed executions", failedExecutionsCommand(machineArn, region)],
      props.afterFailure ?? ["Re-run a failed one", "npm start -- rerun <execution ARN> --aws"],
    ];
    const alarm = (name: string, metric: cloudwatch.Metric, what: string, threshold = 1) => {
      const a = new cloudwatch.Alarm(this, name, {
        alarmDescription: alarmDescription({ what: `${workflow.name}: ${what}`, links, anchor: runbookAnchor(workflow.name, name), runbookUrl: props.runbookUrl }),
        metric: metric.with({ period: Duration.minutes(5), statistic: "Sum" }),
        threshold,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
      a.addAlarmAction(new actions.SnsAction(props.alerts));
      return a;
    };
    this.alarms = [
      alarm(
        "ExecutionsFailed",
        this.stateMachine.metricFailed(),
        workflow.notify
          ? "an execution failed; its failure notification names the step and the cause"
          : `${workflow.failedExecutionsAlarmThreshold ?? 1} or more executions failed in 5 minutes; each one's history names the failed state and the cause`,
        workflow.failedExecutionsAlarmThreshold ?? 1,
      ),
      alarm("ExecutionsTimedOut", this.stateMachine.metricTimedOut(), `an execution ran past the machine's ${workflow.timeoutSeconds} s and was stopped`),
      // The workflow's own alarms, on what its Metrics step reports.
      ...(workflow.alarms ?? []).map((a) =>
        alarm(a.id, new cloudwatch.Metric({ namespace: NAMESPACE, metricName: a.metric, dimensionsMap: { Workflow: workflow.name } }), a.description, a.threshold),
      ),
    ];

    if (workflow.schedule) {
      new scheduler.Schedule(this, "Schedule", {
        description: workflow.schedule.description,
        schedule: scheduler.ScheduleExpression.expression(workflow.schedule.expression),
        target: new targets.StepFunctionsStartExecution(this.stateMachine, {
          input: scheduler.ScheduleTargetInput.fromObject(workflow.schedule.input),
          retryAttempts: 3,
        }),
      });
    }
  }
}
