import { existsSync } from "node:fs";
import { readFile, readdir, stat } from "node:fs/promises";
import * as path from "node:path";
import { MANIFEST_NAME } from "./manifest.ts";
import { PROJECT_ROOT } from "./project-root.ts";

export const RUNS_DIR_ENV = "ATLAS_RUNS_DIR";

/** Where local run folders go: `.data/runs/`, or `$ATLAS_RUNS_DIR` (run-records/record.ts's RUNS_ROOT). */
export function localRunsRoot(env: NodeJS.ProcessEnv = process.env): string {
  return path.resolve(env[RUNS_DIR_ENV] || path.join(PROJECT_ROOT, ".data", "runs"));
}

/** A weather day published by a local run, as copied to its run folder (`<run>/published/weather/<day>/`). */
export interface LocalWeatherRun {
  /** The local run that published it: its folder's name under the runs root (what `npm start` printed). */
  id: string;
  /** The weather run's own id: its day, YYYY-MM-DD. */
  day: string;
  /** When it was published (the manifest's `publishedAt`, else the file's time), ISO. */
  publishedAt: string;
  /** How many stations it holds (the manifest's `counts.stations`), when known. */
  stations?: number;
  /** The published folder. */
  dir: string;
}

/**
 * Where a local run's weather days were copied: `<run>/published/weather/<day>/`, or, for a run started with `--out
 * DIR`, `DIR/weather/<day>/`, which only its run record (`run.json`, its published files' paths) knows.
 */
async function publishedWeatherDirs(runDir: string): Promise<string[]> {
  const dirs = new Set<string>();
  const weatherDir = path.join(runDir, "published", "weather");
  if (existsSync(weatherDir)) for (const day of await readdir(weatherDir)) dirs.add(path.join(weatherDir, day));
  let record: { workflow?: unknown; outputs?: { files?: { path?: unknown }[] } } | null = null;
  try {
    record = JSON.parse(await readFile(path.join(runDir, "run.json"), "utf8"));
  } catch {
    // No record (an older run, or one still starting) or a torn one: its published/ folder is all there is.
  }
  if (record?.workflow === "weather" && Array.isArray(record.outputs?.files)) {
    for (const f of record.outputs?.files ?? []) if (typeof f.path === "string") dirs.add(path.dirname(f.path));
  }
  return [...dirs];
}

/** The weather runs published by local runs, newest first. Only committed days (a manifest and the statistics). */
export async function localWeatherRuns(runsDir = localRunsRoot()): Promise<LocalWeatherRun[]> {
  if (!existsSync(runsDir)) return [];
  const found: LocalWeatherRun[] = [];
  for (const run of await readdir(runsDir)) {
    for (const dir of await publishedWeatherDirs(path.join(runsDir, run))) {
      const day = path.basename(dir);
      const stats = path.join(dir, "weather_stats.parquet");
      const manifestFile = path.join(dir, MANIFEST_NAME);
      if (!existsSync(stats) || !existsSync(manifestFile)) continue;
      const manifest = JSON.parse(await readFile(manifestFile, "utf8").catch(() => "{}")) as { publishedAt?: unknown; counts?: { stations?: unknown } };
      const publishedAt = typeof manifest.publishedAt === "string" && !Number.isNaN(Date.parse(manifest.publishedAt))
        ? new Date(manifest.publishedAt).toISOString()
        : (await stat(stats)).mtime.toISOString();
      const stations = typeof manifest.counts?.stations === "number" ? manifest.counts.stations : undefined;
      found.push({ id: run, day, publishedAt, stations, dir });
    }
  }
  return found.sort((a, b) => b.publishedAt.localeCompare(a.publishedAt) || b.id.localeCompare(a.id));
}

/** One line: which run, which day, how many stations, when. */
export function describeWeatherRun(run: LocalWeatherRun): string {
  const stations = run.stations === undefined ? "stations unknown" : `${run.stations} station${run.stations === 1 ? "" : "s"}`;
  return `${run.id} (day ${run.day}, ${stations}, published ${run.publishedAt.slice(0, 19).replace("T", " ")} UTC)`;
}

/** How many runs an error lists. */
const LISTED_RUNS = 5;

/**
 * The weather run `wanted` names (a local run's id, or a day: then the newest run of that day), or the newest when
 * nothing is wanted. Throws one line that lists the newest runs when there is no such run.
 */
export function chooseWeatherRun(runs: LocalWeatherRun[], wanted: string | undefined, option = "--weather-run"): LocalWeatherRun {
  const chosen = wanted === undefined ? runs[0] : runs.find((r) => r.id === wanted || r.day === wanted);
  if (chosen) return chosen;
  if (runs.length === 0) {
    throw new Error(`no local weather run found${wanted === undefined ? "" : ` (${option} ${wanted})`}: run \`npm start -- weather\` first, or pass --config FILE`);
  }
  const newest = runs.slice(0, LISTED_RUNS).map(describeWeatherRun).join("; ");
  const more = runs.length > LISTED_RUNS ? `; and ${runs.length - LISTED_RUNS} older` : "";
  throw new Error(`${option} ${JSON.stringify(wanted)} is no local weather run: pass a run id or a day (YYYY-MM-DD) of one of these (newest first): ${newest}${more}`);
}
