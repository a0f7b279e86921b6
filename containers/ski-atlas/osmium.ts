import { spawn } from "node:child_process";
import { EXIT, StepError } from "../../lib/exit-codes.ts";

export interface OsmiumResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
}

/** Runs `osmium <args>`; resolves with its exit status and stderr (stdout is ignored unless piped by caller). */
export function runOsmium(args: string[]): Promise<OsmiumResult> {
  return new Promise((resolve, reject) => {
    const child = spawn("osmium", args, { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.setEncoding("utf8");
    child.stderr.on("data", (d: string) => {
      if (stderr.length < 64 * 1024) stderr += d;
    });
    child.on("error", (err) => reject(osmiumSpawnError(err)));
    child.on("close", (code, signal) => resolve({ code, signal, stderr }));
  });
}

export function osmiumSpawnError(err: unknown): Error {
  if ((err as { code?: string }).code === "ENOENT") {
    return new StepError("osmium is not installed: install osmium-tool (apt-get install osmium-tool)", EXIT.USAGE);
  }
  return err as Error;
}

/** The last meaningful line osmium printed, for a one-line error message. */
export function lastLine(stderr: string): string {
  const lines = stderr.split("\n").map((l) => l.trim()).filter(Boolean);
  return lines.at(-1) ?? "no message";
}

/**
 * Maps a failed osmium run on `what` (a PBF we were given) to a StepError: killed by SIGKILL → 137 (the
 * kernel's OOM killer), resource trouble → 1, anything else means the input is bad → 65.
 */
export function osmiumFailure(result: OsmiumResult, what: string, fix: string): StepError {
  const msg = lastLine(result.stderr);
  if (result.signal === "SIGKILL") {
    return new StepError(`osmium was killed (SIGKILL, most likely out of memory) while reading ${what}: run the step on a bigger tier`, EXIT.OUT_OF_MEMORY);
  }
  if (/no space left|bad_alloc|cannot allocate|out of memory/i.test(result.stderr)) {
    return new StepError(`osmium ran out of resources while reading ${what} (${msg}): give the task more disk or memory`, 1);
  }
  return new StepError(`${what} is not a valid OSM PBF (osmium: ${msg}): ${fix}`, EXIT.DATA_ERROR);
}
