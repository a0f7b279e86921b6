import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { GetObjectCommand, HeadObjectCommand, PutObjectCommand, S3Client, S3ServiceException } from "@aws-sdk/client-s3";
import { sdkStreamMixin } from "@smithy/util-stream";
import { mockClient } from "aws-sdk-client-mock";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { StepError } from "../../lib/exit-codes.ts";
import type { ExtractConfig } from "./config.ts";
import { FILTER_RULES, runExtract } from "./extract.ts";
import { extractPbf } from "./pbf/extract.ts";
import { writePbf } from "./pbf/write.ts";
import { andorraPbf } from "./testing/helpers.ts";

// The extract step reads RAW_URI in place: ranged GETs pinned with If-Match to the ETag its HEAD gave. S3 is
// mocked here to check what the step asks for and how it takes S3's 412 (the object replaced mid-read); the
// embedded S3 server runs the same path end to end in bad-input.test.ts, e2e.test.ts and pbf/source.test.ts.
const ETAG = '"v1"';
const cfg: ExtractConfig = {
  step: "extract", region: "andorra", period: "2021-06", runId: "r", local: true,
  rawUri: "s3://bucket/raw/andorra.osm.pbf", extractUri: "s3://bucket/staging/extract.osm.pbf",
};
let raw: Buffer;
let tmp: string;
const s3 = new S3Client({ region: "us-east-1", credentials: { accessKeyId: "x", secretAccessKey: "x" } });
const mock = mockClient(s3);
let ANDORRA_PBF: string;
const ranges: { range?: string; ifMatch?: string }[] = [];

function rangeBody(range: string): ReturnType<typeof sdkStreamMixin> {
  const [, a, b] = /^bytes=(\d+)-(\d+)$/.exec(range)!;
  return sdkStreamMixin(Readable.from([raw.subarray(Number(a), Number(b) + 1)]));
}

beforeAll(async () => {
  ANDORRA_PBF = await andorraPbf();
  raw = await readFile(ANDORRA_PBF);
  tmp = await mkdtemp(join(tmpdir(), "extract-step-test-"));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});
beforeEach(() => {
  mock.reset();
  ranges.length = 0;
  mock.on(HeadObjectCommand).resolves({ ContentLength: raw.length, ETag: ETAG });
});

describe("the extract step reads RAW_URI with ranged GETs", () => {
  it("asks only for ranges pinned to the HEAD's ETag, and uploads the same extract as from the local file", async () => {
    mock.on(GetObjectCommand).callsFake((input: { Range?: string; IfMatch?: string }) => {
      ranges.push({ range: input.Range, ifMatch: input.IfMatch });
      return { Body: rangeBody(input.Range!) };
    });
    let uploaded: Buffer | undefined;
    mock.on(PutObjectCommand).callsFake(async (input: { Body: Readable | Uint8Array }) => {
      if (input.Body instanceof Uint8Array) uploaded = Buffer.from(input.Body);
      else {
        const parts: Buffer[] = [];
        for await (const chunk of input.Body) parts.push(chunk as Buffer);
        uploaded = Buffer.concat(parts);
      }
      return {};
    });
    await runExtract(cfg, s3, () => {});
    expect(ranges.length).toBeGreaterThan(0);
    expect(ranges.every((r) => /^bytes=\d+-\d+$/.test(r.range ?? "") && r.ifMatch === ETAG)).toBe(true);
    const local = await extractPbf(ANDORRA_PBF, FILTER_RULES);
    const expected = join(tmp, "local.osm.pbf");
    await writePbf(expected, local.nodes, local.ways, local.relations);
    expect(uploaded?.equals(await readFile(expected))).toBe(true);
  });

  it("GIVEN RAW_URI replaced while it is read (S3 answers 412 to If-Match) THEN exit 75 with one line saying so", async () => {
    // Andorra is one 4 MiB chunk: its only GET is the one that fails.
    mock.on(GetObjectCommand).callsFake(() => {
      throw new S3ServiceException({ name: "PreconditionFailed", $fault: "client", $metadata: { httpStatusCode: 412 }, message: "At least one of the pre-conditions you specified did not hold" });
    });
    const err = await runExtract(cfg, s3, () => {}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StepError);
    expect((err as StepError).exitCode).toBe(75);
    expect((err as StepError).message).toBe(`the raw file ${cfg.rawUri} changed while it was read: retry later`);
  });
});
