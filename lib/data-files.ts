import { createHash, randomBytes } from "node:crypto";
import { createWriteStream, existsSync, statSync } from "node:fs";
import { mkdir, rename, rm } from "node:fs/promises";
import { get as httpGet, type IncomingMessage } from "node:http";
import { get as httpsGet } from "node:https";
import * as path from "node:path";
import { pipeline } from "node:stream/promises";
import { DATA_FILES, type DataFileSpec } from "./data-catalog.ts";
import { EXIT, StepError } from "./exit-codes.ts";
import { PROJECT_ROOT } from "./project-root.ts";

/**
 * The one place that finds the real data (the Andorra extract, the weather stations, the corn yields) for the tests,
 * the examples and the offline defaults. It looks, in order, in
 *   1. `ATLAS_DATA_DIR` (a folder laid out like the shared one: `osm/…`, `wx_data/…`, `yld_data/…`),
 *   2. `../shared/data` beside the project root,
 *   3. the download cache `.data/cache/` (git-ignored), and otherwise downloads the file from its public origin
 *      (lib/data-catalog.ts), or from `ATLAS_DATA_MIRROR/<name>` when that is set, into the cache.
 * A download is verified (size and sha256) before an atomic rename makes it the cached file: a failed, wrong or
 * interrupted download never leaves a file under the name the locator looks for.
 * Hand-written on node:http(s) and node:crypto: the job (get, hash, rename) is a few lines, and no package does
 * "pinned file, with these fallbacks" without bringing a cache layout of its own. Not on fetch: once here, Node 24's
 * fetch (undici) killed the whole process with an uncaught internal assertion (Parser.finish, on a socket's end)
 * during parallel downloads from `python3 -m http.server`, which no try/catch can turn into the one-line error;
 * it did not recur in later runs, but node:http reports socket failures as errors on the request.
 */

export const SHARED_DATA_DIR = path.resolve(PROJECT_ROOT, "..", "shared", "data");
export const DATA_CACHE_DIR = path.join(PROJECT_ROOT, ".data", "cache");

/** A connection that stays silent this long (before or during the body) is given up, so that a stalled server
 * cannot hang a test run or a CLI default; the largest file (1.8 MB) takes seconds on any working connection. */
const IDLE_TIMEOUT_MS = 30_000;
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
}

