import { createHash } from "node:crypto";
import { once } from "node:events";
import { readFile, stat } from "node:fs/promises";
import { PassThrough } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import type { S3Client } from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { EXIT, StepError } from "../../lib/exit-codes.ts";
import { digestFile } from "../../lib/hash.ts";
import { headObject, UPLOAD_PART_BYTES, uploadFile } from "../../lib/s3-objects.ts";
import { parseS3Uri } from "../../lib/s3.ts";
import type { DownloadConfig } from "./config.ts";
import { mib, type Logger } from "./log.ts";
import { fromMetadata, parseMd5File, sameVersion, toMetadata, type SourceVersion } from "./source-version.ts";

export interface DownloadResult {
  skipped: boolean;
  source: SourceVersion;
}

/** Step 1: copies SOURCE_URL to RAW_URI (see README.md). */
export async function runDownload(cfg: DownloadConfig, s3: S3Client, log: Logger): Promise<DownloadResult> {
  let url: URL;
  try {
    url = new URL(cfg.sourceUrl);
  } catch {
    throw new StepError(`SOURCE_URL='${cfg.sourceUrl}' is not a URL: use https://…/<region>.osm.pbf`, EXIT.USAGE);
  }
  if (url.protocol === "file:") {
    if (!cfg.local) {
      throw new StepError(
        `SOURCE_URL='${cfg.sourceUrl}' is a file:// URL, which only the local engine may use (ATLAS_LOCAL=1): use an https:// source`,
        EXIT.USAGE,
      );
    }
    return downloadFile(cfg, url, s3, log);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new StepError(`SOURCE_URL='${cfg.sourceUrl}' has an unsupported scheme: use https://`, EXIT.USAGE);
  }
  return downloadHttp(cfg, url, s3, log);
}

async function storedVersion(s3: S3Client, rawUri: string): Promise<SourceVersion | undefined> {
  const head = await headObject(s3, rawUri);
  if (!head) return undefined;
  const stored = fromMetadata(head.Metadata);
  if (stored && stored.bytes !== undefined && head.ContentLength !== stored.bytes) return undefined; // partial/odd object
  return stored;
}

// ---------------------------------------------------------------------------------------------- file://

async function downloadFile(cfg: DownloadConfig, url: URL, s3: S3Client, log: Logger): Promise<DownloadResult> {
  const path = fileURLToPath(url);
  const info = await stat(path).catch(() => undefined);
  if (!info?.isFile()) {
    throw new StepError(`SOURCE_URL file '${path}' does not exist: check the path of the sample PBF`, EXIT.NO_INPUT);
  }
  const digest = await digestFile(path, "md5");
  const sidecar = await readFile(`${path}.md5`, "utf8").then(parseMd5File, () => undefined);
  if (sidecar && sidecar !== digest.hex) {
    throw new StepError(`checksum mismatch for ${path}: md5 ${digest.hex}, but ${path}.md5 says ${sidecar}: re-create the file`, EXIT.TEMP_FAIL);
  }
  const source: SourceVersion = {
    url: url.href,
    md5: digest.hex,
    bytes: digest.bytes,
    lastModified: info.mtime.toUTCString(),
  };
  const stored = await storedVersion(s3, cfg.rawUri);
  if (stored && sameVersion(stored, source)) {
    log(`${cfg.rawUri} already holds this source version (md5 ${source.md5}): skipping`);
    return { skipped: true, source };
  }
  log(`copying ${path} (${mib(digest.bytes)}) to ${cfg.rawUri}`);
  await uploadFile(s3, path, cfg.rawUri, { metadata: toMetadata(source) });
  log(`wrote ${cfg.rawUri} (${digest.bytes} bytes, md5 ${digest.hex})`);
  return { skipped: false, source };
}

// ---------------------------------------------------------------------------------------------- http(s)

class RetryableError extends Error {}

function describe(err: unknown): string {
  const e = err as { message?: string; cause?: { code?: string; message?: string }; code?: string; name?: string };
  const code = e?.cause?.code ?? e?.code;
  const msg = e?.cause?.message ?? e?.message ?? String(err);
  return code ? `${code}: ${msg}` : `${e?.name ?? "Error"}: ${msg}`;
}

