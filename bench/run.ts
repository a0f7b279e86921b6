/**
 * `npm run bench [-- <input.osm.pbf> …]` (default: the inputs listed by `npm run bench:data`);
 * `npm run bench -- --report` recomputes fits, policies and projections from bench/results.json;
 * `--dry-run` prints the tables without writing bench/results.json (e.g. when measuring a subset of the inputs).
 *
 * Runs download (file://), extract, analyze and publish as real child processes (compiled JS on Node, the way
 * the image runs them, each in the task environment of the tier the sizing picks for the input) against the
 * embedded S3 server, and on the same file `osmium fileinfo -e` (one decode pass) and `osmium tags-filter` alone.
 * Wall time from the parent, peak RSS and CPU seconds from /usr/bin/time (the kernel's ru_maxrss, user + system);
 * the extract's CPU by thread (bench/thread-cpu.ts) next to the CPU one thread takes to inflate every block of
 * the file once (bench/inflate-floor.ts): the profile that says what bounds the extract. Prints a table, fits peak memory and CPU time against input size
 * (bench/sizing-fit.ts), derives the size policies and projects wall time and the full AWS cost per run
 * (lib/aws-pricing.ts) for Iceland, New Zealand, North America and Europe; writes bench/results.json.
 * Not part of `npm test`.
 */
import { spawn, spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { cpus, tmpdir, totalmem } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { HeadObjectCommand } from "@aws-sdk/client-s3";
import { startEmbeddedS3 } from "../lib/embedded-s3.ts";
import { makeS3Client } from "../lib/s3.ts";
import { AWS_PRICES } from "../lib/aws-pricing.ts";
import { getRegion, REGION_NAMES } from "../lib/regions.ts";
import { pickTier, SIZING_MARGIN, taskEnvironment, tierByName, type TierName } from "../workflows/tiers.ts";
import { readConfig } from "../workflows/config.ts";
import { filterExpressions } from "../containers/ski-atlas/extract.ts";
import { SKI_ATLAS_SIZE_POLICIES, SKI_ATLAS_SIZED_STEPS, type SkiAtlasSizedStep } from "../workflows/ski-atlas-sizing.ts";
import { NATIVE_CORE_PATH } from "../containers/ski-atlas/pbf/native-core.ts";
import { DATA_DIR, REPO, type BenchInput } from "./make-data.ts";
import { inflateFloorCpuS } from "./inflate-floor.ts";
import { ThreadCpuSampler, type ThreadCpu } from "./thread-cpu.ts";
import { projectedRunShape } from "./run-counts.ts";
import { densityOf, fanOutMetricSharing, fitRows, fitsWithMargin, policiesFrom, PROJECTED_DOWNLOAD_MB_PER_S, projectionAssumptions, projectRegion, type Row, type RunShape } from "./sizing-fit.ts";

const MiB = 2 ** 20;
const STEPS = SKI_ATLAS_SIZED_STEPS;

interface Measured {
  wallS: number;
  /** User + system CPU seconds (all threads): comparable across runs on a shared, loaded machine. */
  cpuS: number;
  peakRssMiB: number;
  code: number;
  stderr: string;
  /** CPU seconds by thread group (bench/thread-cpu.ts), when asked for. */
  threads?: ThreadCpu;
}

/** Runs a command under /usr/bin/time; wall from here, peak RSS of the process tree's largest process. */
function measure(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env, { threads = false } = {}): Promise<Measured> {
  const out = join(tmpdir(), `bench-time-${process.pid}-${Math.random().toString(36).slice(2)}`);
  return new Promise((resolvePromise, reject) => {
    const t = process.hrtime.bigint();
    const child = spawn("/usr/bin/time", ["-f", "%U %S %M", "-o", out, cmd, ...args], { env, cwd: REPO, stdio: ["ignore", "ignore", "pipe"] });
    const sampler = threads && child.pid !== undefined ? new ThreadCpuSampler(child.pid) : undefined;
    let stderr = "";
    child.stderr.setEncoding("utf8");
    child.stderr.on("data", (d: string) => (stderr += d.length > 20000 ? "" : d));
    child.on("error", reject);
    child.on("close", (code) => {
      const wallS = Number(process.hrtime.bigint() - t) / 1e9;
      const [user, sys, kb] = readFileSync(out, "utf8").trim().split("\n").at(-1)!.split(" ").map(Number);
      rmSync(out, { force: true });
      resolvePromise({ wallS, cpuS: user + sys, peakRssMiB: kb / 1024, code: code ?? -1, stderr, threads: sampler?.stop() });
    });
  });
}

function versionOf(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: "utf8" });
  return (r.stdout || r.stderr || "").split("\n")[0].trim();
}

