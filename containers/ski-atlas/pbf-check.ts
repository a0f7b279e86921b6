import { open } from "node:fs/promises";
import { EXIT, StepError } from "../../lib/exit-codes.ts";

/**
 * Cheap sanity check before handing a file to osmium: an OSM PBF starts with a 4-byte big-endian BlobHeader
 * length followed by a BlobHeader whose type is "OSMHeader". Catches empty files and HTML error pages early.
 */
export async function assertLooksLikePbf(path: string, what: string, fix: string): Promise<void> {
  const fh = await open(path, "r");
  try {
    const { size } = await fh.stat();
    const buf = Buffer.alloc(Math.min(PBF_START_BYTES, size));
    await fh.read(buf, 0, buf.length, 0);
    assertPbfStart(buf, size, what, fix);
  } finally {
    await fh.close();
  }
}

/** How many bytes of a file assertPbfStart looks at. */
export const PBF_START_BYTES = 64;

/** The same check on the first PBF_START_BYTES bytes (`start`) of a file of `size` bytes read elsewhere (S3). */
export function assertPbfStart(start: Uint8Array, size: number, what: string, fix: string): void {
  if (size === 0) throw new StepError(`${what} is empty (0 bytes), not a valid OSM PBF: ${fix}`, EXIT.DATA_ERROR);
  const buf = Buffer.from(start.buffer, start.byteOffset, start.byteLength);
  const headerLength = buf.length >= 4 ? buf.readUInt32BE(0) : 0;
  if (headerLength === 0 || headerLength > 64 * 1024 || !buf.includes("OSMHeader")) {
    throw new StepError(`${what} is not a valid OSM PBF (it does not start with an OSMHeader block): ${fix}`, EXIT.DATA_ERROR);
  }
}
