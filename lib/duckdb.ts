import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DuckDBInstance, type DuckDBConnection } from "@duckdb/node-api";
import { TASK_ENV } from "./task-env.ts";

/**
 * One in-memory DuckDB on one thread, for every image that writes Parquet or CSV: the same input gives the same
 * bytes, so reruns publish nothing new.
 *
 * It spills to a folder of its own under the OS temp dir (the task's work dir: TMPDIR), never to DuckDB's default
 * `.tmp` in the working directory, which the image's non-root user cannot create. Its memory limit and how much
 * it may spill come from the task's tier (TASK_ENV); unset (tests, tools), DuckDB's defaults apply.
 */
export class Duck {
  private constructor(
    private readonly instance: DuckDBInstance,
    readonly conn: DuckDBConnection,
    readonly spillDir: string,
  ) {}

  static async open(env: NodeJS.ProcessEnv = process.env): Promise<Duck> {
    const spillDir = mkdtempSync(join(tmpdir(), "duckdb-spill-"));
    const options: Record<string, string> = { threads: "1", temp_directory: spillDir };
    const memoryLimit = env[TASK_ENV.duckdbMemoryLimit];
    const maxTemp = env[TASK_ENV.duckdbMaxTempDirectorySize];
    if (memoryLimit) options.memory_limit = memoryLimit;
    if (maxTemp) options.max_temp_directory_size = maxTemp;
    try {
      const instance = await DuckDBInstance.create(":memory:", options);
      const conn = await instance.connect();
      await conn.run("SET preserve_insertion_order = true");
      return new Duck(instance, conn, spillDir);
    } catch (err) {
      rmSync(spillDir, { recursive: true, force: true });
      throw err;
    }
  }

  run(sql: string): Promise<unknown> {
    return this.conn.run(sql);
  }

  async query(sql: string): Promise<Record<string, unknown>[]> {
    const reader = await this.conn.runAndReadAll(sql);
    return reader.getRowObjectsJS() as Record<string, unknown>[];
  }

  close(): void {
    this.conn.closeSync();
    this.instance.closeSync();
    rmSync(this.spillDir, { recursive: true, force: true });
  }
}

export function sqlString(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}

/** Data rows of a Parquet file (from its footer) or a CSV file with a header. */
export async function tableRows(path: string): Promise<number | undefined> {
  const reader = path.endsWith(".parquet") ? "read_parquet" : path.endsWith(".csv") ? "read_csv" : undefined;
  if (!reader) return undefined;
  const db = await Duck.open();
  try {
    const extra = reader === "read_csv" ? ", header = true, all_varchar = true" : "";
    const rows = await db.query(`SELECT count(*)::BIGINT AS n FROM ${reader}(${sqlString(path)}${extra})`);
    return Number(rows[0].n);
  } finally {
    db.close();
  }
}