async function main() {
  if (process.argv.includes("--report")) {
    // Recompute the fits, policies and projections from the rows of the last run (no measuring).
    const last = JSON.parse(readFileSync(join(REPO, "bench/results.json"), "utf8")) as { rows: Row[]; machine: Record<string, unknown>; generatedAt: string };
    return report(last.rows, last.machine, last.generatedAt, await projectedRunShape());
  }
  const given = process.argv.slice(2).filter((a) => !a.startsWith("--"));
  let inputs: { file: string; bytes: number; density: string }[];
  const densityOfFile = (f: string) => (f.includes("-realistic") ? "realistic" : "ski-dense");
  if (given.length > 0) inputs = given.map((f) => ({ file: resolve(f), bytes: statSync(f).size, density: densityOfFile(f) }));
  else {
    const list = join(DATA_DIR, "inputs.json");
    if (!existsSync(list)) throw new Error("no inputs: run `npm run bench:data` first (or pass .osm.pbf files)");
    inputs = (JSON.parse(readFileSync(list, "utf8")) as BenchInput[]).map((i) => ({ file: join(REPO, i.file), bytes: i.bytes, density: i.density ?? densityOfFile(i.file) }));
  }
  inputs.sort((a, b) => a.bytes - b.bytes);

  // Compile the step code like the image's build stage (tsc emits even when another module has a type error).
  const build = join(DATA_DIR, "build");
  spawnSync("npx", ["tsc", "-p", "containers/ski-atlas/tsconfig.build.json", "--outDir", build], { cwd: REPO, stdio: "ignore" });
  const main = join(build, "containers/ski-atlas/main.js");
  if (!existsSync(main)) throw new Error(`compiling the steps failed (${main} missing): run npx tsc -p containers/ski-atlas/tsconfig.build.json`);
  // The compiled PBF core next to the compiled steps, as the image's native stage puts it (npm run bench builds it).
  const core = join(build, relative(REPO, NATIVE_CORE_PATH));
  mkdirSync(dirname(core), { recursive: true });
  if (existsSync(NATIVE_CORE_PATH)) copyFileSync(NATIVE_CORE_PATH, core);
  else rmSync(core, { force: true });

  const work = mkdtempSync(join(tmpdir(), "ski-atlas-bench-"));
  const expr = join(work, "filter.txt");
  writeFileSync(expr, filterExpressions().join("\n") + "\n");
  // The embedded S3 server, and what the step processes and this process need to reach it.
  const server = await startEmbeddedS3({ buckets: ["bench"], directory: join(work, "s3") });
  const s3Env = { AWS_ENDPOINT_URL_S3: server.endpoint, AWS_ACCESS_KEY_ID: "S3RVER", AWS_SECRET_ACCESS_KEY: "S3RVER", AWS_REGION: "us-east-1" };
  const s3 = { env: s3Env, s3: makeS3Client(s3Env) };
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
      // Each step in the environment its task definition gives it on the tier the sizing picks for this input
      // (heap limit, DuckDB's memory and spill limits, TMPDIR), as in AWS and under the local engine.
      const tiers = Object.fromEntries(STEPS.map((s) => [s, pickTier(SKI_ATLAS_SIZE_POLICIES[s], input.bytes)])) as Record<SkiAtlasSizedStep, TierName>;
      const stepEnv = (step: SkiAtlasSizedStep) => ({ ...env, ...taskEnvironment(tierByName(tiers[step]), mkdtempSync(join(work, `${step}-`))) });
      for (const step of STEPS) {
        const m = await measure(process.execPath, [main, step], stepEnv(step), { threads: step === "extract" });
        if (m.code !== 0) throw new Error(`${step} failed on ${name} (exit ${m.code}): ${m.stderr.trim().split("\n").slice(-3).join(" | ")}`);
        steps[step] = m;
        process.stderr.write(`, ${step} (${tiers[step]}) ${m.wallS.toFixed(2)} s`);
      }
      // The extract again on one worker thread: the speed-up of pass 2's threads (ATLAS_PBF_WORKERS).
      const oneWorker = await measure(process.execPath, [main, "extract"], { ...stepEnv("extract"), ATLAS_PBF_WORKERS: "1" }, { threads: true });
      if (oneWorker.code !== 0) throw new Error(`extract on 1 worker failed on ${name}: ${oneWorker.stderr.trim().split("\n").at(-1)}`);
      process.stderr.write(`, extract on 1 worker ${oneWorker.wallS.toFixed(2)} s`);
      const floor = await inflateFloorCpuS(input.file);
      process.stderr.write(
        `, inflating every block once ${floor.cpuS.toFixed(2)} s (zlib)` + (floor.libdeflateCpuS === undefined ? "\n" : `, ${floor.libdeflateCpuS.toFixed(2)} s (libdeflate)\n`),
      );
      const head = await s3.s3.send(new HeadObjectCommand({ Bucket: "bench", Key: u.extract.slice("s3://bench/".length) }));
      const eap = steps.extract.wallS + steps.analyze.wallS + steps.publish.wallS;
      rows.push({
        input: name, density: input.density, inputMB: input.bytes / 1e6, inputMiB: input.bytes / MiB, extractMB: (head.ContentLength ?? 0) / 1e6,
        osmiumDecodeS: decode.wallS, osmiumTagsFilterS: filter.wallS, osmiumTagsFilterRssMiB: filter.peakRssMiB,
        steps: Object.fromEntries(STEPS.map((s) => [s, { wallS: steps[s].wallS, peakRssMiB: steps[s].peakRssMiB, cpuS: steps[s].cpuS, tier: tiers[s] }])) as Row["steps"],
        extractAnalyzePublishS: eap, ratioToDecode: eap / decode.wallS, mbPerS: input.bytes / 1e6 / eap,
        extractOneWorkerS: oneWorker.wallS, workerSpeedup: oneWorker.wallS / steps.extract.wallS,
        extractCore: /PBF core: (.*)$/m.exec(steps.extract.stderr)?.[1],
        cpu: {
          osmiumDecodeS: decode.cpuS, osmiumTagsFilterS: filter.cpuS, extractS: steps.extract.cpuS,
          extractAnalyzePublishS: steps.extract.cpuS + steps.analyze.cpuS + steps.publish.cpuS,
          extractOneWorkerS: oneWorker.cpuS,
          inflateFloorS: floor.cpuS,
          inflateFloorLibdeflateS: floor.libdeflateCpuS,
          extractThreads: steps.extract.threads, extractOneWorkerThreads: oneWorker.threads,
        },
      });
    }
  } finally {
    s3.s3.destroy();
    await server.stop();
    rmSync(work, { recursive: true, force: true });
  }
  const machine = {
    cpus: cpus().length, cpuModel: cpus()[0]?.model ?? "unknown", memoryGiB: Math.round(totalmem() / 2 ** 30), arch: process.arch,
    node: process.version, osmium: versionOf("osmium", ["--version"]), zlib: process.versions.zlib,
  };
  report(rows, machine, new Date().toISOString(), await projectedRunShape());
}

