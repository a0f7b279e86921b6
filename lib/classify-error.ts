import { tmpdir } from "node:os";
import { EXIT, StepError } from "./exit-codes.ts";

const NETWORK_CODES = new Set([
  "ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "ENOTFOUND", "EAI_AGAIN", "EPIPE", "EHOSTUNREACH",
  "ENETUNREACH", "ENETDOWN", "ECONNABORTED", "UND_ERR_SOCKET", "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_HEADERS_TIMEOUT", "UND_ERR_BODY_TIMEOUT",
]);

const TEMP_S3_NAMES = new Set([
  "SlowDown", "ServiceUnavailable", "InternalError", "RequestTimeout", "RequestTimeTooSkewed",
  "TimeoutError", "ThrottlingException", "NetworkingError",
  // A run's session (workflows/run-session.ts) outlived: the state's retry starts the next attempt with a new one.
  "ExpiredToken", "ExpiredTokenException",
]);

/** DuckDB's IO Error on a full disk; the file it names, when it names one. */
const DUCKDB_DISK_FULL = /IO Error:.*?(?:file "([^"]+)")?[^"]*: No space left on device/i;

function errorCode(err: unknown): string | undefined {
  let e = err as { code?: string; cause?: unknown } | undefined;
  for (let depth = 0; e && depth < 5; depth++) {
    if (typeof e.code === "string") return e.code;
    e = e.cause as typeof e;
  }
  return undefined;
}

/**
 * Turns any error into a StepError with the exit code the state machine acts on.
 * StepErrors pass through; S3 access denied → 77; S3 5xx/throttling and network failures → 75 (retryable);
 * anything else is a bug or an unexpected condition → 1 (not retried).
 */
export function classifyError(err: unknown, context = ""): StepError {
  if (err instanceof StepError) return err;
  const e = err as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
  const name = e?.name ?? "Error";
  const message = (e?.message ?? String(err)).replace(/\s+/g, " ").trim();
  const status = e?.$metadata?.httpStatusCode;
  const where = context ? `${context}: ` : "";
  if (name === "AccessDenied" || name === "InvalidAccessKeyId" || name === "SignatureDoesNotMatch" || status === 403) {
    return new StepError(`${where}access denied (${name}: ${message}): check the task role's S3 permissions`, EXIT.NO_PERMISSION);
  }
  if (name === "NoSuchBucket") {
    return new StepError(`${where}${message}: check the bucket name in the S3 URIs`, EXIT.NO_INPUT);
  }
  if (name === "NoSuchKey" || name === "NotFound" || status === 404) {
    return new StepError(`${where}object not found (${name}): run the step that writes it first`, EXIT.NO_INPUT);
  }
  const code = errorCode(err);
  // DuckDB reports a full disk (writing a Parquet file, spilling) as an error with no code: `IO Error: Could not write
  // file "<path>": No space left on device`.
  const duckDiskFull = DUCKDB_DISK_FULL.exec(message);
  if (code === "ENOSPC" || duckDiskFull) {
    // A write() error carries no path: name the file when the writer attached it, else the work directory.
    const where = (err as { path?: string }).path ?? duckDiskFull?.[1] ?? `the work directory ${tmpdir()}`;
    return new StepError(`${context ? `${context}: ` : ""}no space left on the device writing ${where}: the task's disk is full (a bigger tier has more ephemeral storage)`, 1);
  }
  if ((code && NETWORK_CODES.has(code)) || TEMP_S3_NAMES.has(name) || (status !== undefined && status >= 500)) {
    return new StepError(`${where}temporary failure (${code ?? name}: ${message}): retry later`, EXIT.TEMP_FAIL);
  }
  return new StepError(`${where}unexpected ${name}: ${message}`, 1);
}
