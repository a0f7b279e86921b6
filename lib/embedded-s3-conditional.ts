import { randomUUID } from "node:crypto";
import { link, mkdir, open, readFile, rename, rmdir, stat, unlink } from "node:fs/promises";
import { createRequire } from "node:module";
import { hostname } from "node:os";
import * as path from "node:path";

/**
 * S3's conditional writes for the embedded server. s3rver 3.7.1 ignores `If-None-Match` / `If-Match` on writes
 * (it knows them only on GET), so without this a lease taken with them would be granted to every writer locally.
 * Amazon S3's rules, which this reproduces (S3 User Guide, "How to prevent object overwrites with conditional
 * writes" and "How to perform conditional deletes"; the SDK's PutObjectRequest/DeleteObjectRequest docs):
 *
 * - PutObject, CopyObject (destination) and CompleteMultipartUpload with `If-None-Match: *`: written only when no
 *   object has that key, otherwise `412 PreconditionFailed`.
 * - the same with `If-Match: <etag>`: written only when the object exists with that ETag: `412 PreconditionFailed`
 *   on another ETag, `404 NoSuchKey` when there is no object.
 * - DeleteObject with `If-Match: <etag>` (or `*`, any ETag): deleted only when it matches, otherwise
 *   `412 PreconditionFailed`; `404 NoSuchKey` when there is no object.
 * - a conditional write that overlaps another conditional write of the same key: `409 ConditionalRequestConflict`
 *   (S3 says "retry"); s3rver writes asynchronously, so every write of a key is serialized here, and a
 *   conditional one that finds another conditional one in flight gets the 409 S3 gives.
 * - a key whose path has a malformed percent-escape: `400 InvalidURI` ("Couldn't parse the specified URI."), as S3
 *   answers; not s3rver's 500.
 *
 * Several servers may share one data folder (two local runs, or a run and a test, in separate processes): the
 * serialization must hold across them, or both would see a key free and both write it. So each write of a key also
 * holds a lock file beside the object, `<name>._S3rver_lock` (s3rver lists only `._S3rver_object` files), created
 * with O_EXCL (`open(…, "wx")`), which the file system grants to one process at a time. It holds the holder's pid
 * and host: a lock whose process is gone (a server killed mid-write) is stale and is broken (see breakStale).
 *
 * A Koa middleware placed first in s3rver's own stack (s3rver is a Koa app): hand-written because s3rver has no
 * hook for it and no maintained embeddable S3 server implements conditional writes; it is small and tested
 * against the rules above (lib/embedded-s3.test.ts).
 */

interface KoaContext {
  method: string;
  path: string;
  query: Record<string, unknown>;
  headers: Record<string, string | string[] | undefined>;
  app: {
    store: {
      getMetadata(bucket: string, key: string): Promise<{ etag: string }>;
      /** s3rver's FilesystemStore: the file of `key` with a suffix (`object`, `metadata.json`, here `lock`). */
      getResourcePath(bucket: string, key: string, resource: string): string;
      getBucketPath(bucket: string): string;
    };
  };
}
type Next = () => Promise<unknown>;

const require = createRequire(import.meta.url);
// s3rver answers its own S3Error class with S3's XML error body; other errors become 500 InternalError.
const S3Error = require("s3rver/lib/models/error") as new (code: string, message: string, detail?: Record<string, string>) => Error & { status: number };

function s3Error(status: number, code: string, message: string, detail: Record<string, string> = {}): Error {
  const err = new S3Error(code, message, detail);
  err.status = status; // s3rver's table lacks ConditionalRequestConflict; S3 answers it with 409
  return err;
}

