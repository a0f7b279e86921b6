import { S3Client } from "@aws-sdk/client-s3";

/** One S3 client factory for steps, functions and the local engine.
 * `AWS_ENDPOINT_URL_S3` points the same code at the embedded S3 server; such servers need path-style URLs. */
export function makeS3Client(env: NodeJS.ProcessEnv = process.env): S3Client {
  const endpoint = env.AWS_ENDPOINT_URL_S3;
  return new S3Client({
    region: env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? "us-east-1",
    ...(endpoint ? { endpoint, forcePathStyle: true } : {}),
    // Explicit when given, so a client can be built for an environment other than this process's.
    ...(env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY
      ? { credentials: { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY, sessionToken: env.AWS_SESSION_TOKEN } }
      : {}),
    // Retries inside the SDK cover brief blips; longer outages surface as a retryable step failure.
    maxAttempts: Number(env.ATLAS_S3_MAX_ATTEMPTS ?? 4),
  });
}

export interface S3Location {
  bucket: string;
  key: string;
}

/** Parses `s3://bucket/key`. A trailing slash in the key marks a prefix. */
export function parseS3Uri(uri: string): S3Location {
  const match = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])\/(.*)$/.exec(uri);
  if (!match) throw new Error(`not an S3 URI: '${uri}' (expected s3://bucket/key)`);
  return { bucket: match[1], key: match[2] };
}

export function s3Uri(bucket: string, key: string): string {
  return `s3://${bucket}/${key}`;
}
