import { stat } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { SourceNotFoundError, SourceOfflineError, SourceUnavailableError } from "./errors.ts";

export interface SourceSize {
  /** Undefined when the source does not report its size (no Content-Length). */
  bytes?: number;
}

export interface ProbeOptions {
  fetch?: typeof globalThis.fetch;
  timeoutMs?: number;
  /** A local run (ATLAS_LOCAL=1): a source this machine cannot reach at all is SourceOfflineError, never retried. */
  local?: boolean;
}

/**
 * Network errors that mean "this machine cannot reach that host at all": the name does not resolve (no DNS, as
 * offline, or no such host) or there is no route. A mirror's bad minute looks different (timeouts, resets, 5xx).
 */
const NO_NETWORK_CODES: ReadonlySet<string> = new Set(["ENOTFOUND", "EAI_AGAIN", "ENETUNREACH", "EHOSTUNREACH"]);

export const DEFAULT_PROBE_TIMEOUT_MS = 15_000;

/** Network error codes worth a short description in the one-line message. */
function causeCode(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } })?.cause;
  return cause?.code ?? cause?.message ?? (error as Error)?.message ?? String(error);
}

/**
 * The size of a checked source: `fs.stat` for file://, else a HEAD request's Content-Length.
 * 404/410 and other final 4xx → SourceNotFoundError; network errors, timeouts, 5xx, 408 and 429 →
 * SourceUnavailableError (retried by the state machine). HEAD refused (405/501) → size unknown.
 */
export async function probeSourceSize(url: URL, options: ProbeOptions = {}): Promise<SourceSize> {
  if (url.protocol === "file:") {
    const path = fileURLToPath(url);
    const info = await stat(path).catch(() => undefined);
    if (!info?.isFile()) throw new SourceNotFoundError(`source file ${path} does not exist`);
    return { bytes: info.size };
  }
  const doFetch = options.fetch ?? globalThis.fetch;
  const timeoutMs = options.timeoutMs ?? DEFAULT_PROBE_TIMEOUT_MS;
  let response: Response;
  try {
    response = await doFetch(url, { method: "HEAD", signal: AbortSignal.timeout(timeoutMs), redirect: "follow" });
  } catch (error) {
    const timedOut = (error as Error)?.name === "TimeoutError";
    const reason = timedOut ? `no answer within ${timeoutMs} ms` : causeCode(error);
    if (options.local && NO_NETWORK_CODES.has(reason)) {
      throw new SourceOfflineError(
        `source ${url.href} is out of reach: ${url.hostname} ${reason === "ENOTFOUND" || reason === "EAI_AGAIN" ? "does not resolve" : "has no route"} (${reason}): offline, a retry will not help: use a local copy of the file as the source`,
        { cause: error },
      );
    }
    throw new SourceUnavailableError(`source ${url.href} is unreachable (${reason}); a retry may help`, { cause: error });
  }
  const status = response.status;
  if (status === 404 || status === 410) {
    throw new SourceNotFoundError(`source ${url.href} does not exist (HTTP ${status}): check the region or the source URL`);
  }
  if (status >= 500 || status === 408 || status === 429) {
    throw new SourceUnavailableError(`source ${url.href} is unavailable (HTTP ${status}); a retry may help`);
  }
  if (status === 405 || status === 501) return {};
  if (status >= 400) {
    throw new SourceNotFoundError(`source ${url.href} refused the request (HTTP ${status}): check the source URL and its access`);
  }
  const length = response.headers.get("content-length");
  // A zero length on a HEAD answer says more about the server than about the file: treat it as unknown.
  const bytes = length !== null && /^\d+$/.test(length.trim()) ? Number(length.trim()) : 0;
  return bytes > 0 ? { bytes } : {};
}