/** The data is not here and cannot be fetched (offline, 404, wrong bytes): the message says what to do. */
export class DataFileError extends StepError {
  constructor(message: string, exitCode: number) {
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
  return { env, cacheDir, roots, catalog: options.catalog ?? DATA_FILES };
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

/** The path of one pinned data file: found locally, or downloaded into the cache (verified). */
export async function dataFile(name: string, options: DataLocatorOptions = {}): Promise<string> {
  const { catalog } = settings(options);
  const file = spec(name, catalog);
  return findDataFile(name, options) ?? fetchDataFile(file, options);
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
  for (const root of roots) {
    if (files.every((f) => isFile(path.join(root.dir, f.name)))) return path.join(root.dir, dir);
  }
  const missing = files.filter((f) => !isFile(path.join(cacheDir, f.name)));
  // The first file alone: offline, one line naming the folder, not eight about its files.
  const subject = `${dir}/ (${files.length} files)`;
  if (missing.length) await fetchDataFile(missing[0], options, subject);
  for (let next = 1; next < missing.length; next += DOWNLOAD_CONCURRENCY) {
    await Promise.all(missing.slice(next, next + DOWNLOAD_CONCURRENCY).map((f) => fetchDataFile(f, options, subject)));
  }
  return path.join(cacheDir, dir);
}

/**
 * Downloads one pinned file into the cache; returns its path. Verified before it is renamed into place. `subject`
 * is what the error lines say is missing (the folder, when the file is one of a folder's).
 */
export async function fetchDataFile(file: DataFileSpec, options: DataLocatorOptions = {}, subject = file.name): Promise<string> {
  const { env, cacheDir, roots } = settings(options);
  const url = env.ATLAS_DATA_MIRROR ? `${env.ATLAS_DATA_MIRROR.replace(/\/+$/, "")}/${file.name}` : file.url;
  const target = path.join(cacheDir, file.name);
  // Partial downloads live apart from the data folders (a folder reader lists every file in wx_data/).
  const partialDir = path.join(cacheDir, ".partial");
  const partial = path.join(partialDir, `${path.basename(file.name)}.${process.pid}.${randomBytes(4).toString("hex")}`);
  const looked = roots.map((r) => r.label).join(" or ");
  // For a folder's file, point at the folder's URL, where its other files are too.
  const origin = subject === file.name ? `the file from ${url}` : `its files from ${url.slice(0, url.length - path.basename(file.name).length)}`;
  const whatToDo = `set ATLAS_DATA_DIR to a folder that holds ${subject} (a copy of ../shared/data), or get ${origin}`;

  let response: IncomingMessage;
  try {
    response = await get(url);
  } catch (err) {
    throw new DataFileError(`${subject} is not in ${looked}, and ${url} cannot be reached (${networkCode(err)}): offline? ${whatToDo}`, EXIT.NO_INPUT);
  }
  if (response.statusCode !== 200) {
    response.resume();
    throw new DataFileError(`${subject} is not in ${looked}, and ${url} answered ${response.statusCode} ${response.statusMessage}: ${whatToDo}, or set ATLAS_DATA_MIRROR to a copy of the shared data folder`, EXIT.NO_INPUT);
  }

  await mkdir(partialDir, { recursive: true });
  await mkdir(path.dirname(target), { recursive: true });
  const hash = createHash("sha256");
  let bytes = 0;
  try {
    await pipeline(
      response,
      async function* (source: AsyncIterable<Buffer>) {
        for await (const chunk of source) {
          hash.update(chunk);
          bytes += chunk.byteLength;
          // A far larger answer (an HTML error page is smaller; a wrong, bigger file is not) stops early.
          if (bytes > file.bytes) throw new DataFileError(`${url} sent more than the ${file.bytes} bytes of ${file.name}: ${whatToDo}`, EXIT.DATA_ERROR);
          yield chunk;
        }
      },
      createWriteStream(partial),
    );
    const sha256 = hash.digest("hex");
    if (bytes !== file.bytes || sha256 !== file.sha256) {
      throw new DataFileError(`${url} sent ${bytes} bytes with sha256 ${sha256}, not the pinned ${file.bytes} bytes with sha256 ${file.sha256}: nothing was kept; ${whatToDo}`, EXIT.DATA_ERROR);
    }
    await rename(partial, target);
    return target;
  } catch (err) {
    if (err instanceof DataFileError) throw err;
    throw new DataFileError(`downloading ${url} failed (${networkCode(err)}): nothing was kept; ${whatToDo}`, EXIT.TEMP_FAIL);
  } finally {
    await rm(partial, { force: true });
  }
}

/** GET with redirects followed and an idle timeout; resolves with the final response (any status). */
function get(url: string, redirectsLeft = MAX_REDIRECTS): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const target = new URL(url);
    const send = target.protocol === "https:" ? httpsGet : target.protocol === "http:" ? httpGet : undefined;
    if (!send) return reject(Object.assign(new Error(`${target.protocol} is not http(s)`), { code: "unsupported scheme" }));
    const request = send(target, { timeout: IDLE_TIMEOUT_MS }, (response) => {
      const location = response.headers.location;
      if (response.statusCode && response.statusCode >= 300 && response.statusCode < 400 && location && redirectsLeft > 0) {
        response.resume();
        resolve(get(new URL(location, target).href, redirectsLeft - 1));
      } else resolve(response);
    });
    // The socket's idle timeout also covers the body: destroying the request makes the response stream fail.
    request.on("timeout", () => request.destroy(Object.assign(new Error(`no data for ${IDLE_TIMEOUT_MS / 1000} s`), { code: "ETIMEDOUT" })));
    request.on("error", reject);
  });
}

function networkCode(err: unknown): string {
  const e = err as { code?: string; message?: string } | undefined;
  return e?.code ?? e?.message ?? String(err);
}
