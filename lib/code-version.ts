import { execFileSync } from "node:child_process";

/** What CODE_VERSION says when the code is not in a git checkout (a tarball, say): nothing to trace it to. */
export const UNVERSIONED = "unversioned (not a git checkout)";

/**
 * The version recorded in every manifest: the git commit the code comes from, with `-dirty` when tracked files
 * differ from it (what was deployed or run is then not exactly that commit). Read when `sst.config.ts` runs for a
 * deploy, and by the local engine for a local run.
 */
export function codeVersion(root: string): string {
  const git = (...args: string[]) =>
    execFileSync("git", args, { cwd: root, stdio: ["ignore", "pipe", "ignore"] }).toString().trim();
  try {
    const commit = git("rev-parse", "HEAD");
    const dirty = git("status", "--porcelain", "--untracked-files=no") !== "";
    return dirty ? `${commit}-dirty` : commit;
  } catch {
    return UNVERSIONED;
  }
}
