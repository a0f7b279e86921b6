import { createHash } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { downloadToFile, headObject } from "../../lib/s3-objects.ts";
import { startTestS3, type TestS3 } from "../../lib/testing/s3rver.ts";
import { BUCKET, runInProcess, stepEnv } from "./testing/helpers.ts";

// A deterministic 3 MiB "PBF" (download does not parse it).
const BODY = Buffer.alloc(3 * 2 ** 20);
for (let i = 0; i < BODY.length; i++) BODY[i] = (i * 2654435761) >>> 24;
const MD5 = createHash("md5").update(BODY).digest("hex");
const ETAG = `"${MD5.slice(0, 16)}"`;
const LAST_MODIFIED = "Tue, 22 Jun 2021 20:21:00 GMT";

let s3: TestS3;
let server: Server;
let base: string;
let tmp: string;
const requests: { path: string; method: string; range?: string }[] = [];
let flakyDropped = 0;

function serveBody(req: IncomingMessage, res: ServerResponse, opts: { dropAfter?: number } = {}) {
  const headers = { ETag: ETAG, "Last-Modified": LAST_MODIFIED, "Accept-Ranges": "bytes" };
  const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? "");
  if (req.method === "HEAD") {
    res.writeHead(200, { ...headers, "Content-Length": BODY.length });
    return res.end();
  }
  if (range) {
    const start = Number(range[1]);
    res.writeHead(206, { ...headers, "Content-Length": BODY.length - start, "Content-Range": `bytes ${start}-${BODY.length - 1}/${BODY.length}` });
    return res.end(BODY.subarray(start));
  }
  res.writeHead(200, { ...headers, "Content-Length": BODY.length });
  if (opts.dropAfter !== undefined) {
    res.write(BODY.subarray(0, opts.dropAfter), () => setTimeout(() => res.socket?.destroy(), 20));
    flakyDropped++;
    return;
  }
  res.end(BODY);
}

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), "ski-atlas-download-test-"));
  s3 = await startTestS3({ buckets: [BUCKET] });
  server = createServer((req, res) => {
    const path = new URL(req.url!, "http://x").pathname;
    requests.push({ path, method: req.method!, range: req.headers.range });
    switch (path) {
      case "/good.osm.pbf":
      case "/bad-md5.osm.pbf":
      case "/no-md5.osm.pbf":
        return serveBody(req, res);
      case "/flaky.osm.pbf":
        return serveBody(req, res, { dropAfter: flakyDropped === 0 ? 1_000_000 : undefined });
      case "/good.osm.pbf.md5":
      case "/flaky.osm.pbf.md5":
        return res.end(`${MD5}  ${path.slice(1, -4)}\n`);
      case "/bad-md5.osm.pbf.md5":
        return res.end(`${"0".repeat(32)}  bad-md5.osm.pbf\n`);
      default:
        res.writeHead(404);
        return res.end("not found");
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server?.close(resolve));
  await s3?.stop();
  await rm(tmp, { recursive: true, force: true });
});

function env(region: string, sourceUrl: string, extra: Record<string, string> = {}) {
  return stepEnv(s3.env, region, {
    SOURCE_URL: sourceUrl,
    ATLAS_DOWNLOAD_ATTEMPTS: "3",
    ATLAS_DOWNLOAD_RETRY_MS: "10",
    ATLAS_PROGRESS_MS: "50",
    ...extra,
  });
}

async function rawBytes(region: string): Promise<Buffer> {
  const path = join(tmp, `${region}.bin`);
  await downloadToFile(s3.s3, `s3://${BUCKET}/raw/${region}/${region}.osm.pbf`, path);
  return readFile(path);
}

