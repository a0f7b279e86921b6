import { copyCsv } from "../../lib/csv.ts";
import { Duck } from "../../lib/duckdb.ts";

/**
 * Writes tables to Parquet (zstd, GeoParquet `geo` metadata for WKB columns) and CSV with DuckDB. Rows are
 * appended in the order given (callers sort them), DuckDB runs on one thread, so the same rows give the same bytes.
 */

export type ColumnType = "VARCHAR" | "BIGINT" | "INTEGER" | "DOUBLE" | "BOOLEAN" | "BLOB";
export type Cell = string | number | boolean | Uint8Array | null;

export interface Column {
  name: string;
  type: ColumnType;
}

export interface Table {
  columns: Column[];
  rows: Cell[][];
}

export interface GeoColumnInfo {
  column: string;
  geometryTypes: string[];
  bbox: [number, number, number, number] | null;
}

export class TableWriter {
  private constructor(private readonly db: Duck) {}

  static async open(): Promise<TableWriter> {
    return new TableWriter(await Duck.open());
  }

  private get conn() {
    return this.db.conn;
  }

  private async load(name: string, table: Table): Promise<void> {
    const cols = table.columns.map((c) => `"${c.name}" ${c.type}`).join(", ");
    await this.conn.run(`CREATE OR REPLACE TABLE "${name}" (${cols})`);
    const appender = await this.conn.createAppender(name);
    for (const row of table.rows) {
      table.columns.forEach((col, i) => {
        const v = row[i];
        if (v === null || v === undefined) return appender.appendNull();
        switch (col.type) {
          case "VARCHAR": return appender.appendVarchar(String(v));
          case "BIGINT": return appender.appendBigInt(BigInt(v as number));
          case "INTEGER": return appender.appendInteger(v as number);
          case "DOUBLE": return appender.appendDouble(v as number);
          case "BOOLEAN": return appender.appendBoolean(v as boolean);
          case "BLOB": return appender.appendBlob(v as Uint8Array);
        }
      });
      appender.endRow();
    }
    appender.flushSync();
    appender.closeSync();
  }

  async writeParquet(path: string, table: Table, geo?: GeoColumnInfo): Promise<void> {
    await this.load("t", table);
    let options = "FORMAT parquet, COMPRESSION zstd";
    if (geo) {
      const meta = {
        version: "1.1.0",
        primary_column: geo.column,
        columns: {
          [geo.column]: {
            encoding: "WKB",
            geometry_types: geo.geometryTypes,
            ...(geo.bbox ? { bbox: geo.bbox } : {}),
          },
        },
      };
      options += `, KV_METADATA {geo: '${JSON.stringify(meta).replaceAll("'", "''")}'}`;
    }
    await this.conn.run(`COPY t TO '${path.replaceAll("'", "''")}' (${options})`);
  }

  /** Names and tags come from OSM, which anyone can edit: text columns are written as inert text (lib/csv.ts). */
  async writeCsv(path: string, table: Table): Promise<void> {
    await this.load("t", table);
    await copyCsv(this.db, "SELECT * FROM t", path);
  }

  /** Runs a query and returns rows as plain JS values (for tests). */
  query(sql: string): Promise<Record<string, unknown>[]> {
    return this.db.query(sql);
  }

  close(): void {
    this.db.close();
  }
}
