import * as path from "node:path";
import { PROJECT_ROOT } from "./project-root.ts";

/**
 * The CLI's local stand-in for an AWS account (the bucket's data and the execution names): `.data/`, or this
 * variable's folder (a test's own, so its runs neither see nor take the names of earlier runs).
 */
export const ACCOUNT_DIR_ENV = "ATLAS_ACCOUNT_DIR";

/** The CLI's local account: `$ATLAS_ACCOUNT_DIR`, or `.data/`. */
export function cliAccountDir(env: NodeJS.ProcessEnv = process.env): string {
  return env[ACCOUNT_DIR_ENV] || path.join(PROJECT_ROOT, ".data");
}

/** Where an account keeps its execution names (lib/execution-history.ts, LocalExecutionRegistry). */
export function executionsDirOf(accountDir: string): string {
  return path.join(accountDir, "executions");
}
