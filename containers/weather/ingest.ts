import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { once } from "node:events";
import type { S3Client } from "@aws-sdk/client-s3";
import { EXIT, StepError } from "../../lib/exit-codes.ts";
import type { Env, Log } from "../../lib/run-step.ts";
import { fileSink, uploadFile } from "../../lib/s3-objects.ts";
import { contentTypeOf } from "../../lib/manifest.ts";
import { listInputs, openInput } from "../../lib/uri-io.ts";
import { FILES, ingestConfig, type IngestConfig } from "./config.ts";
import { copyCsv } from "../../lib/csv.ts";
import { Duck, sqlString } from "../../lib/duckdb.ts";
import { boundedLines } from "./lines.ts";
import { STATION_FILE_RULE } from "../../lib/station-files.ts";
import { IngestTally, MAX_LINE_BYTES, stationOf, unusableFileProblem, type IngestCounts, type StationFileAccount } from "./records.ts";

/**
 * Step 1: every `<station>.txt` under SOURCE_URI → `weather_records.parquet` (station, date, max_temp_c,
 * min_temp_c, precipitation_mm, quality_flags; missing values are NULL), `rejected_lines.csv` (a sample of the
 * lines not kept, with their reason) and `_ingest.json` (the counts), all under STAGING_URI. Streams line by line
 * (each at most MAX_LINE_BYTES): memory grows only with the dedupe keys (one small integer per station-day), not
 * with the file sizes or the length of a line.
 */
export async function ingest(env: Env, s3: S3Client, log: Log): Promise<IngestCounts> {
  return runIngest(ingestConfig(env), s3, log);
}

