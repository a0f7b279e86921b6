import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { S3Client } from "@aws-sdk/client-s3";
import { EXIT, StepError } from "../../lib/exit-codes.ts";
import { getObjectRange, headObject, uploadFile } from "../../lib/s3-objects.ts";
import type { ExtractConfig } from "./config.ts";
import { mib, type Logger } from "./log.ts";
import { chooseCore } from "./pbf/block-core.ts";
import { extractPbf, type TagRule } from "./pbf/extract.ts";
import { PbfFormatError } from "./pbf/protobuf.ts";
import { RANGE_CHUNK, RangeSource } from "./pbf/source.ts";
import { rangeInThread, type RangeReading } from "./range-thread.ts";
import { PbfFileWriter } from "./pbf/write.ts";
import { assertPbfStart, PBF_START_BYTES } from "./pbf-check.ts";
import { POI_TAGS } from "./poi-tags.ts";
import { EXTRACTED_LIFECYCLE_PREFIXES } from "./model/status.ts";

/**
 * What extract keeps (plus every object these reference): ski areas, lifts, pistes (and their relations), POIs.
 * The extractor (pbf/extract.ts) evaluates these rules; `filterExpressions()` spells the same rules for
 * `osmium tags-filter`, the oracle of the tests and the benchmark.
 */
export const FILTER_RULES: readonly TagRule[] = [
  // Ski areas: polygons (ways, multipolygon relations) and site relations; route=piste groups piste ways.
  { types: "wr", key: "landuse", values: ["winter_sports"] },
  { types: "r", key: "site", values: ["piste"] },
  { types: "r", key: "route", values: ["piste"] },
  // Lifts (pylons and stations are nodes of these ways and come along as referenced nodes); funiculars are lifts
  // too (openskidata-processor's lift query takes railway=funicular).
  { types: "w", key: "aerialway" },
  { types: "w", key: "railway", values: ["funicular"] },
  // Pistes: ways, and route relations that carry piste:type themselves (their untagged member ways come along as
  // referenced objects).
  { types: "wr", key: "piste:type" },
  // Lifts and pistes under a lifecycle prefix (`disused:aerialway=chair_lift`): kept, so that lifts.parquet and
  // pistes.parquet list them with their status (model/status.ts). 2 rules per prefix: the extractor takes ≤ 31 a type.
  ...EXTRACTED_LIFECYCLE_PREFIXES.flatMap((state): TagRule[] => [
    { types: "w", key: `${state}:aerialway` },
    { types: "w", key: `${state}:piste:type` },
  ]),
  // Points of interest.
  ...Object.entries(POI_TAGS).map(([key, values]) => ({ types: "nw", key, values })),
];

/** FILTER_RULES as `osmium tags-filter` expressions (one per line of an expressions file). */
export function filterExpressions(): string[] {
  return FILTER_RULES.map((r) => `${r.types}/${r.key}${r.values ? "=" + r.values.join(",") : ""}`);
}

/**
 * Step 2. Referenced objects are kept (like osmium tags-filter without -R): analyze needs the nodes of every kept
 * way, and the members of site=piste / multipolygon relations (which may carry no ski tags of their own).
 * RAW_URI is read in place with ranged GETs (pbf/source.ts), pinned to the ETag its HEAD gave: no local copy of
 * the raw file (a continent's would need tens of GB of task storage), and the reads overlap the decoding.
 * `reader`: who makes the GETs (the step: a thread of their own, range-thread.ts; by default this thread, with `s3`).
 */
export async function runExtract(
  cfg: ExtractConfig,
  s3: S3Client,
  log: Logger,
  reader: (uri: string, etag: string | undefined) => RangeReading = (uri, etag) => rangeInThread(s3, uri, etag),
): Promise<{ bytes: number }> {
  const dir = await mkdtemp(join(tmpdir(), "ski-atlas-extract-"));
  try {
    const out = join(dir, "extract.osm.pbf");
    log(`reading ${cfg.rawUri}`);
    const head = await headObject(s3, cfg.rawUri);
    if (!head) {
      // A HEAD answer has no body, so it cannot tell a missing bucket (a configuration fault) from a missing key;
      // a GET can.
      await getObjectRange(s3, cfg.rawUri, 0, 1).catch((err: { name?: string }) => {
        if (err.name === "NoSuchBucket") throw err;
      });
      throw new StepError(`RAW_URI ${cfg.rawUri} does not exist: run the download step first`, EXIT.NO_INPUT);
    }
    const rawBytes = head.ContentLength ?? 0;
    const reading = reader(cfg.rawUri, head.ETag);
    const raw = new RangeSource(reading.read, rawBytes);
    const fix = "re-download the source (run the download step again)";
    const replaced = (err: unknown) => {
      // If-Match failed: RAW_URI was replaced while it was read (a download ran meanwhile). Read it again.
      if ((err as { name?: string }).name !== "PreconditionFailed") return err;
      return new StepError(`the raw file ${cfg.rawUri} changed while it was read: retry later`, EXIT.TEMP_FAIL);
    };
    let result: Awaited<ReturnType<typeof extractPbf<PbfFileWriter>>>;
    let bytes: number;
    const started = Date.now();
    try {
      assertPbfStart(await raw.read(0, PBF_START_BYTES).catch((err) => Promise.reject(replaced(err))), rawBytes, `the raw file ${cfg.rawUri}`, fix);
      // The compiled core where it loads (it is built with the image), else the TypeScript, saying why.
      const core = chooseCore();
      log(`PBF core: ${core.description}`);
      log(`filtering ${mib(rawBytes)}`);
      // The kept nodes go straight into the extract file as pass 2 finds them; ways and relations follow.
      const writer = await PbfFileWriter.create(out);
      try {
        result = await extractPbf(raw, FILTER_RULES, { nodes: writer, core: core.kind });
        bytes = await writer.finish(result.ways, result.relations);
      } catch (err) {
        await writer.abort();
        if (err instanceof PbfFormatError) throw new StepError(`the raw file ${cfg.rawUri} is not a valid OSM PBF (${err.message}): ${fix}`, EXIT.DATA_ERROR);
        throw replaced(err);
      }
    } finally {
      await raw.close();
      await reading.close();
    }
    const { stats } = result;
    log(
      `kept ${result.nodes.length} nodes, ${result.ways.length} ways, ${result.relations.length} relations; ` +
        `${stats.inflated} of ${stats.blocks} blocks inflated (${stats.reinflated} again), ${stats.nodeBlocksSkipped} node blocks skipped; ` +
        `${raw.gets} ranged GETs of ${mib(RANGE_CHUNK)}`,
    );
    log(`extract is ${mib(bytes)} (${((Date.now() - started) / 1000).toFixed(1)} s); writing ${cfg.extractUri}`);
    await uploadFile(s3, out, cfg.extractUri);
    return { bytes };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
