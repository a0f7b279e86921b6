import type { Duck } from "./duckdb.ts";

/**
 * Every CSV the project publishes (ski-atlas's ski_areas_analyzed.csv and changes.csv, weather's weather_stats.csv
 * and rejected_lines.csv, the grader's grades.csv, training's training_data.csv) is written through this module:
 * RFC 4180 fields, and text cells that a spreadsheet cannot run.
 *
 * Text in these files comes from others (OSM names anyone can edit, station file names and lines, submission ids).
 * A cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage return is run as a formula by Excel, LibreOffice
 * and Google Sheets (`=HYPERLINK("http://…?"&A1)` sends the sheet's data away). The standard treatment (OWASP,
 * "CSV Injection") is to put a single quote in front: the cell is then shown as text and never evaluated. A text
 * cell that starts with a quote already gets one more, so the treatment can always be undone: **a text cell that
 * starts with `'` had one added; drop that first character to get the original text back** (docs/ARCHITECTURE.md).
 * Only text is treated: numbers (a negative number included) are written as numbers.
 */

/** OWASP's list of the characters that make a spreadsheet read a cell as a formula. */
export const FORMULA_STARTS: readonly string[] = ["=", "+", "-", "@", "\t", "\r"];

/** What is put in front of such a text cell (and of one already starting with it, so it can be taken off again). */
export const TEXT_MARK = "'";

const MARKED_STARTS = [...FORMULA_STARTS, TEXT_MARK];

/** A text cell as written: with TEXT_MARK in front when it starts with a formula character or with the mark itself. */
export function inertText(text: string): string {
  return MARKED_STARTS.some((c) => text.startsWith(c)) ? TEXT_MARK + text : text;
}

/** The original text of a cell `inertText` wrote (for readers and tests). */
export function originalText(cell: string): string {
  return cell.startsWith(TEXT_MARK) ? cell.slice(TEXT_MARK.length) : cell;
}

/** A CSV field (RFC 4180) as it is: for numbers and other values that are not someone's text. */
export function csvField(value: unknown): string {
  if (value === null || value === undefined) return "";
  const s = String(value);
  return /[",\n\r]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

/** A CSV field holding text: `inertText`, then quoted as any field. */
export function csvText(value: unknown): string {
  if (value === null || value === undefined) return "";
  return csvField(inertText(String(value)));
}

/** One CSV line: strings are text (`csvText`), numbers and booleans are written as they are. */
export function csvLine(cells: readonly unknown[]): string {
  return cells.map((c) => (typeof c === "string" ? csvText(c) : csvField(c))).join(",");
}

/**
 * `inertText` as a DuckDB expression over the text expression `sql`, for files DuckDB writes itself (its number
 * formatting is part of the published bytes, so those files are not rewritten here). Built from the same lists.
 */
export function inertTextSql(sql: string): string {
  const starts = MARKED_STARTS.map((c) => `chr(${c.codePointAt(0)})`).join(", ");
  return `CASE WHEN left(${sql}, 1) IN (${starts}) THEN chr(${TEXT_MARK.codePointAt(0)}) || ${sql} ELSE ${sql} END`;
}

/**
 * Writes the rows of `query` to `path` as CSV with a header, through DuckDB's own CSV writer, every VARCHAR column
 * passed through `inertTextSql` (numeric columns as DuckDB writes them). `orderBy` names the columns the rows are
 * sorted by, on their original values; without it, the rows keep the query's order (a table's insertion order).
 */
export async function copyCsv(db: Pick<Duck, "run" | "query">, query: string, path: string, orderBy: string[] = []): Promise<void> {
  const columns = (await db.query(`DESCRIBE ${query}`)) as { column_name: string; column_type: string }[];
  const ident = (name: string) => `"${name.replaceAll('"', '""')}"`;
  const select = columns.map(({ column_name: name, column_type: type }) => (type === "VARCHAR" ? `${inertTextSql(`src.${ident(name)}`)} AS ${ident(name)}` : `src.${ident(name)}`));
  const order = orderBy.length ? ` ORDER BY ${orderBy.map((c) => `src.${ident(c)}`).join(", ")}` : "";
  await db.run(`COPY (SELECT ${select.join(", ")} FROM (${query}) AS src${order}) TO '${path.replaceAll("'", "''")}' (FORMAT csv, HEADER true)`);
}