/**
 * One line of where the extract's CPU went (bench/thread-cpu.ts), and what that allows: the workers cannot take
 * less than inflating every block once, and on `cores` cores no number of workers makes the step faster than
 * its total CPU ÷ cores or its main thread alone. `decodeS`: one osmium decode pass, what the main thread's share
 * is measured against.
 */
function threadLine(t: ThreadCpu, totalS: number, floor: { zlib?: number; libdeflate?: number }, cores: number, decodeS: number): string {
  const f = (x: number) => x.toFixed(2);
  const reader = t.reader ?? 0;
  const sampled = t.main + t.workers + reader + t.v8Helpers + t.libuvPool + t.other;
  const workerS = t.workers / Math.max(1, t.workerThreads);
  const floors = [floor.libdeflate === undefined ? "" : `${f(floor.libdeflate)} s with libdeflate`, floor.zlib === undefined ? "" : `${f(floor.zlib)} s with zlib`].filter(Boolean);
  return (
    `main ${f(t.main)} s (${f(t.main / decodeS)}× the decode pass, ${f((100 * t.main) / totalS)}% of the extract), ` +
    `${t.workerThreads} worker${t.workerThreads === 1 ? "" : "s"} ${f(t.workers)} s` +
    (floors.length === 0 ? "" : ` (of which inflating every block once takes ${floors.join(", ")} on one thread)`) +
    (t.reader === undefined ? "" : `, S3 reader ${f(reader)} s`) +
    `, V8 helpers (GC, compiler) ${f(t.v8Helpers)} s, libuv pool ${f(t.libuvPool)} s, other ${f(t.other)} s, unsampled ${f(Math.max(0, totalS - sampled))} s; ` +
    `busiest thread ${f(Math.max(t.main, workerS, reader))} s, total ÷ ${cores} cores ${f(totalS / cores)} s`
  );
}

