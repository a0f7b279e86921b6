import { createHash, randomBytes } from "node:crypto";
import { createWriteStream, existsSync, rmSync, statSync } from "node:fs";
import { mkdir, readdir, rename, rm, stat } from "node:fs/promises";
import { get as httpGet, type IncomingMessage } from "node:http";
import { get as httpsGet } from "node:https";
import * as path from "node:path";
import { pipeline } from "node:stream/promises";
import { DATA_FILES, type DataFileSpec } from "./data-catalog.ts";
import { EXIT, StepError } from "./exit-codes.ts";
import { digestFile } from "./hash.ts";
import { PROJECT_ROOT } from "./project-root.ts";

/**
 * The one place that finds the real data (the Andorra extract, the weather stations, the corn yields) for the tests,
 * the examples and the offline defaults. It looks, in order, in
 *   1. `ATLAS_DATA_DIR` (a folder laid out like the shared one: `osm/…`, `wx_data/…`, `yld_data/…`),
 *   2. `../shared/data` beside the project root,
 *   3. the download cache `.data/cache/` (git-ignored), and otherwise downloads the file from its public origin
 *      (lib/data-catalog.ts), or from `ATLAS_DATA_MIRROR/<name>` when that is set, into the cache.
 * A download is verified (size and sha256) before an atomic rename makes it the cached file: a failed, wrong or
 * interrupted download never leaves a file under the name the locator looks for. A download that stalls (no byte for
 * a while, or a trickle below a minimum rate) or outlasts its deadline is given up, its partial file removed.
 * A local copy (any of the three places) is checked against its size and sha256 the first time a process uses it,
 * so a copy with one byte changed is refused, not used; the verdict is kept per process, keyed by the file's path,
 * size and mtime, so later uses cost one stat.
 * Hand-written on node:http(s) and node:crypto: the job (get, hash, rename) is a few lines, and no package does
 * "pinned file, with these fallbacks" without bringing a cache layout of its own. Not on fetch: once here, Node 24's
 * fetch (undici) killed the whole process with an uncaught internal assertion (Parser.finish, on a socket's end)
 * during parallel downloads from `python3 -m http.server`, which no try/catch can turn into the one-line error;
 * it did not recur in later runs, but node:http reports socket failures as errors on the request.
 */

export const SHARED_DATA_DIR = path.resolve(PROJECT_ROOT, "..", "shared", "data");
export const DATA_CACHE_DIR = path.join(PROJECT_ROOT, ".data", "cache");

/**
 * When a download is given up, so that a stalled or trickling server cannot hang a test run or a CLI default. The
 * largest file (1.8 MB) takes seconds on any working connection; the bounds are far from that:
 *  - `idleMs`: no byte at all for this long (before or during the body);
 *  - `minBytesPerSecond` over each `windowMs` of the body: a mirror sending a byte every 2 s is never idle, yet
 *    would take weeks; below this rate the download is called stalled;
 *  - `deadlineMs(bytes)`: connect, headers and body of one file, whatever the pace (a server can also drip its
 *    headers): a minute plus the file's time at the minimum rate.
 * Tests pass smaller ones (DataLocatorOptions.limits).
 */
export interface DownloadLimits {
  idleMs: number;
  windowMs: number;
  minBytesPerSecond: number;
  deadlineMs: (bytes: number) => number;
}
export const DOWNLOAD_LIMITS: DownloadLimits = {
  idleMs: 30_000,
  windowMs: 30_000,
  minBytesPerSecond: 16 * 1024,
  deadlineMs: (bytes) => 60_000 + Math.ceil((bytes / (16 * 1024)) * 1000),
};
/** Origins may move their files behind a redirect or two; more than this is a loop. */
const MAX_REDIRECTS = 5;
/** Downloads at a time when a folder (167 station files) is fetched: enough to hide latency, polite to the origin. */
const DOWNLOAD_CONCURRENCY = 8;

export interface DataLocatorOptions {
  /** Reads ATLAS_DATA_DIR and ATLAS_DATA_MIRROR from here (tests pass their own). */
  env?: NodeJS.ProcessEnv;
  sharedDir?: string;
  cacheDir?: string;
  /** The pinned files (tests pass their own). */
  catalog?: readonly DataFileSpec[];
  /** Default: DOWNLOAD_LIMITS. */
  limits?: DownloadLimits;
}

