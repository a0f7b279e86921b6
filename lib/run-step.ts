import { classifyError } from "./classify-error.ts";
import { EXIT, StepError } from "./exit-codes.ts";
import { makeS3Client } from "./s3.ts";
import type { S3Client } from "@aws-sdk/client-s3";

/**
 * The entrypoint convention every container image follows (docs/ARCHITECTURE.md): `main <step>`, the environment
 * read in one place, progress as `[step] …` on stderr, and a failure as exactly one `error: …` line plus the exit
 * code the state machine acts on (lib/exit-codes.ts).
 */
export type Env = Record<string, string | undefined>;
export type Log = (message: string) => void;
export type StepFn = (env: Env, s3: S3Client, log: Log) => Promise<void>;

export interface StepIO {
  stderr: { write(s: string): unknown };
}

export async function runStepMain(image: string, steps: Record<string, StepFn>, argv: string[], env: Env, io: StepIO = process): Promise<number> {
  const step = argv[0];
  const log: Log = (m) => io.stderr.write(`[${step ?? image}] ${m}\n`);
  const s3 = makeS3Client(env as NodeJS.ProcessEnv);
  const started = Date.now();
  try {
    const fn = step ? steps[step] : undefined;
    if (!fn) throw new StepError(`unknown step '${step ?? ""}': use one of ${Object.keys(steps).join(", ")}`, EXIT.USAGE);
    await fn(env, s3, log);
    log(`done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    return 0;
  } catch (err) {
    const e = classifyError(err, step);
    if (e.exitCode === 1 && env.ATLAS_DEBUG) io.stderr.write(`${(err as Error).stack}\n`);
    io.stderr.write(`error: ${e.message.replace(/\s*\n\s*/g, " ")}\n`);
    return e.exitCode;
  } finally {
    s3.destroy();
  }
}

/** A required variable, or exit 64 naming it. */
export function requiredEnv(env: Env, name: string, step: string): string {
  const value = env[name]?.trim();
  if (!value) throw new StepError(`${name} is not set: the ${step} step needs it`, EXIT.USAGE);
  return value;
}

/** A required `s3://` URI (or a `file://` URL when `allowFile`); prefixes get a trailing slash. */
export function uriEnv(env: Env, name: string, step: string, opts: { prefix?: boolean; allowFile?: boolean } = {}): string {
  let value = requiredEnv(env, name, step);
  const ok = /^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]\//.test(value) || (opts.allowFile === true && value.startsWith("file://"));
  if (!ok) {
    const file = value.startsWith("file://") ? " (file:// URLs only in local runs, ATLAS_LOCAL=1)" : "";
    throw new StepError(`${name}='${value}' is not an S3 URI: use s3://bucket/key${file}`, EXIT.USAGE);
  }
  if (opts.prefix && !value.endsWith("/")) value += "/";
  return value;
}
