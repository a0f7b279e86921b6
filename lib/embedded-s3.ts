import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AddressInfo } from "node:net";
import S3rver from "s3rver";
import { conditionalWritesMiddleware } from "./embedded-s3-conditional.ts";

export interface EmbeddedS3Options {
  /** Where s3rver keeps the objects. Default: a fresh temp dir, removed by `stop()`. */
  directory?: string;
  /** Buckets created at start (existing ones are kept). */
  buckets: string[];
  /** Default 0: any free port. */
  port?: number;
  /** Default 127.0.0.1. */
  address?: string;
  /** Called for every request the server receives (the local engine counts them for the run's cost estimate). */
  onRequest?: (request: { method: string; path: string; query: Record<string, unknown> }) => void;
}

export interface EmbeddedS3 {
  /** `http://127.0.0.1:<port>`: the value for `AWS_ENDPOINT_URL_S3`. */
  endpoint: string;
  port: number;
  directory: string;
  stop(): Promise<void>;
}

/**
 * Runs an S3-compatible server (s3rver) inside this process, for the local engine and for tests.
 * Point the step code at it with `AWS_ENDPOINT_URL_S3=<endpoint>` (any access key works; use `S3RVER`).
 * Conditional writes answer as on Amazon S3 (lib/embedded-s3-conditional.ts): the publish lease relies on them.
 */
export async function startEmbeddedS3(opts: EmbeddedS3Options): Promise<EmbeddedS3> {
  const ownDir = opts.directory === undefined;
  const directory = opts.directory ?? (await mkdtemp(join(tmpdir(), "embedded-s3-")));
  const address = opts.address ?? "127.0.0.1";
  const server = new S3rver({
    port: opts.port ?? 0,
    address,
    silent: true,
    directory,
    configureBuckets: opts.buckets.map((name) => ({ name })),
  });
  // First in s3rver's Koa stack: S3's conditional writes (If-None-Match / If-Match), which s3rver lacks.
  server.middleware.unshift(conditionalWritesMiddleware());
  const onRequest = opts.onRequest;
  if (onRequest) {
    server.middleware.unshift((ctx: { method: string; path: string; query: Record<string, unknown> }, next: () => Promise<unknown>) => {
      onRequest({ method: ctx.method, path: ctx.path, query: ctx.query });
      return next();
    });
  }
  const info = (await server.run()) as AddressInfo;
  let stopped = false;
  return {
    endpoint: `http://${address}:${info.port}`,
    port: info.port,
    directory,
    async stop() {
      if (stopped) return;
      stopped = true;
      await server.close();
      if (ownDir) await rm(directory, { recursive: true, force: true });
    },
  };
}
