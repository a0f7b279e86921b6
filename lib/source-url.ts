import { existsSync } from "node:fs";
import * as path from "node:path";
import { pathToFileURL } from "node:url";

/** A local path becomes a file:// URL (allowed in local runs only); URLs pass through for Plan to check. */
export function toSourceUrl(source: string): string {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(source)) return source;
  const absolute = path.resolve(source);
  if (!existsSync(absolute)) throw new Error(`--source ${source}: no such file or directory`);
  return pathToFileURL(absolute).href;
}
