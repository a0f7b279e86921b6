import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig, type AtlasConfig } from "./config.ts";
import { handler, plan, sanitizeRunId, skiAtlasTiers, type PlanEvent } from "./plan.ts";

const EXECUTION = { name: "andorra-2026-11", startTime: "2026-11-01T06:00:03.123Z" };

function config(overrides: Partial<AtlasConfig> = {}): AtlasConfig {
  return { ...loadConfig({ ATLAS_BUCKET: "atlas-data" }), ...overrides };
}

/** A fetch that answers HEAD like Geofabrik does, without the network. */
function fakeFetch(status: number, headers: Record<string, string> = {}) {
  const calls: { url: string; method?: string }[] = [];
  const fetch = (async (url: URL | string, init?: RequestInit) => {
    calls.push({ url: String(url), method: init?.method });
    return new Response(null, { status, headers });
  }) as typeof globalThis.fetch;
  return { fetch, calls };
}

function event(input: PlanEvent["input"], execution = EXECUTION): PlanEvent {
  return { input, execution };
}

describe("plan: the happy path", () => {
  it("GIVEN andorra and a period WHEN planned THEN the output is exactly the documented Plan shape", async () => {
    const { fetch, calls } = fakeFetch(200, { "content-length": "1778051" });
    const out = await plan(event({ region: "andorra", period: "2026-11" }), { config: config(), probe: { fetch } });
    expect(calls).toEqual([{ url: "https://download.geofabrik.de/europe/andorra-latest.osm.pbf", method: "HEAD" }]);
    expect(out).toEqual({
      workflow: "ski-atlas",
      region: "andorra",
      period: "2026-11",
      runId: "andorra-2026-11",
      source: { url: "https://download.geofabrik.de/europe/andorra-latest.osm.pbf", bytes: 1778051, sizeKnown: true },
      uris: {
        raw: "s3://atlas-data/raw/andorra/andorra-latest.osm.pbf",
        extract: "s3://atlas-data/staging/andorra/2026-11/andorra-2026-11/extract.osm.pbf",
        staging: "s3://atlas-data/staging/andorra/2026-11/andorra-2026-11/out/",
        publish: "s3://atlas-data/andorra/2026-11/",
      },
      tiers: { download: "xsmall", extract: "xsmall", analyze: "small", publish: "xsmall" },
      // Positions in the machine's tier table (xsmall, small, medium, large, xlarge: TIER_NAMES when Plan is not told).
      tierIndex: { download: 0, extract: 0, analyze: 1, publish: 0 },
      allowShrink: "false",
    });
  });

  it("GIVEN the machine's tier table WHEN planned THEN the positions are in that table; a tier it lacks fails Plan with UnknownTierError", async () => {
    const { fetch } = fakeFetch(200, { "content-length": "1778051" });
    const withTable = (tierNames: string[]) => plan({ ...event({ region: "andorra", period: "2026-11" }), tierNames }, { config: config(), probe: { fetch } });
    expect((await withTable(["tiny", "xsmall", "small"])).tierIndex).toEqual({ download: 1, extract: 1, analyze: 2, publish: 1 });
    await expect(withTable(["xsmall", "medium"])).rejects.toMatchObject({
      name: "UnknownTierError",
      message: "Plan chose tier 'small' for analyze, which this state machine's tier table does not have (xsmall, medium)",
    });
  });

  it("GIVEN allowShrink WHEN planned THEN it is passed on as a string (a container environment value), and only a boolean is accepted", async () => {
    const { fetch } = fakeFetch(200, { "content-length": "1778051" });
    const out = await plan(event({ region: "andorra", period: "2026-11", allowShrink: true }), { config: config(), probe: { fetch } });
    expect(out.allowShrink).toBe("true");
    await expect(plan(event({ region: "andorra", period: "2026-11", allowShrink: "yes" as unknown as boolean }), { config: config(), probe: { fetch } })).rejects.toThrow(
      /allowShrink must be true or false/,
    );
  });

  it("GIVEN no period WHEN planned THEN the execution start time's UTC month is used", async () => {
    const { fetch } = fakeFetch(200, { "content-length": "60000000" });
    const out = await plan(event({ region: "iceland" }, { name: "manual run #1", startTime: "2026-12-31T23:59:59.999Z" }), {
      config: config(),
      probe: { fetch },
    });
    expect(out.period).toBe("2026-12");
    expect(out.runId).toBe("manual-run-1");
    expect(out.uris.extract).toBe("s3://atlas-data/staging/iceland/2026-12/manual-run-1/extract.osm.pbf");
  });

  it("GIVEN a source without Content-Length WHEN planned THEN the registry's approximate size is used", async () => {
    const { fetch } = fakeFetch(200);
    const out = await plan(event({ region: "new-zealand", period: "2026-07" }), { config: config(), probe: { fetch } });
    expect(out.source).toEqual({
      url: "https://download.geofabrik.de/australia-oceania/new-zealand-latest.osm.pbf",
      bytes: 373_000_000,
      sizeKnown: false,
    });
  });

  it("GIVEN a source override on an allowed host WHEN planned THEN it replaces the registry URL and names the raw key", async () => {
    const { fetch, calls } = fakeFetch(200, { "content-length": "2000000" });
    const source = "https://download.geofabrik.de/europe/andorra-251101.osm.pbf";
    const out = await plan(event({ region: "andorra", period: "2025-11", source }), { config: config(), probe: { fetch } });
    expect(calls[0].url).toBe(source);
    expect(out.source.url).toBe(source);
    expect(out.uris.raw).toBe("s3://atlas-data/raw/andorra/andorra-251101.osm.pbf");
  });
});

