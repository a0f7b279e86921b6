import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CopyObjectCommand, DeleteObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { EXIT, StepError } from "./exit-codes.ts";
import { localFaultCount } from "./local-fault-hooks.ts";
import { digestFile } from "./hash.ts";
import { contentTypeOf, isPublishable, JOURNAL_NAME, MANIFEST_NAME, VERSIONS_DIR, type PublishedFile, type PublishedManifest } from "./manifest.ts";
import { acquireLease, isConflict, isGone, isPreconditionFailed, leaseSettings, type LeaseSettings, type PrefixLease } from "./prefix-lease.ts";
import { contentsBesides, InvalidManifestError, leftoverFolders, readCommitted, type CommittedVersion } from "./published.ts";
import { downloadToFile, getObjectText, listObjects, type ListedObject } from "./s3-objects.ts";
import { parseS3Uri } from "./s3.ts";

/**
 * The one publish implementation (ski-atlas, weather, jobs): a run's staged files become the version readers see
 * under a prefix, atomically, and a writer that lost its lease cannot change what they see (docs/ARCHITECTURE.md,
 * "Publishing: the commit protocol"):
 *
 *  0. take the prefix's lease (lib/prefix-lease.ts): writers take turns, so two do not both do the work;
 *  1. read the committed manifest and its ETag (or that there is none), then list the prefix;
 *  2. hash the staged files. The same files as the committed version: skip to 4 with that version's folder;
 *  3. copy them into a folder of this publish's own, `{prefix}versions/<publishId>/`: no reader looks there;
 *  4. commit: PutObject `manifest.json` naming that folder, If-Match the ETag read in 1 (If-None-Match: * when
 *     there was none). S3 applies it only if no other manifest was written since: a writer whose view is stale
 *     (frozen past its lease, a clock ahead, a request held in the network) gets 412 and changes nothing visible;
 *  5. remove what the listing of 1 held that is not the new version: the version it replaced, leftovers of failed
 *     publishes, files of the layout before versions. Best effort: what stays is never read, and the next publish
 *     removes it.
 * A crash anywhere leaves the committed version as it was, or the new one whole; nothing needs rolling back.
 */

/**
 * `ATLAS_FAULT_CRASH_AFTER_COPIES=<n>` with `ATLAS_LOCAL=1`: the publish crashes itself (SIGSEGV, exit 139) after n
 * copies (tests). Not SIGKILL (137) nor SIGABRT (134): those are what an out-of-memory kill and a full Node heap look
 * like, and would be escalated a tier instead of failing the run.
 */
export const CRASH_AFTER_COPIES_ENV = "ATLAS_FAULT_CRASH_AFTER_COPIES";

/**
 * `ATLAS_FAULT_PAUSE_AFTER_COPIES=<n>` with `ATLAS_LOCAL=1`: a publish pauses after n copies (n = its file count:
 * just before its commit), holding its lease and renewing it, until the process gets SIGUSR2 (race tests).
 */
export const PAUSE_AFTER_COPIES_ENV = "ATLAS_FAULT_PAUSE_AFTER_COPIES";

type Log = (message: string) => void;

export interface PublishOptions {
  stagingUri: string;
  publishUri: string;
  /** Data rows of a staged file (downloaded to `path`), or undefined when it has none. */
  rows(path: string, name: string): Promise<number | undefined>;
  /** The manifest's other fields, given the file list. */
  manifest(files: PublishedFile[]): Record<string, unknown>;
  log: Log;
  /** Tests only (see CRASH_AFTER_COPIES_ENV, read by `crashAfterCopies(env)`): abort this process after n copies. */
  crashAfterCopies?: number;
  /** Tests only (see PAUSE_AFTER_COPIES_ENV): pause after n copies until SIGUSR2. */
  pauseAfterCopies?: number;
  /** The lease's timing; default from the environment (`leaseSettings()`). */
  lease?: LeaseSettings;
}

export interface PublishResult {
  manifest: Record<string, unknown>;
  /** The files copied into the new version (none when the committed version already had them all). */
  copied: string[];
  /** Objects removed after the commit: the replaced version and any leftovers. */
  removed: string[];
}

export async function publishStaged(s3: S3Client, o: PublishOptions): Promise<PublishResult> {
  const lease = await acquireLease(s3, o.publishUri, "publish", o.log, o.lease ?? leaseSettings());
  try {
    return await publishUnderLease(s3, o, lease);
  } finally {
    await lease.release();
  }
}

