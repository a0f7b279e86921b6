import { EXIT, StepError } from "../../lib/exit-codes.ts";
import type { Env } from "../../lib/run-step.ts";

/**
 * Which ONNX Runtime execution provider the `ocr` task runs on: `cuda` on the GPU instances (the GPU task
 * definition sets it, stacks/constructs/TaskDefinitions.ts), `cpu` offline and in tests, where the local engine gives
 * a task launched on the GPU capacity provider the CPU provider instead. Its own module, free of ONNX Runtime, so
 * that the stack and the local engine can name it without loading the runtime.
 */
export const OCR_PROVIDER_ENV = "ATLAS_OCR_PROVIDER";
export type ExecutionProvider = "cpu" | "cuda";

/** The GPU task definition's value, and the local stand-in's. */
export const GPU_PROVIDER: ExecutionProvider = "cuda";
export const LOCAL_PROVIDER: ExecutionProvider = "cpu";

export function providerOf(env: Env): ExecutionProvider {
  const value = (env[OCR_PROVIDER_ENV] ?? LOCAL_PROVIDER).trim();
  if (value !== "cpu" && value !== "cuda") throw new StepError(`${OCR_PROVIDER_ENV}='${value}' must be cpu or cuda`, EXIT.USAGE);
  return value;
}
