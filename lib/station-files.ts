/**
 * Which files of a weather source are station files: `<station>.txt`, the station's id in letters, digits, `_` and
 * `-`. Plan counts and sizes only these, and ingest reads only these. Any other name (`<img src=x …>.txt`) is never
 * read, and never echoed into a log, a CSV, a notification or the console: only the count of such files is said.
 */
const STATION_FILE = /^([A-Za-z0-9_-]+)\.txt$/;

/** What a person is told a station file's name must look like. */
export const STATION_FILE_RULE = "<station>.txt, the station in letters, digits, _ and -";

/** `USC00110072.txt` → `USC00110072`; undefined for files that are not station files. */
export function stationOf(fileName: string): string | undefined {
  return STATION_FILE.exec(fileName)?.[1];
}
