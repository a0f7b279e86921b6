/**
 * Parsing and validating station lines: `YYYYMMDD<TAB>max<TAB>min<TAB>precipitation`, temperatures in tenths of
 * °C, precipitation in tenths of mm, -9999 = missing. Pure: no I/O, so every rule is unit tested.
 */
export const MISSING = -9999;

/**
 * The longest line ingest reads, in bytes (a real line is about 30). A longer one is rejected as `line_too_long`
 * without ever being held in memory: ingest's memory stays bounded whatever the input (issue 10: a 512 MiB line
 * used to crash it). 64 KiB leaves room for any padding a station file could plausibly carry.
 */
export const MAX_LINE_BYTES = 64 * 1024;

/**
 * Why a line was not kept. The first four are lines that cannot be read as a record: they alone are
 * `IngestionErrors`. `duplicate` is a readable line whose station and date were already ingested (the first wins).
 */
export const UNREADABLE_REASONS = ["field_count", "bad_date", "not_numeric", "line_too_long"] as const;
export type UnreadableReason = (typeof UNREADABLE_REASONS)[number];
export const REJECT_REASONS = [...UNREADABLE_REASONS, "duplicate"] as const;
export type RejectReason = (typeof REJECT_REASONS)[number];

/**
 * What is suspicious about a record that is kept with its values (`quality_flags` in weather_records.parquet,
 * `QualityWarnings` in CloudWatch): the data say so, and dropping the line would also drop the day's other values
 * (e.g. its precipitation when only the temperatures disagree). The yearly statistics use flagged values as they are.
 */
export const QUALITY_FLAGS = ["max_below_min", "out_of_range"] as const;
export type QualityFlag = (typeof QUALITY_FLAGS)[number];

/**
 * Plausible bounds, in tenths. Temperature: beyond the world records (56.7 °C, -89.2 °C). Precipitation: never
 * negative, at most 2 m in a day (the world record is about 1.8 m). Outside them a value is flagged `out_of_range`.
 */
export const BOUNDS = { tempMin: -900, tempMax: 600, precipMin: 0, precipMax: 20_000 } as const;

export interface DailyRecord {
  /** YYYYMMDD as a number (dedupe key within a station). */
  day: number;
  /** Tenths, or null when missing. */
  maxTenths: number | null;
  minTenths: number | null;
  precipTenths: number | null;
  /** Empty for a clean record. */
  flags: QualityFlag[];
}

export type ParsedLine = { ok: true; record: DailyRecord } | { ok: false; reason: Exclude<UnreadableReason, "line_too_long"> };

const INTEGER = /^-?\d+$/;

function validDate(text: string): number | undefined {
  if (!/^\d{8}$/.test(text)) return undefined;
  const y = Number(text.slice(0, 4));
  const m = Number(text.slice(4, 6));
  const d = Number(text.slice(6, 8));
  if (y < 1800 || y > 2200 || m < 1 || m > 12 || d < 1) return undefined;
  const days = new Date(Date.UTC(y, m, 0)).getUTCDate();
  return d <= days ? Number(text) : undefined;
}

export function parseLine(line: string): ParsedLine {
  const fields = line.split("\t");
  if (fields.length !== 4) return { ok: false, reason: "field_count" };
  const day = validDate(fields[0].trim());
  if (day === undefined) return { ok: false, reason: "bad_date" };
  const values: (number | null)[] = [];
  for (const f of fields.slice(1)) {
    const t = f.trim();
    if (!INTEGER.test(t)) return { ok: false, reason: "not_numeric" };
    const n = Number(t);
    values.push(n === MISSING ? null : n);
  }
  const [maxTenths, minTenths, precipTenths] = values;
  const flags: QualityFlag[] = [];
  if (maxTenths !== null && minTenths !== null && maxTenths < minTenths) flags.push("max_below_min");
  const temp = (v: number | null) => v === null || (v >= BOUNDS.tempMin && v <= BOUNDS.tempMax);
  const precip = precipTenths === null || (precipTenths >= BOUNDS.precipMin && precipTenths <= BOUNDS.precipMax);
  if (!temp(maxTenths) || !temp(minTenths) || !precip) flags.push("out_of_range");
  return { ok: true, record: { day, maxTenths, minTenths, precipTenths, flags } };
}

/** What ingest saw of one station file: enough to say what is wrong with a file that gave no record. */
export interface StationFileAccount {
  name: string;
  bytes: number;
  /** Non-blank lines. */
  lines: number;
  records: number;
  /** A NUL byte or bytes that are not UTF-8 in a line. */
  binary: boolean;
  /** Why its first rejected line was rejected. */
  firstRejected?: RejectReason;
}

