import type { S3Client } from "@aws-sdk/client-s3";
import { rollbackInterruptedPublish } from "../../lib/publish-prefix.ts";
import { runStepMain, type Env, type Log, type StepFn, type StepIO } from "../../lib/run-step.ts";
import { runAnalyze } from "./analyze.ts";
import { readConfig, readRollbackConfig, type StepConfig } from "./config.ts";
import { runDownload } from "./download.ts";
import { runExtract } from "./extract.ts";
import { runPublish } from "./publish.ts";

/** One step: its config read by config.ts (the only place reading the environment), then run. */
function step<C extends StepConfig>(name: C["step"], run: (cfg: C, s3: S3Client, log: Log) => Promise<unknown>): StepFn {
  return async (env: Env, s3: S3Client, log: Log) => {
    const cfg = readConfig(name, env) as C;
    log(`region=${cfg.region} period=${cfg.period} run=${cfg.runId}`);
    await run(cfg, s3, log);
  };
}

/** The commands of the ski-atlas image (`main <command>`), in the order a run uses them. */
export const SKI_ATLAS_STEPS: Record<string, StepFn> = {
  download: step("download", runDownload),
  extract: step("extract", runExtract),
  analyze: step("analyze", runAnalyze),
  publish: step("publish", runPublish),
  /** The failure path: undoes an interrupted publish of PUBLISH_URI (nothing to do when none was interrupted). */
  rollback: async (env, s3, log) => {
    const cfg = readRollbackConfig(env);
    const outcome = await rollbackInterruptedPublish(s3, cfg.publishUri, log, { lease: cfg.lease, pauseAfterCopies: cfg.pauseAfterCopies });
    if (outcome === "none") log(`nothing to roll back under ${cfg.publishUri}`);
  },
};

/** Runs one command with the entrypoint convention of lib/run-step.ts; returns the exit code. */
export function runSkiAtlasStep(argv: string[], env: Env, io?: StepIO): Promise<number> {
  return runStepMain("ski-atlas", SKI_ATLAS_STEPS, argv, env, io);
}
