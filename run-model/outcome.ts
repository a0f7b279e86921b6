/**
 * What a run came to, said the same way everywhere a person or a script reads it: the progress headline, the
 * final table, the run record (`--json` and `run.json`, local or AWS) and the exit code. Step Functions ends a
 * fan-out SUCCEEDED as soon as its digest is sent, whatever its items did; the digest (Summarize: every item ok
 * SUCCEEDED, some failed PARTIAL, all failed FAILED) is what the run came to.
 */

/** The part of Summarize's output (`$.digest`) read here. */
export interface DigestOutcome {
  status?: string;
  subject?: string;
  failed?: { region?: string; cause?: string }[];
}

/** One item of a run that failed, and its one-line cause. */
export interface FailedItem {
  item: string;
  cause: string;
}

/** `$.digest` of a fan-out's output, when Summarize wrote one (the machine starts it as `{}`). */
export function digestOf(output: unknown): DigestOutcome | undefined {
  const digest = (output as { digest?: unknown } | null | undefined)?.digest;
  if (!digest || typeof digest !== "object" || typeof (digest as DigestOutcome).status !== "string") return undefined;
  return digest as DigestOutcome;
}

/** The execution's status, except that a fan-out whose digest says PARTIAL or FAILED is that. */
export function runOutcome<S extends string>(executionStatus: S, output: unknown): S | "PARTIAL" | "FAILED" {
  const status = digestOf(output)?.status;
  if (executionStatus === "SUCCEEDED" && (status === "PARTIAL" || status === "FAILED")) return status;
  return executionStatus;
}

/** The digest's failed items, each with its cause. */
export function failedItemsOf(digest: DigestOutcome | undefined): FailedItem[] {
  return (digest?.failed ?? []).map((f) => ({ item: String(f.region ?? "?"), cause: String(f.cause ?? "unknown cause") }));
}

/**
 * The one line a fan-out that did not fully succeed ends with: what the digest says (without the notification's
 * `[atlas]` tag), then every failed item with its cause.
 */
export function digestFailureLine(digest: DigestOutcome): string {
  const subject = (digest.subject ?? `${String(digest.status).toLowerCase()} fan-out`).replace(/^\[atlas\]\s*/, "");
  const failed = failedItemsOf(digest).map((f) => `${f.item}: ${f.cause}`);
  return failed.length ? `${subject}; failed: ${failed.join("; ")}` : subject;
}

/** The line a finished run ends with, or undefined when it succeeded (a failed step's line when it has one). */
export function outcomeLine(executionStatus: string, output: unknown, failure: string | undefined): string | undefined {
  if (runOutcome(executionStatus, output) === "SUCCEEDED") return undefined;
  if (failure) return failure;
  const digest = digestOf(output);
  return digest ? digestFailureLine(digest) : executionStatus;
}
