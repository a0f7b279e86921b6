import { createHash, randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CopyObjectCommand, DeleteObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { EXIT, StepError } from "./exit-codes.ts";
import { digestFile } from "./hash.ts";
import { contentTypeOf, isPublishable, JOURNAL_NAME, MANIFEST_NAME, parseManifest, type PublishedFile } from "./manifest.ts";
import { acquireLease, leaseSettings, type LeaseSettings, type PrefixLease } from "./prefix-lease.ts";
import { downloadToFile, getObjectText, isNotFound, listObjects, putObjectText } from "./s3-objects.ts";
import { parseS3Uri } from "./s3.ts";

/**
 * The one publish implementation (ski-atlas, weather): a run's staged files go to their final prefix with
 * `manifest.json` as the commit marker, atomically for a reader and recoverable after a crash.
 *
 * Protocol (docs/ARCHITECTURE.md, "Publishing"):
 *  -. take the prefix's lease (lib/prefix-lease.ts): one writer at a time; a second one waits, then exits 75;
 *  0. recover: an interrupted publish's journal is rolled back (or, if it had committed, just closed);
 *  1. hash the staged files; a file whose sha256 the current manifest lists, and whose published object is the
 *     staged object's copy, is not copied again. Nothing changed → only the manifest is rewritten (one PUT);
 *  2. back up, server-side, every published object this publish overwrites or deletes (manifest included) to
 *     `{staging}_publish-backup/<id>/`;
 *  3. write the journal `{prefix}_publishing.json` (the backup, the previous object names, the files written,
 *     the sha256 of the manifest about to be written);
 *  4. withdraw the old manifest, copy the changed files, delete the stale ones, write the new manifest (commit);
 *  5. delete the journal, then the backup; release the lease.
 * A crash before 3 leaves the prefix untouched; between 3 and the commit, recovery restores the backup
 * byte-identical; after the commit, recovery only closes the journal.
 */

/**
 * `ATLAS_FAULT_CRASH_AFTER_COPIES=<n>` with `ATLAS_LOCAL=1`: the publish crashes itself (SIGSEGV, exit 139) after n
 * copies (tests). Not SIGKILL (137) nor SIGABRT (134): those are what an out-of-memory kill and a full Node heap look
 * like, and would be escalated a tier instead of failing the run.
 */
export const CRASH_AFTER_COPIES_ENV = "ATLAS_FAULT_CRASH_AFTER_COPIES";

/**
 * `ATLAS_FAULT_PAUSE_AFTER_COPIES=<n>` with `ATLAS_LOCAL=1`: a publish (after n copies) or a rollback (after n
 * restored objects) pauses, holding its lease and renewing it, until the process gets SIGUSR2 (race tests).
 */
export const PAUSE_AFTER_COPIES_ENV = "ATLAS_FAULT_PAUSE_AFTER_COPIES";

/** Where a publish keeps the objects it replaces, under the run's staging prefix (never published). */
export const BACKUP_DIR = "_publish-backup/";

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

export interface RollbackOptions {
  lease?: LeaseSettings;
  /** Tests only (see PAUSE_AFTER_COPIES_ENV): pause after n restored objects until SIGUSR2. */
  pauseAfterCopies?: number;
}

/** The journal of a publish that is changing a prefix: enough to undo it without anything else. */
export interface PublishJournal {
  version: 1;
  publishUri: string;
  startedAt: string;
  /** `s3://…/` holding a copy of every name in `backedUp`. */
  backupUri: string;
  /** The prefix's objects before this publish (the manifest and the data files). */
  previous: string[];
  /** The previous objects this publish overwrites or deletes: all are in the backup. */
  backedUp: string[];
  /** What this publish writes: its data files and the manifest. */
  writes: string[];
  /** sha256 of the manifest this publish writes last: when it is in place, the publish committed. */
  manifestSha256: string;
  /** The lease holder that wrote it (absent in journals from before the lease). */
  leaseHolder?: string;
}

export interface PublishResult {
  manifest: Record<string, unknown>;
  copied: string[];
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
  await recoverUnderLease(s3, o.publishUri, lease, log, {});

  const staged = (await listObjects(s3, o.stagingUri)).filter((x) => isPublishable(x.name));
  const dir = await mkdtemp(join(tmpdir(), "atlas-publish-"));
  const files: PublishedFile[] = [];
  try {
    for (const x of staged) {
      const path = join(dir, x.name);
      await downloadToFile(s3, o.stagingUri + x.name, path);
      const { hex, bytes } = await digestFile(path, "sha256");
      const rows = await o.rows(path, x.name);
      files.push({ name: x.name, sha256: hex, bytes, ...(rows === undefined ? {} : { rows }) });
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  files.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));

  const manifestUri = o.publishUri + MANIFEST_NAME;
  const oldText = await getObjectText(s3, manifestUri);
  let oldFiles: PublishedFile[] = [];
  try {
    oldFiles = oldText === undefined ? [] : parseManifest(oldText).files;
  } catch {
    log(`the existing ${MANIFEST_NAME} is unreadable: replacing it`);
  }
  const published = new Map((await listObjects(s3, o.publishUri)).map((x) => [x.name, x]));
  // Skip a copy only when the manifest already lists this sha256 AND the published object is the staged one's
  // copy (same size and ETag): a published file changed behind the manifest's back is copied again.
  const stagedEtag = new Map(staged.map((x) => [x.name, x.etag]));
  const unchanged = (f: PublishedFile) => {
    const prev = oldFiles.find((x) => x.name === f.name);
    const pub = published.get(f.name);
    return prev?.sha256 === f.sha256 && pub?.size === f.bytes && pub.etag !== undefined && pub.etag === stagedEtag.get(f.name);
  };
  const toCopy = files.filter((f) => !unchanged(f));
  const names = new Set(files.map((f) => f.name));
  const stale = [...published.keys()].filter((n) => isPublishable(n) && !names.has(n));
  const manifest = { ...o.manifest(files), files };
  const manifestText = `${JSON.stringify(manifest, null, 2)}\n`;

  if (toCopy.length === 0 && stale.length === 0 && oldText !== undefined) {
    // Same files: replacing the manifest is a single PUT, atomic on its own.
    await lease.ensureHeld();
    await putObjectText(s3, manifestUri, manifestText);
    log(`${files.length} file(s) already published with the same sha256: rewrote ${manifestUri} only`);
    return { manifest, copied: [], removed: [] };
  }

  const dst = parseS3Uri(o.publishUri);
  const src = parseS3Uri(o.stagingUri);
  const previous = [...published.keys()].filter((n) => n === MANIFEST_NAME || isPublishable(n));
  const touched = new Set([MANIFEST_NAME, ...toCopy.map((f) => f.name), ...stale]);
  const backedUp = previous.filter((n) => touched.has(n));
  const backupUri = `${o.stagingUri}${BACKUP_DIR}${new Date().toISOString().replace(/[-:.]/g, "")}-${randomUUID().slice(0, 8)}/`;
  const backup = parseS3Uri(backupUri);

  // 2. Back up what will change. A crash here leaves the prefix as it was (the partial backup expires with staging).
  await lease.ensureHeld();
  for (const name of backedUp) await copyObject(s3, dst.bucket, dst.key + name, backup.bucket, backup.key + name);
  if (backedUp.length > 0) log(`backed up ${backedUp.length} published object(s) to ${backupUri}`);

  // 3. The journal: from here until it is deleted, the prefix can be rolled back.
  const journal: PublishJournal = {
    version: 1,
    publishUri: o.publishUri,
    startedAt: new Date().toISOString(),
    backupUri,
    previous,
    backedUp,
    writes: [...files.map((f) => f.name), MANIFEST_NAME],
    manifestSha256: sha256(manifestText),
    leaseHolder: lease.holder,
  };
  await lease.ensureHeld();
  await putObjectText(s3, o.publishUri + JOURNAL_NAME, `${JSON.stringify(journal, null, 2)}\n`);

  // 4. Change the prefix, manifest last.
  const crash = async (copies: number) => {
    await pauseIf(copies, o.pauseAfterCopies, "publish", log);
    if (copies !== o.crashAfterCopies) return;
    log(`[fault] ${CRASH_AFTER_COPIES_ENV}=${copies}: killing this process mid-publish`);
    process.kill(process.pid, "SIGSEGV");
  };
  if (oldText !== undefined) {
    await lease.ensureHeld();
    await deleteObject(s3, dst.bucket, dst.key + MANIFEST_NAME);
    log(`changed files: withdrew the old ${MANIFEST_NAME} until the new one is written`);
  }
  await crash(0);
  let copies = 0;
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
    log(`copied ${f.name} (${f.bytes} bytes)`);
    await crash(++copies);
  }
  for (const name of stale) {
    await lease.ensureHeld();
    await deleteObject(s3, dst.bucket, dst.key + name);
    log(`removed ${name}, which this run does not produce`);
  }
  if (toCopy.length < files.length) log(`${files.length - toCopy.length} file(s) already published with the same sha256`);
  await lease.ensureHeld();
  await putObjectText(s3, manifestUri, manifestText);
  log(`wrote ${manifestUri} (${files.length} files)`);

  // 5. Committed: close the journal (only while ours to close: a writer that took over may have its own), drop the backup.
  await lease.ensureHeld();
  await deleteObject(s3, dst.bucket, dst.key + JOURNAL_NAME);
  await dropBackup(s3, backupUri, backedUp, log);
  return { manifest, copied: toCopy.map((f) => f.name), removed: stale };
}

