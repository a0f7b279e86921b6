import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { S3Client } from "@aws-sdk/client-s3";
import { contentTypeOf } from "../../lib/manifest.ts";
import type { Env, Log } from "../../lib/run-step.ts";
import { uploadFile } from "../../lib/s3-objects.ts";
import { downloadInput } from "../../lib/uri-io.ts";
import { FILES, runConfig, type WeatherRun } from "./config.ts";
import { copyCsv } from "../../lib/csv.ts";
import { Duck, sqlString } from "../../lib/duckdb.ts";

/**
 * Step 2: `weather_records.parquet` → per station and year: average max and min temperature (°C) and total
 * precipitation (cm), as `weather_stats.parquet` and `weather_stats.csv`. Only missing values (-9999, NULL in the
 * records) are ignored, never read as zero; flagged records count with their values (`flagged_days` says how many
 * there were). A statistic with no value at all in that station-year is NULL. Temperatures are rounded to 4
 * decimals; precipitation is summed in whole tenths of mm, so its total in cm is exact. The `*_days` columns say how
 * many days each statistic rests on.
 */
export const STATS_SQL = (records: string) => `
  SELECT station,
         year(date)::INTEGER AS year,
         round(avg(max_temp_c), 4) AS avg_max_temp_c,
         round(avg(min_temp_c), 4) AS avg_min_temp_c,
         round(sum(precipitation_mm) * 10) / 100 AS total_precipitation_cm,
         count(max_temp_c)::INTEGER AS max_temp_days,
         count(min_temp_c)::INTEGER AS min_temp_days,
         count(precipitation_mm)::INTEGER AS precipitation_days,
         count(*) FILTER (WHERE len(quality_flags) > 0)::INTEGER AS flagged_days
  FROM read_parquet(${sqlString(records)})
  GROUP BY station, year(date)
  ORDER BY station, year`;

export async function analyze(env: Env, s3: S3Client, log: Log): Promise<number> {
  return runAnalyze(runConfig(env, "analyze"), s3, log);
}

export async function runAnalyze(cfg: WeatherRun, s3: S3Client, log: Log): Promise<number> {
  const dir = await mkdtemp(join(tmpdir(), "weather-analyze-"));
  try {
    const records = join(dir, FILES.records);
    await downloadInput(s3, cfg.stagingUri + FILES.records, records, false, "the ingested records (run the ingest step first):");
    const db = await Duck.open();
    let rows: number;
    try {
      await db.run(`CREATE TABLE stats AS ${STATS_SQL(records)}`);
      rows = Number((await db.query("SELECT count(*)::BIGINT AS n FROM stats"))[0].n);
      await db.run(`COPY stats TO ${sqlString(join(dir, FILES.stats))} (FORMAT parquet, COMPRESSION zstd)`);
      // The station ids are file names from the source: written as inert text (lib/csv.ts).
      await copyCsv(db, "SELECT * FROM stats", join(dir, FILES.statsCsv));
    } finally {
      db.close();
    }
    for (const name of [FILES.stats, FILES.statsCsv]) await uploadFile(s3, join(dir, name), cfg.stagingUri + name, { contentType: contentTypeOf(name) });
    log(`${rows} station-years → ${FILES.stats}, ${FILES.statsCsv}`);
    return rows;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
