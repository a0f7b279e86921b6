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
