import type { StackContext } from "sst/constructs";
import { codeVersion } from "../lib/code-version.ts";
import { PROJECT_ROOT } from "../lib/project-root.ts";
import { machineArnVariable } from "../lib/execution-history.ts";
import { allWorkflows } from "../workflows/index.ts";
import { GPU_CAPACITY_BINDING, TASK_TABLE_BINDING, taskWorkflow } from "../workflows/tasks.ts";
import { QUEUES, type QueueName } from "../lib/tasks/task-types.ts";
import { readConfig } from "../workflows/config.ts";
import { functionNames, functionSteps, type BucketAccess, type Workflow } from "../workflows/types.ts";
import { AlertTopic } from "./constructs/AlertTopic.ts";
import { BatchNetwork } from "./constructs/BatchNetwork.ts";
import { ContainerTasks } from "./constructs/ContainerTasks.ts";
import { DataBucket } from "./constructs/DataBucket.ts";
import { HelperFunctions } from "./constructs/HelperFunctions.ts";
import { OperationsDashboard } from "./constructs/OperationsDashboard.ts";
import { TaskPlatform } from "./constructs/TaskPlatform.ts";
import { WorkflowMachine } from "./constructs/WorkflowMachine.ts";
import { checkWithCdkNag } from "./nag.ts";

/**
 * Wires every workflow in `workflows/` to AWS. Nothing here knows a workflow's steps: those come from the
 * workflow definitions, so adding a workflow needs no change in this file.
 */
