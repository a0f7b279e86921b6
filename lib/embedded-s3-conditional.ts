import { createRequire } from "node:module";

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
  app: { store: { getMetadata(bucket: string, key: string): Promise<{ etag: string }> } };
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

/** `/bucket/key…` of a path-style object request, decoded; undefined for bucket and service requests. */
function objectOf(path: string): { bucket: string; key: string } | undefined {
  const m = /^\/([^/]+)\/(.+)$/.exec(path);
  if (!m) return undefined;
  return { bucket: decodeURIComponent(m[1]), key: m[2].split("/").map(decodeURIComponent).join("/") };
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
      if (conditional) await checkPreconditions(ctx, method, target.bucket, target.key, ifMatch, ifNoneMatch);
      return await next();
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