async function publishUnderLease(s3: S3Client, o: PublishOptions, lease: PrefixLease): Promise<PublishResult> {
  const log = o.log;
  const prefix = o.publishUri.endsWith("/") ? o.publishUri : `${o.publishUri}/`;

  // 1. What readers see now: the commit below is conditional on exactly this. The listing comes after it, so every
  // folder in it belongs to a writer that read an older manifest (or this one), whose commit fails once ours lands.
  let current: CommittedVersion | undefined;
  let currentEtag: string | undefined;
  try {
    current = await readCommitted(s3, prefix);
    currentEtag = current?.etag;
  } catch (err) {
    if (!(err instanceof InvalidManifestError)) throw err;
    currentEtag = (await readManifestEtag(s3, prefix)) ?? undefined;
    log(`${err.message}: replacing it`);
  }
  const before = await listObjects(s3, prefix);

  // 2. The staged files, hashed.
  const staged = (await listObjects(s3, o.stagingUri)).filter((x) => isPublishable(x.name));
  const files = await describeStaged(s3, o, staged);
  const publishId = newPublishId();

  // The same files as the committed version (sha256 in its manifest, and each object there the staged one's copy,
  // same size and ETag): its folder is kept and only the manifest is rewritten (one PUT).
  const reuse = current && sameVersion(current.manifest, files, before, staged) ? current.manifest.dataPrefix! : undefined;
  const dataPrefix = reuse ?? `${VERSIONS_DIR}${publishId}/`;
  const manifest = { ...o.manifest(files), publishId, dataPrefix, files };
  const manifestText = `${JSON.stringify(manifest, null, 2)}\n`;

  // 3. The new version's folder: this publish's alone, invisible until the commit names it.
  const hooks = faultHooks(o, log);
  const dst = parseS3Uri(prefix + dataPrefix);
  const src = parseS3Uri(o.stagingUri);
  const toCopy = reuse ? [] : files;
  const copied: string[] = [];
  try {
    await hooks.after(0);
    for (const f of toCopy) {
      await lease.ensureHeld();
      await s3.send(
        new CopyObjectCommand({
          Bucket: dst.bucket,
          Key: dst.key + f.name,
          CopySource: copySource(src.bucket, src.key + f.name),
          MetadataDirective: "REPLACE",
          ContentType: contentTypeOf(f.name),
        }),
      );
      copied.push(f.name);
      log(`copied ${f.name} (${f.bytes} bytes) to ${dataPrefix}`);
      await hooks.after(copied.length);
    }
    await lease.ensureHeld();
  } catch (err) {
    // Not committed, and never will be: the folder is garbage (best effort; the next publish removes what stays).
    await removeObjects(s3, prefix, copied.map((n) => dataPrefix + n), log);
    throw err;
  }

  // 4. The commit: one conditional write. (Should it fail without an answer, it may have landed: nothing is removed.)
  if (!(await commitManifest(s3, prefix, manifestText, currentEtag))) {
    await removeObjects(s3, prefix, copied.map((n) => dataPrefix + n), log);
    throw new StepError(
      `lost the lease of ${prefix}: another writer committed a version after this publish read ${MANIFEST_NAME}; ` +
        `nothing of this publish became visible; retry`,
      EXIT.TEMP_FAIL,
    );
  }
  log(
    reuse
      ? `${files.length} file(s) already published with the same sha256 (${reuse}): rewrote ${prefix}${MANIFEST_NAME} only`
      : `wrote ${prefix}${MANIFEST_NAME} (${files.length} files in ${dataPrefix})`,
  );

  // 5. What the new version replaced, and leftovers: no manifest can name them any more (see 1).
  const { leftovers, journal } = contentsBesides(before.map((x) => x.name), manifest);
  const removed = await removeObjects(s3, prefix, [...leftovers, ...(journal ? [JOURNAL_NAME] : [])], log);
  if (removed.length) log(`removed ${removed.length} object(s) no reader follows any more: ${leftoverFolders(removed).map((d) => d || "(files beside the manifest)").join(", ")}`);
  return { manifest, copied, removed };
}