/** Why a station file gave no record, in a few words after its name: "is empty (0 bytes)", "is not text (binary)", … */
export function unusableFileProblem(f: StationFileAccount): string {
  if (f.bytes === 0) return "is empty (0 bytes)";
  if (f.binary) return `is not text (binary, ${f.bytes} bytes)`;
  if (f.lines === 0) return `holds only blank lines (${f.bytes} bytes)`;
  if (f.firstRejected === "duplicate") return `repeats days already read from another file (${f.lines} lines)`;
  return `has no line that reads as a record (${f.lines} lines; the first rejected as ${f.firstRejected ?? "unreadable"})`;
}

export { stationOf } from "../../lib/station-files.ts";

export interface IngestCounts {
  files: number;
  stations: number;
  /** Non-empty lines read. */
  lines: number;
  /** Records kept (flagged ones included). */
  records: number;
  /** Lines not kept: unreadable ones plus duplicates. */
  rejected: number;
  rejectedByReason: Record<RejectReason, number>;
  /** Lines that cannot be read as a record (every reason but `duplicate`): the `IngestionErrors` metric. */
  unreadable: number;
  /** Records kept with at least one quality flag: the `QualityWarnings` metric. */
  flagged: number;
  flaggedByReason: Record<QualityFlag, number>;
}

export interface Rejection {
  file: string;
  line: number;
  reason: RejectReason;
  text: string;
}

/** A line as the reader hands it over: its text, or only its length when it is over MAX_LINE_BYTES. */
export type InputLine = string | { tooLongBytes: number };

/**
 * Accumulates one run: validates each line, drops duplicates by station and date (the first one wins), and
 * counts what it kept, flagged and rejected, by reason. Empty lines are not data and are not counted.
 */
export class IngestTally {
  private readonly seen = new Map<string, Set<number>>();
  private files = 0;
  private lines = 0;
  private records = 0;
  private readonly byReason = Object.fromEntries(REJECT_REASONS.map((r) => [r, 0])) as Record<RejectReason, number>;
  private readonly byFlag = Object.fromEntries(QUALITY_FLAGS.map((f) => [f, 0])) as Record<QualityFlag, number>;
  private flagged = 0;
  readonly sample: Rejection[] = [];

  constructor(private readonly sampleLimit = 10_000) {}

  startFile(): void {
    this.files++;
  }

  /** Why the line last given to `accept` was rejected; undefined when it was kept or blank. */
  lastRejected: RejectReason | undefined;

  /** The record to keep, or undefined when the line is rejected (and counted). */
  accept(station: string, file: string, lineNo: number, input: InputLine): DailyRecord | undefined {
    this.lastRejected = undefined;
    if (typeof input !== "string") {
      this.lines++;
      return this.reject(file, lineNo, "line_too_long", `(${input.tooLongBytes} bytes; the limit is ${MAX_LINE_BYTES})`);
    }
    const line = input.endsWith("\r") ? input.slice(0, -1) : input;
    if (line.trim() === "") return undefined;
    this.lines++;
    const parsed = parseLine(line);
    if (!parsed.ok) return this.reject(file, lineNo, parsed.reason, line);
    let days = this.seen.get(station);
    if (!days) this.seen.set(station, (days = new Set()));
    if (days.has(parsed.record.day)) return this.reject(file, lineNo, "duplicate", line);
    days.add(parsed.record.day);
    this.records++;
    if (parsed.record.flags.length) {
      this.flagged++;
      for (const f of parsed.record.flags) this.byFlag[f]++;
    }
    return parsed.record;
  }

  private reject(file: string, line: number, reason: RejectReason, text: string): undefined {
    this.lastRejected = reason;
    this.byReason[reason]++;
    if (this.sample.length < this.sampleLimit) this.sample.push({ file, line, reason, text: text.slice(0, 200) });
    return undefined;
  }

  counts(): IngestCounts {
    const rejected = Object.values(this.byReason).reduce((a, b) => a + b, 0);
    return {
      files: this.files,
      stations: this.seen.size,
      lines: this.lines,
      records: this.records,
      rejected,
      rejectedByReason: { ...this.byReason },
      unreadable: rejected - this.byReason.duplicate,
      flagged: this.flagged,
      flaggedByReason: { ...this.byFlag },
    };
  }
}
