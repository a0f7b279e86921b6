import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from "aws-lambda";
import { TASK_API_ROUTES, type TaskRouteKey } from "../functions/tasks-api.ts";

/**
 * The task API offline: a `node:http` server on 127.0.0.1 that turns each request into the event an API Gateway
 * HTTP API (payload format 2.0) gives the Lambda, and hands it to the same handler (functions/tasks-api.ts `route`).
 * Routes are matched like API Gateway's: the route table's `{param}` segments match one path segment.
 */
export interface TaskApiServer {
  /** `http://127.0.0.1:<port>/` */
  url: string;
  stop(): Promise<void>;
}

type Handle = (event: APIGatewayProxyEventV2) => Promise<APIGatewayProxyStructuredResultV2>;

/** The route key a method and path match, with the path's parameters. */
export function matchRoute(method: string, pathname: string): { routeKey: TaskRouteKey; pathParameters: Record<string, string> } | undefined {
  const segments = pathname.split("/").filter(Boolean);
  for (const routeKey of Object.keys(TASK_API_ROUTES) as TaskRouteKey[]) {
    const [m, pattern] = routeKey.split(" ");
    const parts = pattern.split("/").filter(Boolean);
    if (m !== method || parts.length !== segments.length) continue;
    const params: Record<string, string> = {};
    if (parts.every((p, i) => (p.startsWith("{") ? ((params[p.slice(1, -1)] = decodeURIComponent(segments[i])), true) : p === segments[i]))) return { routeKey, pathParameters: params };
  }
  return undefined;
}

export async function startTaskApiServer(handle: Handle): Promise<TaskApiServer> {
  const server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? "/", "http://127.0.0.1");
      const matched = matchRoute(req.method ?? "GET", url.pathname);
      const body = await readBody(req);
      const result: APIGatewayProxyStructuredResultV2 = matched
        ? await handle(toEvent(req, url, matched, body))
        : { statusCode: 404, headers: { "content-type": "application/json" }, body: JSON.stringify({ message: "Not Found" }) };
      res.writeHead(result.statusCode ?? 200, result.headers as Record<string, string>).end(result.body ?? "");
    })().catch((err: Error) => res.writeHead(500, { "content-type": "application/json" }).end(JSON.stringify({ error: err.message })));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

function toEvent(req: IncomingMessage, url: URL, matched: NonNullable<ReturnType<typeof matchRoute>>, body: string): APIGatewayProxyEventV2 {
  const now = new Date();
  return {
    version: "2.0",
    routeKey: matched.routeKey,
    rawPath: url.pathname,
    rawQueryString: url.search.slice(1),
    headers: Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(",") : (v ?? "")])),
    ...(url.searchParams.size ? { queryStringParameters: Object.fromEntries(url.searchParams) } : {}),
    ...(Object.keys(matched.pathParameters).length ? { pathParameters: matched.pathParameters } : {}),
    requestContext: {
      accountId: "000000000000",
      apiId: "local",
      domainName: url.host,
      domainPrefix: "local",
      http: { method: req.method ?? "GET", path: url.pathname, protocol: "HTTP/1.1", sourceIp: req.socket.remoteAddress ?? "127.0.0.1", userAgent: String(req.headers["user-agent"] ?? "") },
      requestId: crypto.randomUUID(),
      routeKey: matched.routeKey,
      stage: "$default",
      time: now.toUTCString(),
      timeEpoch: now.getTime(),
    },
    body,
    isBase64Encoded: false,
  };
}
