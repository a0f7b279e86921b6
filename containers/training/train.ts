import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { S3Client } from "@aws-sdk/client-s3";
import { Duck, sqlString } from "../../lib/duckdb.ts";
import { EXIT, StepError } from "../../lib/exit-codes.ts";
import { csvLine } from "../../lib/csv.ts";
import { writeJobOutputs } from "../../lib/job-output.ts";
import { requiredEnv, uriEnv, type Env, type Log } from "../../lib/run-step.ts";
import { downloadPublishedInput, readInputText, withSlash } from "../../lib/uri-io.ts";
import { ols } from "./ols.ts";

/**
 * The training job: US corn grain yield against yearly weather, by ordinary least squares.
 * Config (JSON at CONFIG_URI): `{ "weather": "<prefix of a published weather run>", "yield": "<uri of the yield
 * file>", "features"?: [...] }`. The weather run's `weather_stats.parquet` (per station and year) is averaged over
 * the stations for each year; the yield file is `year<TAB>yield` lines. Output under OUTPUT_URI: `model.json`
 * (coefficients, R², RMSE, n), `training_data.csv` (the rows fitted, with the fitted yield), `manifest.json`.
 */
export const FEATURES = ["avg_max_temp_c", "avg_min_temp_c", "total_precipitation_cm"] as const;
export type Feature = (typeof FEATURES)[number];

export interface TrainingConfig {
  weather: string;
  yield: string;
  features: Feature[];
}

export function parseTrainingConfig(text: string): TrainingConfig {
  let c: Partial<TrainingConfig>;
  try {
    c = JSON.parse(text);
  } catch {
    throw new StepError("the config is not JSON", EXIT.DATA_ERROR);
  }
  if (typeof c?.weather !== "string" || typeof c.yield !== "string") {
    throw new StepError('the config needs "weather" (a published weather run\'s prefix) and "yield" (the yield file\'s URI)', EXIT.DATA_ERROR);
  }
  const features = c.features ?? [...FEATURES];
  const unknown = features.filter((f) => !(FEATURES as readonly string[]).includes(f));
  if (!features.length || unknown.length) throw new StepError(`features must be some of ${FEATURES.join(", ")}`, EXIT.DATA_ERROR);
  return { weather: withSlash(c.weather), yield: c.yield, features };
}

/** `year<TAB>yield` lines → year → yield. */
export function parseYield(text: string): Map<number, number> {
  const out = new Map<number, number>();
  text.split("\n").forEach((line, i) => {
    if (!line.trim()) return;
    const [y, v, ...rest] = line.trim().split(/\s+/);
    if (rest.length || !/^\d{4}$/.test(y ?? "") || !Number.isFinite(Number(v))) {
      throw new StepError(`the yield file's line ${i + 1} is not "year<TAB>yield": ${JSON.stringify(line.slice(0, 80))}`, EXIT.DATA_ERROR);
    }
    out.set(Number(y), Number(v));
  });
  return out;
}

/** Per year: the mean over stations of each station's yearly statistic (stations without a value are left out). */
export async function yearlyWeather(statsParquet: string): Promise<Map<number, Record<Feature, number | null>>> {
  // The shared helper: DuckDB sized to the task's tier, spilling into the task's work dir (never `.tmp` in the cwd).
  const db = await Duck.open();
  try {
    const rows = (await db.query(
      `SELECT year, ${FEATURES.map((f) => `avg(${f}) AS ${f}`).join(", ")}
       FROM read_parquet(${sqlString(statsParquet)}) GROUP BY year ORDER BY year`,
    )) as Record<string, number | null>[];
    return new Map(rows.map((r) => [Number(r.year), Object.fromEntries(FEATURES.map((f) => [f, r[f] === null ? null : Number(r[f])])) as Record<Feature, number | null>]));
  } finally {
    db.close();
  }
}

export async function train(env: Env, s3: S3Client, log: Log): Promise<void> {
  const local = env.ATLAS_LOCAL === "1";
  const runId = requiredEnv(env, "RUN_ID", "train");
  const configUri = uriEnv(env, "CONFIG_URI", "train", { allowFile: local });
  const outputUri = uriEnv(env, "OUTPUT_URI", "train", { prefix: true });
  const cfg = parseTrainingConfig(await readInputText(s3, configUri, local, "CONFIG_URI"));
  const yields = parseYield(await readInputText(s3, cfg.yield, local, "the yield file"));
  const dir = await mkdtemp(join(tmpdir(), "training-"));
  try {
    const stats = join(dir, "weather_stats.parquet");
    await downloadPublishedInput(s3, cfg.weather, "weather_stats.parquet", stats, local, "the weather run");
    const weather = await yearlyWeather(stats);
    const rows = [...yields.entries()]
      .filter(([year]) => weather.has(year) && cfg.features.every((f) => weather.get(year)![f] !== null))
      .sort((a, b) => a[0] - b[0])
      .map(([year, y]) => ({ year, y, x: cfg.features.map((f) => weather.get(year)![f] as number) }));
    log(`${rows.length} years with both yield and weather (${yields.size} yield years, ${weather.size} weather years)`);
    if (rows.length <= cfg.features.length + 1) {
      throw new StepError(`only ${rows.length} years have both yield and weather: too few to fit ${cfg.features.length} features`, EXIT.DATA_ERROR);
    }
    let fit;
    try {
      fit = ols(rows.map((r) => r.x), rows.map((r) => r.y));
    } catch (err) {
      throw new StepError((err as Error).message, EXIT.DATA_ERROR);
    }
    const model = {
      model: "ordinary least squares",
      target: "us_corn_grain_yield",
      features: cfg.features,
      coefficients: { intercept: fit.intercept, ...Object.fromEntries(cfg.features.map((f, j) => [f, fit.coefficients[j]])) },
      fit: { r2: fit.r2, rmse: fit.rmse, n: fit.n },
      years: { from: rows[0].year, to: rows[rows.length - 1].year },
      inputs: { weather: cfg.weather, yield: cfg.yield },
    };
    log(`R² ${fit.r2.toFixed(3)}, RMSE ${fit.rmse.toFixed(1)}, n ${fit.n}`);
    const modelFile = join(dir, "model.json");
    await writeFile(modelFile, `${JSON.stringify(model, null, 2)}\n`);
    const dataFile = join(dir, "training_data.csv");
    const header = csvLine(["year", ...cfg.features, "yield", "fitted_yield"]);
    await writeFile(dataFile, `${[header, ...rows.map((r, t) => csvLine([r.year, ...r.x, r.y, fit.fitted[t]]))].join("\n")}\n`);
    await writeJobOutputs(
      s3,
      outputUri,
      [{ name: "model.json", path: modelFile }, { name: "training_data.csv", path: dataFile, rows: rows.length }],
      {
        workflow: "training",
        runId,
        config: configUri,
        codeVersion: env.CODE_VERSION?.trim() || "unknown",
        publishedAt: new Date().toISOString(),
        counts: { observations: fit.n },
        fit: model.fit,
      },
      log,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
