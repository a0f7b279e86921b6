import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  ListMessageMoveTasksCommand,
  SendMessageCommand,
  SQSClient,
  StartMessageMoveTaskCommand,
} from "@aws-sdk/client-sqs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startEmbeddedDynamoDb, type EmbeddedDynamoDb } from "../lib/embedded-dynamodb.ts";
import { startEmbeddedSqs, type EmbeddedSqs } from "../lib/embedded-sqs.ts";
import { PIPE_BATCH_SIZE, PIPE_INPUT_TEMPLATE } from "../lib/tasks/task-queues.ts";
import { makeDynamoClient, TaskConflictError, TaskTable } from "../lib/tasks/task-table.ts";
import { renderInputTemplate, startPipePoller, type PipeProperties } from "./pipe-poller.ts";

let sqsServer: EmbeddedSqs;
let dbServer: EmbeddedDynamoDb;
let sqs: SQSClient;
let table: TaskTable;

beforeAll(async () => {
  [sqsServer, dbServer] = await Promise.all([startEmbeddedSqs(), startEmbeddedDynamoDb()]);
  sqs = new SQSClient({ endpoint: sqsServer.endpoint, region: "us-east-1", credentials: { accessKeyId: "x", secretAccessKey: "x" } });
  table = new TaskTable(makeDynamoClient({ AWS_ENDPOINT_URL_DYNAMODB: dbServer.endpoint, AWS_ACCESS_KEY_ID: "x", AWS_SECRET_ACCESS_KEY: "x" }), "pipe-tasks");
  await table.ensureExists();
});
afterAll(async () => {
  sqs?.destroy();
  table?.client.destroy();
  await Promise.all([sqsServer?.stop(), dbServer?.stop()]);
});

async function queueWithDlq(name: string, maxReceiveCount: number) {
  const dlqUrl = (await sqs.send(new CreateQueueCommand({ QueueName: `${name}-dlq` }))).QueueUrl!;
  const arn = async (url: string) => (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ["QueueArn"] }))).Attributes!.QueueArn!;
  const dlqArn = await arn(dlqUrl);
  const url = (await sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: { VisibilityTimeout: "1", RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount }) } }))).QueueUrl!;
  return { url, arn: await arn(url), dlqUrl, dlqArn };
}

const depth = async (url: string) => {
  const a = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"] }))).Attributes!;
  return Number(a.ApproximateNumberOfMessages) + Number(a.ApproximateNumberOfMessagesNotVisible);
};

