import * as path from "node:path";
import { pathToFileURL } from "node:url";
import type { FaultKind } from "./faults.ts";
import { describeFault } from "./faults.ts";
import { holdIfHalted } from "./run-halt.ts";

export interface LambdaInvokeParameters {
  FunctionName: string;
  Payload?: unknown;
}

/** The `lambda:invoke` integration's response. */
export interface LambdaInvokeResult {
  Payload: unknown;
  StatusCode: number;
  ExecutedVersion: string;
}

/** A function error as Step Functions reports it: Error is the errorType, Cause the error as JSON. */
export class LambdaFunctionError extends Error {
  constructor(errorType: string, errorMessage: string, trace: string[] = []) {
    super(JSON.stringify({ errorType, errorMessage, trace }));
    this.name = errorType;
  }
}

/** `arn:…:function:plan` (or `plan`, or `plan:$LATEST`) → `plan`. */
export function functionNameOf(functionName: string): string {
  const afterFunction = functionName.includes(":function:") ? functionName.split(":function:")[1] : functionName;
  return afterFunction.split(":")[0];
}

/**
 * Calls `functions/<name>.ts`'s handler in this process with the real payload, and answers with the
 * integration's real response shape and error names, so Retry and Catch behave as on AWS.
 */
export async function invokeLocalFunction(
  params: LambdaInvokeParameters,
  options: { repoRoot: string; fault?: FaultKind; executionName: string; s3Outage?: (delayMs: number) => Promise<void> },
): Promise<LambdaInvokeResult> {
  // An interrupted run starts nothing new (local/run-halt.ts): not even the failure path's Notify.
  await holdIfHalted();
  const name = functionNameOf(params.FunctionName);
  if (options.fault === "throttle") throw new LambdaFunctionError("Lambda.TooManyRequestsException", "Rate exceeded (injected fault)");
  if (options.fault === "error") throw new LambdaFunctionError("InjectedFault", `${name}: injected fault`);
  if (options.fault === "oom") throw new LambdaFunctionError("Runtime.OutOfMemory", `${name}: Runtime exited with error: signal: killed (injected fault)`);
  if (options.fault === "hang") return new Promise(() => {});
  // The server is away when the function starts, and back a moment later.
  if (options.fault === "s3down") await options.s3Outage?.(0);
  else if (options.fault) throw new Error(`fault '${describeFault(options.fault)}' does not apply to function '${name}'`);

  const file = path.join(options.repoRoot, "functions", `${name}.ts`);
  const mod = (await import(pathToFileURL(file).href)) as { handler?: (event: unknown, context: unknown) => Promise<unknown> };
  if (typeof mod.handler !== "function") throw new Error(`functions/${name}.ts does not export a handler`);
  const context = {
    functionName: name,
    awsRequestId: `local-${Date.now().toString(36)}`,
    getRemainingTimeInMillis: () => 60_000,
    invokedFunctionArn: params.FunctionName,
  };
  try {
    const payload = await mod.handler(params.Payload ?? {}, context);
    return { Payload: payload ?? null, StatusCode: 200, ExecutedVersion: "$LATEST" };
  } catch (err) {
    const e = err as Error;
    // An error the handler did not name is "Error" on Lambda too.
    throw new LambdaFunctionError(e.name || "Error", e.message, (e.stack ?? "").split("\n").slice(1, 6).map((s) => s.trim()));
  }
}