function httpStatusError(url: string, status: number, what: string): StepError | RetryableError {
  if (status === 404 || status === 410) {
    return new StepError(`${what} ${url} returned HTTP ${status} (not found): check the region's source URL`, EXIT.NO_INPUT);
  }
  if (status === 401 || status === 403) {
    return new StepError(`${what} ${url} returned HTTP ${status} (access denied): check the source URL or its access rules`, EXIT.NO_PERMISSION);
  }
  if (status === 408 || status === 429 || status >= 500) return new RetryableError(`HTTP ${status}`);
  return new StepError(`${what} ${url} returned HTTP ${status}: check the source URL`, EXIT.NO_INPUT);
}

/** Runs `fn` with retries on RetryableError/network errors; StepErrors end at once. */
async function withRetries<T>(cfg: DownloadConfig, log: Logger, what: string, fn: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof StepError) throw err;
      if (attempt >= cfg.attempts) {
        throw new StepError(`${what} failed after ${attempt} attempts (${describe(err)}): check the network or retry later`, EXIT.TEMP_FAIL);
      }
      const delay = cfg.retryDelayMs * 2 ** (attempt - 1);
      log(`${what}: ${describe(err)}; retrying in ${(delay / 1000).toFixed(1)} s (attempt ${attempt + 1}/${cfg.attempts})`);
      await sleep(delay);
    }
  }
}

async function probe(cfg: DownloadConfig, url: string, log: Logger): Promise<SourceVersion> {
  const res = await withRetries(cfg, log, `HEAD ${url}`, async () => {
    const r = await fetch(url, { method: "HEAD", redirect: "follow", signal: AbortSignal.timeout(cfg.idleTimeoutMs) });
    if (r.status === 405 || r.status === 501) return undefined; // no HEAD: learn the version from the GET
    if (!r.ok) throw httpStatusError(url, r.status, "SOURCE_URL");
    return r;
  });
  const version: SourceVersion = { url };
  if (res) {
    version.etag = res.headers.get("etag") ?? undefined;
    version.lastModified = res.headers.get("last-modified") ?? undefined;
    const length = res.headers.get("content-length");
    if (length !== null && /^\d+$/.test(length)) version.bytes = Number(length);
  }
  // The checksum file is optional: Geofabrik publishes one, other servers may not.
  version.md5 = await withRetries(cfg, log, `GET ${url}.md5`, async () => {
    const r = await fetch(`${url}.md5`, { redirect: "follow", signal: AbortSignal.timeout(cfg.idleTimeoutMs) });
    if (r.status === 404 || r.status === 403 || r.status === 410) return undefined;
    if (!r.ok) throw httpStatusError(`${url}.md5`, r.status, "checksum file");
    return parseMd5File(await r.text());
  });
  return version;
}