async function until(what: string, check: () => Promise<boolean> | boolean, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The pipe as the stack synthesizes it (stacks/constructs/TaskPipes.ts), its queue and machine resolved. */
const pipeFor = (queueArn: string): PipeProperties => ({
  Source: queueArn,
  Target: "arn:aws:states:us-east-1:000000000000:stateMachine:TasksMachine",
  SourceParameters: { SqsQueueParameters: { BatchSize: PIPE_BATCH_SIZE, MaximumBatchingWindowInSeconds: 0 } },
  TargetParameters: { InputTemplate: PIPE_INPUT_TEMPLATE, StepFunctionStateMachineParameters: { InvocationType: "FIRE_AND_FORGET" } },
});

const task = (taskId: string) => JSON.stringify({ taskId, type: "thumbnail", queue: "cpu", input: { name: "a.png", key: `tasks/${taskId}/input/a.png`, bytes: 5 } });

describe("the offline pipe: SQS → start → delete, as EventBridge Pipes does", () => {
  it("GIVEN the pipe's input template WHEN a JSON message is rendered THEN the body is inserted parsed, ids as text; a non-JSON body makes invalid JSON", () => {
    const m = { MessageId: "m-1", Body: '{"taskId":"a"}', Attributes: { ApproximateReceiveCount: "2" } };
    expect(JSON.parse(renderInputTemplate(PIPE_INPUT_TEMPLATE, m))).toEqual({ task: { taskId: "a" }, message: { id: "m-1", receiveCount: "2" } });
    expect(() => JSON.parse(renderInputTemplate(PIPE_INPUT_TEMPLATE, { ...m, Body: "not json" }))).toThrow();
  });

  it("GIVEN messages, a duplicate among them, WHEN the pipe starts each THEN every message is deleted after its start and the table's claim runs the duplicate's work once", async () => {
    const q = await queueWithDlq("pipe-ok", 3);
    for (const id of ["p-1", "p-2", "p-3"]) {
      const now = new Date().toISOString();
      await table.submit({ taskId: id, type: "thumbnail", queue: "cpu", status: "QUEUED", submittedAt: now, updatedAt: now, attempts: 0, input: { name: "a.png", bytes: 5, key: `tasks/${id}/input/a.png` } });
    }
    for (const body of [task("p-1"), task("p-2"), task("p-3"), task("p-2")]) await sqs.send(new SendMessageCommand({ QueueUrl: q.url, MessageBody: body }));
    const executions: { input: unknown; outcome: string }[] = [];
    const poller = startPipePoller({
      pipe: pipeFor(q.arn),
      sqs,
      queueUrl: () => q.url,
      waitSeconds: 1,
      // Stands in for the state machine's first state: StartExecution takes JSON only, then the claim dedupes.
      start: async (_target, input, messages) => {
        const { task: t } = JSON.parse(input);
        const outcome = await table.claim(t.taskId, `exec-${messages[0].MessageId}`).then(
          () => "claimed",
          (err) => (err instanceof TaskConflictError ? "duplicate" : Promise.reject(err)),
        );
        executions.push({ input: t.taskId, outcome });
      },
    });
    await until("four starts", () => executions.length === 4);
    await poller.stop();
    expect(executions.filter((e) => e.outcome === "claimed").map((e) => e.input).sort()).toEqual(["p-1", "p-2", "p-3"]);
    expect(executions.filter((e) => e.outcome === "duplicate").map((e) => e.input)).toEqual(["p-2"]);
    expect(await depth(q.url)).toBe(0);
  });

  it("GIVEN starts that fail (poison, or the target down) WHEN received maxReceiveCount times THEN dead-lettered; once fixed, StartMessageMoveTask brings it back and it starts", async () => {
    const q = await queueWithDlq("pipe-poison", 2);
    await sqs.send(new SendMessageCommand({ QueueUrl: q.url, MessageBody: task("unlucky") }));
    let targetUp = false;
    const started: string[] = [];
    const failures: string[] = [];
    const poller = startPipePoller({
      pipe: pipeFor(q.arn),
      sqs,
      queueUrl: () => q.url,
      waitSeconds: 1,
      start: async (_t, input) => {
        if (!targetUp) throw Object.assign(new Error("State Machine Does Not Exist"), { name: "StateMachineDoesNotExist" });
        started.push(JSON.parse(input).task.taskId);
      },
      onStartFailed: (err) => failures.push((err as Error).name),
    });
    await until("the message in the dead-letter queue", async () => (await depth(q.dlqUrl)) === 1);
    expect(failures).toEqual(["StateMachineDoesNotExist", "StateMachineDoesNotExist"]);
    expect(await depth(q.url)).toBe(0);

    targetUp = true;
    await expect(sqs.send(new StartMessageMoveTaskCommand({ SourceArn: q.arn }))).rejects.toMatchObject({ name: "UnsupportedOperation" });
    const { TaskHandle } = await sqs.send(new StartMessageMoveTaskCommand({ SourceArn: q.dlqArn }));
    expect(TaskHandle).toBeTruthy();
    await until("the redriven message started", () => started.length === 1);
    await poller.stop();
    expect(started).toEqual(["unlucky"]);
    const moves = await sqs.send(new ListMessageMoveTasksCommand({ SourceArn: q.dlqArn }));
    expect(moves.Results?.[0]).toMatchObject({ Status: "COMPLETED", ApproximateNumberOfMessagesMoved: 1, SourceArn: q.dlqArn, DestinationArn: q.arn });
    expect(await depth(q.dlqUrl)).toBe(0);
  });

  it("GIVEN an unknown dead-letter queue WHEN a move starts THEN ResourceNotFoundException, as on AWS", async () => {
    await expect(sqs.send(new StartMessageMoveTaskCommand({ SourceArn: "arn:aws:sqs:us-east-1:000000000000:nope" }))).rejects.toMatchObject({ name: "ResourceNotFoundException" });
  });
});
