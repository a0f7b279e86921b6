import { existsSync } from "node:fs";
import * as path from "node:path";

/**
 * The project root: the nearest folder, from `start` upwards, that holds `sst.config.ts` (SST finds its root the
 * same way). Why not a fixed `import.meta.dirname` + "../..": SST loads `sst.config.ts` by bundling it, with every
 * stack and workflow file, into `.sst.config.<timestamp>.mjs` in the folder it runs from, so there
 * `import.meta.dirname` is that folder, not the source file's. Searching upwards gives the same answer from the
 * source files (tests, the local engine, the CLI) and from SST's bundle.
 */
export function findProjectRoot(start: string): string {
  for (let dir = path.resolve(start); ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, "sst.config.ts"))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`no sst.config.ts in ${start} or any folder above it`);
  }
}

export const PROJECT_ROOT = findProjectRoot(import.meta.dirname);
