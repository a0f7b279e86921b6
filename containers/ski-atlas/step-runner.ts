import { classifyError } from "../../lib/classify-error.ts";
import { makeS3Client } from "../../lib/s3.ts";
import { runAnalyze } from "./analyze.ts";
import { readConfig } from "./config.ts";
import { runDownload } from "./download.ts";
import { runExtract } from "./extract.ts";
import { stepLogger } from "./log.ts";
import { runPublish } from "./publish.ts";

export interface StepIO {
  stderr: { write(s: string): unknown };
}

/**
 * Runs one step (`argv[0]`) with the environment contract of docs/ARCHITECTURE.md and returns the exit code.
 * Progress goes to stderr as `[step] …`; a failure prints exactly one `error: …` line.
 */
export async function runStep(argv: string[], env: Record<string, string | undefined>, io: StepIO = process): Promise<number> {
  const step = argv[0];
  const log = stepLogger(step ?? "ski-atlas", io.stderr);
  const s3 = makeS3Client(env as NodeJS.ProcessEnv);
  const started = Date.now();
  try {
    const cfg = readConfig(step, env);
    log(`region=${cfg.region} period=${cfg.period} run=${cfg.runId}`);
    switch (cfg.step) {
      case "download": await runDownload(cfg, s3, log); break;
      case "extract": await runExtract(cfg, s3, log); break;
      case "analyze": await runAnalyze(cfg, s3, log); break;
      case "publish": await runPublish(cfg, s3, log); break;
    }
    log(`done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    return 0;
  } catch (err) {
    const e = classifyError(err, step);
    if (e.exitCode === 1 && process.env.ATLAS_DEBUG) io.stderr.write(`${(err as Error).stack}\n`);
    io.stderr.write(`error: ${e.message.replace(/\s*\n\s*/g, " ")}\n`);
    return e.exitCode;
  } finally {
    s3.destroy();
  }
}