export async function runIngest(cfg: IngestConfig, s3: S3Client, log: Log): Promise<IngestCounts> {
  const inputs = await listInputs(s3, cfg.sourceUri, cfg.local, "SOURCE_URI");
  const stations = inputs.flatMap((i) => {
    const station = stationOf(i.name);
    return station ? [{ ...i, station }] : [];
  });
  const skipped = inputs.length - stations.length;
  // Such names are not said: a name is whatever its sender chose (`<img src=x onerror=…>.txt`).
  if (skipped) log(`skipping ${skipped} file(s) whose names are not ${STATION_FILE_RULE}`);
  if (stations.length === 0) throw new StepError(`SOURCE_URI ${cfg.sourceUri} holds no station files (${STATION_FILE_RULE})`, EXIT.NO_INPUT);
  log(`${stations.length} station files, ${(stations.reduce((s, i) => s + i.size, 0) / 2 ** 20).toFixed(1)} MiB, from ${cfg.sourceUri}`);

  const dir = await mkdtemp(join(tmpdir(), "weather-ingest-"));
  try {
    const tsv = join(dir, "records.tsv");
    const out = fileSink(tsv);
    const tally = new IngestTally(cfg.rejectSample);
    const value = (tenths: number | null) => (tenths === null ? "" : String(tenths / 10));
    let buffer = "";
    const unusable: StationFileAccount[] = [];
    for (const input of stations) {
      tally.startFile();
      const lines = boundedLines(await openInput(s3, input.uri, cfg.local, "SOURCE_URI"), MAX_LINE_BYTES);
      const account: StationFileAccount = { name: input.name, bytes: input.size, lines: 0, records: 0, binary: false };
      let lineNo = 0;
      for await (const line of lines) {
        lineNo++;
        if (typeof line === "string" && line.trim() !== "") account.lines++;
        if (typeof line === "string" && BINARY.test(line)) account.binary = true;
        const r = tally.accept(input.station, input.name, lineNo, line);
        if (!r) {
          account.firstRejected ??= tally.lastRejected;
          continue;
        }
        account.records++;
        const d = String(r.day);
        buffer += `${input.station}\t${d.slice(0, 4)}-${d.slice(4, 6)}-${d.slice(6, 8)}\t${value(r.maxTenths)}\t${value(r.minTenths)}\t${value(r.precipTenths)}\t${r.flags.join(",")}\n`;
        if (buffer.length > 1 << 20) {
          if (!out.write(buffer)) await once(out, "drain");
          buffer = "";
        }
      }
      if (account.records === 0) {
        unusable.push(account);
        log(`${input.name}: no record read: ${unusableFileProblem(account)}`);
      }
    }
    out.end(buffer);
    await once(out, "finish");
    const counts = tally.counts();
    // Nothing to write is the input's fault: say which files and what is wrong with them, not what the table reader
    // makes of an empty table (DuckDB's "Error when sniffing file …").
    if (counts.records === 0) {
      const shown = unusable.slice(0, SHOWN_FILES).map((f) => `${f.name} ${unusableFileProblem(f)}`).join("; ");
      const more = unusable.length > SHOWN_FILES ? `; and ${unusable.length - SHOWN_FILES} more files` : "";
      throw new StepError(`SOURCE_URI ${cfg.sourceUri} holds no weather record: ${shown}${more} (a station file holds lines YYYYMMDD<TAB>max<TAB>min<TAB>precipitation)`, EXIT.DATA_ERROR);
    }
    log(
      `${counts.lines} lines: ${counts.records} records from ${counts.stations} stations, ${counts.flagged} flagged ${JSON.stringify(nonZero(counts.flaggedByReason))}, ` +
        `${counts.rejected} rejected ${JSON.stringify(nonZero(counts.rejectedByReason))}`,
    );

    const records = join(dir, FILES.records);
    const rejected = join(dir, FILES.rejected);
    const db = await Duck.open();
    try {
      await db.run(
        `COPY (SELECT station, date, max_temp_c, min_temp_c, precipitation_mm,
                CASE WHEN flags IS NULL THEN []::VARCHAR[] ELSE string_split(flags, ',') END AS quality_flags
           FROM read_csv(${sqlString(tsv)}, delim = '\t', header = false, quote = '', escape = '', nullstr = '',
           columns = {'station': 'VARCHAR', 'date': 'DATE', 'max_temp_c': 'DOUBLE', 'min_temp_c': 'DOUBLE', 'precipitation_mm': 'DOUBLE', 'flags': 'VARCHAR'})
         ORDER BY station, date) TO ${sqlString(records)} (FORMAT parquet, COMPRESSION zstd)`,
      );
      await db.run("CREATE TABLE rejected (file VARCHAR, line INTEGER, reason VARCHAR, text VARCHAR)");
      const appender = await db.conn.createAppender("rejected");
      for (const r of tally.sample) {
        appender.appendVarchar(r.file);
        appender.appendInteger(r.line);
        appender.appendVarchar(r.reason);
        appender.appendVarchar(r.text);
        appender.endRow();
      }
      appender.flushSync();
      appender.closeSync();
      // File names and the rejected lines themselves are anyone's text: written as inert text (lib/csv.ts).
      await copyCsv(db, "SELECT * FROM rejected", rejected, ["file", "line"]);
    } finally {
      db.close();
    }
    const summary = join(dir, FILES.ingestSummary);
    await writeFile(summary, `${JSON.stringify({ ...counts, sourceUri: cfg.sourceUri, sourceBytes: stations.reduce((s, i) => s + i.size, 0) }, null, 2)}\n`);
    for (const [name, path] of [[FILES.records, records], [FILES.rejected, rejected], [FILES.ingestSummary, summary]] as const) {
      await uploadFile(s3, path, cfg.stagingUri + name, { contentType: contentTypeOf(name) });
    }
    log(`wrote ${FILES.records}, ${FILES.rejected} and ${FILES.ingestSummary} to ${cfg.stagingUri}`);
    return counts;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** How many unusable files the error line names. */
const SHOWN_FILES = 3;
/** A NUL or a replacement character (bytes that are not UTF-8): the file is not text. */
const BINARY = /[\u0000\uFFFD]/;

function nonZero(byReason: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(byReason).filter(([, n]) => n > 0));
}
