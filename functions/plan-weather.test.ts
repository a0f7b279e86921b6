import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { mockClient } from "aws-sdk-client-mock";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "./config.ts";
import { planWeather } from "./plan-weather.ts";

const s3mock = mockClient(S3Client);
const EXECUTION = { name: "sched-1", startTime: "2026-07-01T02:00:04.000Z" };
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "plan-weather-"));
  await writeFile(join(dir, "A.txt"), "19850101\t1\t0\t0\n");
  await writeFile(join(dir, "B.txt"), "19850101\t1\t0\t0\n19850102\t1\t0\t0\n");
  await writeFile(join(dir, "README.md"), "x");
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const deps = (env: Record<string, string> = {}) => ({ config: loadConfig({ ATLAS_BUCKET: "atlas-data", ...env }), s3: () => new S3Client({ region: "us-east-1" }) });

describe("plan-weather", () => {
  it("GIVEN an empty input from the schedule WHEN planned THEN it lists the default prefix, uses the start date and sizes the run", async () => {
    s3mock.reset();
    s3mock.on(ListObjectsV2Command).resolves({ Contents: [{ Key: "incoming/weather/A.txt", Size: 100 }, { Key: "incoming/weather/old/B.txt", Size: 5 }, { Key: "incoming/weather/x.csv", Size: 5 }] });
    expect(await planWeather({ input: {}, execution: EXECUTION }, deps())).toEqual({
      workflow: "weather",
      nothingToIngest: false,
      runId: "2026-07-01",
      period: "2026-07-01",
      source: { url: "s3://atlas-data/incoming/weather/", files: 1, bytes: 100 },
      uris: { source: "s3://atlas-data/incoming/weather/", staging: "s3://atlas-data/staging/weather/2026-07-01/", publish: "s3://atlas-data/weather/2026-07-01/" },
      tiers: { ingest: "xsmall", analyze: "xsmall", publish: "xsmall" },
      tierIndex: { ingest: 0, analyze: 0, publish: 0 },
    });
  });

  it("GIVEN a file:// source WHEN planned locally THEN station files are counted; on AWS it is refused", async () => {
    const input = { source: pathToFileURL(dir).href, runId: "2014-12-31" };
    const out = await planWeather({ input, execution: EXECUTION }, deps({ ATLAS_LOCAL: "1" }));
    expect(out.source).toEqual({ url: `${pathToFileURL(dir).href}/`, files: 2, bytes: 15 + 30 });
    await expect(planWeather({ input, execution: EXECUTION }, deps())).rejects.toMatchObject({ name: "InvalidInputError" });
  });

  it.each([[{ runId: "2026-02-30" }], [{ runId: "yesterday" }], [{ source: "https://x/y" }], [{ sorce: "s3://a/b/" }]])(
    "GIVEN the bad input %j WHEN planned THEN InvalidInputError",
    async (input) => {
      await expect(planWeather({ input: input as never, execution: EXECUTION }, deps({ ATLAS_LOCAL: "1" }))).rejects.toMatchObject({ name: "InvalidInputError" });
    },
  );

  it("GIVEN an empty incoming prefix (the schedule's input, or named explicitly) WHEN planned THEN nothing to ingest, not an error", async () => {
    s3mock.reset();
    s3mock.on(ListObjectsV2Command).resolves({ Contents: [{ Key: "incoming/weather/notes.md", Size: 3 }] });
    for (const input of [{}, { source: "s3://atlas-data/incoming/weather/" }]) {
      expect(await planWeather({ input, execution: EXECUTION }, deps())).toMatchObject({ nothingToIngest: true, source: { files: 0, bytes: 0 } });
    }
  });

  it("GIVEN another prefix without station files WHEN planned THEN SourceNotFoundError: it was named on purpose", async () => {
    s3mock.reset();
    s3mock.on(ListObjectsV2Command).resolves({ Contents: [] });
    await expect(planWeather({ input: { source: "s3://atlas-data/elsewhere/" }, execution: EXECUTION }, deps())).rejects.toMatchObject({ name: "SourceNotFoundError" });
  });
});
