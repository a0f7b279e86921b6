import { S3Client } from "@aws-sdk/client-s3";
import { EXIT, StepError } from "./exit-codes.ts";

/**
 * Bounds on every S3 call, so a connection that stalls (accepted and never answered, or headers and half a body)
 * fails instead of hanging a step until its state's timeout. Production defaults; each can be set by env (tests
 * use a second or two). A timed-out call is retried by the SDK's standard retry (ATLAS_S3_MAX_ATTEMPTS attempts in
 * all); after the last one the step fails with exit 75 (lib/classify-error.ts) and its state's retry policy runs.
 */
export const S3_TIMEOUT_DEFAULTS = {
  /** TCP (and TLS) connect. */
  connectMs: 5_000,
  /** From sending the request to the response's headers: covers a 16 MiB multipart part or a CopyObject. */
  requestMs: 120_000,
  /** No byte on the socket for this long, also while a response body streams. */
  idleMs: 30_000,
} as const;
export const S3_TIMEOUT_ENV = {
  connectMs: "ATLAS_S3_CONNECT_TIMEOUT_MS",
  requestMs: "ATLAS_S3_REQUEST_TIMEOUT_MS",
  idleMs: "ATLAS_S3_IDLE_TIMEOUT_MS",
} as const;
/** SDK attempts per call (the standard retry mode); `ATLAS_S3_MAX_ATTEMPTS` overrides. */
export const S3_MAX_ATTEMPTS_DEFAULT = 4;
export const S3_MAX_ATTEMPTS_ENV = "ATLAS_S3_MAX_ATTEMPTS";
/** Every variable that shapes the S3 client: the local engine hands each one set to every step, as a task definition would. */
export const S3_SETTING_VARIABLES: readonly string[] = [...Object.values(S3_TIMEOUT_ENV), S3_MAX_ATTEMPTS_ENV];

/** The S3 settings `env` sets (only those), each checked: what a local run passes on to its steps. Throws exit 64 on a bad one. */
export function s3Settings(env: NodeJS.ProcessEnv): Record<string, string> {
  s3Timeouts(env);
  s3MaxAttempts(env);
  return Object.fromEntries(S3_SETTING_VARIABLES.flatMap((name) => (env[name]?.trim() ? [[name, env[name]!.trim()]] : [])));
}

export function s3MaxAttempts(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env[S3_MAX_ATTEMPTS_ENV]?.trim();
  if (!raw) return S3_MAX_ATTEMPTS_DEFAULT;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new StepError(`${S3_MAX_ATTEMPTS_ENV}='${raw}' is not a whole number of attempts (1 or more)`, EXIT.USAGE);
  return n;
}

export function s3Timeouts(env: NodeJS.ProcessEnv = process.env): { connectMs: number; requestMs: number; idleMs: number } {
  const read = (key: keyof typeof S3_TIMEOUT_ENV) => {
    const raw = env[S3_TIMEOUT_ENV[key]]?.trim();
    if (!raw) return S3_TIMEOUT_DEFAULTS[key];
    const n = Number(raw);
    if (!Number.isInteger(n) || n <= 0) throw new StepError(`${S3_TIMEOUT_ENV[key]}='${raw}' is not a number of milliseconds`, EXIT.USAGE);
    return n;
  };
  return { connectMs: read("connectMs"), requestMs: read("requestMs"), idleMs: read("idleMs") };
}

/** One S3 client factory for steps, functions, the CLI and the local engine.
 * `AWS_ENDPOINT_URL_S3` points the same code at the embedded S3 server; such servers need path-style URLs. */
export function makeS3Client(env: NodeJS.ProcessEnv = process.env): S3Client {
  const endpoint = env.AWS_ENDPOINT_URL_S3;
  const timeouts = s3Timeouts(env);
  return new S3Client({
    region: env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? "us-east-1",
    ...(endpoint ? { endpoint, forcePathStyle: true } : {}),
    // Explicit when given, so a client can be built for an environment other than this process's.
    ...(env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY
      ? { credentials: { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY, sessionToken: env.AWS_SESSION_TOKEN } }
      : {}),
    // NodeHttpHandler's options: requestTimeout only throws with throwOnRequestTimeout (else it merely warns);
    // socketTimeout is the idle bound, and it also cuts a response body that stops arriving.
    requestHandler: {
      connectionTimeout: timeouts.connectMs,
      requestTimeout: timeouts.requestMs,
      throwOnRequestTimeout: true,
      socketTimeout: timeouts.idleMs,
    },
    // Retries inside the SDK cover brief blips and timeouts; longer outages surface as a retryable step failure.
    maxAttempts: s3MaxAttempts(env),
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
