/**
 * The published-prefix conventions every workflow shares (lib/publish-prefix.ts writes them, lib/published.ts
 * reads them, lib/verify-prefix.ts checks them):
 *
 * - `{prefix}manifest.json` is the one visible pointer: it lists every data file (sha256, bytes, rows) and names,
 *   in `dataPrefix`, the folder that holds them: `versions/<publishId>/`, written by one publish and never changed
 *   after. A reader reads the manifest first and takes every file from `{prefix}{dataPrefix}{name}`; a folder that
 *   no manifest names (a publish that failed, or lost its lease) is never read. A manifest without `dataPrefix`
 *   (a month published before versions, or a local copy) has its files beside it.
 * - Names starting with "_" are never published data: staging-only files (`_summary.json`) stay in staging, and
 *   `_lease.json` is the lease of the one writer allowed to change the prefix (see prefix-lease.ts).
 */
export const MANIFEST_NAME = "manifest.json";

/** Where the publishes of a prefix put their files, one folder each: `{prefix}versions/<publishId>/`. */
export const VERSIONS_DIR = "versions/";

/** A publish id: the UTC time it started and 8 random hex digits (`20261101T070000Z-1a2b3c4d`), sortable by time. */
export const PUBLISH_ID = /^\d{8}T\d{6}Z-[0-9a-f]{8}$/;

/**
 * The journal of the protocol before versions (a publish that withdrew the manifest and changed files in place).
 * The current protocol writes none; one left by that code means a month it was changing when it stopped: verify
 * reports it, and the next publish, which commits a whole new version, removes it.
 */
export const JOURNAL_NAME = "_publishing.json";

/** Present under a published prefix while a writer (a publish) holds it: lib/prefix-lease.ts. */
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
  /** The publish that wrote this manifest (unique: no two manifest writes have the same bytes, so the same ETag). */
  publishId?: string;
  /** `versions/<publishId>/`: the folder, relative to the manifest, that holds `files`; absent: beside it. */
  dataPrefix?: string;
  files: PublishedFile[];
  [field: string]: unknown;
}

/** A data file of a published prefix: not the manifest, not an underscore file, not nested. */
export function isPublishable(name: string): boolean {
  return name.length > 0 && !name.includes("/") && !name.startsWith("_") && name !== MANIFEST_NAME;
}

/**
 * Parses a manifest; throws when it is not an object with a well-formed `files` list, a file name that is not a
 * plain data file name, or a `dataPrefix` other than `versions/<publishId>/` (a reader joins them into keys).
 */
export function parseManifest(text: string): PublishedManifest {
  const m = JSON.parse(text) as PublishedManifest;
  if (!m || typeof m !== "object" || !Array.isArray(m.files)) throw new Error("manifest has no files list");
  for (const [i, f] of m.files.entries()) {
    if (!f || typeof f.name !== "string" || typeof f.sha256 !== "string" || typeof f.bytes !== "number") {
      throw new Error(`manifest files[${i}] lacks name, sha256 or bytes`);
    }
    if (!isPublishable(f.name)) throw new Error(`manifest files[${i}] has the name ${JSON.stringify(f.name)}, which is no data file's`);
  }
  if (m.dataPrefix !== undefined && versionOf(m.dataPrefix) === undefined) {
    throw new Error(`manifest dataPrefix ${JSON.stringify(m.dataPrefix)} is not ${VERSIONS_DIR}<publish id>/`);
  }
  return m;
}

/** The publish id of a version folder's prefix (`versions/<id>/`), else undefined. */
export function versionOf(dataPrefix: string): string | undefined {
  const id = dataPrefix.startsWith(VERSIONS_DIR) && dataPrefix.endsWith("/") ? dataPrefix.slice(VERSIONS_DIR.length, -1) : "";
  return PUBLISH_ID.test(id) ? id : undefined;
}

/** Where a listed file of a manifest is, relative to the manifest's prefix. */
export function dataPathOf(manifest: PublishedManifest, name: string): string {
  return (manifest.dataPrefix ?? "") + name;
}

export function contentTypeOf(name: string): string {
  if (name.endsWith(".csv")) return "text/csv";
  if (name.endsWith(".json")) return "application/json";
  if (name.endsWith(".parquet")) return "application/vnd.apache.parquet";
  return "application/octet-stream";
}
