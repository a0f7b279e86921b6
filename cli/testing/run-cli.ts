import { spawn } from "node:child_process";
import { PROJECT_ROOT } from "../../lib/project-root.ts";

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/**
 * The real command line, as `npm start -- …` runs it (`node --import tsx cli/main.ts …` in the project root), with
 * exactly `env` as its environment; resolves with its exit status and output once it ends.
 */
export function runCli(args: string[], env: NodeJS.ProcessEnv): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", "cli/main.ts", ...args], { cwd: PROJECT_ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (status) => resolve({ status, stdout, stderr }));
  });
}
