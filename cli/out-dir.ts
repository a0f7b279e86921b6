import { constants } from "node:fs";
import { access, mkdir, rm, stat, writeFile } from "node:fs/promises";
import * as path from "node:path";

/**
 * Why `--out DIR` cannot take the run's files, in one line, or undefined when it can: it must be a directory (or
 * creatable as one) that this process can write to. Checked before the run starts: a run used to publish its month
 * and only then find out that --out was a file or read-only (reported as ENOENT). Creates DIR when missing and
 * writes a probe file in it, because permission bits alone do not say whether a write succeeds (root, read-only
 * mounts, ACLs).
 */
export async function outDirProblem(dir: string): Promise<string | undefined> {
  const shown = `--out ${dir}`;
  const found = await stat(dir).catch((err: NodeJS.ErrnoException) => (err.code === "ENOENT" ? undefined : err));
  if (found instanceof Error) return `${shown}: ${reason(found)}`;
  if (found && !found.isDirectory()) return `${shown} is not a directory: pass a directory (it is created when missing)`;
  if (!found) {
    try {
      await createLevels(dir);
    } catch (err) {
      return `${shown} cannot be created: ${reason(err as NodeJS.ErrnoException)}`;
    }
  }
  const probe = path.join(dir, `.atlas-write-check-${process.pid}`);
  try {
    await access(dir, constants.W_OK | constants.X_OK);
    await writeFile(probe, "");
  } catch (err) {
    return `${shown} is not writable: ${reason(err as NodeJS.ErrnoException)}; pick a directory you can write to`;
  } finally {
    await rm(probe, { force: true }).catch(() => {});
  }
  return undefined;
}

/**
 * Creates `dir` one level at a time, below its nearest existing ancestor. Not `mkdir(dir, { recursive: true })`:
 * on a file system that answers ENOENT to every mkdir (/proc), Node's recursive mkdir retries the parent for ever and
 * never returns; a plain mkdir fails at once with the reason.
 */
async function createLevels(dir: string): Promise<void> {
  const missing: string[] = [];
  let at = dir;
  while (!(await stat(at).catch(() => undefined))) {
    missing.unshift(at);
    const parent = path.dirname(at);
    if (parent === at) break;
    at = parent;
  }
  for (const level of missing) {
    await mkdir(level).catch((err: NodeJS.ErrnoException) => {
      // The parent exists (it was found, or just made): ENOENT here means a file system that holds no new folders.
      if (err.code === "ENOENT") throw Object.assign(new Error(`${path.dirname(level)} takes no new folders (a virtual file system?): pick a directory you can write to`), { code: "ENOENT" });
      if (err.code !== "EEXIST") throw err;
    });
  }
}

function reason(err: NodeJS.ErrnoException): string {
  const known: Record<string, string> = {
    EACCES: "permission denied",
    EPERM: "operation not permitted",
    EROFS: "read-only file system",
    ENOTDIR: "a part of the path is a file, not a directory",
    ENOSPC: "no space left on the device",
  };
  return (err.code && known[err.code]) || err.message;
}
