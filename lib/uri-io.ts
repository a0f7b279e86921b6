import { createReadStream } from "node:fs";
import { copyFile, readFile, readdir, stat } from "node:fs/promises";
import * as path from "node:path";
import type { Readable } from "node:stream";
import { fileURLToPath } from "node:url";
import { GetObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { EXIT, StepError } from "./exit-codes.ts";
import { dataPathOf, MANIFEST_NAME, parseManifest } from "./manifest.ts";
import { InvalidManifestError, readFromCommitted } from "./published.ts";
import { downloadToFile, getObjectText, isNotFound, listObjects } from "./s3-objects.ts";
import { parseS3Uri } from "./s3.ts";

/**
 * Reading inputs that are `s3://` URIs on AWS, or `file://` URLs in local runs (`ATLAS_LOCAL=1`) only, so that
 * offline runs can point at data on this machine without copying it into the embedded S3 server first.
 */
export interface ListedInput {
  /** The name relative to the listed prefix (`USC00110072.txt`). */
  name: string;
  uri: string;
  size: number;
}

export function isFileUrl(uri: string): boolean {
  return uri.startsWith("file://");
}

function checkScheme(uri: string, local: boolean, what: string): void {
  if (isFileUrl(uri)) {
    if (!local) throw new StepError(`${what} ${uri} is a file:// URL: only local runs (ATLAS_LOCAL=1) may read files`, EXIT.USAGE);
    return;
  }
  try {
    parseS3Uri(uri);
  } catch {
    throw new StepError(`${what} '${uri}' is not an S3 URI: use s3://bucket/key`, EXIT.USAGE);
  }
}

/** Every object (or file, not recursive) directly under a prefix, sorted by name. */
export async function listInputs(s3: S3Client, prefixUri: string, local: boolean, what = "input"): Promise<ListedInput[]> {
  checkScheme(prefixUri, local, what);
  if (isFileUrl(prefixUri)) {
    const dir = fileURLToPath(prefixUri);
    const entries = await readdir(dir, { withFileTypes: true }).catch((err: NodeJS.ErrnoException) => {
      if (err.code === "ENOENT" || err.code === "ENOTDIR") throw new StepError(`${what} ${prefixUri} is not a directory`, EXIT.NO_INPUT);
      throw err;
    });
    const files = entries.filter((e) => e.isFile()).map((e) => e.name).sort();
    return Promise.all(
      files.map(async (name) => ({ name, uri: new URL(encodeURIComponent(name), withSlash(prefixUri)).href, size: (await stat(path.join(dir, name))).size })),
    );
  }
  const listed = await listObjects(s3, withSlash(prefixUri));
  return listed.filter((o) => o.name && !o.name.includes("/")).map((o) => ({ name: o.name, uri: `${withSlash(prefixUri)}${o.name}`, size: o.size }));
}

/** A readable stream of one input. Missing objects become exit 66 (no input). */
export async function openInput(s3: S3Client, uri: string, local: boolean, what = "input"): Promise<Readable> {
  checkScheme(uri, local, what);
  if (isFileUrl(uri)) return createReadStream(fileURLToPath(uri));
  const { bucket, key } = parseS3Uri(uri);
  try {
    const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return out.Body as Readable;
  } catch (err) {
    if (isNotFound(err) && (err as { name?: string }).name !== "NoSuchBucket") throw new StepError(`${what} ${uri} does not exist`, EXIT.NO_INPUT);
    throw err;
  }
}

export async function readInputText(s3: S3Client, uri: string, local: boolean, what = "input"): Promise<string> {
  checkScheme(uri, local, what);
  if (isFileUrl(uri)) {
    return readFile(fileURLToPath(uri), "utf8").catch((err: NodeJS.ErrnoException) => {
      if (err.code === "ENOENT") throw new StepError(`${what} ${uri} does not exist`, EXIT.NO_INPUT);
      throw err;
    });
  }
  const text = await getObjectText(s3, uri);
  if (text === undefined) throw new StepError(`${what} ${uri} does not exist`, EXIT.NO_INPUT);
  return text;
}

export async function downloadInput(s3: S3Client, uri: string, file: string, local: boolean, what = "input"): Promise<void> {
  checkScheme(uri, local, what);
  if (isFileUrl(uri)) {
    await copyFile(fileURLToPath(uri), file).catch((err: NodeJS.ErrnoException) => {
      if (err.code === "ENOENT") throw new StepError(`${what} ${uri} does not exist`, EXIT.NO_INPUT);
      throw err;
    });
    return;
  }
  try {
    await downloadToFile(s3, uri, file);
  } catch (err) {
    if (isNotFound(err) && (err as { name?: string }).name !== "NoSuchBucket") throw new StepError(`${what} ${uri} does not exist`, EXIT.NO_INPUT);
    throw err;
  }
}

/**
 * Downloads `name` of the prefix published at `prefixUri` (s3://, or file:// in local runs) the way a reader must:
 * its manifest first, then the file where that manifest says (lib/published.ts). Exit 66 when there is no
 * manifest or it does not list the file, 65 when the manifest is not one.
 */
export async function downloadPublishedInput(s3: S3Client, prefixUri: string, name: string, file: string, local: boolean, what = "input"): Promise<void> {
  const prefix = withSlash(prefixUri);
  checkScheme(prefix, local, what);
  const notPublished = () => new StepError(`${what} ${prefix} is not published: it has no ${MANIFEST_NAME}`, EXIT.NO_INPUT);
  const notListed = () => new StepError(`${what} ${prefix} does not list ${name} in its ${MANIFEST_NAME}`, EXIT.NO_INPUT);
  try {
    if (isFileUrl(prefix)) {
      const text = await readFile(fileURLToPath(new URL(MANIFEST_NAME, prefix)), "utf8").catch((err: NodeJS.ErrnoException) => {
        if (err.code === "ENOENT" || err.code === "ENOTDIR") throw notPublished();
        throw err;
      });
      let manifest;
      try {
        manifest = parseManifest(text);
      } catch (err) {
        throw new InvalidManifestError(`${prefix}${MANIFEST_NAME} is not a valid manifest (${(err as Error).message})`);
      }
      if (!manifest.files.some((f) => f.name === name)) throw notListed();
      return await downloadInput(s3, new URL(dataPathOf(manifest, name), prefix).href, file, local, what);
    }
    const done = await readFromCommitted(s3, prefix, async (v) => {
      if (!v.manifest.files.some((f) => f.name === name)) throw notListed();
      await downloadToFile(s3, v.uri(name), file);
      return true;
    });
    if (!done) throw notPublished();
  } catch (err) {
    if (err instanceof InvalidManifestError) throw new StepError(err.message, EXIT.DATA_ERROR);
    throw err;
  }
}

export function withSlash(uri: string): string {
  return uri.endsWith("/") ? uri : `${uri}/`;
}
