import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { uploadFile } from "../../../lib/s3-objects.ts";
import { startTestS3, type TestS3 } from "../../../lib/testing/s3rver.ts";
import { craftedCases, grandvaliraSlice, mutants } from "../testing/hostile-pbf.ts";
import { BUCKET, runChildBounded, stepEnv, uris, type BoundedRun } from "../testing/helpers.ts";

// Hostile input against the real extract step, each run as its own process under a hang and blow-up guard
// (generous bounds: they catch a spin or a gigabyte allocation, they do not measure speed). Every crafted case
// must exit 65 with one line naming the file, the block and the fault; every mutant of a real file must exit
// 0 or 65, never 1 (an unexpected error), 134 (a V8 abort) or 137 (killed).

// A step process needs about 150 MiB before reading anything; the unguarded reader took 520-560 MiB on the
// 12 KB "identical ways" and 2 KB "repeated groups" files, and 1.6 GiB on a 27 KB one.
const BOUNDS = { timeoutMs: 120_000, maxRssBytes: 640 * 1024 ** 2 };
/** Seeds of the mutants: fixed, so a failure reproduces (`mutants(fixture, SEED, COUNT)`). */
const SEED = 20211, COUNT = 16;
/** Child processes at once (the machine is shared). */
const PARALLEL = 2;

let s3: TestS3;
let tmp: string;
let fixture: Buffer;
let mutated: ReturnType<typeof mutants> | undefined;

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), "pbf-fuzz-test-"));
  s3 = await startTestS3({ buckets: [BUCKET] });
  fixture = await grandvaliraSlice(tmp);
});

afterAll(async () => {
  await s3?.stop();
  await rm(tmp, { recursive: true, force: true });
});

let running = 0;
const waiting: (() => void)[] = [];
async function slot<T>(fn: () => Promise<T>): Promise<T> {
  if (running >= PARALLEL) await new Promise<void>((r) => waiting.push(r));
  running++;
  try {
    return await fn();
  } finally {
    running--;
    waiting.shift()?.();
  }
}

let regions = 0;
async function extractOf(bytes: Buffer): Promise<BoundedRun & { uri: string }> {
  const region = `fuzz-${++regions}`;
  const path = join(tmp, `${region}.osm.pbf`);
  await writeFile(path, bytes);
  await uploadFile(s3.s3, path, uris(region).raw);
  const run = await slot(() => runChildBounded("extract", stepEnv(s3.env, region), BOUNDS));
  return { ...run, uri: uris(region).raw };
}

function expectBounded(run: BoundedRun) {
  expect(run.killedFor, `killed by the ${run.killedFor} bound (peak RSS ${run.peakRssBytes} bytes)`).toBeUndefined();
  expect(run.stderr).not.toMatch(/unexpected|\n\s+at /);
}

describe("crafted hostile PBFs → exit 65, one line naming the file, the block and the fault", () => {
  it.concurrent.each(craftedCases().map((c) => [c.name, c] as const))("%s", async (_name, c) => {
    const run = await extractOf(c.bytes);
    expectBounded(run);
    expect(run.code, run.stderr).toBe(65);
    expect(run.errorLines).toHaveLength(1);
    const line = run.errorLines[0];
    expect(line.startsWith(`error: the raw file ${run.uri} is not a valid OSM PBF (`), line).toBe(true);
    if (c.namesBlock) expect(line).toMatch(/\(block \d+ at byte \d+: /);
    expect(line).toMatch(c.expect);
  });
});

describe("seeded mutations of a real file → exit 0 or 65, within the bounds", () => {
  it("the unmutated fixture extracts (exit 0)", async () => {
    const run = await extractOf(fixture);
    expectBounded(run);
    expect(run.code, run.stderr).toBe(0);
  });

  it.concurrent.each(Array.from({ length: COUNT }, (_, i) => [i] as const))("mutant %i", async (i) => {
    mutated ??= mutants(fixture, SEED, COUNT);
    const m = mutated[i];
    const run = await extractOf(m.bytes);
    expectBounded(run);
    expect([0, 65], `${m.name}: ${run.stderr}`).toContain(run.code);
    if (run.code === 65) {
      expect(run.errorLines, m.name).toHaveLength(1);
      expect(run.errorLines[0], m.name).toMatch(/^error: the raw file s3:\/\/\S+ is not a valid OSM PBF \((block \d+ at byte \d+: |it does not start)/);
    }
  });
});
