import type { SourceVersion } from "./source-version.ts";

/** The commit marker of a published month: written last by publish, checked by verifyPublishedMonth. */
export const MANIFEST_NAME = "manifest.json";

export interface ManifestFile {
  name: string;
  sha256: string;
  bytes: number;
  /** Data rows (Parquet and CSV files only). */
  rows?: number;
}

export interface Manifest {
  workflow: "ski-atlas";
  region: string;
  period: string;
  runId: string;
  source: { url: string; md5?: string; etag?: string; lastModified?: string; bytes?: number };
  codeVersion: string;
  publishedAt: string;
  counts: { ski_areas: number; lifts: number; pistes: number; osm_near_winter_sports: number };
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

/** Files that belong to staging only (e.g. `_summary.json`) start with "_" and are never published. */
export function isPublishable(name: string): boolean {
  return name.length > 0 && !name.includes("/") && !name.startsWith("_") && name !== MANIFEST_NAME;
}

export function parseManifest(text: string): Manifest {
  const m = JSON.parse(text) as Manifest;
  if (!m || typeof m !== "object" || !Array.isArray(m.files)) throw new Error("manifest has no files list");
  return m;
}
