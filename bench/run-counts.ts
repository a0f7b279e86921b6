/**
 * `npm run bench:counts`: the counts of a real ski-atlas run that the cost projections take as they are
 * (bench/sizing-fit.ts `runShape`), measured by running the real state machine on the local engine and read from
 * the run's record, written to bench/run-counts.json. `bench/run-counts.test.ts` runs the same measurement in
 * `npm test` and fails when the committed file no longer matches, so a change to what a run does cannot leave the
 * projections behind silently.
 *
 * The run measured is a monthly run in its steady state: the Andorra extract's month after one already published
 * (so the shrink guard and changes.csv read the previous month, as every month but a region's first does), from a
 * source the bucket does not hold yet (as Geofabrik's file changes every month), with the production lease TTL (a
 * local run's short one would add lease renewals that depend on the machine's speed).
 */
import { copyFile, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { HeadObjectCommand } from "@aws-sdk/client-s3";
import { ANDORRA_PBF } from "../lib/data-catalog.ts";
import { dataFile } from "../lib/data-files.ts";
import { LEASE_DEFAULTS, LEASE_TTL_ENV } from "../lib/prefix-lease.ts";
import { makeS3Client, parseS3Uri } from "../lib/s3.ts";
import { runLocal } from "../local/run-local.ts";
import type { RunRecord } from "../run-records/record.ts";
import { resolvedDefinition } from "../stacks/resolve-asl.ts";
import { REPO } from "./make-data.ts";
import { runShape, type MeasuredRun, type RunShape } from "./sizing-fit.ts";

export const RUN_COUNTS_FILE = join(REPO, "bench/run-counts.json");
const MEASURED_BY = "npm run bench:counts (bench/run-counts.ts)";

/** The shape the projections price: the compiled ski-atlas machine's success path and the committed measurement. */
export async function projectedRunShape(): Promise<RunShape> {
  const measured = JSON.parse(await readFile(RUN_COUNTS_FILE, "utf8")) as MeasuredRun;
  return runShape(await resolvedDefinition("ski-atlas"), measured);
}

/** Runs the previous month, then the measured one, in `scratch`; returns the measured run's record and counts. */
export async function measureMonthlyRun(scratch: string): Promise<{ record: RunRecord; measured: MeasuredRun }> {
  const andorra = await dataFile(ANDORRA_PBF);
  // Geofabrik's name for the current file: a raw key the previous month did not write.
  const latest = join(scratch, "andorra-latest.osm.pbf");
  await copyFile(andorra, latest);
  const accountDir = join(scratch, "account");
  const env = { [LEASE_TTL_ENV]: String(LEASE_DEFAULTS.ttlMs) };
  const month = async (period: string, source: string) => {
    const run = await runLocal({ workflow: "ski-atlas", input: { region: "andorra", period, source: pathToFileURL(source).href }, runDir: join(scratch, period), accountDir, env });
    try {
      if (run.record.status !== "SUCCEEDED") throw new Error(`the ${period} run ${run.record.status}: ${run.record.error?.line ?? ""}`);
      return { run, extractBytes: await objectBytes(run.env, (run.record.output as { plan: { uris: { extract: string } } }).plan.uris.extract) };
    } finally {
      await run.stop();
    }
  };
  await month("2021-06", andorra);
  const { run, extractBytes } = await month("2021-07", latest);
  const usage = run.record.estimated_cost.usage;
  if (usage.s3_write_requests === null || usage.s3_read_requests === null) throw new Error("the local run did not count its S3 requests");
  return {
    record: run.record,
    measured: {
      measuredBy: MEASURED_BY,
      measuredAt: new Date().toISOString(),
      scenario: "ski-atlas on the Andorra extract, the month after one already published, on the local engine",
      inputBytes: (await stat(latest)).size,
      extractBytes,
      s3Requests: { write: usage.s3_write_requests, read: usage.s3_read_requests },
    },
  };
}

async function objectBytes(env: Record<string, string>, uri: string): Promise<number> {
  const s3 = makeS3Client(env);
  try {
    const { bucket, key } = parseS3Uri(uri);
    return (await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }))).ContentLength ?? 0;
  } finally {
    s3.destroy();
  }
}

async function main(): Promise<void> {
  const scratch = await mkdtemp(join(tmpdir(), "run-counts-"));
  try {
    const { record, measured } = await measureMonthlyRun(scratch);
    await writeFile(RUN_COUNTS_FILE, `${JSON.stringify(measured, null, 2)}\n`);
    console.log(`${record.estimated_cost.usage.state_transitions} state transitions, S3 ${measured.s3Requests.write} write + ${measured.s3Requests.read} read: wrote bench/run-counts.json`);
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  main().then(
    () => process.exit(0),
    (err: Error) => {
      console.error(`error: ${err.message}`);
      process.exit(1);
    },
  );
}