async function describeStaged(s3: S3Client, o: PublishOptions, staged: ListedObject[]): Promise<PublishedFile[]> {
  const dir = await mkdtemp(join(tmpdir(), "atlas-publish-"));
  const files: PublishedFile[] = [];
  try {
    for (const x of staged) {
      const path = join(dir, x.name);
      await downloadToFile(s3, o.stagingUri + x.name, path);
      const { hex, bytes } = await digestFile(path, "sha256");
      const rows = await o.rows(path, x.name);
      files.push({ name: x.name, sha256: hex, bytes, ...(rows === undefined ? {} : { rows }) });
      await rm(path, { force: true });
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return files.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

function sameVersion(committed: PublishedManifest, files: PublishedFile[], listed: ListedObject[], staged: ListedObject[]): boolean {
  if (committed.dataPrefix === undefined || committed.files.length !== files.length) return false;
  const present = new Map(listed.map((x) => [x.name, x]));
  const stagedEtag = new Map(staged.map((x) => [x.name, x.etag]));
  return files.every((f) => {
    const prev = committed.files.find((x) => x.name === f.name);
    const obj = present.get(committed.dataPrefix + f.name);
    return prev?.sha256 === f.sha256 && obj?.size === f.bytes && obj.etag !== undefined && obj.etag === stagedEtag.get(f.name);
  });
}

/**
 * PutObject of the manifest, If-Match `etag` (If-None-Match: * when none was committed). True when this manifest is
 * in place. A 412 (or a 404: the manifest was deleted since) means another writer committed: false. Our own write
 * may have landed with its answer lost (the SDK then retried into a 412): the manifest names this publish's id, so
 * a manifest with exactly our bytes is ours. A 409 (a conditional write of the key overlapped ours) is retried.
 */
async function commitManifest(s3: S3Client, prefix: string, text: string, etag: string | undefined): Promise<boolean> {
  const { bucket, key } = parseS3Uri(prefix + MANIFEST_NAME);
  for (let attempt = 1; ; attempt++) {
    try {
      await s3.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: key,
          Body: text,
          ContentType: "application/json",
          ...(etag === undefined ? { IfNoneMatch: "*" } : { IfMatch: etag }),
        }),
      );
      return true;
    } catch (err) {
      if (!isPreconditionFailed(err) && !isConflict(err) && !isGone(err)) throw err;
      const now = await getObjectText(s3, prefix + MANIFEST_NAME);
      if (now !== undefined && sha256(now) === sha256(text)) return true;
      if (!isConflict(err) || attempt >= COMMIT_CONFLICT_ATTEMPTS) return false;
      await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
    }
  }
}
/** S3 answers 409 while another conditional write of the manifest is in flight: try again, a few times. */
const COMMIT_CONFLICT_ATTEMPTS = 5;

/** The manifest's ETag however unreadable its content (a commit on top of a corrupt manifest replaces it). */
async function readManifestEtag(s3: S3Client, prefix: string): Promise<string | undefined> {
  const listed = await listObjects(s3, prefix + MANIFEST_NAME);
  return listed.find((x) => x.name === "")?.etag;
}

/** Deletes `names` under `prefix`, best effort: returns those deleted. What stays is never read (see step 5). */
async function removeObjects(s3: S3Client, prefix: string, names: string[], log: Log): Promise<string[]> {
  const { bucket, key } = parseS3Uri(prefix);
  const removed: string[] = [];
  for (const name of names) {
    try {
      await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key + name }));
      removed.push(name);
    } catch (err) {
      log(`could not remove ${prefix}${name} (${(err as Error).name}): no reader follows it; the next publish removes it`);
      break;
    }
  }
  return removed;
}

function newPublishId(): string {
  return `${new Date().toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z")}-${randomBytes(4).toString("hex")}`;
}

/** The crash and pause hooks of the local tests, after n copies. */
function faultHooks(o: PublishOptions, log: Log) {
  return {
    async after(copies: number) {
      await pauseIf(copies, o.pauseAfterCopies, "publish", log);
      if (copies !== o.crashAfterCopies) return;
      log(`[fault] ${CRASH_AFTER_COPIES_ENV}=${copies}: killing this process mid-publish`);
      process.kill(process.pid, "SIGSEGV");
    },
  };
}

/**
 * The crash hook's setting, for a step's config: `ATLAS_FAULT_CRASH_AFTER_COPIES=<n>` is honoured only in local runs
 * (`ATLAS_LOCAL=1`), so a deployed task can never be told to kill itself.
 */
export function crashAfterCopies(env: Record<string, string | undefined>): number | undefined {
  return localFaultCount(env, CRASH_AFTER_COPIES_ENV);
}

/** The pause hook's setting (PAUSE_AFTER_COPIES_ENV), honoured only in local runs like the crash hook. */
export function pauseAfterCopies(env: Record<string, string | undefined>): number | undefined {
  return localFaultCount(env, PAUSE_AFTER_COPIES_ENV);
}

/** The pause hook: holds here (the event loop, and so the lease renewal, keeps running) until SIGUSR2. */
async function pauseIf(count: number, pauseAt: number | undefined, what: string, log: Log): Promise<void> {
  if (pauseAt === undefined || count !== pauseAt) return;
  const keepAlive = setInterval(() => {}, 1 << 30); // a signal listener alone does not keep the process running
  const resumed = new Promise<void>((resolve) => process.once("SIGUSR2", () => resolve()));
  log(`[fault] ${PAUSE_AFTER_COPIES_ENV}=${count}: ${what} paused until SIGUSR2`);
  await resumed;
  clearInterval(keepAlive);
  log(`[fault] ${what} resumed`);
}

function copySource(bucket: string, key: string): string {
  return `${bucket}/${encodeURIComponent(key).replaceAll("%2F", "/")}`;
}

function sha256(text: string): string {
  return createHash("sha256").update(text, "utf8").digest("hex");
}
