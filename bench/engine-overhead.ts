/**
 * The local engine's own cost per state transition, in one run (no timing assertions: print and compare).
 *
 *   npm run bench:engine
 *
 * 1. A chain of Pass states through LocalEngine: pure engine overhead per transition.
 * 2. A real ski-atlas run on the generated sample: wall time minus the time spent inside Task states
 *    (child processes and functions), divided by the number of transitions.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import { writeSyntheticRegion } from "../containers/ski-atlas/synthetic-osm.ts";
import { LocalEngine } from "../local/engine.ts";
import { REPO_ROOT, runLocal } from "../local/run-local.ts";

const scratch = await mkdtemp(path.join(tmpdir(), "engine-overhead-"));
try {
  const n = 2000;
  const States: Record<string, Record<string, unknown>> = {};
  for (let i = 0; i < n; i++) {
    States[`S${i}`] = { Type: "Pass", Parameters: { "i.$": "$.i", "input.$": "$" }, ResultPath: "$.last", ...(i === n - 1 ? { End: true } : { Next: `S${i + 1}` }) };
  }
  const engine = new LocalEngine({ repoRoot: REPO_ROOT, runDir: scratch, definitions: { chain: { StartAt: "S0", States } }, env: {} });
  const t0 = performance.now();
  const chain = await engine.run("chain", { i: 1 }, "chain");
  const chainMs = performance.now() - t0;
  if (chain.status !== "SUCCEEDED") throw new Error(`chain run ${chain.status}`);

  const pbf = path.join(scratch, "sample.osm.pbf");
  await writeSyntheticRegion(pbf);
  const t1 = performance.now();
  const run = await runLocal({ workflow: "ski-atlas", input: { region: "sample", period: "2026-11", source: pathToFileURL(pbf).href }, runDir: path.join(scratch, "run") });
  const wallMs = performance.now() - t1;
  await run.stop();
  const transitions = run.result.states.reduce((sum, s) => sum + s.attempts, 0);
  const inTasks = run.result.states.filter((s) => s.type === "Task").reduce((sum, s) => sum + s.duration_ms, 0);

  console.log(`Pass-state chain: ${n} transitions in ${chainMs.toFixed(0)} ms = ${(chainMs / n).toFixed(3)} ms per transition`);
  console.log(
    `ski-atlas on the sample: ${transitions} transitions, wall ${wallMs.toFixed(0)} ms, in Task states ${inTasks} ms, ` +
      `engine and setup ${(wallMs - inTasks).toFixed(0)} ms = ${((wallMs - inTasks) / transitions).toFixed(1)} ms per transition (includes synth, S3 server start, summary)`,
  );
} finally {
  await rm(scratch, { recursive: true, force: true });
}
