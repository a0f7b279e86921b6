import { ERROR_NAMES } from "../functions/errors.ts";
import type { FailedItem } from "../run-model/outcome.ts";

/**
 * Offline, an item whose source needs the network (Plan's SourceOfflineError) can only succeed with a local copy:
 * names the option that gives one (`--sources andorra=PATH` for the fan-out, `--source PATH` for one region).
 */
export function offlineHint(failed: FailedItem[], localSourceOption: ((items: string[]) => string) | undefined): string | undefined {
  const offline = failed.filter((f) => f.cause.includes(ERROR_NAMES.sourceOffline));
  if (!offline.length || !localSourceOption) return undefined;
  const items = offline.map((f) => f.item);
  return `${items.join(", ")} ${items.length === 1 ? "needs" : "need"} the network; offline, pass ${items.length === 1 ? "a local copy" : "local copies"} with ${localSourceOption(items)}`;
}
