import * as path from "node:path";
import {
  DescribeExecutionCommand,
  DescribeStateMachineCommand,
  GetExecutionHistoryCommand,
  type HistoryEvent,
  type SFNClient,
} from "@aws-sdk/client-sfn";
import { detailsOf, toRecordEvent as asRecordEvent } from "../run-model/history.ts";
import {
  buildRecord,
  CHILD_SEPARATOR,
  recordFile,
  writeRecord,
  type ChildLink,
  type HistoryEventRecord,
  type RunRecord,
} from "../run-records/record.ts";
import { withSharedMetricSeries } from "../run-records/cost.ts";
import { allWorkflows } from "../workflows/index.ts";

/**
 * The run record of an execution on AWS, from DescribeExecution, GetExecutionHistory (every page, with the
 * states' inputs and outputs) and the machine's definition; the same shape as a local run's record
 * (docs/RUN_RECORD.md). Executions it started (`states:startExecution`, a fan-out's items) get records of their
 * own, linked from it: the result lists the execution's record first, then its children's, depth first.
 */
export async function recordsFromAws(
  client: SFNClient,
  executionArn: string,
  options: { id: string; workflow: string; runDir?: string | null; parent?: { id: string } },
): Promise<RunRecord[]> {
  const described = await client.send(new DescribeExecutionCommand({ executionArn }));
  const history: HistoryEventRecord[] = [];
  let nextToken: string | undefined;
  do {
    const page = await client.send(new GetExecutionHistoryCommand({ executionArn, maxResults: 1000, includeExecutionData: true, ...(nextToken ? { nextToken } : {}) }));
    for (const event of page.events ?? []) history.push(toRecordEvent(event));
    nextToken = page.nextToken || undefined;
  } while (nextToken);
  const definition = await client
    .send(new DescribeStateMachineCommand({ stateMachineArn: described.stateMachineArn }))
    .then((d) => (d.definition ? JSON.parse(d.definition) : null))
    .catch(() => null); // the record still stands without the graph

  const children: RunRecord[] = [];
  for (const childArn of childExecutionArns(history)) {
    const name = childArn.split(":").pop()!;
    const machine = childArn.split(":").at(-2) ?? "";
    const childRecords = await recordsFromAws(client, childArn, {
      id: `${options.id}${CHILD_SEPARATOR}${name}`,
      workflow: workflowOf(machine),
      runDir: options.runDir ? path.join(options.runDir, "children", name) : null,
      parent: { id: options.id },
    });
    children.push(...childRecords);
  }
  // In the order they started (the history lists them as they ended).
  children.sort((a, b) => a.started_at.localeCompare(b.started_at) || a.execution.name.localeCompare(b.execution.name));
  const links: ChildLink[] = children
    .filter((c) => c.parent?.id === options.id)
    .map((c) => ({ id: c.id, name: c.execution.name, workflow: c.workflow, status: c.status, key_input: c.key_input, started_at: c.started_at, duration_ms: c.duration_ms }));

  const record = buildRecord({
    id: options.id,
    source: "aws",
    workflow: options.workflow,
    execution: { name: described.name ?? executionArn.split(":").pop()!, arn: executionArn },
    parent: options.parent ?? null,
    history,
    definition,
    children: links,
    // A fan-out's estimate includes the executions it started (each direct child's already includes its own).
    // Their metric series-hours are shared (the same region-less series): counted once in the total.
    childCosts: withSharedMetricSeries(children.filter((c) => c.parent?.id === options.id)),
    runDir: options.runDir ?? null,
  });
  const publish = (record.output as { plan?: { uris?: { publish?: string } } } | null)?.plan?.uris?.publish;
  if (publish && record.status === "SUCCEEDED") record.outputs = { location: publish, files: [] };
  return [record, ...children];
}

/** Writes a run's records where `npm run runs` and the console look: `<runDir>/run.json`, children below it. */
export async function writeRecords(runDir: string, records: RunRecord[]): Promise<void> {
  for (const r of records) {
    const name = r.id.split(CHILD_SEPARATOR).slice(1);
    const dir = name.reduce((d, n) => path.join(d, "children", n), runDir);
    await writeRecord(recordFile(dir), r);
  }
}

/** An SDK history event as a record keeps it (run-model/history.ts). */
export function toRecordEvent(event: HistoryEvent): HistoryEventRecord {
  return asRecordEvent(event as unknown as Parameters<typeof asRecordEvent>[0]);
}

/** The executions a `states:startExecution` task started: their ARNs are in the task's output or Cause. */
export function childExecutionArns(history: HistoryEventRecord[]): string[] {
  const arns = new Set<string>();
  for (const event of history) {
    if (!["TaskSubmitted", "TaskSucceeded", "TaskFailed"].includes(event.type)) continue;
    const d = detailsOf(event);
    if (d.resourceType !== "states" || !String(d.resource ?? "").startsWith("startExecution")) continue;
    for (const text of [d.output, d.cause]) {
      if (typeof text !== "string") continue;
      const match = /"ExecutionArn"\s*:\s*"(arn:[^"]+:execution:[^"]+)"/.exec(text);
      if (match) arns.add(match[1]);
    }
  }
  return [...arns];
}

/** CDK names a machine `skiatlasStateMachine8AE2B847-AbC123`; the record names the workflow, when it can tell. */
function workflowOf(machine: string): string {
  const nodash = /^(.*?)StateMachine/.exec(machine)?.[1];
  if (!nodash) return machine;
  return allWorkflows().find((w) => w.name.replace(/[^A-Za-z0-9]/g, "").toLowerCase() === nodash.toLowerCase())?.name ?? machine;
}

/** How often a followed execution's record is rewritten at most, while its history grows. */
const LIVE_WRITE_MS = 500;

/**
 * The record of an execution being followed, rewritten as its history arrives (without children and
 * definition, which `recordsFromAws` adds when it ends), so the console can show it live.
 */
export function liveAwsRecord(options: { id: string; workflow: string; runDir: string }) {
  const history: HistoryEventRecord[] = [];
  let executionArn = "";
  let timer: NodeJS.Timeout | undefined;
  let writing: Promise<void> = Promise.resolve();
  const write = () => {
    timer = undefined;
    const record = buildRecord({
      id: options.id,
      source: "aws",
      workflow: options.workflow,
      execution: { name: executionArn.split(":").pop() ?? "", arn: executionArn },
      history,
      runDir: options.runDir,
    });
    writing = writing.then(() => writeRecord(recordFile(options.runDir), record)).catch(() => undefined);
  };
  return {
    onHistoryEvent(event: HistoryEvent, arn: string): void {
      executionArn = arn;
      history.push(toRecordEvent(event));
      timer ??= setTimeout(write, LIVE_WRITE_MS);
    },
    /** Whether the execution's history has shown anything yet (if not, there is no run to record). */
    get empty(): boolean {
      return history.length === 0;
    },
    /** Stops live writes (the final records follow). */
    async stop(): Promise<void> {
      if (timer) clearTimeout(timer);
      await writing;
    },
  };
}
