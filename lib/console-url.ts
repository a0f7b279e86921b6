/** An execution ARN, with the region it runs in: `arn:aws:states:<region>:<account>:execution:<machine>:<name>`. */
const EXECUTION_ARN = /^arn:aws[a-z-]*:states:([a-z0-9-]+):\d{12}:execution:/;

/** The region in an execution ARN, or undefined when it is not one (a local run's id). */
export function regionOfExecutionArn(arn: string): string | undefined {
  return EXECUTION_ARN.exec(arn)?.[1];
}

/** The Step Functions console page of an execution (the notifications and `npm start -- --aws` link to it). */
export function executionConsoleUrl(executionArn: string, region = regionOfExecutionArn(executionArn) ?? "us-east-1"): string {
  return `https://${region}.console.aws.amazon.com/states/home?region=${region}#/v2/executions/details/${executionArn}`;
}

/**
 * The Step Functions console page of a state machine: its definition and its executions, which the page's Status
 * filter narrows to the failed ones. `region` and the ARN may be CloudFormation tokens (an alarm's description).
 */
export function stateMachineConsoleUrl(stateMachineArn: string, region: string): string {
  return `https://${region}.console.aws.amazon.com/states/home?region=${region}#/statemachines/view/${stateMachineArn}`;
}

/** The exact command that lists a state machine's failed executions, newest first. */
export function failedExecutionsCommand(stateMachineArn: string, region: string): string {
  return `aws stepfunctions list-executions --state-machine-arn ${stateMachineArn} --status-filter FAILED --region ${region}`;
}

/** The EC2 console page of an Auto Scaling group (its instances and activity history). */
export function autoScalingGroupConsoleUrl(groupName: string, region: string): string {
  return `https://${region}.console.aws.amazon.com/ec2/home?region=${region}#AutoScalingGroupDetails:id=${groupName}`;
}
