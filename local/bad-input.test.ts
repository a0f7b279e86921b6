import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import { ListObjectsV2Command } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeSyntheticRegion } from "../containers/ski-atlas/synthetic-osm.ts";
import { ANDORRA_PBF } from "../lib/data-catalog.ts";
import { dataFile } from "../lib/data-files.ts";
import { makeS3Client } from "../lib/s3.ts";
import { LOCAL_BUCKET, REPO_ROOT, runLocal, type LocalRun } from "./run-local.ts";

/**
 * Bad input, through the real state machine: each case ends in a failed run with one line saying what to fix,
 * is not retried when retrying cannot help, and leaves nothing behind in the bucket.
 */
let scratch: string;
let samplePbf: string;
let server: Server;
let base: string;
const served: Record<string, { status: number; body?: Buffer }> = {};

beforeAll(async () => {
  scratch = await mkdtemp(path.join(tmpdir(), "bad-input-"));
  samplePbf = path.join(scratch, "sample.osm.pbf");
  await writeSyntheticRegion(samplePbf);
  const pbf = await readFile(samplePbf);
  served["/good.osm.pbf"] = { status: 200, body: pbf };
  served["/good.osm.pbf.md5"] = { status: 200, body: Buffer.from(`${"0".repeat(32)}  good.osm.pbf\n`) };
  server = createServer((req, res) => {
    const hit = served[req.url ?? ""];
    res.statusCode = hit?.status ?? 404;
    if (hit?.body) res.setHeader("Content-Length", hit.body.length);
    res.end(req.method === "HEAD" ? undefined : hit?.body);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}, 60_000);
afterAll(async () => {
  await new Promise((r) => server.close(r));
  await rm(scratch, { recursive: true, force: true });
});

async function run(input: Record<string, unknown>): Promise<{ run: LocalRun; keys: string[] }> {
  const r = await runLocal({ workflow: "ski-atlas", input, runDir: await mkdtemp(path.join(scratch, "run-")), retryWaitMs: 5 });
  const s3 = makeS3Client(r.env);
  const listed = await s3.send(new ListObjectsV2Command({ Bucket: LOCAL_BUCKET }));
  s3.destroy();
  await r.stop();
  return { run: r, keys: (listed.Contents ?? []).map((o) => o.Key!) };
}

function expectOneLineFailure(r: LocalRun, pattern: RegExp) {
  expect(r.result.status).toBe("FAILED");
  expect(r.summary.error).toMatch(pattern);
  expect(r.summary.error).not.toContain("\n");
  expect(r.summary.error!.length).toBeLessThan(400);
}

describe("bad input to ski-atlas", () => {
  it.each([
    ["an unknown region", { region: "atlantis" }, /unknown region "atlantis"; known regions: /],
    ["a region with path tricks", { region: "../x" }, /invalid region "\.\.\/x"/],
    ["a region with a slash", { region: "a/b" }, /invalid region "a\/b"/],
    ["an upper-case region", { region: "Iceland" }, /invalid region "Iceland"/],
    ["an empty region", { region: "" }, /invalid region ""/],
    ["a month that does not exist", { region: "andorra", period: "2026-13" }, /invalid period "2026-13": use YYYY-MM/],
    ["a two-digit year", { region: "andorra", period: "26-01" }, /invalid period "26-01"/],
    ["a scheme that is not allowed", { region: "andorra", source: "ftp://download.geofabrik.de/europe/andorra-latest.osm.pbf" }, /scheme ftp:\/\/ is not allowed/],
    ["a host that is not allowed", { region: "andorra", source: "https://evil.example.com/andorra.osm.pbf" }, /host evil\.example\.com is not allowed/],
  ])("GIVEN %s WHEN run THEN Plan rejects it in one line and nothing is written", async (_what, input, message) => {
    const { run: r, keys } = await run(input);
    expectOneLineFailure(r, message);
    expect(r.result.error).toBe("InvalidInputError");
    expect(r.result.states.find((s) => s.name === "Plan")?.attempts).toBe(1);
    expect(keys).toEqual([]);
  });

  it("GIVEN an unreachable source WHEN run THEN Plan retries, then fails in one line, and nothing is written", async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, "127.0.0.1", r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    const { run: r, keys } = await run({ region: "andorra", source: `http://127.0.0.1:${port}/andorra.osm.pbf` });
    expectOneLineFailure(r, /SourceUnavailableError: .*127\.0\.0\.1/);
    expect(r.result.states.find((s) => s.name === "Plan")?.attempts).toBeGreaterThan(1);
    expect(keys).toEqual([]);
  });

  it("GIVEN a source that answers 404 WHEN run THEN it fails at once in one line", async () => {
    const { run: r, keys } = await run({ region: "andorra", source: `${base}/missing.osm.pbf` });
    expectOneLineFailure(r, /SourceNotFoundError: .*404/);
    expect(r.result.states.find((s) => s.name === "Plan")?.attempts).toBe(1);
    expect(keys).toEqual([]);
  });

  it("GIVEN a download whose MD5 does not match WHEN run THEN it is retried, fails in one line, and keeps no raw copy", async () => {
    const { run: r, keys } = await run({ region: "andorra", source: `${base}/good.osm.pbf` });
    expectOneLineFailure(r, /^Download: .*(MD5|checksum)/i);
    expect(r.result.states.find((s) => s.name === "Download")?.attempts).toBe(4);
    expect(keys.filter((k) => k.startsWith("raw/"))).toEqual([]);
    expect(keys.filter((k) => k.startsWith("andorra/"))).toEqual([]);
  });

  it.each([
    ["an empty file", Buffer.alloc(0)],
    ["a truncated PBF", "truncate"],
    ["a file that is not a PBF", Buffer.from("<?xml version='1.0'?><osm></osm>\n".repeat(50))],
  ] as const)("GIVEN %s WHEN run THEN it fails in one line without retrying, and nothing is published", async (what, content) => {
    const file = path.join(scratch, `${createHash("md5").update(what).digest("hex")}.osm.pbf`);
    const bytes = content === "truncate" ? (await readFile(await dataFile(ANDORRA_PBF))).subarray(0, 1_000_000) : content;
    await writeFile(file, bytes);
    const { run: r, keys } = await run({ region: "andorra", period: "2021-06", source: pathToFileURL(file).href });
    expect(r.result.status).toBe("FAILED");
    expect(r.summary.error).toMatch(/(not a valid OSM PBF|empty|truncated|corrupt)/i);
    expect(r.summary.error).not.toContain("\n");
    const failed = r.result.states.find((s) => s.type === "Task" && s.status !== "SUCCEEDED" && s.status !== "RUNNING");
    expect(failed?.attempts).toBe(1);
    expect(keys.filter((k) => k.startsWith("andorra/"))).toEqual([]);
  });
});

describe("S3 access denied", () => {
  it("GIVEN an S3 endpoint that denies access WHEN a step runs THEN it exits 77 (no retry) with one line", async () => {
    const denying = createServer((_req, res) => {
      res.statusCode = 403;
      res.setHeader("Content-Type", "application/xml");
      res.end('<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>');
    });
    await new Promise<void>((r) => denying.listen(0, "127.0.0.1", r));
    const endpoint = `http://127.0.0.1:${(denying.address() as AddressInfo).port}`;
    // Asynchronous on purpose: the denying server runs in this process and must keep answering.
    const result = await new Promise<{ status: number | null; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, ["--import", "tsx", "containers/ski-atlas/main.ts", "download"], {
        cwd: REPO_ROOT,
        timeout: 60_000,
        env: {
          PATH: process.env.PATH,
          HOME: process.env.HOME,
          ATLAS_LOCAL: "1",
          AWS_ENDPOINT_URL_S3: endpoint,
          AWS_ACCESS_KEY_ID: "x",
          AWS_SECRET_ACCESS_KEY: "x",
          AWS_REGION: "us-east-1",
          REGION: "andorra",
          PERIOD: "2021-06",
          RUN_ID: "denied",
          SOURCE_URL: pathToFileURL(samplePbf).href,
          RAW_URI: "s3://atlas-local/raw/andorra/andorra.osm.pbf",
        },
      });
      let stderr = "";
      child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
      child.on("close", (status) => resolve({ status, stderr }));
    });
    await new Promise((r) => denying.close(r));
    expect(result.status).toBe(77);
    const errors = result.stderr.split("\n").filter((l) => l.startsWith("error:"));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/access denied/i);
  });
});
