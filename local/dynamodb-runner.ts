import { randomBytes } from "node:crypto";
import { DeleteItemCommand, GetItemCommand, PutItemCommand, UpdateItemCommand, type DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { makeDynamoClient } from "../lib/tasks/task-table.ts";

/**
 * The local stand-in for Step Functions' optimized DynamoDB integration (`arn:aws:states:::dynamodb:<action>`):
 * the state's resolved Parameters are the API request, sent as they are to the DynamoDB the engine's environment
 * names (`AWS_ENDPOINT_URL_DYNAMODB`: the embedded dynalite offline). It answers as Step Functions does:
 * - the API response with the SDK's metadata beside it (`SdkHttpMetadata`, `SdkResponseMetadata`), attribute
 *   values in DynamoDB's JSON (`{"S": …}`, numbers as strings);
 * - an error named `DynamoDB.<the API's error code>` (`DynamoDB.ConditionalCheckFailedException`), its Cause the
 *   service's message as AWS's SDK for Java words it, which is what Step Functions shows: `The conditional request
 *   failed (Service: AmazonDynamoDBv2; Status Code: 400; Error Code: ConditionalCheckFailedException; Request ID:
 *   …; Proxy: null)`.
 */
export const DYNAMODB_RESOURCES = {
  "arn:aws:states:::dynamodb:getItem": GetItemCommand,
  "arn:aws:states:::dynamodb:putItem": PutItemCommand,
  "arn:aws:states:::dynamodb:updateItem": UpdateItemCommand,
  "arn:aws:states:::dynamodb:deleteItem": DeleteItemCommand,
} as const;

export type DynamoDbResource = keyof typeof DYNAMODB_RESOURCES;

export function isDynamoDbResource(resource: string): resource is DynamoDbResource {
  return Object.hasOwn(DYNAMODB_RESOURCES, resource);
}

/** A DynamoDB error as the integration reports it. */
export class DynamoDbIntegrationError extends Error {
  constructor(code: string, message: string, status: number, requestId: string) {
    super(`${message} (Service: AmazonDynamoDBv2; Status Code: ${status}; Error Code: ${code}; Request ID: ${requestId}; Proxy: null)`);
    this.name = `DynamoDB.${code}`;
  }
}

/** One client per endpoint for the engine's whole life: a task workflow makes several writes per task. */
const clients = new Map<string, DynamoDBClient>();

function clientFor(env: Record<string, string>): DynamoDBClient {
  const key = env.AWS_ENDPOINT_URL_DYNAMODB ?? "aws";
  let client = clients.get(key);
  if (!client) {
    client = makeDynamoClient(env);
    clients.set(key, client);
  }
  return client;
}

export async function localDynamoDb(resource: DynamoDbResource, parameters: Record<string, unknown>, env: Record<string, string>): Promise<Record<string, unknown>> {
  const Command = DYNAMODB_RESOURCES[resource] as unknown as new (input: unknown) => Parameters<DynamoDBClient["send"]>[0];
  try {
    const { $metadata, ...response } = (await clientFor(env).send(new Command(parameters))) as { $metadata: { httpStatusCode?: number; requestId?: string } };
    const requestId = $metadata.requestId ?? randomRequestId();
    return {
      ...response,
      SdkHttpMetadata: { HttpHeaders: { "Content-Type": "application/x-amz-json-1.0", "x-amzn-RequestId": requestId }, HttpStatusCode: $metadata.httpStatusCode ?? 200 },
      SdkResponseMetadata: { RequestId: requestId },
    };
  } catch (err) {
    const e = err as Error & { $metadata?: { httpStatusCode?: number; requestId?: string }; $fault?: string };
    if (!e.$metadata) throw new DynamoDbIntegrationError("SdkClientException", e.message, 0, randomRequestId());
    throw new DynamoDbIntegrationError(e.name, e.message, e.$metadata.httpStatusCode ?? 400, e.$metadata.requestId ?? randomRequestId());
  }
}

/** DynamoDB's request ids are 52 upper-case letters and digits. */
function randomRequestId(): string {
  return randomBytes(32).toString("base64").replace(/[^A-Za-z0-9]/g, "").toUpperCase().padEnd(52, "0").slice(0, 52);
}