async function downloadHttp(cfg: DownloadConfig, url: URL, s3: S3Client, log: Logger): Promise<DownloadResult> {
  const href = url.href;
  const source = await probe(cfg, href, log);
  const stored = await storedVersion(s3, cfg.rawUri);
  if (stored && sameVersion(stored, source)) {
    const id = source.md5 ? `md5 ${source.md5}` : source.etag ? `ETag ${source.etag}` : `Last-Modified ${source.lastModified}`;
    log(`${cfg.rawUri} already holds this source version (${id}): skipping`);
    return { skipped: true, source };
  }

  const { bucket, key } = parseS3Uri(cfg.rawUri);
  const body = new PassThrough({ highWaterMark: 1 << 20 });
  const partSize = downloadPartSize(source.bytes ?? 0);
  const upload = new Upload({
    client: s3,
    params: { Bucket: bucket, Key: key, Body: body, ContentType: "application/octet-stream", Metadata: toMetadata(source) },
    partSize,
    queueSize: 4,
    leavePartsOnError: false,
  });
  const uploadDone = upload.done();
  let uploadError: unknown;
  const uploadFailed = uploadDone.then(
    () => new Promise<never>(() => {}),
    (err) => {
      uploadError = err;
      throw err;
    },
  );
  uploadFailed.catch(() => {});

  const hash = createHash("md5");
  let received = 0;
  let total = source.bytes;
  const started = Date.now();
  const progress = setInterval(() => {
    const rate = received / Math.max(0.001, (Date.now() - started) / 1000);
    const pct = total ? ` (${((100 * received) / total).toFixed(0)}%)` : "";
    log(`${mib(received)}${total ? ` of ${mib(total)}` : ""}${pct}, ${mib(rate)}/s`);
  }, cfg.progressEveryMs || 5000);
  progress.unref();

  const validator = source.etag && !source.etag.startsWith("W/") ? source.etag : source.lastModified;
  const fetchOnce = async () => {
    if (uploadError) throw uploadError;
    const controller = new AbortController();
    let idle = setTimeout(() => controller.abort(new Error("no data received for too long")), cfg.idleTimeoutMs);
    try {
      const headers: Record<string, string> = {};
      if (received > 0) {
        headers.Range = `bytes=${received}-`;
        if (validator) headers["If-Range"] = validator;
      }
      const res = await fetch(href, { headers, redirect: "follow", signal: controller.signal });
      let skip = 0;
      if (received > 0 && res.status === 206) {
        const m = /bytes (\d+)-\d+\/(\d+|\*)/.exec(res.headers.get("content-range") ?? "");
        if (!m || Number(m[1]) !== received) throw new RetryableError(`unexpected Content-Range '${res.headers.get("content-range")}'`);
        if (m[2] !== "*") total = Number(m[2]);
        log(`resuming at byte ${received}`);
      } else if (res.status === 200) {
        const length = res.headers.get("content-length");
        if (length !== null && /^\d+$/.test(length)) total = Number(length);
        if (received > 0) {
          if (source.etag && res.headers.get("etag") && res.headers.get("etag") !== source.etag) {
            throw new StepError(`the source ${href} changed during the download (new ETag): run the step again`, EXIT.TEMP_FAIL);
          }
          skip = received; // the server ignored the Range header: drop what we already have
          log(`server does not support ranges: re-reading the first ${received} bytes`);
        }
      } else if (res.status === 416 && total !== undefined && received === total) {
        return;
      } else if (!res.ok) {
        throw httpStatusError(href, res.status, "SOURCE_URL");
      } else {
        throw new RetryableError(`unexpected HTTP ${res.status}`);
      }
      if (!res.body) throw new RetryableError("empty response body");
      for await (const raw of res.body as unknown as AsyncIterable<Uint8Array>) {
        clearTimeout(idle);
        idle = setTimeout(() => controller.abort(new Error("no data received for too long")), cfg.idleTimeoutMs);
        let chunk = raw;
        if (skip > 0) {
          if (chunk.byteLength <= skip) {
            skip -= chunk.byteLength;
            continue;
          }
          chunk = chunk.subarray(skip);
          skip = 0;
        }
        hash.update(chunk);
        received += chunk.byteLength;
        if (!body.write(chunk)) await Promise.race([once(body, "drain"), uploadFailed]);
      }
      if (total !== undefined && received < total) throw new RetryableError(`connection closed at byte ${received} of ${total}`);
    } finally {
      clearTimeout(idle);
    }
  };

  try {
    log(`downloading ${href}${total ? ` (${mib(total)})` : ""} to ${cfg.rawUri}`);
    await withRetries(cfg, log, `download of ${href}`, fetchOnce);
    if (total !== undefined && received !== total) {
      throw new StepError(`downloaded ${received} bytes of ${href} but expected ${total}: retry the download`, EXIT.TEMP_FAIL);
    }
    const md5 = hash.digest("hex");
    if (source.md5 && md5 !== source.md5) {
      throw new StepError(
        `checksum mismatch for ${href}: got md5 ${md5}, ${href}.md5 says ${source.md5}: retry (the file may have changed during the download)`,
        EXIT.TEMP_FAIL,
      );
    }
    // Only now does the object become visible: the multipart upload completes when the stream ends.
    body.end();
    await uploadDone;
    clearInterval(progress);
    log(`wrote ${cfg.rawUri} (${received} bytes, md5 ${md5}${source.md5 ? ", matches the .md5 file" : ""})`);
    return { skipped: false, source: { ...source, bytes: received, md5: source.md5 ?? md5 } };
  } catch (err) {
    clearInterval(progress);
    body.destroy();
    await upload.abort().catch(() => {});
    await uploadDone.catch(() => {});
    throw err;
  }
}

/**
 * The download's multipart part size: lib-storage's 16 MiB, larger when the source would need more than 9 000 parts
 * (S3 takes at most 10 000; the margin covers a source that grew since its size was read).
 */
export function downloadPartSize(sourceBytes: number): number {
  return Math.max(UPLOAD_PART_BYTES, Math.ceil(sourceBytes / 9000));
}
