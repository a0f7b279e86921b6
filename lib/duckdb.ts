import { DuckDBInstance, type DuckDBConnection } from "@duckdb/node-api";

/**
 * One in-memory DuckDB on one thread, for every image that writes Parquet or CSV: the same input gives the same
 * bytes, so reruns publish nothing new.
 */
export class Duck {
  private constructor(
    private readonly instance: DuckDBInstance,
    readonly conn: DuckDBConnection,
  ) {}

  static async open(): Promise<Duck> {
    const instance = await DuckDBInstance.create(":memory:", { threads: "1" });
    const conn = await instance.connect();
    await conn.run("SET preserve_insertion_order = true");
    return new Duck(instance, conn);
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