/**
 * The data is not here and cannot be fetched (offline, 404, wrong bytes), or a local copy is not the pinned file: the
 * message says what to do. `subject` is what is missing or wrong (a file, or `wx_data/ (167 files)`), `problem`
 * the short reason, so that `npm run data` can name every missing set in one line.
 */
export class DataFileError extends StepError {
  constructor(
    message: string,
    exitCode: number,
    readonly subject?: string,
    readonly problem?: string,
  ) {
    super(message, exitCode);
    this.name = "DataFileError";
  }
}

interface Root {
  dir: string;
  label: string;
}

function settings(options: DataLocatorOptions) {
  const env = options.env ?? process.env;
  const cacheDir = options.cacheDir ?? DATA_CACHE_DIR;
  const roots: Root[] = [];
  if (env.ATLAS_DATA_DIR) roots.push({ dir: path.resolve(env.ATLAS_DATA_DIR), label: "ATLAS_DATA_DIR" });
  roots.push({ dir: options.sharedDir ?? SHARED_DATA_DIR, label: "../shared/data" });
  return { env, cacheDir, roots, catalog: options.catalog ?? DATA_FILES, limits: options.limits ?? DOWNLOAD_LIMITS };
}

function spec(name: string, catalog: readonly DataFileSpec[]): DataFileSpec {
  const found = catalog.find((f) => f.name === name);
  if (!found) throw new Error(`${name} is not a known data file (lib/data-catalog.ts)`);
  return found;
}

const isFile = (file: string) => existsSync(file) && statSync(file).isFile();

/** Where `name` (e.g. `osm/andorra-2021-06-22.osm.pbf`) is on this machine, without downloading; undefined if nowhere. */
export function findDataFile(name: string, options: DataLocatorOptions = {}): string | undefined {
  const { roots, cacheDir } = settings(options);
  for (const { dir } of [...roots, { dir: cacheDir }]) {
    const file = path.join(dir, name);
    if (isFile(file)) return file;
  }
  return undefined;
}

/** The path of one pinned data file: found locally (and checked, once per process), or downloaded into the cache (verified). */
export async function dataFile(name: string, options: DataLocatorOptions = {}): Promise<string> {
  const { catalog } = settings(options);
  const file = spec(name, catalog);
  const local = findDataFile(name, options);
  if (!local) return fetchDataFile(file, options);
  await checkLocalCopy(local, file, options);
  return local;
}

/** `path:size:mtime` of each local copy found to be the pinned file in this process. */
const verified = new Set<string>();

/**
 * Refuses a local copy that is not the pinned file (size, then sha256), in one line that says what to do. Hashing
 * happens once per process and file version: the verdict is kept under the file's path, size and mtime, so a file
 * changed later in the same process is checked again.
 */
async function checkLocalCopy(file: string, spec: DataFileSpec, options: DataLocatorOptions): Promise<void> {
  const { size, mtimeMs } = await stat(file);
  const key = `${file}:${size}:${mtimeMs}`;
  if (verified.has(key)) return;
  const { hex, bytes } = size === spec.bytes ? await digestFile(file) : { hex: undefined, bytes: size };
  if (bytes === spec.bytes && hex === spec.sha256) {
    verified.add(key);
    return;
  }
  const { cacheDir } = settings(options);
  const cached = file.startsWith(`${cacheDir}${path.sep}`);
  const remedy = cached
    ? `delete it (the next use downloads it again)`
    : `put the original back (${spec.url}), or point ATLAS_DATA_DIR at a good copy of ../shared/data`;
  const found = hex === undefined ? `${bytes} bytes, not the pinned ${spec.bytes}` : `${bytes} bytes with sha256 ${hex}, not the pinned sha256 ${spec.sha256}`;
  throw new DataFileError(`${file} is not the pinned ${spec.name} (${found}): ${remedy}`, EXIT.DATA_ERROR, spec.name, "changed local copy");
}

/**
 * The path of a pinned folder (e.g. `wx_data`): the first of ATLAS_DATA_DIR and ../shared/data that holds every file
 * the catalog lists under it, else the cache's copy, completed by downloading what it lacks. One folder always holds
 * the whole set, so a reader of the folder never sees a mix.
 */
