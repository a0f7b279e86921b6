import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Readable } from "node:stream";
import { GetObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { mockClient } from "aws-sdk-client-mock";
import { sdkStreamMixin } from "@smithy/util-stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { classifyError } from "./classify-error.ts";
import { Duck } from "./duckdb.ts";
import { downloadToFile, headObject } from "./s3-objects.ts";

/**
 * The one lines a person reads when S3 or the disk fails: a failed HEAD names its status and key (a HEAD response has
 * no body, so the SDK alone says `Unknown: UnknownError`), and a full disk names the file being written.
 */
let server: Server;
let endpoint: string;
beforeAll(async () => {
  // An S3 stand-in answering every request with the status in the key's first segment and no body, like S3 does to a HEAD.
  server = createServer((req, res) => {
    res.statusCode = Number(/^\/bucket\/(\d{3})\//.exec(req.url ?? "")?.[1] ?? 500);
    res.end();
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise((r) => server.close(r)));

const client = () => new S3Client({ endpoint, forcePathStyle: true, region: "us-east-1", credentials: { accessKeyId: "x", secretAccessKey: "x" }, maxAttempts: 1 });

describe("a failed HEAD", () => {
  it.each([
    [403, 77, /^extract: access denied \(HTTP 403 Forbidden: HEAD s3:\/\/bucket\/403\/raw\.osm\.pbf answered HTTP 403 Forbidden\)/],
    [400, 1, /^extract: unexpected HTTP 400 Bad Request: HEAD s3:\/\/bucket\/400\/raw\.osm\.pbf answered HTTP 400 Bad Request$/],
    [503, 75, /^extract: temporary failure \(HTTP 503 Service Unavailable: HEAD s3:\/\/bucket\/503\/raw\.osm\.pbf answered/],
  ])("GIVEN S3 answers %i to a HEAD WHEN classified THEN exit %i with the status and the key, not UnknownError", async (status, exitCode, message) => {
    const s3 = client();
    const err = await headObject(s3, `s3://bucket/${status}/raw.osm.pbf`).catch((e: unknown) => e);
    s3.destroy();
    const step = classifyError(err, "extract");
    expect(step.message).toMatch(message);
    expect(step.message).not.toContain("UnknownError");
    expect(step.exitCode).toBe(exitCode);
  });

  it("GIVEN a 404 WHEN headed THEN it is simply absent", async () => {
    const s3 = client();
    expect(await headObject(s3, "s3://bucket/404/x")).toBeUndefined();
    s3.destroy();
  });
});

describe("a full disk", () => {
  it("GIVEN a download onto a device with no space left (/dev/full) WHEN classified THEN the line names the file", async () => {
    const s3 = new S3Client({ region: "us-east-1" });
    const mock = mockClient(s3);
    mock.on(GetObjectCommand).resolves({ Body: sdkStreamMixin(Readable.from([Buffer.alloc(1 << 16, 1)])) });
    const err = await downloadToFile(s3, "s3://bucket/raw/x.osm.pbf", "/dev/full").catch((e: unknown) => e);
    mock.restore();
    expect((err as NodeJS.ErrnoException).code).toBe("ENOSPC");
    expect(classifyError(err, "download").message).toBe(
      "download: no space left on the device writing /dev/full: the task's disk is full (a bigger tier has more ephemeral storage)",
    );
  });

  it("GIVEN DuckDB writing onto a device with no space left (analyze's COPY … TO) WHEN classified THEN the same disk-full line, not 'unexpected Error: IO Error'", async () => {
    const db = await Duck.open();
    const err = await db.run("COPY (SELECT range AS x FROM range(100000)) TO '/dev/full' (FORMAT csv)").catch((e: unknown) => e);
    db.close();
    expect((err as Error).message).toMatch(/^IO Error: .*No space left on device/); // DuckDB's own words, no errno code
    const classified = classifyError(err, "analyze");
    expect(classified.message).toBe("analyze: no space left on the device writing /dev/full: the task's disk is full (a bigger tier has more ephemeral storage)");
    expect(classified.exitCode).toBe(1);
  });

  it("GIVEN an ENOSPC without a path WHEN classified THEN the line names the work directory", () => {
    const err = Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" });
    expect(classifyError(err, "ingest").message).toMatch(/^ingest: no space left on the device writing the work directory \//);
  });
});
