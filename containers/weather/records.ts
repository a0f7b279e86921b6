/**
 * Parsing and validating station lines: `YYYYMMDD<TAB>max<TAB>min<TAB>precipitation`, temperatures in tenths of
 * °C, precipitation in tenths of mm, -9999 = missing. Pure: no I/O, so every rule is unit tested.
 */
export const MISSING = -9999;

/** Why a line was rejected. `duplicate` is a valid line whose station and date were already ingested. */
export const REJECT_REASONS = [
  "field_count",
  "bad_date",
  "not_numeric",
  "out_of_range",
  "max_below_min",
  "duplicate",
] as const;
export type RejectReason = (typeof REJECT_REASONS)[number];

/**
 * Plausible bounds, in tenths. Temperature: beyond the world records (56.7 °C, -89.2 °C). Precipitation: never
 * negative, at most 2 m in a day (the world record is about 1.8 m).
 */
export const BOUNDS = { tempMin: -900, tempMax: 600, precipMin: 0, precipMax: 20_000 } as const;

export interface DailyRecord {
  /** YYYYMMDD as a number (dedupe key within a station). */
  day: number;
  /** Tenths, or null when missing. */
  maxTenths: number | null;
  minTenths: number | null;
  precipTenths: number | null;
}

export type ParsedLine = { ok: true; record: DailyRecord } | { ok: false; reason: Exclude<RejectReason, "duplicate"> };

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
  const temp = (v: number | null) => v === null || (v >= BOUNDS.tempMin && v <= BOUNDS.tempMax);
  if (!temp(maxTenths) || !temp(minTenths)) return { ok: false, reason: "out_of_range" };
  if (precipTenths !== null && (precipTenths < BOUNDS.precipMin || precipTenths > BOUNDS.precipMax)) return { ok: false, reason: "out_of_range" };
  if (maxTenths !== null && minTenths !== null && maxTenths < minTenths) return { ok: false, reason: "max_below_min" };
  return { ok: true, record: { day, maxTenths, minTenths, precipTenths } };
}

/** `USC00110072.txt` → `USC00110072`; undefined for files that are not station files. */
export function stationOf(fileName: string): string | undefined {
  const m = /^([A-Za-z0-9_-]+)\.txt$/.exec(fileName);
  return m?.[1];
}

export interface IngestCounts {
  files: number;
  stations: number;
  lines: number;
  records: number;
  rejected: number;
  rejectedByReason: Record<RejectReason, number>;
}

export interface Rejection {
  file: string;
  line: number;
  reason: RejectReason;
  text: string;
}

/**
 * Accumulates one run: validates each line, drops duplicates by station and date (the first one wins), and
 * counts what it kept and what it rejected, by reason. Empty lines are not data and are not counted.
 */
export class IngestTally {
  private readonly seen = new Map<string, Set<number>>();
  private files = 0;
  private lines = 0;
  private records = 0;
  private readonly byReason = Object.fromEntries(REJECT_REASONS.map((r) => [r, 0])) as Record<RejectReason, number>;
  readonly sample: Rejection[] = [];

  constructor(private readonly sampleLimit = 10_000) {}

  startFile(): void {
    this.files++;
  }

  /** The record to keep, or undefined when the line is rejected (and counted). */
  accept(station: string, file: string, lineNo: number, line: string): DailyRecord | undefined {
    if (line.trim() === "") return undefined;
    this.lines++;
    const parsed = parseLine(line.endsWith("\r") ? line.slice(0, -1) : line);
    let reason: RejectReason;
    if (parsed.ok) {
      let days = this.seen.get(station);
      if (!days) this.seen.set(station, (days = new Set()));
      if (!days.has(parsed.record.day)) {
        days.add(parsed.record.day);
        this.records++;
        return parsed.record;
      }
      reason = "duplicate";
    } else {
      reason = parsed.reason;
    }
    this.byReason[reason]++;
    if (this.sample.length < this.sampleLimit) this.sample.push({ file, line: lineNo, reason, text: line.slice(0, 200) });
    return undefined;
  }

  counts(): IngestCounts {
    const rejected = Object.values(this.byReason).reduce((a, b) => a + b, 0);
    return { files: this.files, stations: this.seen.size, lines: this.lines, records: this.records, rejected, rejectedByReason: { ...this.byReason } };
  }
}