export async function dataDir(dir: string, options: DataLocatorOptions = {}): Promise<string> {
  const { roots, cacheDir, catalog } = settings(options);
  const files = catalog.filter((f) => f.name.startsWith(`${dir}/`));
  if (!files.length) throw new Error(`${dir} is not a known data folder (lib/data-catalog.ts)`);
  // Every file is checked, and the first wrong one named with how many others are wrong too.
  const checkAll = async (root: string) => {
    const wrong: DataFileError[] = [];
    for (let next = 0; next < files.length; next += DOWNLOAD_CONCURRENCY) {
      const checked = await Promise.allSettled(files.slice(next, next + DOWNLOAD_CONCURRENCY).map((f) => checkLocalCopy(path.join(root, f.name), f, options)));
      for (const c of checked) {
        if (c.status === "fulfilled") continue;
        if (!(c.reason instanceof DataFileError)) throw c.reason;
        wrong.push(c.reason);
      }
    }
    if (wrong.length > 1) {
      const [first] = wrong;
      throw new DataFileError(`${first.message} (and ${wrong.length - 1} more files of ${dir}/ are not the pinned ones)`, first.exitCode, `${dir}/`, first.problem);
    }
    if (wrong.length) throw wrong[0];
    return path.join(root, dir);
  };
  for (const root of roots) {
    if (files.every((f) => isFile(path.join(root.dir, f.name)))) return checkAll(root.dir);
  }
  const missing = files.filter((f) => !isFile(path.join(cacheDir, f.name)));
  // The first file alone: offline, one line naming the folder, not eight about its files.
  const subject = `${dir}/ (${files.length} files)`;
  if (missing.length) await fetchDataFile(missing[0], options, subject);
  for (let next = 1; next < missing.length; next += DOWNLOAD_CONCURRENCY) {
    await Promise.all(missing.slice(next, next + DOWNLOAD_CONCURRENCY).map((f) => fetchDataFile(f, options, subject)));
  }
  return checkAll(cacheDir);
}

/**
 * Downloads one pinned file into the cache; returns its path. Verified before it is renamed into place. `subject`
 * is what the error lines say is missing (the folder, when the file is one of a folder's).
 */
export async function fetchDataFile(file: DataFileSpec, options: DataLocatorOptions = {}, subject = file.name): Promise<string> {
  const { env, cacheDir, roots, limits } = settings(options);
  const url = env.ATLAS_DATA_MIRROR ? `${env.ATLAS_DATA_MIRROR.replace(/\/+$/, "")}/${file.name}` : file.url;
  const target = path.join(cacheDir, file.name);
  // Partial downloads live apart from the data folders (a folder reader lists every file in wx_data/).
  const partialDir = path.join(cacheDir, ".partial");
  const partial = path.join(partialDir, `${path.basename(file.name)}.${process.pid}.${randomBytes(4).toString("hex")}`);
  const looked = roots.map((r) => r.label).join(" or ");
  // For a folder's file, point at the folder's URL, where its other files are too.
  const origin = subject === file.name ? `the file from ${url}` : `its files from ${url.slice(0, url.length - path.basename(file.name).length)}`;
  const whatToDo = `set ATLAS_DATA_DIR to a folder that holds ${subject} (a copy of ../shared/data), or get ${origin}`;

  // The one deadline of this file (connect, headers, body) and the rate check of its body: whichever fires first
  // stops the download with the line it sets here.
  const abort = new AbortController();
  let stopped: DataFileError | undefined;
  const stop = (problem: string) => {
    stopped ??= new DataFileError(`downloading ${url} ${problem}: nothing was kept; ${whatToDo}`, EXIT.TEMP_FAIL, subject, problem);
    abort.abort(stopped);
  };
  const deadlineMs = limits.deadlineMs(file.bytes);
  const deadline = setTimeout(() => stop(`did not finish within ${seconds(deadlineMs)} (the deadline for ${file.bytes} bytes)`), deadlineMs);
  let rateCheck: NodeJS.Timeout | undefined;
  await removeAbandonedPartials(partialDir);
  partials.add(partial);
  try {
    let response: IncomingMessage;
    try {
      response = await get(url, limits.idleMs, abort.signal);
    } catch (err) {
      if (stopped) throw stopped;
      throw new DataFileError(`${subject} is not in ${looked}, and ${url} cannot be reached (${networkCode(err)}): offline? ${whatToDo}`, EXIT.NO_INPUT, subject, `cannot be reached: ${networkCode(err)}`);
    }
    if (response.statusCode !== 200) {
      response.resume();
      const answered = `${response.statusCode} ${response.statusMessage}`;
      throw new DataFileError(`${subject} is not in ${looked}, and ${url} answered ${answered}: ${whatToDo}, or set ATLAS_DATA_MIRROR to a copy of the shared data folder`, EXIT.NO_INPUT, subject, `origin answered ${answered}`);
    }

    await mkdir(partialDir, { recursive: true });
    await mkdir(path.dirname(target), { recursive: true });
    const hash = createHash("sha256");
    let bytes = 0;
    let checkedBytes = 0;
    const minBytes = (limits.minBytesPerSecond * limits.windowMs) / 1000;
    rateCheck = setInterval(() => {
      const got = bytes - checkedBytes;
      checkedBytes = bytes;
      if (got < minBytes) stop(`stalled: ${got} bytes in the last ${seconds(limits.windowMs)}, below the minimum ${limits.minBytesPerSecond} bytes/s`);
    }, limits.windowMs);
    try {
      await pipeline(
        response,
        async function* (source: AsyncIterable<Buffer>) {
          for await (const chunk of source) {
            hash.update(chunk);
            bytes += chunk.byteLength;
            // A far larger answer (an HTML error page is smaller; a wrong, bigger file is not) stops early.
            if (bytes > file.bytes) throw new DataFileError(`${url} sent more than the ${file.bytes} bytes of ${file.name}: ${whatToDo}`, EXIT.DATA_ERROR, subject, "wrong bytes");
            yield chunk;
          }
        },
        createWriteStream(partial),
        { signal: abort.signal },
      );
    } catch (err) {
      if (stopped) throw stopped;
      if (err instanceof DataFileError) throw err;
      throw new DataFileError(`downloading ${url} failed (${networkCode(err)}): nothing was kept; ${whatToDo}`, EXIT.TEMP_FAIL, subject, `download failed: ${networkCode(err)}`);
    }
    const sha256 = hash.digest("hex");
    if (bytes !== file.bytes || sha256 !== file.sha256) {
      throw new DataFileError(`${url} sent ${bytes} bytes with sha256 ${sha256}, not the pinned ${file.bytes} bytes with sha256 ${file.sha256}: nothing was kept; ${whatToDo}`, EXIT.DATA_ERROR, subject, "wrong bytes");
    }
    await rename(partial, target);
    const { size, mtimeMs } = await stat(target);
    verified.add(`${target}:${size}:${mtimeMs}`);
    return target;
  } finally {
    clearTimeout(deadline);
    clearInterval(rateCheck);
    await rm(partial, { force: true });
    partials.delete(partial);
  }
}

