import type { Readable } from "node:stream";
import type { InputLine } from "./records.ts";

const NEWLINE = 0x0a;

/**
 * The lines of a byte stream, each at most `maxBytes` long; a longer line is reported by its length only and never
 * held in memory. Hand-written because node:readline (and the line splitters on npm) buffer a whole line
 * whatever its size, so one endless line costs its length in memory (issue 10: a 512 MiB line crashed ingest).
 * The trailing "\r" of CRLF files is left to the caller.
 */
export async function* boundedLines(input: AsyncIterable<Buffer | string> | Readable, maxBytes: number): AsyncGenerator<InputLine> {
  let parts: Buffer[] = [];
  let length = 0;
  let overflow = false;
  const finish = (): InputLine => {
    const line: InputLine = overflow ? { tooLongBytes: length } : Buffer.concat(parts, length).toString("utf8");
    parts = [];
    length = 0;
    overflow = false;
    return line;
  };
  for await (const chunk of input as AsyncIterable<Buffer | string>) {
    const bytes = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
    let start = 0;
    while (start < bytes.length) {
      const nl = bytes.indexOf(NEWLINE, start);
      const end = nl === -1 ? bytes.length : nl;
      length += end - start;
      if (!overflow && length > maxBytes) {
        overflow = true;
        parts = [];
      }
      if (!overflow && end > start) parts.push(bytes.subarray(start, end));
      if (nl === -1) break;
      yield finish();
      start = nl + 1;
    }
  }
  if (length > 0 || overflow) yield finish();
}
