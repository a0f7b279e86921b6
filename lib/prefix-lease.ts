import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { EXIT, StepError } from "./exit-codes.ts";
import { LEASE_NAME } from "./manifest.ts";
import { parseS3Uri } from "./s3.ts";

/**
 * One writer per published prefix: a lease object `{prefix}_lease.json`, taken and kept with S3 conditional writes
 * (docs/ARCHITECTURE.md, "Publishing: the commit protocol"). Amazon S3 semantics (S3 User Guide, "conditional
 * writes" and "conditional deletes"):
 *  - take:      PutObject `If-None-Match: *`   → 412 PreconditionFailed when someone holds it;
 *  - renew, take over an expired one: PutObject `If-Match: <etag>` → 412 when it changed hands, 404 when gone;
 *  - release:   DeleteObject `If-Match: <etag>` → 412 when it is no longer ours;
 *  - 409 ConditionalRequestConflict: two conditional writes overlapped; S3 says retry.
 * The embedded S3 answers the same (lib/embedded-s3-conditional.ts).
 *
 * A lease expires `ttlMs` after its last renewal, so a writer that died (SIGKILL, OOM, a stopped task) blocks the
 * prefix for at most that long; a live one renews every ttl/3 in the background and before every write it makes.
 * The lease only makes writers take turns, so that two do not both do the work: what readers see is fenced by the
 * publish's conditional commit of the manifest (lib/publish-prefix.ts), which a writer that lost the lease cannot
 * make, however long it stalled. So the TTL need not outlast any S3 call; a renewal is still bounded to a third of
 * it, so that one hung request cannot keep a live writer from renewing.
 *
 * A lease whose expiry lies further ahead than ttl + MAX_CLOCK_SKEW_MS of the reader's clock was written by a clock
 * that ran ahead (or by hand): it is treated as broken, so it cannot block the prefix for ever.
 * `npm run verify -- --break-lease <prefix>` deletes a lease by hand (breakLease).
 */

/** Production defaults, overridable by env for tests and the local engine. */
export const LEASE_DEFAULTS = {
  /** A dead writer's lease can be taken over this long after its last renewal. */
  ttlMs: 120_000,
  /** How long a second writer waits for the lease before failing with exit 75 (its step is then retried): a dead
   * writer's lease expires within this, a live publish usually finishes within it. */
  waitMs: 300_000,
} as const;
/**
 * How far two writers' clocks may disagree (Fargate tasks keep theirs with the Amazon Time Sync Service, well
 * within this): a lease expiring further ahead than ttl + this is treated as broken.
 */
export const MAX_CLOCK_SKEW_MS = 60_000;
export const LEASE_TTL_ENV = "ATLAS_LEASE_TTL_MS";
export const LEASE_WAIT_ENV = "ATLAS_LEASE_WAIT_MS";

export interface LeaseSettings {
  ttlMs: number;
  waitMs: number;
}

/** The lease timing from the environment (`ATLAS_LEASE_TTL_MS`, `ATLAS_LEASE_WAIT_MS`), else the defaults. */
export function leaseSettings(env: Record<string, string | undefined> = process.env): LeaseSettings {
  const read = (name: string, fallback: number) => {
    const raw = env[name]?.trim();
    if (!raw) return fallback;
    const n = Number(raw);
    if (!Number.isInteger(n) || n <= 0) throw new StepError(`${name}='${raw}' is not a number of milliseconds`, EXIT.USAGE);
    return n;
  };
  return { ttlMs: read(LEASE_TTL_ENV, LEASE_DEFAULTS.ttlMs), waitMs: read(LEASE_WAIT_ENV, LEASE_DEFAULTS.waitMs) };
}

/** What the lease object holds. */
export interface LeaseBody {
  version: 1;
  /** Unique per acquisition (`<purpose>:<host>:<pid>:<uuid>`): who holds it, and whether a stopped local step does. */
  holder: string;
  purpose: string;
  acquiredAt: string;
  expiresAt: string;
}

type Log = (message: string) => void;

export interface PrefixLease {
  readonly holder: string;
  /** Before a change to the prefix: renews when due; throws a retryable StepError when the lease was lost. */
  ensureHeld(): Promise<void>;
  /** Stops renewing and deletes the lease if it is still ours (best effort: it expires anyway). */
  release(): Promise<void>;
}

