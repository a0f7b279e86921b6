import { createReadStream, createWriteStream } from "node:fs";
import { stat } from "node:fs/promises";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import {
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type HeadObjectCommandOutput,
  type S3Client,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { parseS3Uri } from "./s3.ts";

/** Small S3 helpers shared by steps, functions and the local engine. All take `s3://` URIs. */

export function isNotFound(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e?.name === "NotFound" || e?.name === "NoSuchKey" || e?.$metadata?.httpStatusCode === 404;
}

/** HeadObject, or undefined when the key does not exist. */
export async function headObject(s3: S3Client, uri: string): Promise<HeadObjectCommandOutput | undefined> {
  const { bucket, key } = parseS3Uri(uri);
  try {
    return await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
  } catch (err) {
    if (isNotFound(err) && (err as { name?: string }).name !== "NoSuchBucket") return undefined;
    throw describeHeadFailure(err, uri);
  }
}

const HTTP_REASONS: Record<number, string> = { 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 405: "Method Not Allowed", 409: "Conflict", 412: "Precondition Failed", 429: "Too Many Requests", 500: "Internal Server Error", 501: "Not Implemented", 502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout" };

/**
 * A HEAD response has no body, so the SDK cannot name the error: it reports `Unknown: UnknownError` for anything but
 * 404 (issue 10). Names the status and the key instead; the status code stays in `$metadata`, so the error is
 * classified (403 → 77, 5xx → 75) as before.
 */
export function describeHeadFailure(err: unknown, uri: string): unknown {
  const e = err as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
  const status = e?.$metadata?.httpStatusCode;
  if (!status || !(e.name === "Unknown" || e.message === "UnknownError" || !e.message)) return err;
  e.name = `HTTP ${status}${HTTP_REASONS[status] ? ` ${HTTP_REASONS[status]}` : ""}`;
  e.message = `HEAD ${uri} answered ${e.name}`;
  return e;
}

/** Streams an object to a local file; returns its size. Throws the SDK's NoSuchKey when missing. */
export async function downloadToFile(s3: S3Client, uri: string, path: string): Promise<number> {
  const { bucket, key } = parseS3Uri(uri);
  const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  await pipeline(out.Body as Readable, fileSink(path));
  return (await stat(path)).size;
}

/**
 * Bytes [start, end) of an object (a ranged GET). `ifMatch`: the ETag the object must still have, so a reader
 * that takes an object in pieces never mixes two versions of it (S3 answers 412 PreconditionFailed instead).
 * `into` (end - start bytes): where the body goes as it arrives, instead of a buffer the SDK concatenates from
 * the socket's pieces (one copy and one large allocation fewer per GET; the extract makes thousands).
 */
export async function getObjectRange(s3: S3Client, uri: string, start: number, end: number, ifMatch?: string, into?: Uint8Array): Promise<Uint8Array> {
  const { bucket, key } = parseS3Uri(uri);
  const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, Range: `bytes=${start}-${end - 1}`, IfMatch: ifMatch }));
  let bytes: Uint8Array;
  let length: number;
  if (into && into.length === end - start) {
    bytes = into;
    length = 0;
    for await (const piece of out.Body as AsyncIterable<Uint8Array>) {
      if (length + piece.length > into.length) {
        length += piece.length;
        break;
      }
      into.set(piece, length);
      length += piece.length;
    }
  } else {
    bytes = await out.Body!.transformToByteArray();
    length = bytes.length;
  }
  if (length !== end - start) {
    // The connection ended before the range was whole: a network failure (retryable), not a fault of the object.
    throw Object.assign(new Error(`GET ${uri} bytes ${start}-${end - 1} returned ${length} bytes`), { code: "ECONNABORTED" });
  }
  return bytes;
}

export async function getObjectText(s3: S3Client, uri: string): Promise<string | undefined> {
  const { bucket, key } = parseS3Uri(uri);
  try {
    const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return await out.Body!.transformToString("utf8");
  } catch (err) {
    if (isNotFound(err) && (err as { name?: string }).name !== "NoSuchBucket") return undefined;
    throw err;
  }
}

export async function putObjectText(s3: S3Client, uri: string, body: string, contentType = "application/json") {
  const { bucket, key } = parseS3Uri(uri);
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: contentType }));
}

/** The part size of the project's uploads (lib-storage's multipart `partSize`). */
export const UPLOAD_PART_BYTES = 16 * 1024 * 1024;

/**
 * The S3 requests an upload of `bytes` makes with lib-storage: one PutObject when it fits one part, else
 * CreateMultipartUpload, a PUT per part and CompleteMultipartUpload (all billed as writes). For cost projections.
 */
export function uploadRequests(bytes: number, partSize = UPLOAD_PART_BYTES): number {
  const parts = Math.max(1, Math.ceil(bytes / partSize));
  return parts === 1 ? 1 : parts + 2;
}

/** Multipart-capable upload of a local file (lib-storage picks single PUT for small files). */
export async function uploadFile(
  s3: S3Client,
  path: string,
  uri: string,
  extra: { contentType?: string; metadata?: Record<string, string> } = {},
): Promise<void> {
  const { bucket, key } = parseS3Uri(uri);
  const upload = new Upload({
    client: s3,
    params: {
      Bucket: bucket,
      Key: key,
      Body: createReadStream(path),
      ContentType: extra.contentType ?? "application/octet-stream",
      Metadata: extra.metadata,
    },
    partSize: UPLOAD_PART_BYTES,
    queueSize: 4,
  });
  await upload.done();
}

export interface ListedObject {
  key: string;
  /** The key relative to the listed prefix. */
  name: string;
  size: number;
  etag?: string;
}

/** Every object under a prefix URI (`s3://bucket/prefix/`), all pages. */
export async function listObjects(s3: S3Client, prefixUri: string): Promise<ListedObject[]> {
  const { bucket, key: prefix } = parseS3Uri(prefixUri);
  const result: ListedObject[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
    );
    for (const o of page.Contents ?? []) {
      if (!o.Key) continue;
      result.push({ key: o.Key, name: o.Key.slice(prefix.length), size: o.Size ?? 0, etag: o.ETag });
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return result.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/** A write stream whose errors name its file (a failed write(), ENOSPC for one, carries no path by itself). */
export function fileSink(path: string): ReturnType<typeof createWriteStream> {
  const sink = createWriteStream(path);
  sink.on("error", (err: NodeJS.ErrnoException) => void (err.path ??= path));
  return sink;
}
