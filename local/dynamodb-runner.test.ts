import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startEmbeddedDynamoDb, type EmbeddedDynamoDb } from "../lib/embedded-dynamodb.ts";
import { makeDynamoClient, TaskTable } from "../lib/tasks/task-table.ts";
import { localDynamoDb } from "./dynamodb-runner.ts";

/** The engine's stand-in for Step Functions' DynamoDB integration, against dynalite: AWS's answer and error shapes. */
let db: EmbeddedDynamoDb;
let env: Record<string, string>;
const TABLE = "runner-test";

beforeAll(async () => {
  db = await startEmbeddedDynamoDb();
  env = { AWS_ENDPOINT_URL_DYNAMODB: db.endpoint, AWS_ACCESS_KEY_ID: "x", AWS_SECRET_ACCESS_KEY: "x", AWS_REGION: "us-east-1" };
  const table = new TaskTable(makeDynamoClient(env), TABLE);
  await table.ensureExists();
  table.client.destroy();
});
afterAll(async () => await db?.stop());

const update = (condition: string) => ({
  TableName: TABLE,
  Key: { taskId: { S: "t-1" } },
  UpdateExpression: "SET #status = :running",
  ConditionExpression: condition,
  ExpressionAttributeNames: { "#status": "status" },
  ExpressionAttributeValues: { ":running": { S: "RUNNING" } },
  ReturnValues: "ALL_NEW",
});

describe("the local DynamoDB integration (arn:aws:states:::dynamodb:updateItem)", () => {
  it("GIVEN a write whose condition holds WHEN run THEN the API's answer, attribute values in DynamoDB JSON, with the SDK metadata beside it", async () => {
    const out = await localDynamoDb("arn:aws:states:::dynamodb:updateItem", update("attribute_not_exists(taskId)"), env);
    expect(out.Attributes).toEqual({ taskId: { S: "t-1" }, status: { S: "RUNNING" } });
    expect(out.SdkHttpMetadata).toMatchObject({ HttpStatusCode: 200 });
    expect(out.SdkResponseMetadata).toEqual({ RequestId: expect.any(String) });
  });

  it("GIVEN a write whose condition fails WHEN run THEN DynamoDB.ConditionalCheckFailedException with the Cause Step Functions shows", async () => {
    const err = await localDynamoDb("arn:aws:states:::dynamodb:updateItem", update("attribute_not_exists(taskId)"), env).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).name).toBe("DynamoDB.ConditionalCheckFailedException");
    expect((err as Error).message).toMatch(/^The conditional request failed \(Service: AmazonDynamoDBv2; Status Code: 400; Error Code: ConditionalCheckFailedException; Request ID: \S+; Proxy: null\)$/);
  });

  it("GIVEN a malformed request WHEN run THEN DynamoDB.ValidationException, not retried as a service error", async () => {
    const err = (await localDynamoDb("arn:aws:states:::dynamodb:updateItem", { ...update("nonsense ==="), ConditionExpression: "nonsense ===" }, env).catch((e: Error) => e)) as Error;
    expect(err.name).toBe("DynamoDB.ValidationException");
  });
});