const errorStatus = (err: unknown) => (err as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
const errorName = (err: unknown) => (err as { name?: string })?.name;
/** S3's answers to a conditional write: the condition failed; another conditional write overlapped; no object. */
export const isPreconditionFailed = (err: unknown) => errorName(err) === "PreconditionFailed" || errorStatus(err) === 412;
export const isConflict = (err: unknown) => errorName(err) === "ConditionalRequestConflict" || errorStatus(err) === 409;
export const isGone = (err: unknown) => errorName(err) === "NoSuchKey" || errorStatus(err) === 404;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Takes the lease of `prefixUri` for `purpose` ("publish"): at once when free, by takeover when the
 * holder's lease expired, else by waiting up to `waitMs`; then a retryable StepError (exit 75) naming the holder.
 */
export async function acquireLease(s3: S3Client, prefixUri: string, purpose: string, log: Log, settings: LeaseSettings = leaseSettings()): Promise<PrefixLease> {
  const prefix = prefixUri.endsWith("/") ? prefixUri : `${prefixUri}/`;
  const { bucket, key: dir } = parseS3Uri(prefix);
  const key = dir + LEASE_NAME;
  const holder = `${purpose}:${hostname()}:${process.pid}:${randomUUID()}`;
  const acquiredAt = new Date().toISOString();
  const bodyNow = (): LeaseBody => ({ version: 1, holder, purpose, acquiredAt, expiresAt: new Date(Date.now() + settings.ttlMs).toISOString() });

  const read = () => readLease(s3, bucket, key);
  /**
   * PutObject with a condition. `written`: this body is in place (its ETag). `kept`: the lease is still ours but
   * this write did not land (a 409 overlap): not renewed. undefined: the condition failed, the lease is not ours.
   */
  type PutResult = { written: string } | { kept: string } | undefined;
  const put = async (condition: { IfNoneMatch: "*" } | { IfMatch: string }, body: LeaseBody, boundMs?: number): Promise<PutResult> => {
    try {
      const out = await s3.send(
        new PutObjectCommand({ Bucket: bucket, Key: key, Body: `${JSON.stringify(body)}\n`, ContentType: "application/json", ...condition }),
        boundMs === undefined ? {} : { abortSignal: AbortSignal.timeout(boundMs) },
      );
      return { written: out.ETag! };
    } catch (err) {
      if (isPreconditionFailed(err) || isConflict(err) || isGone(err)) {
        // Our own write may have landed and its answer been lost (the SDK then retried into a 412): only this
        // acquisition writes our holder id, so a lease object naming it is ours, and with our expiry, this write.
        const now = await read();
        if (now?.body?.holder !== holder) return undefined;
        return now.body.expiresAt === body.expiresAt ? { written: now.etag } : { kept: now.etag };
      }
      throw err;
    }
  };

  const deadline = Date.now() + settings.waitMs;
  const poll = Math.max(50, Math.min(2_000, Math.floor(settings.ttlMs / 4)));
  let etag: string | undefined;
  let waitingFor: LeaseBody | undefined;
  for (;;) {
    const created = await put({ IfNoneMatch: "*" }, bodyNow());
    if (created && "written" in created) {
      etag = created.written;
      break;
    }
    const current = await read();
    if (current) {
      const expires = Date.parse(current.body?.expiresAt ?? "");
      const beyondReach = expires > Date.now() + settings.ttlMs + MAX_CLOCK_SKEW_MS;
      if (!(expires > Date.now()) || beyondReach) {
        if (beyondReach) {
          log(
            `the lease of ${prefix} by ${current.body?.holder} expires ${current.body?.expiresAt}, further ahead than its TTL ` +
              `(${settings.ttlMs / 1000} s) + ${MAX_CLOCK_SKEW_MS / 1000} s of clock skew: treated as broken (written by a clock that ran ahead?)`,
          );
        }
        const taken = await put({ IfMatch: current.etag }, bodyNow());
        etag = taken && "written" in taken ? taken.written : undefined;
        if (etag) {
          log(`took over the lease of ${prefix} from ${current.body?.holder ?? "an unreadable lease"}, ${beyondReach ? "broken" : "expired"} ${current.body?.expiresAt ?? "?"}`);
          break;
        }
        continue;
      }
      if (waitingFor?.holder !== current.body?.holder) {
        waitingFor = current.body;
        log(`${prefix} is leased by ${current.body?.holder} until ${current.body?.expiresAt}: waiting up to ${Math.round(settings.waitMs / 1000)} s`);
      }
    }
    if (Date.now() >= deadline) {
      throw new StepError(
        `${prefix} is being changed by another writer (${waitingFor?.holder ?? "unknown"}, lease until ${waitingFor?.expiresAt ?? "?"}): ` +
          `retry when it is done`,
        EXIT.TEMP_FAIL,
      );
    }
    await sleep(poll);
  }

  let renewedAt = Date.now();
  let lost: string | undefined;
  let renewing: Promise<void> | undefined;
  const renew = (): Promise<void> =>
    (renewing ??= (async () => {
      try {
        const started = Date.now();
        // Bounded: a renewal hung on one request must not keep the next one from trying.
        const next = await put({ IfMatch: etag! }, bodyNow(), Math.max(MIN_RENEWAL_BOUND_MS, Math.floor(settings.ttlMs / 3)));
        if (next && "written" in next) {
          etag = next.written;
          renewedAt = started;
        } else if (next) {
          etag = next.kept; // still ours, not renewed this time: the next renewal tries again
        } else lost ??= "another writer took it over";
      } catch (err) {
        // A failed renewal is not a lost lease yet: ensureHeld() decides by the expiry of the last good one.
        log(`could not renew the lease of ${prefix} (${errorName(err)}): retrying`);
      } finally {
        renewing = undefined;
      }
    })());
  const timer = setInterval(() => void renew(), Math.max(20, Math.floor(settings.ttlMs / 3)));
  timer.unref();
  let released = false;

  return {
    holder,
    async ensureHeld() {
      if (released) throw new Error(`the lease of ${prefix} was released`);
      if (!lost && Date.now() - renewedAt > settings.ttlMs / 3) await renew();
      // A change needs a third of the TTL still ahead of it, so it lands before anyone may take the lease over.
      if (!lost && Date.now() - renewedAt >= (settings.ttlMs * 2) / 3) lost = "it could not be renewed in time";
      if (lost) {
        clearInterval(timer);
        throw new StepError(`lost the lease of ${prefix} (${lost}): stopped before changing it further; retry`, EXIT.TEMP_FAIL);
      }
    },
    async release() {
      if (released) return;
      released = true;
      clearInterval(timer);
      await renewing;
      if (lost) return;
      try {
        await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key, IfMatch: etag }));
      } catch (err) {
        if (!isPreconditionFailed(err) && !isGone(err)) log(`could not release the lease of ${prefix} (${errorName(err)}): it expires by itself`);
      }
    },
  };
}