export function AtlasStack({ stack }: StackContext) {
  const config = readConfig();
  const workflows = allWorkflows(config);

  const data = new DataBucket(stack, "Data");
  const alerts = new AlertTopic(stack, "Alerts", { email: config.alertEmail });
  const network = new BatchNetwork(stack, "Network");

  const containers = [...new Set(workflows.flatMap((w) => w.steps.flatMap((s) => (s.kind === "container" ? [s.container] : []))))];
  const tasks = new ContainerTasks(stack, "Tasks", {
    vpc: network.vpc,
    bucket: data.bucket,
    containers,
    // The commit being deployed: every manifest the tasks publish records it.
    codeVersion: codeVersion(PROJECT_ROOT),
    access: accessBy(workflows, (w) => w.steps.flatMap((s) => (s.kind === "container" && s.access ? [[s.container, s.access]] : []))),
    scopedSessions: Object.fromEntries(workflows.flatMap((w) => w.steps.flatMap((s) => (s.kind === "container" && s.scopedSession ? [[s.container, s.scopedSession]] : [])))),
  });

  const functions = new HelperFunctions(stack, "Functions", {
    names: [...new Set(workflows.flatMap(functionNames))],
    bucket: data.bucket,
    topic: alerts.topic,
    allowedSourceHosts: config.allowedSourceHosts,
    access: accessBy(workflows, (w) => functionSteps(w).flatMap((s) => (s.access ? [[s.fn, s.access]] : []))),
  });

  const machines = new Map<string, WorkflowMachine>();
  for (const workflow of workflows) {
    machines.set(
      workflow.name,
      new WorkflowMachine(stack, workflow.name, {
        workflow,
        alerts: alerts.topic,
        runbookUrl: config.runbookUrl,
        bindings: {
          fn: (name) => functions.get(name),
          task: (container) => tasks.get(container),
          cluster: tasks.cluster,
          subnets: network.taskSubnets,
          securityGroups: [workflow.network === "https-egress-only" ? network.restrictedSecurityGroup : network.taskSecurityGroup],
          assignPublicIp: network.assignPublicIp,
          stateMachine: (name) => {
            const child = machines.get(name);
            if (!child) throw new Error(`workflow '${workflow.name}' starts '${name}', which must be listed before it`);
            return child.stateMachine;
          },
          runRoleArn: (container) => tasks.runRole(container)?.role.roleArn,
        },
      }),
    );
    // The state machine starts its scoped steps' sessions: its role is the one the run role trusts.
    for (const container of new Set(workflow.steps.flatMap((s) => (s.kind === "container" && s.scopedSession ? [s.container] : [])))) {
      tasks.runRole(container)!.trust(machines.get(workflow.name)!.stateMachine.role);
    }
  }

  // A function that looks up another workflow's executions (a rerun finding earlier attempts) gets that machine's
  // ARN and DescribeExecution on its executions, nothing more.
  for (const workflow of workflows) {
    for (const step of functionSteps(workflow)) {
      for (const other of step.describesExecutionsOf ?? []) {
        const machine = machines.get(other)?.stateMachine;
        if (!machine) throw new Error(`${workflow.name}: step '${step.id}' describes executions of unknown workflow '${other}'`);
        const fn = functions.get(step.fn);
        fn.addEnvironment(machineArnVariable(other), machine.stateMachineArn);
        machine.grantExecution(fn, "states:DescribeExecution");
      }
    }
  }

  // Tasks on demand (docs/TASKS.md): the platform, and one machine per queue (workflows/tasks.ts) that its pipe starts.
  const taskPlatform = new TaskPlatform(stack, "TaskPlatform", {
    vpc: network.vpc,
    subnets: network.taskSubnets,
    cluster: tasks.cluster,
    bucket: data.bucket,
    alerts: alerts.topic,
    gpuInstanceType: config.gpuInstanceType,
    gpuMaxInstances: config.gpuMaxInstances,
    runbookUrl: config.runbookUrl,
  });
  const taskMachines = Object.fromEntries(
    QUEUES.map((queue) => {
      const workflow = taskWorkflow(queue, config);
      const machine = new WorkflowMachine(stack, workflow.name, {
        workflow,
        alerts: alerts.topic,
        runbookUrl: config.runbookUrl,
        afterFailure: ["A failed task's record says why", "npm start -- tasks status <taskId> --aws"],
        bindings: {
          fn: (name) => taskPlatform.functions.get(name),
          task: (image) => taskPlatform.definitions.forImage(image),
          cluster: tasks.cluster,
          subnets: network.taskSubnets,
          securityGroups: [network.taskSecurityGroup],
          assignPublicIp: network.assignPublicIp,
          stateMachine: (name) => {
            throw new Error(`the task workflow ${workflow.name} starts no other machine (asked for '${name}')`);
          },
          table: (name) => {
            if (name !== TASK_TABLE_BINDING) throw new Error(`${workflow.name}: no table '${name}'`);
            return taskPlatform.table.table;
          },
          capacityProvider: (name) => {
            if (name !== GPU_CAPACITY_BINDING) throw new Error(`${workflow.name}: no capacity provider '${name}'`);
            return taskPlatform.gpu.capacityProvider.capacityProviderName;
          },
        },
      });
      return [queue, machine] as const;
    }),
  ) as Record<QueueName, WorkflowMachine>;
  taskPlatform.connect({ gpu: taskMachines.gpu.stateMachine, cpu: taskMachines.cpu.stateMachine });

  // Lambda writes a function's stdout to /aws/lambda/<function name> (created on its first run).
  new OperationsDashboard(stack, "Dashboard", { workflows, machines, metricsLogGroup: `/aws/lambda/${functions.get("metrics").functionName}` });
  checkWithCdkNag(stack);

  stack.addOutputs({
    BucketName: data.bucket.bucketName,
    AlertTopicArn: alerts.topic.topicArn,
    TasksApiUrl: taskPlatform.api.url,
    TaskTableName: taskPlatform.table.table.tableName,
    ...Object.fromEntries([...machines, ...Object.values(taskMachines).map((m) => [m.node.id, m] as const)].map(([name, m]) => [`${pascal(name)}StateMachineArn`, m.stateMachine.stateMachineArn])),
  });
  return { bucket: data.bucket, machines, taskPlatform, taskMachines };
}

/** Merges the access every workflow declares for one container or function. */
function accessBy(workflows: Workflow[], entries: (w: Workflow) => [string, BucketAccess][]): Record<string, BucketAccess> {
  const out: Record<string, { read: Set<string>; readWrite: Set<string> }> = {};
  for (const [name, access] of workflows.flatMap(entries)) {
    out[name] ??= { read: new Set(), readWrite: new Set() };
    for (const p of access.read ?? []) out[name].read.add(p);
    for (const p of access.readWrite ?? []) out[name].readWrite.add(p);
  }
  return Object.fromEntries(Object.entries(out).map(([n, a]) => [n, { read: [...a.read], readWrite: [...a.readWrite] }]));
}

function pascal(name: string): string {
  return name.replace(/(^|-)([a-z0-9])/g, (_, __, c: string) => c.toUpperCase());
}