/**
 * The partial files this process is writing. A process that exits on its own (a CLI's signal handler calling
 * process.exit included) removes them; one killed outright leaves them, and the next download removes those
 * (`removeAbandonedPartials`).
 */
const partials = new Set<string>();
process.once("exit", () => partials.forEach((p) => rmSync(p, { force: true })));

/** Partial files of processes that no longer run (their pid is in the name): a killed download's leftovers. */
async function removeAbandonedPartials(dir: string): Promise<void> {
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    const pid = Number(/\.(\d+)\.[0-9a-f]{8}$/.exec(name)?.[1]);
    if (pid && pid !== process.pid && !processRuns(pid)) await rm(path.join(dir, name), { force: true });
  }
}

function processRuns(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM"; // it runs, as another user
  }
}

function seconds(ms: number): string {
  return `${Math.round(ms / 100) / 10} s`;
}

/** GET with redirects followed, an idle timeout and an abort signal; resolves with the final response (any status). */
function get(url: string, idleMs: number, signal: AbortSignal, redirectsLeft = MAX_REDIRECTS): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const target = new URL(url);
    const send = target.protocol === "https:" ? httpsGet : target.protocol === "http:" ? httpGet : undefined;
    if (!send) return reject(Object.assign(new Error(`${target.protocol} is not http(s)`), { code: "unsupported scheme" }));
    // The signal also ends the response stream once the request has been answered.
    const request = send(target, { timeout: idleMs, signal }, (response) => {
      const location = response.headers.location;
      if (response.statusCode && response.statusCode >= 300 && response.statusCode < 400 && location && redirectsLeft > 0) {
        response.resume();
        resolve(get(new URL(location, target).href, idleMs, signal, redirectsLeft - 1));
      } else resolve(response);
    });
    // The socket's idle timeout also covers the body: destroying the request makes the response stream fail.
    request.on("timeout", () => request.destroy(Object.assign(new Error(`no data for ${idleMs / 1000} s`), { code: "ETIMEDOUT" })));
    request.on("error", reject);
  });
}

function networkCode(err: unknown): string {
  const e = err as { code?: string; message?: string } | undefined;
  return e?.code ?? e?.message ?? String(err);
}
