import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { S3Client } from "@aws-sdk/client-s3";
import { EXIT, StepError } from "../../lib/exit-codes.ts";
import { contentTypeOf } from "../../lib/manifest.ts";
import { downloadToFile, isNotFound, uploadFile } from "../../lib/s3-objects.ts";
import type { AnalyzeConfig } from "./config.ts";
import { mib, type Logger } from "./log.ts";
import { asStepError, PbfPasses, readSkiFeatures, streamPoiCandidates, type PoiCandidates } from "./extract-reader.ts";
import { buildTables, OUTPUT_FILES, SUMMARY_FILE, type Summary } from "./outputs.ts";
import { assertLooksLikePbf } from "./pbf-check.ts";
import { buildSkiAreas, finishSkiModel, PoiCollector, type SkiAreasModel, type SkiModel } from "./ski-model.ts";
import { TableWriter } from "./tables.ts";

/** Step 3: EXTRACT_URI → the output files under STAGING_URI (see README.md). */
export async function runAnalyze(cfg: AnalyzeConfig, s3: S3Client, log: Logger): Promise<Summary> {
  const dir = await mkdtemp(join(tmpdir(), "ski-atlas-analyze-"));
  try {
    const pbf = join(dir, "extract.osm.pbf");
    let bytes: number;
    try {
      bytes = await downloadToFile(s3, cfg.extractUri, pbf);
    } catch (err) {
      if (isNotFound(err) && (err as { name?: string }).name !== "NoSuchBucket") {
        throw new StepError(`EXTRACT_URI ${cfg.extractUri} does not exist: run the extract step first`, EXIT.NO_INPUT);
      }
      throw err;
    }
    const fix = "run the extract step again";
    await assertLooksLikePbf(pbf, `the extract ${cfg.extractUri}`, fix);
    log(`reading ${cfg.extractUri} (${mib(bytes)})`);
    const model = await analyzeExtract(pbf, `the extract ${cfg.extractUri}`, fix, log);
    for (const w of model.warnings.slice(0, 20)) log(`warning: ${w}`);
    if (model.warnings.length > 20) log(`warning: … and ${model.warnings.length - 20} more`);
    const t = buildTables(model);
    log(
      `${t.summary.counts.ski_areas} ski areas, ${t.summary.counts.lifts} lifts (${t.summary.lift_length_km} km), ` +
        `${t.summary.counts.pistes} pistes (${t.summary.downhill_km} km downhill), ${t.summary.counts.osm_near_winter_sports} nearby POIs`,
    );

    const out = join(dir, "out");
    await mkdir(out);
    const writer = await TableWriter.open();
    try {
      // One table's rows at a time (built, written, dropped).
      for (const [name, build] of [
        [OUTPUT_FILES.skiAreas, t.skiAreas], [OUTPUT_FILES.lifts, t.lifts], [OUTPUT_FILES.pistes, t.pistes], [OUTPUT_FILES.pois, t.pois],
      ] as const) {
        const { table, geo } = build();
        await writer.writeParquet(join(out, name), table, geo);
      }
      const analyzed = t.analyzed();
      await writer.writeParquet(join(out, OUTPUT_FILES.analyzedParquet), analyzed);
      await writer.writeCsv(join(out, OUTPUT_FILES.analyzedCsv), analyzed);
    } finally {
      writer.close();
    }
    await writeFile(join(out, SUMMARY_FILE), JSON.stringify(t.summary, null, 2) + "\n");
    const names = [...Object.values(OUTPUT_FILES), SUMMARY_FILE];
    await Promise.all(
      names.map((name) =>
        uploadFile(s3, join(out, name), cfg.stagingUri + name, { contentType: contentTypeOf(name) }),
      ),
    );
    log(`wrote ${names.length} files to ${cfg.stagingUri}`);
    return t.summary;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * The model of a (sorted) extract, streamed so that memory follows the ski features, not the region (a continent's
 * extract holds every hotel, restaurant and car park of the continent): the ski features and the nodes they use
 * are read first (extract-reader.ts `readSkiFeatures`), the ski areas built from them, then every POI candidate streams past
 * the areas and only those near one are kept (`streamPoiCandidates` → PoiCollector). Bad input → StepError 65.
 */
export async function analyzeExtract(path: string, what: string, fix: string, log?: Logger): Promise<SkiModel> {
  let pbf: PbfPasses | undefined;
  try {
    pbf = await PbfPasses.open(path);
    const { base, candidates } = await readSkiAreas(pbf, log);
    const pois = new PoiCollector(base.skiAreas);
    await streamPoiCandidates(pbf, candidates, pois);
    return finishSkiModel(base, pois);
  } catch (err) {
    throw asStepError(err, what, fix);
  } finally {
    await pbf?.close();
  }
}

/**
 * Passes 1–2 and the ski areas built from them. The ski features' node locations, node ids and tags are garbage once
 * this returns (the areas, lifts and pistes keep what they need), before the POI candidates stream past.
 */
async function readSkiAreas(pbf: PbfPasses, log?: Logger): Promise<{ base: SkiAreasModel; candidates: PoiCandidates }> {
  const { data, pois } = await readSkiFeatures(pbf);
  log?.(
    `ski features: ${data.relations.size} relations, ${data.ways.size} ways, ${data.nodeCount} nodes; ` +
      `${pois.poiWayNodes.size} nodes of POI ways`,
  );
  return { base: buildSkiAreas(data), candidates: pois };
}
