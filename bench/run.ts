/**
 * `npm run bench [-- <input.osm.pbf> …]` (default: the inputs listed by `npm run bench:data`);
 * `npm run bench -- --report` recomputes fits, policies and projections from bench/results.json;
 * `--dry-run` prints the tables without writing bench/results.json (e.g. when measuring a subset of the inputs).
 *
 * Runs download (file://), extract, analyze and publish as real child processes (compiled JS on Node, the way
 * the image runs them) against the embedded S3 server, and on the same file `osmium fileinfo -e` (one decode
 * pass) and `osmium tags-filter` alone. Wall time from the parent, peak RSS from /usr/bin/time (the kernel's
 * ru_maxrss). Prints a table, fits time and peak memory against input size, derives the size policies and
 * projects wall time and Fargate ARM64 cost; writes bench/results.json. Not part of `npm test`.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { cpus, tmpdir, totalmem } from "node:os";
import { join, relative, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { HeadObjectCommand } from "@aws-sdk/client-s3";
import { startTestS3 } from "../lib/testing/s3rver.ts";
import { AWS_PRICES, fargateTaskCost } from "../lib/aws-pricing.ts";
import { pickTier, SIZING_MARGIN, tierByName, type SizePolicy, type TierName } from "../workflows/tiers.ts";
import { filterExpressions } from "../containers/ski-atlas/extract.ts";
import { SKI_ATLAS_SIZE_POLICIES, SKI_ATLAS_SIZED_STEPS, type SkiAtlasSizedStep } from "../workflows/ski-atlas-sizing.ts";
import { DATA_DIR, REPO, type BenchInput } from "./make-data.ts";

const MiB = 2 ** 20;
const STEPS = SKI_ATLAS_SIZED_STEPS;

interface Measured {
  wallS: number;
  /** User + system CPU seconds (all threads): comparable across runs on a shared, loaded machine. */
  cpuS: number;
  peakRssMiB: number;
  code: number;
  stderr: string;
}

