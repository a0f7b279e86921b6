import * as iam from "aws-cdk-lib/aws-iam";
import * as pipes from "aws-cdk-lib/aws-pipes";
import type * as sfn from "aws-cdk-lib/aws-stepfunctions";
import type * as sqs from "aws-cdk-lib/aws-sqs";
import { Construct } from "constructs";
import { PIPE_BATCH_SIZE, PIPE_INPUT_TEMPLATE } from "../../lib/tasks/task-queues.ts";
import type { QueueName } from "../../lib/tasks/task-types.ts";

export interface TaskPipesProps {
  queues: Record<QueueName, sqs.IQueue>;
  /** The state machine each queue's tasks run in (phase 2: the compiled task workflow; tests: a placeholder). */
  machines: Record<QueueName, sfn.IStateMachine>;
}

/**
 * From each task queue to its state machine, with EventBridge Pipes (`AWS::Pipes::Pipe`; no L2 in aws-cdk-lib
 * 2.224). Why Pipes: it is AWS's managed poller from SQS to Step Functions, with no code to run or pay for between
 * messages. The alternatives each add a moving part: a Lambda event source mapping would need a function whose only
 * job is StartExecution; EventBridge rules and Scheduler cannot read SQS; polling the queue from a state machine
 * pays for transitions while idle.
 *
 * What Pipes does not do, and who does it instead: it cannot name the executions it starts (boto/boto3#4556), so
 * the task id is the dedupe key, claimed in the task table by the machine's first state; and it deletes a message
 * once StartExecution succeeded, so a message reaches the dead-letter queue only when executions cannot start (a
 * body that is not JSON makes the input template invalid); a task that runs and fails is recorded FAILED by its
 * machine. Settings in lib/tasks/task-queues.ts (one message per execution); the offline pipe (local/pipe-poller.ts)
 * reads them from the synthesized pipe.
 */
export class TaskPipes extends Construct {
  readonly pipes: Record<QueueName, pipes.CfnPipe>;

  constructor(scope: Construct, id: string, props: TaskPipesProps) {
    super(scope, id);
    const entries = (Object.keys(props.queues) as QueueName[]).map((name) => {
      const queue = props.queues[name];
      const machine = props.machines[name];
      const role = new iam.Role(this, `${name}-role`, {
        assumedBy: new iam.ServicePrincipal("pipes.amazonaws.com"),
        description: `Pipe from the ${name} task queue to its state machine`,
      });
      queue.grantConsumeMessages(role);
      machine.grantStartExecution(role);
      const pipe = new pipes.CfnPipe(this, name, {
        description: `${name} tasks: one message, one execution`,
        roleArn: role.roleArn,
        source: queue.queueArn,
        sourceParameters: { sqsQueueParameters: { batchSize: PIPE_BATCH_SIZE, maximumBatchingWindowInSeconds: 0 } },
        target: machine.stateMachineArn,
        targetParameters: { inputTemplate: PIPE_INPUT_TEMPLATE, stepFunctionStateMachineParameters: { invocationType: "FIRE_AND_FORGET" } },
        desiredState: "RUNNING",
      });
      // The role's policies must exist before the pipe validates its source and target.
      pipe.node.addDependency(role);
      return [name, pipe] as const;
    });
    this.pipes = Object.fromEntries(entries) as TaskPipes["pipes"];
  }
}