describe("plan: tiers", () => {
  it("GIVEN a small input WHEN tiers are picked THEN every step but analyze gets the smallest tier", () => {
    // Analyze's policy is bounded by the ski-dense 203 MB benchmark (1.1 GiB): small, whatever the input.
    expect(skiAtlasTiers(60_000_000)).toEqual({ download: "xsmall", extract: "xsmall", analyze: "small", publish: "xsmall" });
  });

  it("GIVEN Europe (31 GB) WHEN tiers are picked THEN the heavy steps go large, publish the smallest", () => {
    // From the benchmark's fitted size policies (workflows/ski-atlas-sizing.ts, bench/results.json): memory of the
    // streaming extract and analyze grows slowly with the input, so even Europe stays below xlarge.
    const tiers = skiAtlasTiers(31_000_000_000);
    expect(tiers.download).toBe("large");
    expect(tiers.extract).toBe("large");
    expect(tiers.analyze).toBe("large");
    expect(tiers.publish).toBe("xsmall");
  });

  it("GIVEN a source reporting 16 GB WHEN planned THEN the plan carries the tiers of 16 GB", async () => {
    const { fetch } = fakeFetch(200, { "content-length": "16000000000" });
    const out = await plan(event({ region: "north-america", period: "2026-11" }), { config: config(), probe: { fetch } });
    expect(out.source).toMatchObject({ bytes: 16_000_000_000, sizeKnown: true });
    // The extract's memory (about 2.1 GiB at 16 GB by the policy fitted up to 4 GB, 2.7 GiB with the margin) needs
    // medium; the download keeps the whole file, so its disk needs large (more than Fargate's free 20 GiB).
    expect(out.tiers.extract).toBe("medium");
    expect(out.tiers.download).toBe("large");
  });
});

