import type { PublishedFile } from "../../lib/manifest.ts";
import type { SourceVersion } from "./source-version.ts";

/**
 * The ski-atlas manifest: what lib/publish-prefix.ts writes last under `{region}/{period}/` (its shared
 * conventions, MANIFEST_NAME and friends, are in lib/manifest.ts), checked by verifyPublishedMonth.
 */
export type ManifestFile = PublishedFile;

export interface Manifest {
  workflow: "ski-atlas";
  region: string;
  period: string;
  runId: string;
  source: { url: string; md5?: string; etag?: string; lastModified?: string; bytes?: number };
  codeVersion: string;
  publishedAt: string;
  /** The month changes.csv compares with (the region's previous published month), or null for its first. */
  previousPeriod: string | null;
  counts: { ski_areas: number; lifts: number; pistes: number; osm_near_winter_sports: number };
  /** Total lengths, from analyze's summary: lifts, and downhill plus nordic pistes (compared by the shrink guard). */
  lengths_km?: { lifts: number; pistes: number };
  /** The publish that wrote this manifest, and the folder of its files (lib/manifest.ts). */
  publishId?: string;
  dataPrefix?: string;
  files: ManifestFile[];
}

export function manifestSource(v: SourceVersion): Manifest["source"] {
  const s: Manifest["source"] = { url: v.url };
  if (v.md5) s.md5 = v.md5;
  if (v.etag) s.etag = v.etag;
  if (v.lastModified) s.lastModified = v.lastModified;
  if (v.bytes !== undefined) s.bytes = v.bytes;
  return s;
}
