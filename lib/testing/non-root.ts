import { spawn } from "node:child_process";
import { chmod, chown, mkdir, mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { PROJECT_ROOT } from "../project-root.ts";

/**
 * Runs a process the way a container's step runs in the image: as a non-root user (`nobody`, 65534, standing in for
 * the image's `node` user), in a working directory it cannot write, with one work dir of its own. Switching user
 * needs root, which the test machines have (the tests that use this say so when they do not).
 */
export const NOBODY = { uid: 65534, gid: 65534 } as const;

export const canSwitchUser = process.getuid?.() === 0;

export interface TaskDirs {
  /** Owned by root, mode 755: the non-root process may read it, not write it (like /app in the image). */
  readOnly: string;
  /** Owned by the non-root user: the task's work dir (like /work in the image). */
  work: string;
  remove(): Promise<void>;
}

/**
 * The non-root process runs this Node binary and (in tests) code and packages from the checkout, so it must be able
 * to traverse the folders above them. A checkout made in a private folder (`mktemp -d` is mode 700) would refuse it
 * with EACCES, which no image ever does (its /app is world-readable). Adds the search bit only (o+x: pass through,
 * never list, read or write) where it is missing.
 */
async function letNobodyReach(target: string): Promise<void> {
  for (let dir = path.dirname(path.resolve(target)); ; dir = path.dirname(dir)) {
    const { mode } = await stat(dir);
    if ((mode & 0o001) === 0) await chmod(dir, mode | 0o001);
    if (dir === path.dirname(dir)) break;
  }
}

export async function makeTaskDirs(prefix: string): Promise<TaskDirs> {
  await letNobodyReach(process.execPath);
  await letNobodyReach(path.join(PROJECT_ROOT, "package.json"));
  const base = await mkdtemp(path.join(tmpdir(), `${prefix}-`));
  await chmod(base, 0o755);
  const readOnly = path.join(base, "app");
  const work = path.join(base, "work");
  await mkdir(readOnly, { mode: 0o755 });
  await mkdir(work, { mode: 0o700 });
  await chown(work, NOBODY.uid, NOBODY.gid);
  return { readOnly, work, remove: () => rm(base, { recursive: true, force: true }) };
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `argv` as `nobody` with exactly `env` (nothing inherited but PATH), collecting its output. */
export function runAsNobody(argv: string[], opts: { cwd: string; env: Record<string, string> }): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), {
      cwd: opts.cwd,
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...opts.env },
      uid: NOBODY.uid,
      gid: NOBODY.gid,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code: code ?? (signal ? 128 : -1), stdout, stderr }));
  });
}
