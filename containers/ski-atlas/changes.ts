import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { S3Client } from "@aws-sdk/client-s3";
import { sqlString } from "../../lib/duckdb.ts";
import { contentTypeOf } from "../../lib/manifest.ts";
import { findPreviousPublishedMonth } from "../../lib/previous-month.ts";
import { InvalidManifestError, readFromCommitted } from "../../lib/published.ts";
import { EXIT, StepError } from "../../lib/exit-codes.ts";
import { downloadToFile, isNotFound, uploadFile } from "../../lib/s3-objects.ts";
import { parseS3Uri } from "../../lib/s3.ts";
import { OUTPUT_FILES } from "./outputs.ts";
import { compareOsmIds, round } from "./ski-model.ts";
import { TableWriter, type Cell, type Column, type Table } from "./tables.ts";

/**
 * `changes.csv`: what changed since the region's previous published month (README "The changes file"). Computed by
 * the publish step from the staged tables and the previous month's published ones, staged beside them, and so
 * published (and listed in the manifest) atomically with the month.
 */
export const CHANGES_FILE = "changes.csv";

export const CHANGES_COLUMNS: Column[] = [
  { name: "object", type: "VARCHAR" }, // ski_area | lift | piste
  { name: "id", type: "VARCHAR" },
  { name: "name", type: "VARCHAR" },
  { name: "ski_area_id", type: "VARCHAR" },
  { name: "change", type: "VARCHAR" }, // added | removed | changed | unchanged
  { name: "previous_period", type: "VARCHAR" },
  { name: "length_km", type: "DOUBLE" },
  { name: "lift_count_change", type: "INTEGER" },
  { name: "lift_length_km_change", type: "DOUBLE" },
  { name: "piste_count_change", type: "INTEGER" },
  { name: "downhill_km_change", type: "DOUBLE" },
  { name: "nordic_km_change", type: "DOUBLE" },
];

export type Row = Record<string, unknown>;

/** One month's tables, as read back from its Parquet files. */
export interface MonthTables {
  skiAreas: Row[]; // ski_areas_analyzed
  lifts: Row[];
  pistes: Row[];
}

const OBJECTS = ["ski_area", "lift", "piste"] as const;
const RESORT_FIGURES = ["lift_count", "lift_length_km", "piste_count", "downhill_km", "nordic_km"] as const;

/** Lifts and pistes that count: a month published before the status column existed counts them all. */
const active = (rows: Row[]) => rows.filter((r) => r.status === undefined || r.status === null || r.status === "operating");
const str = (v: unknown) => (v === null || v === undefined ? null : String(v));
const num = (v: unknown) => (v === null || v === undefined ? 0 : Number(v));

/**
 * The rows of changes.csv. Resorts: every resort of either month (added, removed, changed when one of its figures
 * moved, else unchanged) with the change of each figure. Lifts and pistes: only those added or removed (an object
 * that became disused is removed: it left the statistics).
 */
export function computeChanges(previous: MonthTables, current: MonthTables, previousPeriod: string): Cell[][] {
  const rows: { object: (typeof OBJECTS)[number]; id: string; cells: Cell[] }[] = [];
  const byId = (list: Row[]) => new Map(list.map((r) => [String(r.id), r]));

  const before = byId(previous.skiAreas), after = byId(current.skiAreas);
  for (const id of new Set([...before.keys(), ...after.keys()])) {
    const b = before.get(id), a = after.get(id);
    const delta = RESORT_FIGURES.map((f) => num(a?.[f]) - num(b?.[f]));
    const change = !b ? "added" : !a ? "removed" : delta.some((d) => Math.abs(d) > 1e-9) ? "changed" : "unchanged";
    const [lifts, liftKm, pistes, downhill, nordic] = delta;
    rows.push({
      object: "ski_area", id,
      cells: ["ski_area", id, str((a ?? b)!.name), null, change, previousPeriod, null, lifts, round(liftKm, 3), pistes, round(downhill, 3), round(nordic, 3)],
    });
  }

  const objects = (object: "lift" | "piste", prev: Row[], cur: Row[]) => {
    const b = byId(active(prev)), a = byId(active(cur));
    for (const [id, r] of a) if (!b.has(id)) rows.push({ object, id, cells: objectRow(object, r, "added", previousPeriod) });
    for (const [id, r] of b) if (!a.has(id)) rows.push({ object, id, cells: objectRow(object, r, "removed", previousPeriod) });
  };
  objects("lift", previous.lifts, current.lifts);
  objects("piste", previous.pistes, current.pistes);

  rows.sort((x, y) => OBJECTS.indexOf(x.object) - OBJECTS.indexOf(y.object) || compareOsmIds(x.id, y.id));
  return rows.map((r) => r.cells);
}

