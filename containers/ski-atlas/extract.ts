import { mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { S3Client } from "@aws-sdk/client-s3";
import { EXIT, StepError } from "../../lib/exit-codes.ts";
import { downloadToFile, isNotFound, uploadFile } from "../../lib/s3-objects.ts";
import type { ExtractConfig } from "./config.ts";
import { mib, type Logger } from "./log.ts";
import { osmiumFailure, runOsmium } from "./osmium.ts";
import { assertLooksLikePbf } from "./pbf-check.ts";
import { POI_TAGS } from "./poi-tags.ts";

/** The one tags-filter pass: ski areas, lifts, pistes (and their relations), plus POIs. */
export function filterExpressions(): string[] {
  return [
    // Ski areas: polygons (ways, multipolygon relations) and site relations; route=piste groups piste ways.
    "wr/landuse=winter_sports",
    "r/site=piste",
    "r/route=piste",
    // Lifts (pylons and stations are nodes of these ways and come along as referenced nodes).
    "w/aerialway",
    // Pistes: ways, and route relations that carry piste:type themselves.
    "wr/piste:type",
    // Points of interest.
    ...Object.entries(POI_TAGS).map(([key, values]) => `nw/${key}=${values.join(",")}`),
  ];
}

/**
 * Step 2. Referenced objects are kept (no -R): analyze needs the nodes of every kept way, and the members of
 * site=piste / multipolygon relations (which may carry no ski tags of their own).
 */
export async function runExtract(cfg: ExtractConfig, s3: S3Client, log: Logger): Promise<{ bytes: number }> {
  const dir = await mkdtemp(join(tmpdir(), "ski-atlas-extract-"));
  try {
    const raw = join(dir, "raw.osm.pbf");
    const out = join(dir, "extract.osm.pbf");
    log(`reading ${cfg.rawUri}`);
    let rawBytes: number;
    try {
      rawBytes = await downloadToFile(s3, cfg.rawUri, raw);
    } catch (err) {
      if (isNotFound(err) && (err as { name?: string }).name !== "NoSuchBucket") {
        throw new StepError(`RAW_URI ${cfg.rawUri} does not exist: run the download step first`, EXIT.NO_INPUT);
      }
      throw err;
    }
    const fix = "re-download the source (run the download step again)";
    await assertLooksLikePbf(raw, `the raw file ${cfg.rawUri}`, fix);
    const exprFile = join(dir, "filter.txt");
    await writeFile(exprFile, filterExpressions().join("\n") + "\n");
    log(`osmium tags-filter on ${mib(rawBytes)}`);
    const started = Date.now();
    const result = await runOsmium(["tags-filter", "-F", "pbf", raw, "-e", exprFile, "-f", "pbf", "-o", out, "--overwrite", "--no-progress"]);
    if (result.code !== 0) throw osmiumFailure(result, `the raw file ${cfg.rawUri}`, fix);
    const bytes = (await stat(out)).size;
    log(`extract is ${mib(bytes)} (${((Date.now() - started) / 1000).toFixed(1)} s); writing ${cfg.extractUri}`);
    await uploadFile(s3, out, cfg.extractUri);
    return { bytes };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