export type RecoveryOutcome = "none" | "rolled-back" | "committed";

/**
 * Finishes what an interrupted publish left under `publishUri`, holding the prefix's lease (a live publish or
 * rollback is waited for, never undone; past the wait, a retryable StepError): without a journal, nothing to do. With one, if the
 * manifest the publish meant to write is in place, it had committed (only the journal is removed); otherwise the
 * previous version is restored from the backup, byte for byte (the files it wrote are removed, for a first-time
 * publish that leaves the prefix empty), and the journal is removed last. Idempotent: a crash during recovery is
 * recovered by running it again.
 */
export async function rollbackInterruptedPublish(s3: S3Client, publishUri: string, log: Log, o: RollbackOptions = {}): Promise<RecoveryOutcome> {
  const lease = await acquireLease(s3, publishUri, "rollback", log, o.lease ?? leaseSettings());
  try {
    return await recoverUnderLease(s3, publishUri, lease, log, o);
  } finally {
    await lease.release();
  }
}

/** The recovery itself; the caller holds the prefix's lease, so no journal here belongs to a live writer. */
async function recoverUnderLease(s3: S3Client, publishUri: string, lease: PrefixLease, log: Log, o: RollbackOptions): Promise<RecoveryOutcome> {
  const prefix = publishUri.endsWith("/") ? publishUri : `${publishUri}/`;
  const text = await getObjectText(s3, prefix + JOURNAL_NAME);
  if (text === undefined) return "none";
  const journal = parseJournal(text, prefix);
  if (journal.leaseHolder === lease.holder) {
    throw new Error(`${prefix}${JOURNAL_NAME} is this writer's own journal: recovery must not undo it`);
  }
  const dst = parseS3Uri(prefix);

  const current = await getObjectText(s3, prefix + MANIFEST_NAME);
  if (current !== undefined && sha256(current) === journal.manifestSha256) {
    await lease.ensureHeld();
    await deleteObject(s3, dst.bucket, dst.key + JOURNAL_NAME);
    await dropBackup(s3, journal.backupUri, journal.backedUp, log);
    log(`the interrupted publish of ${prefix} (started ${journal.startedAt}) had committed: closed its journal`);
    return "committed";
  }

  log(`rolling back the interrupted publish of ${prefix} (started ${journal.startedAt}${journal.leaseHolder ? ` by ${journal.leaseHolder}, whose lease is gone` : ""})`);
  const previous = new Set(journal.previous);
  // The files it added, then the files it replaced or removed (data first, the manifest last).
  for (const name of journal.writes) {
    if (previous.has(name) || name === MANIFEST_NAME) continue;
    await lease.ensureHeld();
    await deleteObject(s3, dst.bucket, dst.key + name);
  }
  const backup = parseS3Uri(journal.backupUri);
  const restore = [...journal.backedUp.filter((n) => n !== MANIFEST_NAME), ...journal.backedUp.filter((n) => n === MANIFEST_NAME)];
  let restored = 0;
  for (const name of restore) {
    await lease.ensureHeld();
    try {
      await copyObject(s3, backup.bucket, backup.key + name, dst.bucket, dst.key + name);
      await pauseIf(++restored, o.pauseAfterCopies, "rollback", log);
    } catch (err) {
      if (!isNotFound(err)) throw err;
      throw new StepError(
        `cannot roll back ${prefix}: its backup ${journal.backupUri}${name} is gone (staging expires); the prefix has no ` +
          `valid manifest, so it reads as not published: publish again after deleting ${JOURNAL_NAME}`,
        EXIT.NO_INPUT,
      );
    }
  }
  await lease.ensureHeld();
  if (!previous.has(MANIFEST_NAME)) await deleteObject(s3, dst.bucket, dst.key + MANIFEST_NAME);
  await deleteObject(s3, dst.bucket, dst.key + JOURNAL_NAME);
  log(
    previous.size === 0
      ? `rolled back: ${prefix} is empty again (first publish)`
      : `rolled back: restored ${restore.length} object(s), removed ${journal.writes.filter((n) => !previous.has(n)).length}; ${prefix} is the previous version`,
  );
  await dropBackup(s3, journal.backupUri, journal.backedUp, log);
  return "rolled-back";
}

