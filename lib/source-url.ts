import { existsSync, statSync } from "node:fs";
import * as path from "node:path";
import { pathToFileURL } from "node:url";

/**
 * A local path becomes a file:// URL (allowed in local runs only); URLs pass through for Plan to check. `option`
 * names the flag in messages; `kind` says whether it must be a file or a directory, when it matters.
 */
export function toSourceUrl(source: string, option = "--source", kind?: "file" | "directory"): string {
  // An empty value is most often a `$(npm run --silent data -- path …)` that failed (its error is printed above):
  // resolved, it would be the current directory.
  if (source.trim() === "") throw new Error(`${option} is empty: pass a ${kind ?? "file or directory"} path or a URL (if it came from $(…), see the error that command printed above)`);
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(source)) return source;
  const absolute = path.resolve(source);
  if (!existsSync(absolute)) throw new Error(`${option} ${source}: no such file or directory`);
  const isDir = statSync(absolute).isDirectory();
  if (kind === "file" && isDir) throw new Error(`${option} ${source} is a directory: pass the file itself`);
  if (kind === "directory" && !isDir) throw new Error(`${option} ${source} is not a directory: pass the directory that holds the files`);
  return pathToFileURL(absolute).href;
}
