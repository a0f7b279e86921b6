/**
 * `npm run fuzz:native [-- --seconds S --seed N]`: the compiled PBF core under AddressSanitizer and
 * UndefinedBehaviorSanitizer (pbf/native/fuzz.c, built by `build.sh --fuzz`), over the extract's own tag rules,
 * every crafted hostile file of hostile-pbf.ts, the real Andorra extract, a slice of it and its seeded mutants,
 * and the synthetic region, then seeded mutants of every block until S seconds (default 60) are spent. Exits
 * non-zero on any sanitizer report, crash or hang. Run by CI after `npm test` (.ci/run); not part of the image.
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FILTER_RULES } from "../extract.ts";
import { writeSyntheticRegion } from "../synthetic-osm.ts";
import { andorraPbf, REPO_ROOT } from "./helpers.ts";
import { craftedCases, grandvaliraSlice, mutants } from "./hostile-pbf.ts";

const NATIVE = join(REPO_ROOT, "containers/ski-atlas/pbf/native");
/** A run that outlives its time budget by this much is a hang. */
const HANG_MARGIN_S = 120;

function option(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isFinite(v) || v < 0) throw new Error(`error: ${name} takes a number`);
  return v;
}

async function main(): Promise<number> {
  const seconds = option("--seconds", 60), seed = option("--seed", 1);
  const build = spawnSync("sh", [join(NATIVE, "build.sh"), "--fuzz"], { stdio: "inherit" });
  if (build.status !== 0) return build.status ?? 1;
  const dir = await mkdtemp(join(tmpdir(), "fuzz-native-"));
  try {
    // The rules as the harness reads them: types, key, values, tab-separated.
    const rules = join(dir, "rules.tsv");
    await writeFile(rules, FILTER_RULES.map((r) => [r.types, r.key, ...(r.values ?? [])].join("\t")).join("\n") + "\n");
    const files = [await andorraPbf()];
    const add = async (name: string, bytes: Uint8Array) => {
      const path = join(dir, name);
      await writeFile(path, bytes);
      files.push(path);
    };
    for (const [i, c] of craftedCases().entries()) await add(`crafted-${i}.osm.pbf`, c.bytes);
    const slice = await grandvaliraSlice(dir);
    for (const [i, m] of mutants(slice, seed, 40).entries()) await add(`mutant-${i}.osm.pbf`, m.bytes);
    const synthetic = join(dir, "synthetic.osm.pbf");
    await writeSyntheticRegion(synthetic, "ski");
    files.push(synthetic, join(dir, "grandvalira.osm.pbf"));

    const harness = join(NATIVE, "build/fuzz-pbf-core");
    const child = spawn(harness, ["--rules", rules, "--seconds", String(seconds), "--seed", String(seed), ...files], {
      stdio: "inherit",
      env: { ...process.env, ASAN_OPTIONS: "detect_leaks=1:halt_on_error=1", UBSAN_OPTIONS: "halt_on_error=1:print_stacktrace=1" },
    });
    const timer = setTimeout(() => {
      console.error(`error: the fuzz harness ran ${seconds + HANG_MARGIN_S} s for a budget of ${seconds} s: a hang (seed ${seed})`);
      child.kill("SIGKILL");
    }, (seconds + HANG_MARGIN_S) * 1000);
    const code = await new Promise<number>((resolve) => child.on("close", (c, signal) => resolve(c ?? (signal ? 128 : 1))));
    clearTimeout(timer);
    if (code !== 0) console.error(`error: the compiled PBF core failed under the sanitizers (exit ${code}, seed ${seed}): see the report above`);
    return code;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

process.exitCode = await main();
