/**
 * The published-prefix conventions every workflow shares (lib/publish-prefix.ts writes them, lib/verify-prefix.ts
 * checks them):
 *
 * - `manifest.json` is the commit marker: it lists every data file (sha256, bytes, rows) and is written last. A
 *   reader trusts a prefix only while its manifest is there.
 * - Names starting with "_" are never published data: staging-only files (`_summary.json`) stay in staging, and
 *   `_publishing.json` is the journal of a publish in progress (see publish-prefix.ts), `_lease.json` the lease of
 *   the one writer allowed to change the prefix (see prefix-lease.ts).
 */
export const MANIFEST_NAME = "manifest.json";

/** Present under a published prefix only while a publish changes it, or after one was interrupted. */
export const JOURNAL_NAME = "_publishing.json";

/** Present under a published prefix while a writer (publish or rollback) holds it: lib/prefix-lease.ts. */
export const LEASE_NAME = "_lease.json";

export interface PublishedFile {
  name: string;
  sha256: string;
  bytes: number;
  /** Data rows (tables only). */
  rows?: number;
}

/** What every manifest has; workflows add their own fields (region, period, counts, …). */
export interface PublishedManifest {
  files: PublishedFile[];
  [field: string]: unknown;
}

/** A data file of a published prefix: not the manifest, not an underscore file, not nested. */
export function isPublishable(name: string): boolean {
  return name.length > 0 && !name.includes("/") && !name.startsWith("_") && name !== MANIFEST_NAME;
}

/** Parses a manifest; throws when it is not an object with a well-formed `files` list. */
export function parseManifest(text: string): PublishedManifest {
  const m = JSON.parse(text) as PublishedManifest;
  if (!m || typeof m !== "object" || !Array.isArray(m.files)) throw new Error("manifest has no files list");
  for (const [i, f] of m.files.entries()) {
    if (!f || typeof f.name !== "string" || typeof f.sha256 !== "string" || typeof f.bytes !== "number") {
      throw new Error(`manifest files[${i}] lacks name, sha256 or bytes`);
    }
  }
  return m;
}

export function contentTypeOf(name: string): string {
  if (name.endsWith(".csv")) return "text/csv";
  if (name.endsWith(".json")) return "application/json";
  if (name.endsWith(".parquet")) return "application/vnd.apache.parquet";
  return "application/octet-stream";
}
