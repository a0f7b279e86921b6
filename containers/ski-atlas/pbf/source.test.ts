import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getObjectRange, uploadFile } from "../../../lib/s3-objects.ts";
import { startTestS3, type TestS3 } from "../../../lib/testing/s3rver.ts";
import { FILTER_RULES } from "../extract.ts";
import { andorraPbf, BUCKET } from "../testing/helpers.ts";
import { extractPbf } from "./extract.ts";
import { FileSource, RangeSource } from "./source.ts";
import { writePbf } from "./write.ts";

// The extract step reads RAW_URI in place with ranged GETs: same bytes out as from a local file, every chunk of
// the object fetched a bounded number of times, a bounded number held at once.
let s3: TestS3;
let tmp: string;
let ANDORRA_PBF: string;
const URI = `s3://${BUCKET}/raw/andorra.osm.pbf`;

beforeAll(async () => {
  ANDORRA_PBF = await andorraPbf();
  tmp = await mkdtemp(join(tmpdir(), "pbf-source-test-"));
  s3 = await startTestS3({ buckets: [BUCKET] });
  await uploadFile(s3.s3, ANDORRA_PBF, URI);
});
afterAll(async () => {
  await s3?.stop();
  await rm(tmp, { recursive: true, force: true });
});

describe("RangeSource (ranged GETs on the embedded S3 server)", () => {
  it("reads any span like the file, fetching each chunk once when read in order", async () => {
    const file = await FileSource.open(ANDORRA_PBF);
    const chunk = 64 * 1024;
    // The extract step's reader: each GET's body lands in the slot RangeSource gives it.
    const ranged = new RangeSource((s, e, into) => getObjectRange(s3.s3, URI, s, e, undefined, into), file.size, chunk, 2, 4);
    try {
      for (const [offset, length] of [[0, 10], [chunk - 3, 7], [5 * chunk + 11, 3 * chunk], [file.size - 20, 100], [file.size, 5]]) {
        expect(Buffer.from(await ranged.read(offset, length)).equals(Buffer.from(await file.read(offset, length)))).toBe(true);
      }
      // A copy in a buffer of its own (what goes to a worker by transfer), never a view of a chunk's slot.
      expect((await ranged.read(chunk + 5, 100)).buffer).not.toBeInstanceOf(SharedArrayBuffer);
      const sequential = new RangeSource((s, e, into) => getObjectRange(s3.s3, URI, s, e, undefined, into), file.size, chunk, 2, 4);
      for (let at = 0; at < file.size; at += 1000) await sequential.read(at, 1000);
      expect(sequential.gets).toBe(Math.ceil(file.size / chunk));
      // The slots are reused: as many as are held and fetched ahead, whatever the object's size.
      expect(sequential.slots).toBeLessThanOrEqual(4 + 2 + 2);
    } finally {
      await file.close();
    }
  });

  it("gives the extractor the same bytes as the local file, each chunk fetched a bounded number of times, a few GETs at once", async () => {
    const size = (await readFile(ANDORRA_PBF)).length;
    const chunk = 64 * 1024;
    const held: number[] = []; // GETs under way, seen at each start
    let inFlight = 0;
    const ranged = new RangeSource(async (s, e, into) => {
      held.push(++inFlight);
      try {
        return await getObjectRange(s3.s3, URI, s, e, undefined, into);
      } finally {
        inFlight--;
      }
    }, size, chunk, 3, 6);
    const fromS3 = await extractPbf(ranged, FILTER_RULES);
    const fromFile = await extractPbf(ANDORRA_PBF, FILTER_RULES);
    const [a, b] = [join(tmp, "s3.osm.pbf"), join(tmp, "file.osm.pbf")];
    await writePbf(a, fromS3.nodes, fromS3.ways, fromS3.relations);
    await writePbf(b, fromFile.nodes, fromFile.ways, fromFile.relations);
    expect((await readFile(a)).equals(await readFile(b))).toBe(true);
    // Listing the blocks reads the object once; pass 1 (from the end) and pass 2 (the node blocks) once more each
    // at most, give or take the read-ahead at the turns.
    const chunks = Math.ceil(size / chunk);
    expect(ranged.gets).toBeLessThanOrEqual(3 * chunks);
    expect(Math.max(...held)).toBeLessThanOrEqual(3 + 2);
  });
});
