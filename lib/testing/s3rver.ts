import type { S3Client } from "@aws-sdk/client-s3";
import { startEmbeddedS3 as startServer, type EmbeddedS3Options } from "../embedded-s3.ts";
import { makeS3Client } from "../s3.ts";

export interface TestS3 {
  endpoint: string;
  /** Environment for step code (in-process or child): endpoint plus dummy credentials. */
  env: Record<string, string>;
  s3: S3Client;
  stop(): Promise<void>;
}

/** Test helper: an embedded S3 server plus a client pointed at it. Call `stop()` in afterAll. */
export async function startTestS3(opts: EmbeddedS3Options): Promise<TestS3> {
  const server = await startServer(opts);
  const env = {
    AWS_ENDPOINT_URL_S3: server.endpoint,
    AWS_ACCESS_KEY_ID: "S3RVER",
    AWS_SECRET_ACCESS_KEY: "S3RVER",
    AWS_REGION: "us-east-1",
    // A crashed test writer's lease (lib/prefix-lease.ts) expires in 4 s, not the production 2 minutes; shorter
    // TTLs make a live writer on this shared, loaded machine miss its renewal window and stop (exit 75).
    ATLAS_LEASE_TTL_MS: "4000",
  };
  const s3 = makeS3Client({ ...env, ATLAS_S3_MAX_ATTEMPTS: "1" });
  return {
    endpoint: server.endpoint,
    env,
    s3,
    async stop() {
      s3.destroy();
      await server.stop();
    },
  };
}

/** Same as startTestS3 (the name the local-engine tests use). */
export const startEmbeddedS3 = startTestS3;