/** Issue 24's targets, each as measured on one row (CPU seconds): met or by how much not. */
function targetLines(r: Row): string[] {
  const c = r.cpu!;
  const f = (x: number) => x.toFixed(2);
  const check = (what: string, value: number, limit: number, unit = "×") =>
    `${what} ${f(value)}${unit} (target ≤ ${limit}${unit}: ${value <= limit ? "met" : `missed by ${f(value - limit)}${unit}`})`;
  const lines = [
    check("extract ÷ decode", c.extractS / c.osmiumDecodeS, 0.5),
    check("E+A+P ÷ decode", c.extractAnalyzePublishS / c.osmiumDecodeS, densityOf(r) === "ski-dense" ? 1.0 : 0.75),
  ];
  if (c.extractThreads?.main) lines.push(check("extract's main thread ÷ decode", c.extractThreads.main / c.osmiumDecodeS, 0.1));
  if (r.inputMB >= 900) lines.push(check("peak RSS of the largest step", Math.max(...STEPS.map((s) => r.steps[s].peakRssMiB)), 1024, " MiB"));
  if (c.inflateFloorS && c.inflateFloorLibdeflateS !== undefined) {
    const drop = 1 - c.inflateFloorLibdeflateS / c.inflateFloorS;
    lines.push(`inflate floor ${f(c.inflateFloorS)} s (zlib) → ${f(c.inflateFloorLibdeflateS)} s (libdeflate): ${f(100 * drop)}% lower (target ≥ 33%: ${drop >= 1 / 3 ? "met" : "missed"})`);
  }
  return lines;
}

