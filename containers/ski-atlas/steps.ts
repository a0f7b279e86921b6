import type { S3Client } from "@aws-sdk/client-s3";
import { runStepMain, type Env, type Log, type StepFn, type StepIO } from "../../lib/run-step.ts";
import { readConfig, type AnalyzeConfig, type DownloadConfig, type ExtractConfig, type PublishConfig, type StepConfig } from "./config.ts";

/**
 * One step: its config read by config.ts (the only place reading the environment), then run. `env` goes on only
 * to make S3 clients of the step's own on other threads (the extract's range reader: an S3Client cannot cross).
 */
function step<C extends StepConfig>(name: C["step"], run: (cfg: C, s3: S3Client, log: Log, env: Env) => Promise<unknown>): StepFn {
  return async (env: Env, s3: S3Client, log: Log) => {
    const cfg = readConfig(name, env) as C;
    log(`region=${cfg.region} period=${cfg.period} run=${cfg.runId}`);
    await run(cfg, s3, log, env);
  };
}

/**
 * The commands of the ski-atlas image (`main <command>`), in the order a run uses them. Each step's module is
 * loaded when that step runs: a task runs one step, and loading all four (DuckDB's native library, the Parquet
 * writer, the country boundaries) cost every task about 0.6 s of CPU at start, 2.4 s of wall on an xsmall
 * task's quarter vCPU.
 */
export const SKI_ATLAS_STEPS: Record<string, StepFn> = {
  download: step("download", async (cfg: DownloadConfig, s3, log) => (await import("./download.ts")).runDownload(cfg, s3, log)),
  extract: step("extract", async (cfg: ExtractConfig, s3, log, env) => {
    const { runExtract } = await import("./extract.ts");
    const { rangeThread } = await import("./range-thread.ts");
    return runExtract(cfg, s3, log, (uri, etag) => rangeThread(env, uri, etag));
  }),
  analyze: step("analyze", async (cfg: AnalyzeConfig, s3, log) => (await import("./analyze.ts")).runAnalyze(cfg, s3, log)),
  publish: step("publish", async (cfg: PublishConfig, s3, log) => (await import("./publish.ts")).runPublish(cfg, s3, log)),
};

/** Runs one command with the entrypoint convention of lib/run-step.ts; returns the exit code. */
export function runSkiAtlasStep(argv: string[], env: Env, io?: StepIO): Promise<number> {
  return runStepMain("ski-atlas", SKI_ATLAS_STEPS, argv, env, io);
}
