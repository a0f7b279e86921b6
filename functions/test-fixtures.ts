/** Failure causes as Step Functions records them, shared by the notify, summarize and causes tests. */

/** `arn:aws:states:::ecs:runTask.sync` failure: the stopped task, serialized with PascalCase keys. */
export const ECS_OOM_CAUSE = JSON.stringify({
  Attachments: [],
  ClusterArn: "arn:aws:ecs:eu-west-1:123456789012:cluster/atlas",
  Containers: [
    {
      ContainerArn: "arn:aws:ecs:eu-west-1:123456789012:container/atlas/abc/def",
      ExitCode: 137,
      LastStatus: "STOPPED",
      Name: "main",
      Reason: "OutOfMemoryError: Container killed due to memory usage",
    },
  ],
  Cpu: "1024",
  LastStatus: "STOPPED",
  Memory: "2048",
  Overrides: { ContainerOverrides: [{ Command: ["extract"], Name: "main" }] },
  StopCode: "EssentialContainerExited",
  StoppedAt: 1793512800000,
  StoppedReason: "Essential container in task exited",
  TaskArn: "arn:aws:ecs:eu-west-1:123456789012:task/atlas/abc",
});

export const LAMBDA_INVALID_INPUT_CAUSE = JSON.stringify({
  errorType: "InvalidInputError",
  errorMessage: 'unknown region "atlantis"; known regions: andorra, iceland',
  trace: ["InvalidInputError: unknown region", "    at plan (/var/task/index.mjs:1:1)"],
});

/** `startExecution.sync` failure in the monthly Map: the nested execution's description. */
export const NESTED_EXECUTION_CAUSE = JSON.stringify({
  ExecutionArn: "arn:aws:states:eu-west-1:123456789012:execution:ski-atlas:alps-2026-11",
  Name: "alps-2026-11",
  Status: "FAILED",
  Error: "States.TaskFailed",
  Cause: ECS_OOM_CAUSE,
});