function report(rows: Row[], machine: Record<string, unknown>, generatedAt: string, shape: RunShape) {
  const f = (x: number, d = 2) => x.toFixed(d);
  // ---- table: one row per input
  const lines = [
    "| input | density | osmium fileinfo -e | osmium tags-filter | download | extract | analyze | publish | E+A+P | E+A+P ÷ decode | extract ÷ decode | extract ÷ tags-filter | extract 1 → 2 workers | peak RSS MiB (download / extract / analyze / publish) |",
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ...rows.map((r) =>
      `| ${f(r.inputMB, 0)} MB | ${densityOf(r)} | ${f(r.osmiumDecodeS)} s | ${f(r.osmiumTagsFilterS)} s | ${f(r.steps.download.wallS)} s | ` +
      `${f(r.steps.extract.wallS)} s | ${f(r.steps.analyze.wallS)} s | ${f(r.steps.publish.wallS)} s | ${f(r.extractAnalyzePublishS)} s | ` +
      `**${f(r.ratioToDecode)}×** | ${f(r.steps.extract.wallS / r.osmiumDecodeS)}× | ${f(r.steps.extract.wallS / r.osmiumTagsFilterS)}× | ` +
      `${r.extractOneWorkerS === undefined ? "–" : `${f(r.extractOneWorkerS)} s → ${f(r.steps.extract.wallS)} s (${f(r.workerSpeedup!)}×)`} | ` +
      `${STEPS.map((s) => f(r.steps[s].peakRssMiB, 0)).join(" / ")} |`,
    ),
  ];

  // ---- fits, size policies, projections (bench/sizing-fit.ts)
  const fits = fitRows(rows);
  const policies = policiesFrom(fits);
  const cpus = Number(machine.cpus) || 2;
  const projected = ["iceland", "new-zealand", "north-america", "europe"].map((name) => {
    const region = getRegion(name)!;
    return projectRegion({ name: region.label, bytes: region.approxMB * 1e6 }, policies, fits, cpus, shape);
  });
  // The monthly schedule runs every configured region in one fan-out: they share its metric series' hours.
  const monthly = readConfig({});
  const monthlyWalls = monthly.monthlyRegions.map((name) => {
    const region = getRegion(name);
    return region ? projectRegion({ name, bytes: region.approxMB * 1e6 }, policies, fits, cpus, shape).wallMinutes : 0;
  });
  const sharing = fanOutMetricSharing(monthlyWalls, monthly.monthlyMaxConcurrency);
  const icelandInFanOut = projectRegion({ name: "Iceland", bytes: getRegion("iceland")!.approxMB * 1e6 }, policies, fits, cpus, shape, sharing.sharedBy);
  const usd = (x: number | null, d: number) => `$${(x ?? 0).toFixed(d)}`;
  const proj = [
    "| region | input | tiers (download / extract / analyze / publish) | projected wall | cost per run | Fargate / Step Functions / Lambda / S3 / CloudWatch / SNS | memory fits its tier (30% margin)? |",
    "|---|---|---|---|---|---|---|",
    ...projected.map((p) => {
      const c = p.cost.parts;
      return (
        `| ${p.region} | ${p.inputMB >= 1000 ? f(p.inputMB / 1000, 1) + " GB" : f(p.inputMB, 0) + " MB"} | ${STEPS.map((s) => p.tiers[s]).join(" / ")} | ${f(p.wallMinutes, 1)} min | ` +
        `**$${p.cost.total_usd.toFixed(4)}** | ${usd(c.fargate_usd, 4)} / ${usd(c.step_functions_usd, 5)} / ${usd(c.lambda_usd, 6)} / ${usd(c.s3_requests_usd, 5)} / ${usd(c.cloudwatch_usd, 5)} / ${usd(c.sns_usd, 7)} | ` +
        `${p.overflows.length === 0 ? "yes" : "no: " + p.overflows.join("; ")} |`
      );
    }),
  ];
  const registry = REGION_NAMES.map((name) => {
    const region = getRegion(name)!;
    const steps = STEPS.map((s) => ({ s, ...fitsWithMargin(policies[s], region.approxMB * 1e6) }));
    return { name, mb: region.approxMB, steps, fits: steps.every((x) => x.fits) };
  });

  const results = {
    generatedAt,
    machine,
    method:
      "one run per input; wall time measured by the parent, peak RSS = ru_maxrss and CPU = user + system from /usr/bin/time; " +
      "steps are compiled JS child processes against the embedded S3 server (s3rver, in the bench process), each in the task environment " +
      "(workflows/tiers.ts taskEnvironment) of the tier the sizing picks; the extract's CPU by thread sampled from /proc every 50 ms",
    rows,
    fits: { ...fits, sizingMargin: SIZING_MARGIN },
    policies,
    projections: {
      prices: { region: AWS_PRICES.region, asOf: AWS_PRICES.asOf },
      downloadMBPerS: PROJECTED_DOWNLOAD_MB_PER_S,
      assumptions: projectionAssumptions(shape),
      runShape: shape,
      regions: projected,
      monthlyFanOut: { regions: monthly.monthlyRegions.length, maxConcurrency: monthly.monthlyMaxConcurrency, ...sharing, iceland: icelandInFanOut.cost },
    },
  };
  // --report rewrites results.json from its own rows (new fits and projections); --dry-run never writes.
  const write = !process.argv.includes("--dry-run");
  if (write) writeFileSync(join(REPO, "bench/results.json"), JSON.stringify(results, null, 2) + "\n");

  console.log(`\n${lines.join("\n")}\n`);
  const cpuRows = rows.filter((r) => r.cpu);
  if (cpuRows.length > 0) {
    console.log("CPU seconds (user + system, all threads; what a loaded machine does not distort):");
    for (const r of cpuRows) {
      const c = r.cpu!;
      console.log(
        `  ${f(r.inputMB, 0)} MB ${densityOf(r)}: fileinfo -e ${f(c.osmiumDecodeS)} s, tags-filter ${f(c.osmiumTagsFilterS)} s, ` +
          `extract ${f(c.extractS)} s (${f(c.extractS / c.osmiumTagsFilterS)}× tags-filter, ${f(c.extractS / c.osmiumDecodeS)}× decode), ` +
          `E+A+P ${f(c.extractAnalyzePublishS)} s (${f(c.extractAnalyzePublishS / c.osmiumDecodeS)}× decode)` +
          (c.extractOneWorkerS !== undefined ? `, extract on 1 worker ${f(c.extractOneWorkerS)} s` : ""),
      );
      // Nothing sampled where there is no /proc (not Linux): no line rather than a line of zeros.
      const floor = { zlib: c.inflateFloorS, libdeflate: c.inflateFloorLibdeflateS };
      if (r.extractCore) console.log(`    extract's PBF core: ${r.extractCore}`);
      if (c.extractThreads?.main) console.log(`    extract's threads: ${threadLine(c.extractThreads, c.extractS, floor, cpus, c.osmiumDecodeS)}`);
      if (c.extractOneWorkerThreads?.main && c.extractOneWorkerS !== undefined) {
        console.log(`    on 1 worker: ${threadLine(c.extractOneWorkerThreads, c.extractOneWorkerS, floor, cpus, c.osmiumDecodeS)}`);
      }
      console.log(`    targets: ${targetLines(r).join("; ")}`);
    }
    console.log("");
  }
  console.log(`machine: ${machine.cpus} CPUs (${machine.cpuModel}), Node ${machine.node}, ${machine.osmium}\n`);
  console.log("fits (memory: x = input MiB, slope from the realistic rows, intercept bounding every row; CPU time: x = input MB, realistic rows):");
  for (const s of STEPS) {
    const m = fits.memoryMiB[s], t = fits.cpuSeconds[s];
    console.log(`  ${s.padEnd(8)} peak RSS ≤ ${f(m.a, 0)} MiB + ${f(m.b, 3)} × MiB (slope: ${fits.slopeFrom[s]}); CPU ≈ ${f(t.a)} s + ${f(t.b, 4)} s × MB`);
  }
  for (const note of fits.notes) console.log(`  note: ${note}`);
  console.log(`\nsize policies from these rows (workflows/ski-atlas-sizing.ts; base memory +10%, margin ${SIZING_MARGIN * 100}% applied by pickTier):`);
  for (const s of STEPS) console.log(`  ${s}: ${JSON.stringify(policies[s])}`);
  console.log(`\nprojections (${projectionAssumptions(shape)}):\n${proj.join("\n")}\n`);
  console.log(
    `Iceland in the monthly fan-out (${monthly.monthlyRegions.length} regions, ${monthly.monthlyMaxConcurrency} at a time, projected span ${f(sharing.spanMinutes, 0)} min: ` +
      `a metric series-hour, when a region sends one (a failed region's RunFailed), shared by ${f(sharing.sharedBy, 1)} regions): ` +
      `**$${icelandInFanOut.cost.total_usd.toFixed(4)}** per successful run, of which CloudWatch ${usd(icelandInFanOut.cost.parts.cloudwatch_usd, 6)}\n`,
  );
  const misfits = registry.filter((r) => !r.fits);
  console.log(
    misfits.length === 0
      ? `every region of the registry (${registry.length}, up to ${Math.max(...registry.map((r) => r.mb)) / 1000} GB) fits a tier with the ${SIZING_MARGIN * 100}% margin`
      : `regions that fit no tier with the ${SIZING_MARGIN * 100}% margin: ${misfits.map((r) => `${r.name} (${r.steps.filter((x) => !x.fits).map((x) => `${x.s} ${(x.needMiB / 1024).toFixed(1)} GiB`).join(", ")})`).join("; ")}`,
  );
  const inCode = STEPS.filter((st) => JSON.stringify(SKI_ATLAS_SIZE_POLICIES[st]) !== JSON.stringify(policies[st]));
  if (inCode.length > 0) console.log(`note: workflows/ski-atlas-sizing.ts differs from this fit for ${inCode.join(", ")}: paste the policies above into it`);
  console.log(write ? "wrote bench/results.json" : "--dry-run: bench/results.json left as it was");
}

main().catch((err) => {
  console.error(`error: ${(err as Error).message}`);
  process.exit(1);
});
