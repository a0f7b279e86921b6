import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from "aws-lambda";
import { makeS3Client } from "../lib/s3.ts";
import { SubmissionError } from "../lib/tasks/submission.ts";
import { makeSqsClient } from "../lib/tasks/task-queues.ts";
import { makeDynamoClient, TaskTable } from "../lib/tasks/task-table.ts";
import { TaskApiError, TaskService } from "../lib/tasks/task-service.ts";
import { ConfigurationError } from "./errors.ts";

/**
 * The task API's handler (an API Gateway HTTP API with IAM auth, stacks/constructs/TaskApi.ts; offline, the same
 * handler behind cli/tasks-api-server.ts). Routes, declared once here and read by the construct and the adapter:
 */
export const TASK_API_ROUTES = {
  "POST /tasks/uploads": "createUpload",
  "POST /tasks": "submit",
  "GET /tasks": "list",
  "GET /tasks/{taskId}": "status",
} as const;
export type TaskRouteKey = keyof typeof TASK_API_ROUTES;

/** What the handler reads from its environment (set by the construct; offline, by cli/tasks-offline.ts). */
export const TASK_API_ENV = ["ATLAS_BUCKET", "ATLAS_TASK_TABLE", "ATLAS_GPU_QUEUE_URL", "ATLAS_CPU_QUEUE_URL"] as const;

export function serviceFromEnv(env: NodeJS.ProcessEnv): TaskService {
  const missing = TASK_API_ENV.filter((k) => !env[k]?.trim());
  if (missing.length) throw new ConfigurationError(`the task API needs ${missing.join(", ")} in its environment`);
  return new TaskService({
    table: new TaskTable(makeDynamoClient(env), env.ATLAS_TASK_TABLE!),
    s3: makeS3Client(env),
    sqs: makeSqsClient(env),
    bucket: env.ATLAS_BUCKET!,
    queueUrls: { gpu: env.ATLAS_GPU_QUEUE_URL!, cpu: env.ATLAS_CPU_QUEUE_URL! },
  });
}

const json = (statusCode: number, body: unknown): APIGatewayProxyStructuredResultV2 => ({
  statusCode,
  headers: { "content-type": "application/json" },
  body: JSON.stringify(body),
});

/** Runs one request: a bad request is 400 with one line, an unknown task 404, a reused task id 409. */
export async function route(event: APIGatewayProxyEventV2, service: TaskService, log: (line: string) => void = console.error): Promise<APIGatewayProxyStructuredResultV2> {
  try {
    const op = TASK_API_ROUTES[event.routeKey as TaskRouteKey];
    if (!op) return json(404, { error: `no route ${event.routeKey}` });
    const body = () => {
      const text = event.isBase64Encoded ? Buffer.from(event.body ?? "", "base64").toString("utf8") : (event.body ?? "");
      try {
        return JSON.parse(text);
      } catch {
        throw new SubmissionError(`the request body is not JSON: ${JSON.stringify(text.slice(0, 60))}`);
      }
    };
    switch (op) {
      case "createUpload":
        return json(201, await service.createUpload(body()));
      case "submit":
        return json(202, await service.submit(body()));
      case "status":
        return json(200, await service.status(event.pathParameters?.taskId));
      case "list":
        return json(200, await service.list(event.queryStringParameters ?? {}));
    }
  } catch (err) {
    if (err instanceof SubmissionError) return json(400, { error: err.message });
    if (err instanceof TaskApiError) return json(err.status, { error: err.message });
    log(`task API ${event.routeKey}: ${(err as Error).stack ?? err}`);
    return json(500, { error: "internal error: see the task API's log" });
  }
}

let service: TaskService | undefined;

export async function handler(event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2> {
  service ??= serviceFromEnv(process.env);
  return route(event, service);
}
