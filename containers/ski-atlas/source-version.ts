/** What identifies one version of a source file, recorded as metadata on the raw S3 object. */
export interface SourceVersion {
  url: string;
  etag?: string;
  lastModified?: string;
  md5?: string;
  bytes?: number;
}

/** S3 user metadata keys (sent as x-amz-meta-<key>). */
export const SOURCE_META = {
  url: "source-url",
  etag: "source-etag",
  lastModified: "source-last-modified",
  md5: "source-md5",
  bytes: "source-bytes",
} as const;

/** S3 metadata must be US-ASCII. */
function ascii(value: string): string {
  return /^[\x20-\x7e]*$/.test(value) ? value : encodeURI(value);
}

export function toMetadata(v: SourceVersion): Record<string, string> {
  const meta: Record<string, string> = { [SOURCE_META.url]: ascii(v.url) };
  if (v.etag) meta[SOURCE_META.etag] = ascii(v.etag);
  if (v.lastModified) meta[SOURCE_META.lastModified] = ascii(v.lastModified);
  if (v.md5) meta[SOURCE_META.md5] = v.md5.toLowerCase();
  if (v.bytes !== undefined) meta[SOURCE_META.bytes] = String(v.bytes);
  return meta;
}

export function fromMetadata(meta: Record<string, string> | undefined): SourceVersion | undefined {
  const url = meta?.[SOURCE_META.url];
  if (!meta || !url) return undefined;
  const bytes = meta[SOURCE_META.bytes];
  return {
    url,
    etag: meta[SOURCE_META.etag] || undefined,
    lastModified: meta[SOURCE_META.lastModified] || undefined,
    md5: meta[SOURCE_META.md5] || undefined,
    bytes: bytes !== undefined && bytes !== "" ? Number(bytes) : undefined,
  };
}

/**
 * Same source version? The URL must match; then the strongest identifier both sides know decides:
 * MD5, else ETag, else Last-Modified together with the size. Nothing in common → not the same (download again).
 */
export function sameVersion(stored: SourceVersion, remote: SourceVersion): boolean {
  if (stored.url !== toMetadata(remote)[SOURCE_META.url]) return false;
  if (stored.bytes !== undefined && remote.bytes !== undefined && stored.bytes !== remote.bytes) return false;
  if (stored.md5 && remote.md5) return stored.md5.toLowerCase() === remote.md5.toLowerCase();
  if (stored.etag && remote.etag) return stored.etag === remote.etag;
  if (stored.lastModified && remote.lastModified && stored.bytes !== undefined && remote.bytes !== undefined) {
    return stored.lastModified === remote.lastModified;
  }
  return false;
}

/** Geofabrik's `<file>.md5`: "<32 hex>  <filename>" (also accepts a bare hash). */
export function parseMd5File(text: string): string | undefined {
  const match = /^\s*([0-9a-fA-F]{32})\b/.exec(text);
  return match ? match[1].toLowerCase() : undefined;
}
