import { existsSync } from "node:fs";
import { open, readdir, readFile, realpath } from "node:fs/promises";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { createRequire } from "node:module";
import * as path from "node:path";
import { Duck, sqlString } from "../lib/duckdb.ts";
import { isTaskStatus, TASK_STATUSES } from "../lib/tasks/task-record.ts";
import { PROJECT_ROOT } from "../lib/project-root.ts";
import { wkbToGeoJson } from "../lib/wkb.ts";
import { listRecords, readRecord, recordPath, RUNS_ROOT, type AttemptRecord, type RunRecord } from "../run-records/record.ts";
import { offlineTaskList, type TaskList } from "./console-tasks.ts";
import { failureSummary, runView } from "./console-view.ts";

/**
 * The run console's server: static page, the run records as JSON, each step's log, and views of the published
 * files (a table preview and, for the ski atlas, GeoJSON for the map) read with DuckDB. It keeps no state: every
 * answer is read from the records and files under the runs folder when asked, so a live run shows as it goes.
 *
 * It answers only this machine's browser, and serves only what it was made for:
 *  - a request whose Host is not the address it listens on is refused (421): a web page elsewhere can make a
 *    browser resolve its own name to 127.0.0.1 (DNS rebinding) and would otherwise read runs, logs and previews;
 *  - a log or a published file is read only when its real path (symlinks resolved) lies in the run's own folder
 *    (found from the runs folder and the run's id, never from `run_dir`) or in the project's data root (`.data/`):
 *    a run.json is a file anyone who can write there can plant, and its paths are not trusted;
 *  - a URL with a malformed `%` escape gets 400.
 */

export interface ConsoleOptions {
  /** Default: a free port. */
  port?: number;
  /** Where the run folders are (default `.data/runs`). */
  runsRoot?: string;
  /** A basemap tile URL template (`https://…/{z}/{x}/{y}.png`); without one the map draws only the data. */
  tileUrl?: string;
  /**
   * Besides each run's own folder, the one folder whose files the console may read (default: the project's `.data/`,
   * which holds the runs, the embedded S3's objects and the published copies unless `--out` put them elsewhere).
   */
  dataRoot?: string;
  /** The tasks page's list (`/api/tasks`); default: the offline task platform's (./console-tasks.ts). */
  tasks?: TaskList;
}

export interface ConsoleServer {
  url: string;
  port: number;
  urlFor(runId: string): string;
  close(): Promise<void>;
  /** After a `--ui` run: keep serving until Ctrl-C, then exit with the run's code. */
  keepServing(exitCode: number): Promise<never>;
}

export const TILE_URL_ENV = "ATLAS_CONSOLE_TILE_URL";
/** Rows a table preview shows. */
const PREVIEW_ROWS = 50;
/** The end of a log is what matters; a long log is cut to its last bytes. */
const LOG_TAIL_BYTES = 256 * 1024;
/** The project's data root (runs, embedded S3, published copies): the console reads files there and in run folders. */
export const CONSOLE_DATA_ROOT = path.join(PROJECT_ROOT, ".data");
/** The map's layers and the files they come from. */
const MAP_LAYERS = { ski_areas: "ski_areas.parquet", lifts: "lifts.parquet", pistes: "pistes.parquet" } as const;

const require = createRequire(import.meta.url);
const PAGE_DIR = path.join(import.meta.dirname, "console");
/** What the page loads, from this folder and from node_modules (no CDN: the console works offline). */
const STATIC: Record<string, () => string> = {
  "/": () => path.join(PAGE_DIR, "index.html"),
  // dagre's package exports only its modules: its browser build is found next to its package.json.
  "/vendor/dagre.js": () => path.join(path.dirname(require.resolve("@dagrejs/dagre/package.json")), "dist", "dagre.min.js"),
  "/vendor/svg-pan-zoom.js": () => require.resolve("svg-pan-zoom/dist/svg-pan-zoom.min.js"),
  "/vendor/leaflet.js": () => require.resolve("leaflet/dist/leaflet.js"),
  "/vendor/leaflet.css": () => require.resolve("leaflet/dist/leaflet.css"),
};
const CONTENT_TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".png": "image/png",
  ".svg": "image/svg+xml",
};