function parseJournal(text: string, prefix: string): PublishJournal {
  let j: PublishJournal;
  try {
    j = JSON.parse(text) as PublishJournal;
  } catch {
    j = {} as PublishJournal;
  }
  const list = (v: unknown) => Array.isArray(v) && v.every((n) => typeof n === "string");
  if (j?.version !== 1 || typeof j.backupUri !== "string" || !list(j.previous) || !list(j.backedUp) || !list(j.writes) || typeof j.manifestSha256 !== "string") {
    throw new StepError(`${prefix}${JOURNAL_NAME} is not a publish journal this code can read: inspect the prefix by hand`, EXIT.DATA_ERROR);
  }
  return j;
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

function localFaultCount(env: Record<string, string | undefined>, name: string): number | undefined {
  const raw = env[name]?.trim();
  if (env.ATLAS_LOCAL !== "1" || raw === undefined || raw === "") return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new StepError(`${name}='${raw}' is not a count`, EXIT.USAGE);
  return n;
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

/** Best effort: the backup is only needed while a journal names it (staging expires anyway). */
async function dropBackup(s3: S3Client, backupUri: string, names: string[], log: Log): Promise<void> {
  try {
    const { bucket, key } = parseS3Uri(backupUri);
    for (const name of names) await deleteObject(s3, bucket, key + name);
  } catch (err) {
    log(`could not delete the backup ${backupUri} (${(err as Error).message}): it expires with staging`);
  }
}

async function copyObject(s3: S3Client, srcBucket: string, srcKey: string, dstBucket: string, dstKey: string): Promise<void> {
  // COPY keeps the object's metadata and content type: a restored file is the original, byte for byte.
  await s3.send(new CopyObjectCommand({ Bucket: dstBucket, Key: dstKey, CopySource: copySource(srcBucket, srcKey), MetadataDirective: "COPY" }));
}

async function deleteObject(s3: S3Client, bucket: string, key: string): Promise<void> {
  await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
}

function copySource(bucket: string, key: string): string {
  return `${bucket}/${encodeURIComponent(key).replaceAll("%2F", "/")}`;
}

function sha256(text: string): string {
  return createHash("sha256").update(text, "utf8").digest("hex");
}
