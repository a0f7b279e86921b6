import { parentPort, workerData } from "node:worker_threads";
import { makeS3Client } from "../../lib/s3.ts";
import { getObjectRange } from "../../lib/s3-objects.ts";
import type { RangeErrorShape } from "./range-thread.ts";

/** The thread of range-thread.ts: GETs ranges of one object into the shared slots it is given. */
const { env, uri, etag } = workerData as { env: NodeJS.ProcessEnv; uri: string; etag?: string };
const s3 = makeS3Client(env);
const port = parentPort!;

/** An error's code, where the SDK or Node put it (on the error or its causes). */
function codeOf(err: unknown): string | undefined {
  let e = err as { code?: unknown; cause?: unknown } | undefined;
  for (let depth = 0; e && depth < 5; depth++, e = e.cause as typeof e) if (typeof e.code === "string") return e.code;
  return undefined;
}

port.on("message", async (m: { id: number; start: number; end: number; into: Uint8Array }) => {
  try {
    await getObjectRange(s3, uri, m.start, m.end, etag, m.into);
    port.postMessage({ id: m.id });
  } catch (err) {
    const e = err as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
    const error: RangeErrorShape = { name: e?.name ?? "Error", message: e?.message ?? String(err), code: codeOf(err), status: e?.$metadata?.httpStatusCode };
    port.postMessage({ id: m.id, error });
  }
});
