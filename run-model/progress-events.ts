/**
 * What the progress view shows, whatever ran the execution: the local engine's event log and the AWS
 * execution history are both turned into these.
 */
export type ProgressEvent =
  | { kind: "execution-started"; execution: string; time: number; machine: string }
  | { kind: "execution-finished"; execution: string; time: number; machine: string; status: string; error?: string; durationMs: number }
  | { kind: "state-started"; execution: string; time: number; state: string; type: string; attempt: number; tier?: string }
  | { kind: "state-succeeded"; execution: string; time: number; state: string; type: string; durationMs: number; tier?: string }
  | { kind: "state-failed"; execution: string; time: number; state: string; type: string; error?: string; logFile?: string }
  | { kind: "retrying"; execution: string; time: number; state: string; attempt: number; waitMs: number; error?: string; logFile?: string }
  | { kind: "tier-escalated"; execution: string; time: number; state: string; detail: string }
  /** A line the step's process printed (locally: its stdout and stderr, as they come). */
  | { kind: "log"; execution: string; time: number; state: string; line: string }
  /** A step still running: how long so far and the memory its processes hold now (locally only). */
  | { kind: "heartbeat"; execution: string; time: number; state: string; elapsedMs: number; rssBytes: number }
  /** ATLAS_FAULTS replaced this attempt (local runs only); `timeoutMs` is the state's TimeoutSeconds. */
  | { kind: "fault-injected"; execution: string; time: number; state: string; fault: string; timeoutMs: number };