describe("plan: input validation", () => {
  const noFetch = (() => {
    throw new Error("must not fetch");
  }) as unknown as typeof globalThis.fetch;
  const run = (input: PlanEvent["input"], cfg = config()) => plan(event(input), { config: cfg, probe: { fetch: noFetch } });

  it.each([
    [{ region: "atlantis" }, /^unknown region "atlantis"; known regions: .*iceland/],
    [{ region: "../x" }, /^invalid region "\.\.\/x": use lowercase letters/],
    [{ region: "a/b" }, /^invalid region "a\/b"/],
    [{ region: "Iceland" }, /^invalid region "Iceland"/],
    [{ region: "" }, /^invalid region "".*known regions/],
    [{}, /needs a region/],
    [null, /needs a region/],
    [{ region: "iceland", period: "2026-13" }, /^invalid period "2026-13": use YYYY-MM/],
    [{ region: "iceland", period: "26-01" }, /^invalid period "26-01"/],
    [{ regoin: "iceland" }, /^unknown input field "regoin": expected region, period, source/],
    [{ region: "iceland", source: 42 }, /source must be a URL string/],
  ] as [PlanEvent["input"], RegExp][])("GIVEN input %j WHEN planned THEN InvalidInputError %s", async (input, message) => {
    await expect(run(input)).rejects.toMatchObject({ name: "InvalidInputError", message: expect.stringMatching(message) });
  });

  it.each([
    ["ftp://download.geofabrik.de/europe/iceland-latest.osm.pbf", /scheme ftp:\/\/ is not allowed/],
    ["https://evil.example.com/iceland-latest.osm.pbf", /host evil\.example\.com is not allowed: .*download\.geofabrik\.de/],
    ["http://download.geofabrik.de/europe/iceland-latest.osm.pbf", /http:\/\/ sources are not allowed/],
    ["http://127.0.0.1:9/iceland.osm.pbf", /http:\/\/ sources are not allowed/],
    ["https://user:pw@download.geofabrik.de/europe/iceland-latest.osm.pbf", /must not carry credentials/],
    ["file:///etc/hostname", /file:\/\/ sources are only allowed in local runs/],
    ["not a url", /is not a URL/],
  ])("GIVEN the source %s on AWS WHEN planned THEN InvalidInputError", async (source, message) => {
    await expect(run({ region: "iceland", source })).rejects.toMatchObject({
      name: "InvalidInputError",
      message: expect.stringMatching(message),
    });
  });

  it("GIVEN a custom host allowlist WHEN a source uses it THEN it is accepted and Geofabrik no longer is", async () => {
    const cfg = loadConfig({ ATLAS_BUCKET: "b-1", ATLAS_ALLOWED_SOURCE_HOSTS: " Mirror.Example.org ,," });
    const { fetch } = fakeFetch(200, { "content-length": "10" });
    const ok = await plan(event({ region: "iceland", source: "https://mirror.example.org/iceland.osm.pbf" }), {
      config: cfg,
      probe: { fetch },
    });
    expect(ok.source.url).toBe("https://mirror.example.org/iceland.osm.pbf");
    await expect(run({ region: "iceland" }, cfg)).rejects.toMatchObject({ name: "InvalidInputError" });
  });

  it("GIVEN the local-only sample region on AWS WHEN planned THEN it is rejected", async () => {
    await expect(run({ region: "sample" })).rejects.toMatchObject({
      name: "InvalidInputError",
      message: expect.stringContaining("local-only"),
    });
  });

  it("GIVEN the sample region locally without a source WHEN planned THEN it asks for the source", async () => {
    await expect(run({ region: "sample" }, config({ local: true }))).rejects.toMatchObject({
      name: "InvalidInputError",
      message: expect.stringContaining("pass its source"),
    });
  });

  it("GIVEN no ATLAS_BUCKET WHEN planned THEN a ConfigurationError names the variable", async () => {
    await expect(run({ region: "iceland" }, loadConfig({}))).rejects.toMatchObject({
      name: "ConfigurationError",
      message: expect.stringContaining("ATLAS_BUCKET"),
    });
  });
});