function objectRow(object: "lift" | "piste", r: Row, change: "added" | "removed", previousPeriod: string): Cell[] {
  const length = r.length_km === null || r.length_km === undefined ? null : round(Number(r.length_km), 6);
  return [object, String(r.id), str(r.name), str(r.ski_area_id), change, previousPeriod, length, null, null, null, null, null];
}

async function readMonth(db: TableWriter, dir: string): Promise<MonthTables> {
  const read = (name: string) => db.query(`SELECT * EXCLUDE (geometry) FROM read_parquet(${sqlString(join(dir, name))})`);
  return {
    skiAreas: await db.query(`SELECT * FROM read_parquet(${sqlString(join(dir, OUTPUT_FILES.analyzedParquet))})`),
    lifts: await read(OUTPUT_FILES.lifts),
    pistes: await read(OUTPUT_FILES.pistes),
  };
}

const INPUTS = [OUTPUT_FILES.analyzedParquet, OUTPUT_FILES.lifts, OUTPUT_FILES.pistes];

/**
 * Writes `changes.csv` into staging: against the latest month of the region published before `period` (found with
 * lib/previous-month.ts), or with its header only when the region has none. Returns that month, or null.
 */
export async function stageChanges(
  s3: S3Client,
  o: { stagingUri: string; publishUri: string; region: string; period: string },
  log: (m: string) => void,
): Promise<string | null> {
  const { bucket } = parseS3Uri(o.publishUri);
  const previous = await findPreviousPublishedMonth(s3, bucket, o.region, o.period);
  const dir = await mkdtemp(join(tmpdir(), "ski-atlas-changes-"));
  const db = await TableWriter.open();
  try {
    const table: Table = { columns: CHANGES_COLUMNS, rows: [] };
    if (previous) {
      const [cur, prev] = [join(dir, "current"), join(dir, "previous")];
      await Promise.all([mkdir(cur), mkdir(prev)]);
      for (const n of INPUTS) await downloadToFile(s3, o.stagingUri + n, join(cur, n));
      // The previous month as its readers see it: its manifest, then the files of the version it names.
      const monthUri = `s3://${bucket}/${o.region}/${previous}/`;
      const again = `check it with npm run verify -- ${monthUri}, then republish ${previous}`;
      let reading = monthUri;
      const read = await readFromCommitted(s3, monthUri, async (v) => {
        for (const n of INPUTS) {
          if (!v.manifest.files.some((f) => f.name === n)) throw new StepError(`${monthUri} does not list ${n} in its manifest: ${again}`, EXIT.DATA_ERROR);
          reading = v.uri(n);
          await downloadToFile(s3, reading, join(prev, n));
        }
        return true;
      }).catch((err: unknown) => {
        if (err instanceof InvalidManifestError) throw new StepError(`${err.message}: ${again}`, EXIT.DATA_ERROR);
        if (!isNotFound(err)) throw err;
        throw new StepError(`${reading} is missing although ${previous}'s manifest lists it: ${again}`, EXIT.DATA_ERROR);
      });
      if (!read) throw new StepError(`${monthUri} lost its manifest while this publish read it: run again`, EXIT.TEMP_FAIL);
      table.rows = computeChanges(await readMonth(db, prev), await readMonth(db, cur), previous);
    }
    const out = join(dir, CHANGES_FILE);
    await db.writeCsv(out, table);
    await uploadFile(s3, out, o.stagingUri + CHANGES_FILE, { contentType: contentTypeOf(CHANGES_FILE) });
    log(previous ? `${CHANGES_FILE}: ${table.rows.length} change row(s) since ${previous}` : `${CHANGES_FILE}: ${o.region} has no earlier published month (header only)`);
    return previous;
  } finally {
    db.close();
    await rm(dir, { recursive: true, force: true });
  }
}