/** Runs a command under /usr/bin/time; wall from here, peak RSS of the process tree's largest process. */
function measure(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<Measured> {
  const out = join(tmpdir(), `bench-time-${process.pid}-${Math.random().toString(36).slice(2)}`);
  return new Promise((resolvePromise, reject) => {
    const t = process.hrtime.bigint();
    const child = spawn("/usr/bin/time", ["-f", "%U %S %M", "-o", out, cmd, ...args], { env, cwd: REPO, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.setEncoding("utf8");
    child.stderr.on("data", (d: string) => (stderr += d.length > 20000 ? "" : d));
    child.on("error", reject);
    child.on("close", (code) => {
      const wallS = Number(process.hrtime.bigint() - t) / 1e9;
      const [user, sys, kb] = readFileSync(out, "utf8").trim().split("\n").at(-1)!.split(" ").map(Number);
      rmSync(out, { force: true });
      resolvePromise({ wallS, cpuS: user + sys, peakRssMiB: kb / 1024, code: code ?? -1, stderr });
    });
  });
}

function versionOf(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: "utf8" });
  return (r.stdout || r.stderr || "").split("\n")[0].trim();
}

/** Least squares y = a + b·x; `a` is raised so that the line covers every point (a bound, not an average). */
function fit(xs: number[], ys: number[]): { a: number; b: number; r2: number } {
  const n = xs.length;
  if (n === 1) return { a: ys[0], b: 0, r2: 1 };
  const mx = xs.reduce((s, x) => s + x, 0) / n, my = ys.reduce((s, y) => s + y, 0) / n;
  let sxy = 0, sxx = 0, syy = 0;
  for (let i = 0; i < n; i++) {
    sxy += (xs[i] - mx) * (ys[i] - my);
    sxx += (xs[i] - mx) ** 2;
    syy += (ys[i] - my) ** 2;
  }
  const b = Math.max(0, sxx === 0 ? 0 : sxy / sxx);
  let a = my - b * mx;
  const r2 = syy === 0 ? 1 : (sxy * sxy) / (sxx * syy);
  for (let i = 0; i < n; i++) a = Math.max(a, ys[i] - b * xs[i]);
  return { a, b, r2 };
}

const ceilTo = (x: number, step: number) => Math.ceil(x / step - 1e-9) * step;

async function main() {
  if (process.argv.includes("--report")) {
    // Recompute the fits, policies and projections from the rows of the last run (no measuring).
    const last = JSON.parse(readFileSync(join(REPO, "bench/results.json"), "utf8")) as { rows: Row[]; machine: Record<string, unknown>; generatedAt: string };
    return report(last.rows, last.machine, last.generatedAt);
  }
  const given = process.argv.slice(2).filter((a) => !a.startsWith("--"));
  let inputs: { file: string; bytes: number; density: string }[];
  const densityOf = (f: string) => (f.includes("-realistic") ? "realistic" : "ski-dense");
  if (given.length > 0) inputs = given.map((f) => ({ file: resolve(f), bytes: statSync(f).size, density: densityOf(f) }));
  else {
    const list = join(DATA_DIR, "inputs.json");
    if (!existsSync(list)) throw new Error("no inputs: run `npm run bench:data` first (or pass .osm.pbf files)");
    inputs = (JSON.parse(readFileSync(list, "utf8")) as BenchInput[]).map((i) => ({ file: join(REPO, i.file), bytes: i.bytes, density: i.density ?? densityOf(i.file) }));
  }
  inputs.sort((a, b) => a.bytes - b.bytes);

  // Compile the step code like the image's build stage (tsc emits even when another module has a type error).
  const build = join(DATA_DIR, "build");
  spawnSync("npx", ["tsc", "-p", "containers/ski-atlas/tsconfig.build.json", "--outDir", build], { cwd: REPO, stdio: "ignore" });
  const main = join(build, "containers/ski-atlas/main.js");
  if (!existsSync(main)) throw new Error(`compiling the steps failed (${main} missing): run npx tsc -p containers/ski-atlas/tsconfig.build.json`);

  const work = mkdtempSync(join(tmpdir(), "ski-atlas-bench-"));
  const expr = join(work, "filter.txt");
  writeFileSync(expr, filterExpressions().join("\n") + "\n");
  const s3 = await startTestS3({ buckets: ["bench"], directory: join(work, "s3") });
  const rows: Row[] = [];
  try {
    for (const input of inputs) {
      const name = relative(REPO, input.file);
      const region = `bench${rows.length}`;
      const u = {
        raw: `s3://bench/raw/${region}/${region}.osm.pbf`,
        extract: `s3://bench/staging/${region}/2026-11/run/extract.osm.pbf`,
        staging: `s3://bench/staging/${region}/2026-11/run/out/`,
        publish: `s3://bench/${region}/2026-11/`,
      };
      const env = {
        ...process.env, ...s3.env, REGION: region, PERIOD: "2026-11", RUN_ID: "run", SOURCE_URL: pathToFileURL(input.file).href,
        ATLAS_LOCAL: "1", RAW_URI: u.raw, EXTRACT_URI: u.extract, STAGING_URI: u.staging, PUBLISH_URI: u.publish, CODE_VERSION: "bench",
      };
      process.stderr.write(`${name} (${(input.bytes / 1e6).toFixed(1)} MB): `);
      const decode = await measure("osmium", ["fileinfo", "-e", input.file]);
      process.stderr.write(`fileinfo -e ${decode.wallS.toFixed(2)} s, `);
      const filter = await measure("osmium", ["tags-filter", input.file, "-e", expr, "-f", "pbf", "-o", join(work, "osmium.pbf"), "--overwrite", "--no-progress"]);
      process.stderr.write(`tags-filter ${filter.wallS.toFixed(2)} s`);
      const steps = {} as Record<SkiAtlasSizedStep, Measured>;
      for (const step of STEPS) {
        const m = await measure(process.execPath, [main, step], env);
        if (m.code !== 0) throw new Error(`${step} failed on ${name} (exit ${m.code}): ${m.stderr.trim().split("\n").slice(-3).join(" | ")}`);
        steps[step] = m;
        process.stderr.write(`, ${step} ${m.wallS.toFixed(2)} s`);
      }
      // The extract again on one worker thread: the speed-up of pass 2's threads (ATLAS_PBF_WORKERS).
      const oneWorker = await measure(process.execPath, [main, "extract"], { ...env, ATLAS_PBF_WORKERS: "1" });
      if (oneWorker.code !== 0) throw new Error(`extract on 1 worker failed on ${name}: ${oneWorker.stderr.trim().split("\n").at(-1)}`);
      process.stderr.write(`, extract on 1 worker ${oneWorker.wallS.toFixed(2)} s\n`);
      const head = await s3.s3.send(new HeadObjectCommand({ Bucket: "bench", Key: u.extract.slice("s3://bench/".length) }));
      const eap = steps.extract.wallS + steps.analyze.wallS + steps.publish.wallS;
      rows.push({
        input: name, density: input.density, inputMB: input.bytes / 1e6, inputMiB: input.bytes / MiB, extractMB: (head.ContentLength ?? 0) / 1e6,
        osmiumDecodeS: decode.wallS, osmiumTagsFilterS: filter.wallS, osmiumTagsFilterRssMiB: filter.peakRssMiB,
        steps: Object.fromEntries(STEPS.map((s) => [s, { wallS: steps[s].wallS, peakRssMiB: steps[s].peakRssMiB }])) as Row["steps"],
        extractAnalyzePublishS: eap, ratioToDecode: eap / decode.wallS, mbPerS: input.bytes / 1e6 / eap,
        extractOneWorkerS: oneWorker.wallS, workerSpeedup: oneWorker.wallS / steps.extract.wallS,
        cpu: {
          osmiumDecodeS: decode.cpuS, osmiumTagsFilterS: filter.cpuS, extractS: steps.extract.cpuS,
          extractAnalyzePublishS: steps.extract.cpuS + steps.analyze.cpuS + steps.publish.cpuS,
        },
      });
    }
  } finally {
    await s3.stop();
    rmSync(work, { recursive: true, force: true });
  }
  const machine = {
    cpus: cpus().length, cpuModel: cpus()[0]?.model ?? "unknown", memoryGiB: Math.round(totalmem() / 2 ** 30), arch: process.arch,
    node: process.version, osmium: versionOf("osmium", ["--version"]), zlib: process.versions.zlib,
  };
  report(rows, machine, new Date().toISOString());
}

function report(rows: Row[], machine: Record<string, unknown>, generatedAt: string) {
  // ---- table
  const f = (x: number, d = 2) => x.toFixed(d);
  const lines = [
    "| input | density | osmium fileinfo -e | osmium tags-filter | download | extract | analyze | publish | E+A+P | MB/s | E+A+P ÷ decode | extract ÷ tags-filter | extract 1 worker (speed-up of all) | peak RSS MiB (extract / analyze / publish) | extract RSS per input MB |",
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ...rows.map((r) =>
      `| ${f(r.inputMB, 0)} MB | ${r.density ?? "ski-dense"} | ${f(r.osmiumDecodeS)} s | ${f(r.osmiumTagsFilterS)} s (${f(r.osmiumTagsFilterS / r.osmiumDecodeS, 1)}×) | ${f(r.steps.download.wallS)} s | ` +
      `${f(r.steps.extract.wallS)} s | ${f(r.steps.analyze.wallS)} s | ${f(r.steps.publish.wallS)} s | ${f(r.extractAnalyzePublishS)} s | ` +
      `${f(r.mbPerS, 0)} | **${f(r.ratioToDecode)}×** | ${f(r.steps.extract.wallS / r.osmiumTagsFilterS)}× | ` +
      `${r.extractOneWorkerS === undefined ? "–" : `${f(r.extractOneWorkerS)} s (${f(r.workerSpeedup!)}×)`} | ` +
      `${f(r.steps.extract.peakRssMiB, 0)} / ${f(r.steps.analyze.peakRssMiB, 0)} / ${f(r.steps.publish.peakRssMiB, 0)} | ${f(r.steps.extract.peakRssMiB / r.inputMB)} |`,
    ),
  ];

  // ---- fits and size policies
  const xs = rows.map((r) => r.inputMiB);
  const fits = Object.fromEntries(
    STEPS.map((s) => [s, { memoryMiB: fit(xs, rows.map((r) => r.steps[s].peakRssMiB)), seconds: fit(rows.map((r) => r.inputMB), rows.map((r) => r.steps[s].wallS)) }]),
  ) as Record<SkiAtlasSizedStep, { memoryMiB: ReturnType<typeof fit>; seconds: ReturnType<typeof fit> }>;
  const extractRatio = Math.max(...rows.map((r) => r.extractMB / r.inputMB));
  // Disk (not sampled: from file sizes): download keeps the raw file; extract holds the raw file, then the
  // extract; analyze the extract plus its outputs (a fraction of it); publish the staged outputs.
  const disk: Record<SkiAtlasSizedStep, [number, number]> = {
    download: [0.5, 1.0],
    extract: [0.5, 1.0 + extractRatio],
    analyze: [0.5, ceilTo(2 * extractRatio, 0.01)],
    publish: [0.5, ceilTo(extractRatio, 0.01)],
  };
  const policies = Object.fromEntries(
    STEPS.map((s) => [s, {
      baseMemoryMiB: ceilTo(fits[s].memoryMiB.a * 1.1, 8),
      memoryMiBPerInputMiB: ceilTo(fits[s].memoryMiB.b, 0.005),
      baseDiskGiB: disk[s][0],
      diskGiBPerInputGiB: ceilTo(disk[s][1], 0.01),
    } satisfies SizePolicy]),
  ) as Record<SkiAtlasSizedStep, SizePolicy>;

  // ---- projections (with the size policies fitted above, and the fitted times)
  const regions = [
    { name: "Iceland", bytes: 60e6 },
    { name: "New Zealand", bytes: 373e6 },
    { name: "North America", bytes: 16e9 },
    { name: "Europe", bytes: 31e9 },
  ];
  const projections = regions.map((reg) => {
    const mb = reg.bytes / 1e6;
    let wall = 0, cost = 0;
    const tiers = {} as Record<SkiAtlasSizedStep, TierName>;
    const overflows: string[] = [];
    for (const s of STEPS) {
      const tier = pickTier(policies[s], reg.bytes);
      tiers[s] = tier;
      const needMiB = policies[s].baseMemoryMiB + policies[s].memoryMiBPerInputMiB * (reg.bytes / MiB);
      if (needMiB > tierByName(tier).memoryMiB * (1 - SIZING_MARGIN)) {
        overflows.push(`${s} needs ${(needMiB / 1024).toFixed(1)} GiB by the fit`);
      }
      // Measured on this machine's CPUs; a 1-vCPU tier is assumed proportionally slower, more vCPUs no faster.
      const slow = Math.max(1, Number(machine.cpus) / tierByName(tier).vcpu);
      let sec = fits[s].seconds.a + fits[s].seconds.b * mb * slow;
      // Download: measured from a local file; from the internet assume 100 MB/s (Geofabrik from AWS, typical).
      if (s === "download") sec = Math.max(sec, fits.download.seconds.a + mb / 100);
      wall += sec;
      cost += fargateTaskCost(tier, sec);
    }
    return { region: reg.name, inputMB: mb, tiers, wallMinutes: wall / 60, costUSD: cost, overflows };
  });
  const proj = [
    "| region | input | tiers (download / extract / analyze / publish) | projected wall | Fargate ARM64 cost | memory fits its tier (30% margin)? |",
    "|---|---|---|---|---|---|",
    ...projections.map((p) => `| ${p.region} | ${p.inputMB >= 1000 ? f(p.inputMB / 1000, 0) + " GB" : f(p.inputMB, 0) + " MB"} | ${STEPS.map((s) => p.tiers[s]).join(" / ")} | ${f(p.wallMinutes, 1)} min | $${p.costUSD.toFixed(4)} | ${p.overflows.length === 0 ? "yes" : "no: " + p.overflows.join("; ")} |`),
  ];

  const results = {
    generatedAt,
    machine,
    method: "one run per input; wall time measured by the parent, peak RSS = ru_maxrss from /usr/bin/time; steps are compiled JS child processes against the embedded S3 server (s3rver, in the bench process)",
    rows,
    fits: { ...fits, sizingMargin: SIZING_MARGIN, extractMBPerInputMB: extractRatio },
    policies,
    projections: { prices: AWS_PRICES.fargateArm64, assumptions: "step time = fitted a + b·MB on this machine (×2 on 1-vCPU tiers); download from the internet at 100 MB/s; one task per step, billed ≥ 60 s", regions: projections },
  };
  const write = !process.argv.includes("--dry-run");
  if (write) writeFileSync(join(REPO, "bench/results.json"), JSON.stringify(results, null, 2) + "\n");

  console.log(`\n${lines.join("\n")}\n`);
  const cpuRows = rows.filter((r) => r.cpu);
  if (cpuRows.length > 0) {
    console.log("CPU seconds (user + system, all threads; what a loaded machine does not distort):");
    for (const r of cpuRows) {
      const c = r.cpu!;
      console.log(
        `  ${f(r.inputMB, 0)} MB ${r.density ?? "ski-dense"}: fileinfo -e ${f(c.osmiumDecodeS)} s, tags-filter ${f(c.osmiumTagsFilterS)} s, ` +
          `extract ${f(c.extractS)} s (${f(c.extractS / c.osmiumTagsFilterS)}× tags-filter, ${f(c.extractS / c.osmiumDecodeS)}× decode), ` +
          `E+A+P ${f(c.extractAnalyzePublishS)} s (${f(c.extractAnalyzePublishS / c.osmiumDecodeS)}× decode)`,
      );
    }
    console.log("");
  }
  console.log(`machine: ${machine.cpus} CPUs (${machine.cpuModel}), Node ${machine.node}, ${machine.osmium}\n`);
  console.log("fits (x = input MiB for memory, MB for time; a raised to cover every point):");
  for (const s of STEPS) {
    const m = fits[s].memoryMiB, t = fits[s].seconds;
    console.log(`  ${s.padEnd(8)} peak RSS ≈ ${f(m.a, 0)} MiB + ${f(m.b, 3)} × MiB (r² ${f(m.r2)}); wall ≈ ${f(t.a)} s + ${f(t.b, 4)} s × MB (r² ${f(t.r2)})`);
  }
  console.log(`\nsize policies from this run (workflows/ski-atlas-sizing.ts; base memory +10%, margin ${SIZING_MARGIN * 100}% applied by pickTier):`);
  for (const s of STEPS) console.log(`  ${s}: ${JSON.stringify(policies[s])}`);
  console.log(`\nprojections (tiers from the policies above):\n${proj.join("\n")}\n`);
  const inCode = STEPS.filter((st) => JSON.stringify(SKI_ATLAS_SIZE_POLICIES[st]) !== JSON.stringify(policies[st]));
  if (inCode.length > 0) console.log(`note: workflows/ski-atlas-sizing.ts differs from this fit for ${inCode.join(", ")}: paste the policies above into it`);
  console.log(write ? "wrote bench/results.json" : "--dry-run: bench/results.json left as it was");
}

interface Row {
  input: string;
  density?: string;
  inputMB: number;
  inputMiB: number;
  extractMB: number;
  osmiumDecodeS: number;
  osmiumTagsFilterS: number;
  osmiumTagsFilterRssMiB: number;
  steps: Record<SkiAtlasSizedStep, { wallS: number; peakRssMiB: number }>;
  extractAnalyzePublishS: number;
  ratioToDecode: number;
  mbPerS: number;
  /** Extract with ATLAS_PBF_WORKERS=1, and its wall ÷ the default run's (older results lack both). */
  extractOneWorkerS?: number;
  workerSpeedup?: number;
  /** CPU seconds (user + system) of the same runs (older results lack them). */
  cpu?: { osmiumDecodeS: number; osmiumTagsFilterS: number; extractS: number; extractAnalyzePublishS: number };
}

main().catch((err) => {
  console.error(`error: ${(err as Error).message}`);
  process.exit(1);
});
