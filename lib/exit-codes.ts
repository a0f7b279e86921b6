/**
 * Exit codes of the container steps (sysexits.h values). Step Functions reports every non-zero exit as
 * `States.TaskFailed`, so the state machine tells them apart by matching the exit code inside the Cause
 * (see workflows/compile.ts). Keep this table and the matching in sync through `RETRYABLE_EXIT_CODES`.
 */
export const EXIT = {
  OK: 0,
  /** Configuration or usage error (missing env variable, bad argument). Retrying cannot help. */
  USAGE: 64,
  /** The input data is bad (corrupt or truncated PBF, not a PBF). Retrying cannot help. */
  DATA_ERROR: 65,
  /** The input does not exist (HTTP 404, no such S3 key). Retrying cannot help. */
  NO_INPUT: 66,
  /** Something outside us failed for now (unreachable host, S3 5xx, dropped connection, checksum mismatch
   * after a transfer). A retry may help. */
  TEMP_FAIL: 75,
  /** Access denied (S3 403). Retrying cannot help until someone fixes permissions. */
  NO_PERMISSION: 77,
  /** What the container runtime reports for a process killed for using too much memory (128 + SIGKILL). */
  OUT_OF_MEMORY: 137,
  /** What Node exits with when its heap is full (SIGABRT, "FATAL ERROR: … JavaScript heap out of memory"). Never
   * chosen by a step; the state machine treats it as out of memory (see OUT_OF_MEMORY_CAUSES in workflows/compile.ts). */
  HEAP_EXHAUSTED: 134,
} as const;

export const RETRYABLE_EXIT_CODES: readonly number[] = [EXIT.TEMP_FAIL];

/** An error a step raises on purpose: its message is the one line a person reads, its exit code tells the
 * state machine whether a retry can help. (A field, not a constructor parameter property: worker threads load
 * this module with Node's type stripping, which has no parameter properties.) */
export class StepError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode: number) {
    super(message);
    this.exitCode = exitCode;
    this.name = "StepError";
  }
}
