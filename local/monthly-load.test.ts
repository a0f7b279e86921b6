import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import { ListObjectsV2Command } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeSyntheticRegion } from "../containers/ski-atlas/synthetic-osm.ts";
import { makeS3Client } from "../lib/s3.ts";
import { readConfig } from "../workflows/config.ts";
import type { ProgressEvent } from "../run-model/progress-events.ts";
import { LOCAL_BUCKET, runLocal } from "./run-local.ts";
import { readRecord } from "../run-records/record.ts";
import { schemaProblems } from "./testing/run-record-schema.ts";

/**
 * Load: the monthly machine over 12 regions (generated inputs) with the configured MaxConcurrency. Every
 * region must be published exactly once, and the event log must never show more regions running at once
 * than the limit.
 */
const REGIONS = [
  "iceland", "andorra", "liechtenstein", "new-zealand", "alps", "south-america",
  "africa", "australia-oceania", "austria", "switzerland", "norway", "japan",
];

let scratch: string;
beforeAll(async () => {
  scratch = await mkdtemp(path.join(tmpdir(), "monthly-load-"));
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

describe("ski-atlas-monthly under load", () => {
  it("GIVEN 12 regions and MaxConcurrency 4 WHEN the month runs THEN each region is published once, never more than 4 at a time", async () => {
    const limit = readConfig().monthlyMaxConcurrency;
    expect(limit).toBe(4);
    const pbf = path.join(scratch, "sample.osm.pbf");
    await writeSyntheticRegion(pbf);
    const events: ProgressEvent[] = [];
    const run = await runLocal({
      workflow: "ski-atlas-monthly",
      input: { regions: REGIONS, period: "2026-11", sources: Object.fromEntries(REGIONS.map((r) => [r, pathToFileURL(pbf).href])) },
      runDir: await mkdtemp(path.join(scratch, "run-")),
      retryWaitMs: 10,
      onEvent: (e) => events.push(e),
    });
    try {
      expect(run.result.status).toBe("SUCCEEDED");
      const results = run.result.output!.results as { region: string; status: string }[];
      expect(results.map((r) => r.status)).toEqual(REGIONS.map(() => "SUCCEEDED"));

      // Concurrency, from the event log: child executions started and finished, in order.
      let running = 0;
      let peak = 0;
      for (const e of events) {
        if (e.kind === "execution-started" && e.machine === "ski-atlas") peak = Math.max(peak, ++running);
        if (e.kind === "execution-finished" && e.machine === "ski-atlas") running--;
      }
      expect(running).toBe(0);
      expect(peak).toBe(limit);

      // Exactly once: one execution and one successful Publish per region, and one manifest each.
      const started = events.filter((e) => e.kind === "execution-started" && e.machine === "ski-atlas").map((e) => e.execution);
      expect(started.sort()).toEqual(REGIONS.map((r) => `${r}-2026-11`).sort());
      const publishes = run.engine.states.filter((s) => s.name === "Publish" && s.status === "SUCCEEDED");
      expect(publishes.map((s) => s.execution).sort()).toEqual(REGIONS.map((r) => `${r}-2026-11`).sort());
      const s3 = makeS3Client(run.env);
      const listed = await s3.send(new ListObjectsV2Command({ Bucket: LOCAL_BUCKET }));
      s3.destroy();
      const manifests = (listed.Contents ?? []).map((o) => o.Key!).filter((k) => k.endsWith("/2026-11/manifest.json"));
      expect(manifests.sort()).toEqual(REGIONS.map((r) => `${r}/2026-11/manifest.json`).sort());

      // Records: the fan-out's, one per item linked from it, each with its own published files copied out.
      expect(run.record.status).toBe("SUCCEEDED");
      expect(run.record.children.map((c) => [c.name, c.status]).sort()).toEqual(REGIONS.map((r) => [`${r}-2026-11`, "SUCCEEDED"]).sort());
      expect(run.record.states.filter((s) => s.name === "Regions: run ski-atlas").map((s) => s.iteration).sort()).toEqual(
        REGIONS.map((_, i) => `Regions[${i}]`).sort(),
      );
      for (const child of run.record.children) {
        const record = await readRecord(path.dirname(run.runDir), child.id);
        expect(schemaProblems(record), child.id).toEqual([]);
        expect(record!.parent).toEqual({ id: run.record.id });
        expect(record!.outputs.files.map((f) => f.name)).toContain("manifest.json");
        for (const f of record!.outputs.files) expect((await stat(f.path!)).size, f.path!).toBe(f.bytes);
      }
    } finally {
      await run.stop();
    }
  }, 300_000);
});