/** A renewal request is given a third of the TTL (the renewal period), at least this. */
const MIN_RENEWAL_BOUND_MS = 1_000;

async function readLease(s3: S3Client, bucket: string, key: string): Promise<{ body?: LeaseBody; etag: string } | undefined> {
  try {
    const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    const text = await out.Body!.transformToString("utf8");
    let body: LeaseBody | undefined;
    try {
      body = JSON.parse(text) as LeaseBody;
    } catch {
      body = undefined; // unreadable: treated as expired, so it can be taken over
    }
    return { body, etag: out.ETag! };
  } catch (err) {
    if (isGone(err)) return undefined;
    throw err;
  }
}

/**
 * An operator's way out (`npm run verify -- --break-lease <prefix>`): deletes the lease of `prefixUri` as it is
 * now (DeleteObject If-Match its ETag, so a lease that changed hands meanwhile stays). Safe against a live holder:
 * it loses the lease at its next check, and its commit cannot land over a later one (lib/publish-prefix.ts).
 * Returns the one line to print.
 */
export async function breakLease(s3: S3Client, prefixUri: string): Promise<string> {
  const prefix = prefixUri.endsWith("/") ? prefixUri : `${prefixUri}/`;
  const { bucket, key: dir } = parseS3Uri(prefix);
  const key = dir + LEASE_NAME;
  const lease = await readLease(s3, bucket, key);
  if (!lease) return `no lease on ${prefix}: nothing to break`;
  const who = lease.body ? `${lease.body.holder} (${lease.body.purpose}, until ${lease.body.expiresAt})` : "an unreadable lease";
  try {
    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key, IfMatch: lease.etag }));
  } catch (err) {
    if (isPreconditionFailed(err) || isGone(err)) return `the lease of ${prefix} changed while breaking it: nothing broken; look again`;
    throw err;
  }
  return `broke the lease of ${prefix} held by ${who}`;
}

/**
 * Releases the lease of `prefixUri` when, and only when, it is held by the process `pid` on this host, which the
 * caller knows has been stopped (the local run's Ctrl-C: it killed that step and waited for it to exit). A dead
 * writer's lease would otherwise hold the next publish of the prefix for up to its TTL. The holder names its host
 * and pid (see `acquireLease`), and the delete is conditional on the lease object read (If-Match), so a lease another writer
 * took in the meantime is never removed. Returns whether it released one.
 */
export async function releaseLeaseOfStoppedWriter(s3: S3Client, prefixUri: string, pid: number, log: Log): Promise<boolean> {
  const prefix = prefixUri.endsWith("/") ? prefixUri : `${prefixUri}/`;
  const { bucket, key: dir } = parseS3Uri(prefix);
  const key = dir + LEASE_NAME;
  let holder: string | undefined;
  let etag: string | undefined;
  try {
    const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    etag = out.ETag;
    holder = (JSON.parse(await out.Body!.transformToString("utf8")) as Partial<LeaseBody>).holder;
  } catch (err) {
    if (isGone(err) || err instanceof SyntaxError) return false;
    throw err;
  }
  const [, host, holderPid] = holder?.split(":") ?? [];
  if (host !== hostname() || Number(holderPid) !== pid || !etag) return false;
  try {
    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key, IfMatch: etag }));
  } catch (err) {
    if (isPreconditionFailed(err) || isGone(err)) return false;
    throw err;
  }
  log(`released the lease of ${prefix} held by the stopped step (${holder})`);
  return true;
}
