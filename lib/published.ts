import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { GetObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { dataPathOf, isPublishable, JOURNAL_NAME, LEASE_NAME, MANIFEST_NAME, parseManifest, VERSIONS_DIR, type PublishedManifest } from "./manifest.ts";
import { downloadToFile, isNotFound } from "./s3-objects.ts";
import { parseS3Uri } from "./s3.ts";

/**
 * Reading a published prefix the one way that is safe while it is being republished: the manifest first, then
 * the files it names, from the version folder it names (lib/manifest.ts). Every reader of a published prefix goes
 * through here: changes.csv's previous month, training's weather run, the local copy of a run's output (which the
 * console reads), `npm run verify`.
 */

export interface CommittedVersion {
  /** `s3://bucket/prefix/`. */
  prefix: string;
  manifest: PublishedManifest;
  /** The manifest as stored, and its ETag: a publish commits on top of exactly this (If-Match). */
  text: string;
  etag: string;
  /** `s3://…` of a file the manifest lists. */
  uri(name: string): string;
}

/** A manifest that is there but cannot be read as one: the prefix holds no version a reader can use. */
export class InvalidManifestError extends Error {
  override name = "InvalidManifestError";
}

const withSlash = (uri: string) => (uri.endsWith("/") ? uri : `${uri}/`);

/** The version committed under `prefixUri`, or undefined when nothing is (no manifest). */
export async function readCommitted(s3: S3Client, prefixUri: string): Promise<CommittedVersion | undefined> {
  const prefix = withSlash(prefixUri);
  const { bucket, key } = parseS3Uri(prefix + MANIFEST_NAME);
  let text: string;
  let etag: string;
  try {
    const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    text = await out.Body!.transformToString("utf8");
    etag = out.ETag ?? "";
  } catch (err) {
    if (isNotFound(err) && (err as { name?: string }).name !== "NoSuchBucket") return undefined;
    throw err;
  }
  let manifest: PublishedManifest;
  try {
    manifest = parseManifest(text);
  } catch (err) {
    throw new InvalidManifestError(`${prefix}${MANIFEST_NAME} is not a valid manifest (${(err as Error).message})`);
  }
  return { prefix, manifest, text, etag, uri: (name) => prefix + dataPathOf(manifest, name) };
}

/**
 * Runs `read` on the committed version, and again on the new one if the prefix was republished while it read: a
 * publish deletes the version it replaced once its own is committed, so a slow reader of the old one can find a
 * file gone (NoSuchKey). Undefined when nothing is published.
 */
export async function readFromCommitted<T>(s3: S3Client, prefixUri: string, read: (v: CommittedVersion) => Promise<T>): Promise<T | undefined> {
  for (let attempt = 1; ; attempt++) {
    const version = await readCommitted(s3, prefixUri);
    if (!version) return undefined;
    try {
      return await read(version);
    } catch (err) {
      const moved = isNotFound(err) && attempt < REREAD_ATTEMPTS && (await readCommitted(s3, prefixUri))?.etag !== version.etag;
      if (!moved) throw err;
    }
  }
}
/** How many times a reader starts over when the prefix keeps being republished under it. */
const REREAD_ATTEMPTS = 3;

export interface CopiedFile {
  /** The object's key in S3. */
  key: string;
  /** Its name in the copy (the manifest's name; `manifest.json` for the manifest). */
  name: string;
  bytes: number;
  /** Where it is on disk (absent when only listed). */
  path?: string;
}

/** The committed version's objects (its files, then the manifest), without reading them. Empty when none. */
export async function committedFiles(s3: S3Client, prefixUri: string): Promise<CopiedFile[]> {
  const version = await readCommitted(s3, prefixUri);
  return version ? filesOf(version) : [];
}

function filesOf(v: CommittedVersion): CopiedFile[] {
  const { key } = parseS3Uri(v.prefix);
  return [
    ...v.manifest.files.map((f) => ({ key: key + dataPathOf(v.manifest, f.name), name: f.name, bytes: f.bytes })),
    { key: key + MANIFEST_NAME, name: MANIFEST_NAME, bytes: Buffer.byteLength(localManifest(v.manifest)) },
  ];
}

/**
 * Copies the committed version to `dir`, flat: its files beside a manifest that lists them there (the S3
 * manifest without `dataPrefix`), which `npm run verify -- <dir>` checks. Empty when nothing is published.
 */
export async function copyCommitted(s3: S3Client, prefixUri: string, dir: string): Promise<CopiedFile[]> {
  const copied = await readFromCommitted(s3, prefixUri, async (v) => {
    await mkdir(dir, { recursive: true });
    for (const f of v.manifest.files) await downloadToFile(s3, v.uri(f.name), join(dir, f.name));
    await writeFile(join(dir, MANIFEST_NAME), localManifest(v.manifest));
    return filesOf(v);
  });
  return (copied ?? []).map((f) => ({ ...f, path: join(dir, f.name) }));
}

function localManifest(m: PublishedManifest): string {
  const { dataPrefix: _dataPrefix, ...flat } = m;
  return `${JSON.stringify(flat, null, 2)}\n`;
}

/**
 * What a listing of a published prefix (names relative to it) holds besides the committed version:
 * `unlisted`, objects where the manifest's files are that it does not list (the version is not what it says);
 * `leftovers`, objects no reader following the manifest ever reads: other version folders (a publish that failed
 * or lost its lease; one replaced, if its deletion failed), and data files beside a versioned manifest (a month
 * published before versions). `journal`: a journal of the protocol before versions (lib/manifest.ts).
 */
export function contentsBesides(names: string[], manifest: PublishedManifest): { unlisted: string[]; leftovers: string[]; journal: boolean } {
  const listed = new Set(manifest.files.map((f) => dataPathOf(manifest, f.name)));
  const own = manifest.dataPrefix ?? "";
  const unlisted: string[] = [];
  const leftovers: string[] = [];
  let journal = false;
  for (const name of names) {
    if (name === MANIFEST_NAME || name === LEASE_NAME || listed.has(name)) continue;
    if (name === JOURNAL_NAME) journal = true;
    else if (own !== "" && name.startsWith(own)) unlisted.push(name);
    else if (name.startsWith(VERSIONS_DIR) || (own !== "" && isPublishable(name))) leftovers.push(name);
    else unlisted.push(name);
  }
  return { unlisted, leftovers, journal };
}

/** The folders (`versions/<id>/`, or the prefix itself for flat files) that a list of leftover names fills. */
export function leftoverFolders(leftovers: string[]): string[] {
  return [...new Set(leftovers.map((n) => (n.startsWith(VERSIONS_DIR) ? n.split("/").slice(0, 2).join("/") + "/" : "")))].sort();
}