describe("plan: file:// sources in local mode", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "atlas-plan-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("GIVEN an existing file WHEN planned locally THEN its size comes from the file", async () => {
    const path = join(dir, "sample.osm.pbf");
    await writeFile(path, Buffer.alloc(4321));
    const source = pathToFileURL(path).href;
    const out = await plan(event({ region: "sample", period: "2026-11", source }), { config: config({ local: true }) });
    expect(out.source).toEqual({ url: source, bytes: 4321, sizeKnown: true });
    expect(out.uris.raw).toBe("s3://atlas-data/raw/sample/sample.osm.pbf");
  });

  it("GIVEN a missing file WHEN planned locally THEN InvalidInputError", async () => {
    const source = pathToFileURL(join(dir, "nope.osm.pbf")).href;
    await expect(plan(event({ region: "sample", source }), { config: config({ local: true }) })).rejects.toMatchObject({
      name: "InvalidInputError",
      message: expect.stringContaining("does not exist"),
    });
  });
});

describe("plan: HEAD against a real HTTP server on 127.0.0.1", () => {
  let server: Server;
  let base: string;
  const local = () => config({ local: true });

  beforeAll(async () => {
    server = createServer((req, res) => {
      if (req.method !== "HEAD") {
        res.writeHead(405).end();
        return;
      }
      if (req.url === "/ok.osm.pbf") res.writeHead(200, { "content-length": "98765432" }).end();
      else if (req.url === "/nolength.osm.pbf") res.writeHead(200).end();
      else if (req.url === "/broken.osm.pbf") res.writeHead(503).end();
      else if (req.url === "/forbidden.osm.pbf") res.writeHead(403).end();
      else if (req.url === "/busy.osm.pbf") res.writeHead(429).end();
      else if (req.url === "/nohead.osm.pbf") res.writeHead(405).end();
      else if (req.url === "/slow.osm.pbf") setTimeout(() => res.writeHead(200).end(), 2_000);
      else res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it("GIVEN 200 with Content-Length WHEN planned THEN bytes come from the header", async () => {
    const out = await plan(event({ region: "iceland", period: "2026-11", source: `${base}/ok.osm.pbf` }), { config: local() });
    expect(out.source).toEqual({ url: `${base}/ok.osm.pbf`, bytes: 98765432, sizeKnown: true });
    expect(out.uris.raw).toBe("s3://atlas-data/raw/iceland/ok.osm.pbf");
  });

  it("GIVEN 200 without Content-Length WHEN planned THEN the registry size is used", async () => {
    const out = await plan(event({ region: "iceland", source: `${base}/nolength.osm.pbf` }), { config: local() });
    expect(out.source).toMatchObject({ bytes: 60_000_000, sizeKnown: false });
  });

  it("GIVEN 404 WHEN planned THEN SourceNotFoundError", async () => {
    await expect(plan(event({ region: "iceland", source: `${base}/missing.osm.pbf` }), { config: local() })).rejects.toMatchObject({
      name: "SourceNotFoundError",
      message: expect.stringMatching(/missing\.osm\.pbf does not exist \(HTTP 404\)/),
    });
  });

  it("GIVEN 403 WHEN planned THEN SourceNotFoundError (a retry cannot help)", async () => {
    await expect(plan(event({ region: "iceland", source: `${base}/forbidden.osm.pbf` }), { config: local() })).rejects.toMatchObject({
      name: "SourceNotFoundError",
      message: expect.stringContaining("refused the request (HTTP 403)"),
    });
  });

  it("GIVEN 429 WHEN planned THEN SourceUnavailableError (retried)", async () => {
    await expect(plan(event({ region: "iceland", source: `${base}/busy.osm.pbf` }), { config: local() })).rejects.toMatchObject({
      name: "SourceUnavailableError",
      message: expect.stringContaining("HTTP 429"),
    });
  });

  it("GIVEN a server refusing HEAD (405) WHEN planned THEN the size is unknown and the registry's is used", async () => {
    const out = await plan(event({ region: "andorra", source: `${base}/nohead.osm.pbf` }), { config: local() });
    expect(out.source).toMatchObject({ bytes: 3_000_000, sizeKnown: false });
  });

  it("GIVEN 503 WHEN planned THEN SourceUnavailableError", async () => {
    await expect(plan(event({ region: "iceland", source: `${base}/broken.osm.pbf` }), { config: local() })).rejects.toMatchObject({
      name: "SourceUnavailableError",
      message: expect.stringContaining("HTTP 503"),
    });
  });

  it("GIVEN a server that does not answer in time WHEN planned THEN SourceUnavailableError mentions the timeout", async () => {
    await expect(
      plan(event({ region: "iceland", source: `${base}/slow.osm.pbf` }), { config: local(), probe: { timeoutMs: 200 } }),
    ).rejects.toMatchObject({ name: "SourceUnavailableError", message: expect.stringContaining("within 200 ms") });
  });

  it("GIVEN a closed port WHEN planned THEN SourceUnavailableError says connection refused", async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    await expect(
      plan(event({ region: "iceland", source: `http://127.0.0.1:${port}/x.osm.pbf` }), { config: local() }),
    ).rejects.toMatchObject({ name: "SourceUnavailableError", message: expect.stringContaining("ECONNREFUSED") });
  });

  it("GIVEN the handler WHEN called with ATLAS_* in the environment THEN it reads its config from there", async () => {
    const saved = { ...process.env };
    Object.assign(process.env, { ATLAS_BUCKET: "env-bucket", ATLAS_LOCAL: "1" });
    try {
      const out = await handler(event({ region: "iceland", period: "2026-01", source: `${base}/ok.osm.pbf` }));
      expect(out.uris.publish).toBe("s3://env-bucket/iceland/2026-01/");
    } finally {
      process.env = saved;
    }
  });
});

describe("sanitizeRunId", () => {
  it.each([
    ["andorra-2026-11", "andorra-2026-11"],
    ["../../etc", "etc"],
    ["run 1/2", "run-1-2"],
    ["...", ""],
    ["x".repeat(100), "x".repeat(80)],
  ])("GIVEN %j WHEN sanitized THEN %j", (name, expected) => {
    expect(sanitizeRunId(name)).toBe(expected);
  });
});

describe("plan: a source this machine cannot reach at all", () => {
  // `.invalid` never resolves (RFC 6761), with or without a network: the lookup fails like an offline laptop's.
  const source = "https://download.invalid/europe/andorra-latest.osm.pbf";
  const hosts = { allowedSourceHosts: ["download.invalid"] };

  it("GIVEN a local run WHEN the host does not resolve THEN SourceOfflineError (never retried), saying to use a local copy", async () => {
    await expect(plan(event({ region: "andorra", source }), { config: config({ local: true, ...hosts }) })).rejects.toMatchObject({
      name: "SourceOfflineError",
      message: expect.stringMatching(/download\.invalid does not resolve \((ENOTFOUND|EAI_AGAIN)\).*offline, a retry will not help: use a local copy/),
    });
  });

  it("GIVEN a run on AWS WHEN the host does not resolve THEN SourceUnavailableError (a Lambda's DNS blip clears up)", async () => {
    await expect(plan(event({ region: "andorra", source }), { config: config({ local: false, ...hosts }) })).rejects.toMatchObject({
      name: "SourceUnavailableError",
    });
  });

  it("GIVEN the retry policies WHEN listing what they retry THEN SourceOfflineError is not among them", async () => {
    const policies = await import("../workflows/retry-policies.ts");
    const retried = Object.values(policies).flatMap((p) => (typeof p === "object" && p && "errors" in p ? p.errors : []));
    expect(retried).toContain("SourceUnavailableError");
    expect(retried).not.toContain("SourceOfflineError");
  });
});