describe("download", () => {
  it("streams the source to S3, checks the md5 and records the source version", async () => {
    const run = await runInProcess("download", env("good", `${base}/good.osm.pbf`));
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toContain("matches the .md5 file");
    expect((await rawBytes("good")).equals(BODY)).toBe(true);
    const head = await headObject(s3.s3, `s3://${BUCKET}/raw/good/good.osm.pbf`);
    expect(head?.Metadata).toMatchObject({
      "source-url": `${base}/good.osm.pbf`,
      "source-md5": MD5,
      "source-etag": ETAG,
      "source-last-modified": LAST_MODIFIED,
      "source-bytes": String(BODY.length),
    });
  });

  it("skips the transfer when S3 already holds the same source version", async () => {
    const before = requests.length;
    const run = await runInProcess("download", env("good", `${base}/good.osm.pbf`));
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/already holds this source version .*skipping/);
    const bodyGets = requests.slice(before).filter((r) => r.path === "/good.osm.pbf" && r.method === "GET");
    expect(bodyGets).toHaveLength(0);
  });

  it("resumes with a Range request after the connection drops mid-body", async () => {
    const run = await runInProcess("download", env("flaky", `${base}/flaky.osm.pbf`));
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toContain("resuming at byte");
    expect(requests.some((r) => r.path === "/flaky.osm.pbf" && r.range?.startsWith("bytes="))).toBe(true);
    expect((await rawBytes("flaky")).equals(BODY)).toBe(true);
  });

  it("works without a .md5 file", async () => {
    const run = await runInProcess("download", env("nomd5", `${base}/no-md5.osm.pbf`));
    expect(run.code, run.stderr).toBe(0);
    expect((await rawBytes("nomd5")).equals(BODY)).toBe(true);
  });

  it("exits 66 with one line on HTTP 404", async () => {
    const run = await runInProcess("download", env("missing", `${base}/missing.osm.pbf`));
    expect(run.code).toBe(66);
    expect(run.errorLines).toHaveLength(1);
    expect(run.errorLines[0]).toMatch(/^error: .*404.*check the region's source URL/);
  });

  it("exits 75 on a checksum mismatch and leaves no object behind", async () => {
    const run = await runInProcess("download", env("badmd5", `${base}/bad-md5.osm.pbf`));
    expect(run.code).toBe(75);
    expect(run.errorLines).toHaveLength(1);
    expect(run.errorLines[0]).toMatch(/checksum mismatch/);
    expect(await headObject(s3.s3, `s3://${BUCKET}/raw/badmd5/badmd5.osm.pbf`)).toBeUndefined();
  });

  it("exits 75 when the host is unreachable", async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const run = await runInProcess("download", env("down", `http://127.0.0.1:${port}/x.osm.pbf`));
    expect(run.code).toBe(75);
    expect(run.errorLines).toHaveLength(1);
    expect(run.errorLines[0]).toMatch(/ECONNREFUSED.*retry later/);
  });

  it("refuses file:// unless ATLAS_LOCAL=1, and copies it when allowed", async () => {
    const file = join(tmp, "local.osm.pbf");
    await writeFile(file, BODY);
    const url = pathToFileURL(file).href;
    const refused = await runInProcess("download", env("local", url));
    expect(refused.code).toBe(64);
    expect(refused.errorLines).toHaveLength(1);
    expect(refused.errorLines[0]).toMatch(/file:\/\/.*ATLAS_LOCAL=1/);
    const allowed = await runInProcess("download", env("local", url, { ATLAS_LOCAL: "1" }));
    expect(allowed.code, allowed.stderr).toBe(0);
    expect((await rawBytes("local")).equals(BODY)).toBe(true);
    const again = await runInProcess("download", env("local", url, { ATLAS_LOCAL: "1" }));
    expect(again.stderr).toContain("skipping");
  });

  it("exits 64 when a variable is missing", async () => {
    const e = env("x", `${base}/good.osm.pbf`);
    delete (e as Record<string, string | undefined>).RAW_URI;
    const run = await runInProcess("download", e);
    expect(run.code).toBe(64);
    expect(run.errorLines[0]).toMatch(/RAW_URI is not set/);
  });
});