/** A request the console will not answer, with its status and one line saying why. */
class Refused extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export async function startConsole(options: ConsoleOptions): Promise<ConsoleServer> {
  const runsRoot = path.resolve(options.runsRoot ?? RUNS_ROOT);
  const dataRoot = path.resolve(options.dataRoot ?? CONSOLE_DATA_ROOT);
  const tileUrl = options.tileUrl ?? process.env[TILE_URL_ENV] ?? null;
  const tasks = options.tasks ?? offlineTaskList();
  let hosts = new Set<string>();
  const server = createServer((req, res) => {
    const host = (req.headers.host ?? "").toLowerCase();
    if (!hosts.has(host)) {
      res.writeHead(421, { "content-type": "text/plain; charset=utf-8", "cache-control": "no-store" });
      res.end(`error: this console answers only ${[...hosts].join(", ")}, not Host '${host.slice(0, 100)}'\n`);
      return;
    }
    handle(req, res, { runsRoot, dataRoot, tileUrl, tasks }).catch((err: Error) => {
      if (err instanceof Refused) return sendJson(res, err.status, { error: err.message });
      sendJson(res, 500, { error: err.message.split("\n")[0] });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  // The names a browser on this machine reaches the port by; the server listens on 127.0.0.1 only.
  hosts = new Set([`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`]);
  const url = `http://127.0.0.1:${port}/`;
  const close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return {
    url,
    port,
    urlFor: (runId) => `${url}#/run/${encodeURIComponent(runId)}`,
    close,
    keepServing: (exitCode) =>
      new Promise<never>(() => {
        const stop = () => void close().finally(() => process.exit(exitCode));
        process.prependOnceListener("SIGINT", stop);
        process.prependOnceListener("SIGTERM", stop);
      }),
  };
}

interface Served {
  runsRoot: string;
  dataRoot: string;
  tileUrl: string | null;
  tasks: TaskList;
}

async function handle(req: IncomingMessage, res: ServerResponse, { runsRoot, dataRoot, tileUrl, tasks }: Served): Promise<void> {
  const url = new URL(req.url ?? "/", "http://127.0.0.1");
  if (req.method !== "GET") return sendJson(res, 405, { error: "only GET" });
  const staticFile = STATIC[url.pathname] ?? pageFile(url.pathname) ?? (url.pathname.startsWith("/vendor/images/") ? leafletImage(url.pathname) : undefined);
  if (staticFile) {
    const file = staticFile();
    res.writeHead(200, { "content-type": CONTENT_TYPES[path.extname(file)] ?? "application/octet-stream", "cache-control": "no-cache" });
    res.end(await readFile(file));
    return;
  }
  if (url.pathname === "/favicon.ico") return void res.writeHead(204).end();
  if (url.pathname === "/api/config") return sendJson(res, 200, { tileUrl });
  if (url.pathname === "/api/runs") return sendJson(res, 200, (await listRecords(runsRoot)).map(runSummary));
  if (url.pathname === "/api/tasks") {
    const status = url.searchParams.get("status") || undefined;
    // Refused here, before the task platform is asked (or started in the background) for it.
    if (status !== undefined && !isTaskStatus(status)) return sendJson(res, 400, { error: `unknown status '${status}': use ${TASK_STATUSES.join(", ")}` });
    return sendJson(res, 200, await tasks({ status }));
  }

  const match = /^\/api\/runs\/([^/]+)(?:\/(log|files|map))?(?:\/([^/]+))?$/.exec(url.pathname);
  if (!match) return sendJson(res, 404, { error: `no such page: ${url.pathname}` });
  const id = decoded(match[1]);
  const record = await readRecord(runsRoot, id).catch(() => undefined);
  if (!record) return sendJson(res, 404, { error: `no run '${id}' under ${runsRoot}` });
  const readable = await readableRoots(runsRoot, id, dataRoot);
  switch (match[2]) {
    case undefined:
      // The record, and what the page shows of it in the run model's words (./console-view.ts).
      return sendJson(res, 200, { ...record, view: runView(record) });
    case "log": {
      const log = await logOf(record, readable, Number(url.searchParams.get("visit")), Number(url.searchParams.get("attempt")));
      res.writeHead(log ? 200 : 404, { "content-type": "text/plain; charset=utf-8" });
      res.end(log ?? "no log for this attempt (only ECS steps run locally write one)");
      return;
    }
    case "files": {
      const file = record.outputs.files.find((f) => f.name === decoded(match[3] ?? ""));
      if (!file?.path) return sendJson(res, 404, { error: "no such published file in this run" });
      const real = await servable(file.path, readable);
      if (!real) throw new Refused(403, `${file.name} is not served: only files in the run's own folder or in ${dataRoot} are`);
      return sendJson(res, 200, await previewTable(real));
    }
    case "map":
      return sendJson(res, 200, await mapLayers(record, readable));
  }
}

/** A path segment of the URL, decoded; a malformed `%` escape is the client's mistake (400), not the server's. */
function decoded(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new Refused(400, `malformed %-escape in '${segment.slice(0, 100)}'`);
  }
}

/** The real paths of the folders whose files a run's views may read: its own folder and the data root. */
async function readableRoots(runsRoot: string, id: string, dataRoot: string): Promise<string[]> {
  const runDir = path.dirname(recordPath(runsRoot, id));
  const roots = await Promise.all([runDir, dataRoot].map((dir) => realpath(dir).catch(() => undefined)));
  return roots.filter((r): r is string => r !== undefined);
}

/**
 * `file`'s real path (every symlink resolved) when it lies inside one of `roots`, else undefined. Checked on the
 * real path, not the name: a symlink in the run folder pointing at /etc/shadow is /etc/shadow.
 */
export async function servable(file: string, roots: string[]): Promise<string | undefined> {
  const real = await realpath(file).catch(() => undefined);
  if (!real) return undefined;
  return roots.some((root) => real === root || real.startsWith(root.endsWith(path.sep) ? root : `${root}${path.sep}`)) ? real : undefined;
}

/** The page's own scripts and styles: a plain `name.js` or `name.css` of `cli/console/`, nothing else. */
function pageFile(pathname: string): (() => string) | undefined {
  if (!/^\/[\w-]+\.(js|css)$/.test(pathname)) return undefined;
  const file = path.join(PAGE_DIR, pathname.slice(1));
  return existsSync(file) ? () => file : undefined;
}

function leafletImage(pathname: string): (() => string) | undefined {
  const name = path.basename(pathname);
  if (!/^[\w.-]+\.(png|svg)$/.test(name)) return undefined;
  return () => path.join(path.dirname(require.resolve("leaflet/dist/leaflet.css")), "images", name);
}

/** A line of the runs list. */
export function runSummary(r: RunRecord) {
  return {
    id: r.id,
    workflow: r.workflow,
    execution: r.execution.name,
    status: r.status,
    source: r.source,
    key_input: r.key_input,
    started_at: r.started_at,
    stopped_at: r.stopped_at,
    duration_ms: r.duration_ms,
    outputs: r.outputs.location,
    files: r.outputs.files.length,
    children: r.children.length,
    error: r.error?.line ?? null,
    /** The state that failed the run and why, in one sentence (./console-view.ts). */
    failure: failureSummary(r),
  };
}

/**
 * The log of one attempt. A running ECS attempt's log is not in the record yet: the steps of one execution run
 * one after the other, so it is the newest log in the execution's log folder begun after the attempt started.
 */
async function logOf(record: RunRecord, readable: string[], visitIndex: number, attemptNumber: number): Promise<string | undefined> {
  const visit = record.states[visitIndex];
  // Attempts are numbered 1..N across a step's visits: a visit's own list may start at attempt 3.
  const attempt: AttemptRecord | undefined = visit?.attempts.find((a) => a.number === attemptNumber) ?? visit?.attempts.at(-1);
  // readable[0] is the run's own folder (from the runs folder and the id, not the record's run_dir).
  if (!visit || !attempt || !readable[0]) return undefined;
  let file = attempt.log_file;
  if (!file && attempt.tier) {
    const dir = path.join(readable[0], "logs", String(record.execution.name));
    const started = Date.parse(attempt.started_at);
    const candidates = (await readdir(dir).catch(() => [] as string[]))
      .map((name) => ({ name, at: Number(/-(\d+)\.log$/.exec(name)?.[1]) }))
      .filter((c) => c.at >= started - 1000)
      .sort((a, b) => b.at - a.at);
    if (candidates[0]) file = path.join(dir, candidates[0].name);
  }
  // Only files inside the run's folder (or the data root) are served.
  const real = file ? await servable(file, readable) : undefined;
  if (!real) return undefined;
  const handle = await open(real, "r").catch(() => undefined);
  if (!handle) return undefined;
  try {
    const { size } = await handle.stat();
    const from = Math.max(0, size - LOG_TAIL_BYTES);
    const buffer = Buffer.alloc(size - from);
    await handle.read(buffer, 0, buffer.length, from);
    return (from > 0 ? `… (first ${from} bytes cut)\n` : "") + buffer.toString("utf8");
  } finally {
    await handle.close();
  }
}

/** Columns, row count and the first rows of a Parquet or CSV file. */
export async function previewTable(file: string): Promise<{ columns: { name: string; type: string }[]; row_count: number; rows: unknown[][] }> {
  const reader = readerOf(file);
  if (!reader) return { columns: [], row_count: 0, rows: [] };
  const db = await Duck.open();
  try {
    const source = `${reader}(${sqlString(file)})`;
    const columns = (await db.query(`DESCRIBE SELECT * FROM ${source}`)).map((c) => ({ name: String(c.column_name), type: String(c.column_type) }));
    const count = await db.query(`SELECT count(*)::BIGINT AS n FROM ${source}`);
    const rows = await db.query(`SELECT * FROM ${source} LIMIT ${PREVIEW_ROWS}`);
    return {
      columns,
      row_count: Number(count[0].n),
      rows: rows.map((row) => columns.map((c) => cell(row[c.name], c.type))),
    };
  } finally {
    db.close();
  }
}

function readerOf(file: string): string | undefined {
  return file.endsWith(".parquet") ? "read_parquet" : file.endsWith(".csv") ? "read_csv" : undefined;
}

/** A cell as JSON can carry it: geometry as its GeoJSON type, other bytes by size, big integers as numbers. */
function cell(value: unknown, type: string): unknown {
  if (value instanceof Uint8Array) {
    if (type.startsWith("GEOMETRY") || type === "BLOB") {
      try {
        return `${wkbToGeoJson(value).type} (WKB, ${value.byteLength} bytes)`;
      } catch {
        return `${value.byteLength} bytes`;
      }
    }
    return `${value.byteLength} bytes`;
  }
  if (typeof value === "bigint") return Number(value);
  if (value instanceof Date) return value.toISOString();
  if (value && typeof value === "object") return JSON.stringify(value, (_k, v) => (typeof v === "bigint" ? Number(v) : v));
  return value ?? null;
}

/** The ski atlas's published geometries as GeoJSON, one FeatureCollection per layer, with their counts. */
export async function mapLayers(record: RunRecord, readable: string[]) {
  const layers: Record<string, { type: "FeatureCollection"; features: unknown[] }> = {};
  const counts: Record<string, number> = {};
  const db = await Duck.open();
  try {
    for (const [layer, name] of Object.entries(MAP_LAYERS)) {
      const named = record.outputs.files.find((f) => f.name === name)?.path;
      const file = named ? await servable(named, readable) : undefined;
      if (!file) continue;
      const rows = await db.query(`SELECT * FROM read_parquet(${sqlString(file)}) WHERE geometry IS NOT NULL`);
      layers[layer] = {
        type: "FeatureCollection",
        features: rows.map(({ geometry, ...properties }) => ({
          type: "Feature",
          geometry: wkbToGeoJson(geometry as Uint8Array),
          properties: Object.fromEntries(Object.entries(properties).map(([k, v]) => [k, cell(v, "")])),
        })),
      };
      counts[layer] = rows.length;
    }
  } finally {
    db.close();
  }
  return { layers, counts };
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) return void res.end();
  res.writeHead(status, { "content-type": "application/json; charset=utf-8", "cache-control": "no-store" });
  res.end(JSON.stringify(body));
}