/** `"abc"`, `abc` and `W/"abc"` are the same entity tag here, as S3 compares them. */
function normalizeEtag(value: string): string {
  return value.trim().replace(/^W\//, "").replace(/^"(.*)"$/, "$1");
}

function header(ctx: KoaContext, name: string): string | undefined {
  const v = ctx.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/**
 * `/bucket/key…` of a path-style object request, decoded; undefined for bucket and service requests. A malformed
 * percent-escape is S3's `400 InvalidURI`.
 */
function objectOf(urlPath: string): { bucket: string; key: string } | undefined {
  const m = /^\/([^/]+)\/(.+)$/.exec(urlPath);
  if (!m) return undefined;
  try {
    return { bucket: decodeURIComponent(m[1]), key: m[2].split("/").map(decodeURIComponent).join("/") };
  } catch {
    throw s3Error(400, "InvalidURI", "Couldn't parse the specified URI.", { URI: urlPath });
  }
}

export function conditionalWritesMiddleware() {
  /** Per key: the last write in the queue, how many are queued or running, and how many of them are conditional. */
  const inFlight = new Map<string, { tail: Promise<void>; pending: number; conditional: number }>();

  return async function conditionalWrites(ctx: KoaContext, next: Next): Promise<unknown> {
    const method = ctx.method.toUpperCase();
    const target = objectOf(ctx.path);
    const isUploadPart = "partNumber" in ctx.query;
    const isComplete = method === "POST" && "uploadId" in ctx.query;
    const isWrite = target !== undefined && !isUploadPart && (method === "PUT" || method === "DELETE" || isComplete);
    if (!isWrite) return next();
    const ifMatch = header(ctx, "if-match");
    const ifNoneMatch = header(ctx, "if-none-match");
    const conditional = ifMatch !== undefined || (ifNoneMatch !== undefined && method !== "DELETE");
    const id = `${target.bucket}/${target.key}`;

    let entry = inFlight.get(id);
    if (conditional && entry && entry.conditional > 0) {
      throw s3Error(409, "ConditionalRequestConflict", "A conflicting conditional operation is currently in progress against this resource. Please try again.");
    }
    if (!entry) inFlight.set(id, (entry = { tail: Promise.resolve(), pending: 0, conditional: 0 }));
    const previous = entry.tail;
    let done!: () => void;
    entry.tail = new Promise<void>((resolve) => (done = resolve));
    entry.pending += 1;
    if (conditional) entry.conditional += 1;
    try {
      await previous;
      const unlock = await lockKey(ctx.app.store, target.bucket, target.key, conditional);
      try {
        if (conditional) await checkPreconditions(ctx, method, target.bucket, target.key, ifMatch, ifNoneMatch);
        return await next();
      } finally {
        await unlock();
      }
    } finally {
      if (conditional) entry.conditional -= 1;
      entry.pending -= 1;
      if (entry.pending === 0) inFlight.delete(id);
      done();
    }
  };
}

async function checkPreconditions(
  ctx: KoaContext,
  method: string,
  bucket: string,
  key: string,
  ifMatch: string | undefined,
  ifNoneMatch: string | undefined,
): Promise<void> {
  const current = await ctx.app.store.getMetadata(bucket, key).then(
    (m) => normalizeEtag(m.etag),
    (err: NodeJS.ErrnoException) => {
      if (err.code === "ENOENT") return undefined;
      throw err;
    },
  );
  const failed = (condition: string) =>
    s3Error(412, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold", { Condition: condition });
  if (ifMatch !== undefined) {
    if (current === undefined) throw s3Error(404, "NoSuchKey", "The specified key does not exist.", { Key: key });
    if (ifMatch.trim() !== "*" && normalizeEtag(ifMatch) !== current) throw failed("If-Match");
  }
  if (ifNoneMatch !== undefined && method !== "DELETE") {
    if (ifNoneMatch.trim() !== "*") throw s3Error(501, "NotImplemented", "If-None-Match on a write only takes '*'", { Header: "If-None-Match" });
    if (current !== undefined) throw failed("If-None-Match");
  }
}

/** How often a write waits for another process's lock of its key to go (writes hold it for milliseconds). */
const LOCK_POLL_MS = 5;
/** A lock of another host cannot be checked by pid: past this age it is taken as stale (a write takes far less). */
const FOREIGN_LOCK_STALE_MS = 10 * 60_000;

interface LockHolder {
  pid: number;
  host: string;
  token: string;
  conditional: boolean;
}

const conflict = () =>
  s3Error(409, "ConditionalRequestConflict", "A conflicting conditional operation is currently in progress against this resource. Please try again.");

/**
 * Takes the cross-process lock of a key (see the module's comment); resolves to its release. While another live
 * process holds it this waits, except that a conditional write meeting another conditional write gets S3's 409.
 */
async function lockKey(store: KoaContext["app"]["store"], bucket: string, key: string, conditional: boolean): Promise<() => Promise<void>> {
  const file = store.getResourcePath(bucket, key, "lock");
  const me: LockHolder = { pid: process.pid, host: hostname(), token: randomUUID(), conditional };
  for (;;) {
    try {
      await mkdir(path.dirname(file), { recursive: true });
      const handle = await open(file, "wx");
      try {
        await handle.writeFile(JSON.stringify(me));
      } finally {
        await handle.close();
      }
      return () => unlockKey(file, store.getBucketPath(bucket));
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "ENOENT") continue; // its folder was removed between mkdir and open (an object deleted beside it)
      if (code !== "EEXIST") throw err;
    }
    const holder = await readHolder(file);
    if (holder && (await isStale(file, holder))) {
      await breakStale(file, holder);
      continue;
    }
    if (conditional && holder?.conditional) throw conflict();
    await new Promise((resolve) => setTimeout(resolve, LOCK_POLL_MS));
  }
}

/** The holder a lock file names; undefined while it is being written, or gone. */
async function readHolder(file: string): Promise<LockHolder | undefined> {
  try {
    return JSON.parse(await readFile(file, "utf8")) as LockHolder;
  } catch {
    return undefined;
  }
}

async function isStale(file: string, holder: LockHolder): Promise<boolean> {
  if (holder.host !== hostname()) {
    const age = await stat(file).then((s) => Date.now() - s.mtimeMs, () => 0);
    return age > FOREIGN_LOCK_STALE_MS;
  }
  try {
    process.kill(holder.pid, 0); // signal 0: only asks whether the process exists
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "ESRCH";
  }
}

/**
 * Removes a stale lock, and only that one: the file is first renamed to a name of this breaker's own (rename is
 * atomic: of two breakers, one gets it), then checked to be the stale holder's. If it is not (the stale lock was
 * broken and a live one taken in between), it is put back with link(), which fails rather than replace a lock
 * taken meanwhile. That last case needs a server killed mid-write and two other writes of the same key within
 * microseconds of each other; it is then one lost wait, not a double grant, unless a third write takes the key
 * in the same instant.
 */
async function breakStale(file: string, stale: LockHolder): Promise<void> {
  const aside = `${file}.${process.pid}.${randomUUID()}`;
  try {
    await rename(file, aside);
  } catch {
    return; // gone already: another breaker, or its holder after all
  }
  const moved = await readHolder(aside);
  if (moved?.token !== stale.token) {
    await link(aside, file).catch(() => {});
  }
  await unlink(aside).catch(() => {});
}

/** Deletes the lock, then its folders up to the bucket's while empty (s3rver removes the folders of deleted keys,
 * which the lock kept from being empty). A folder that is not empty, or already gone, stays as it is. */
async function unlockKey(file: string, bucketDir: string): Promise<void> {
  await unlink(file).catch(() => {});
  for (let dir = path.dirname(file); dir.startsWith(bucketDir + path.sep); dir = path.dirname(dir)) {
    try {
      await rmdir(dir);
    } catch {
      return;
    }
  }
}
