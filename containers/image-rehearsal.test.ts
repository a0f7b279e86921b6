import { chmod, cp, mkdir, mkdtemp, readFile, readdir, rm, symlink } from "node:fs/promises";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { ListObjectsV2Command, PutObjectCommand } from "@aws-sdk/client-s3";
import { publishStaged } from "../lib/publish-prefix.ts";
import { committedFiles } from "../lib/published.ts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ANDORRA_PBF, WEATHER_DIR, YIELD_FILE } from "../lib/data-catalog.ts";
import { dataDir, dataFile } from "../lib/data-files.ts";
import { PROJECT_ROOT } from "../lib/project-root.ts";
import { canSwitchUser, makeTaskDirs, runAsNobody, type RunResult, type TaskDirs } from "../lib/testing/non-root.ts";
import { copyFromContext, parseDockerfile, run, stage as stageIn, type Stage } from "./testing/dockerfile.ts";
import { startTestS3, type TestS3 } from "../lib/testing/s3rver.ts";
import { allWorkflows } from "../workflows/index.ts";
import { taskEnvironment, tierByName } from "../workflows/tiers.ts";
import { containerSteps } from "../workflows/types.ts";
import { CONTAINER_DOCKERFILE } from "../stacks/constructs/ContainerTasks.ts";

/**
 * The images, rehearsed without Docker (there is none on the test machines): what containers/Dockerfile does, read
 * from the Dockerfile itself, then one real step of each image run from the result as the image runs it.
 *
 * - deps stage: its `npm ci`, for linux/arm64 (what `--platform linux/arm64` gives npm inside the image) from the
 *   committed lockfile, which must hold and install the arm64 DuckDB binding and no devDependency; then the same
 *   install for this machine's platform, since arm64 binaries cannot run here;
 * - build stage, per image: its COPY lines from the build context (the project minus .dockerignore) and its RUN
 *   lines (the TypeScript build with the image's tsconfig.build.json). Its full `npm ci` is the one exception: the
 *   project's own install of the same lockfile stands in for it (only the build stage uses it);
 * - runtime stage: the production install, package.json and the build output in a folder the step cannot write,
 *   then the ENTRYPOINT, as a non-root user whose only writable folder is its work dir, with the environment its
 *   task gets on a tier (taskEnvironment: the task definition's TMPDIR and the tier's override), against the embedded S3 server.
 * Nothing above the rehearsal folder holds a node_modules, so a step that needs a devDependency fails here.
 */
const DOCKERFILE = path.join(PROJECT_ROOT, CONTAINER_DOCKERFILE);
const CONTAINERS = [...new Set(allWorkflows().flatMap((w) => containerSteps(w).map((s) => s.container)))].sort();
const ARM64_BINDING = "@duckdb/node-bindings-linux-arm64";
/** What Docker's `--platform linux/arm64` means to npm's platform checks inside a node:24-bookworm image. */
const LINUX_ARM64 = ["--cpu=arm64", "--os=linux", "--libc=glibc"];
const BUCKET = "rehearsal";
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

/** The build stage for one image: COPY from the context, RUN each command (npm ci aside, see above). */
async function build(stages: Stage[], workflow: string, dir: string): Promise<void> {
  const env = { WORKFLOW: workflow, PATH: `${path.join(dir, "node_modules", ".bin")}:${path.dirname(process.execPath)}:${process.env.PATH}` };
  await mkdir(dir, { recursive: true });
  for (const { op, args } of stage(stages, "build").instructions) {
    if (op === "ARG" || op === "WORKDIR") continue;
    if (op === "COPY") {
      const parts = args.replaceAll("${WORKFLOW}", workflow).split(/\s+/);
      const dest = parts.pop()!;
      for (const src of parts) await copyFromContext(src, dest.endsWith("/") ? path.join(dir, dest, path.basename(src)) : path.join(dir, dest));
    } else if (op === "RUN" && /^npm ci\b/.test(args)) {
      await symlink(path.join(PROJECT_ROOT, "node_modules"), path.join(dir, "node_modules"));
    } else if (op === "RUN") {
      const r = await run(["sh", "-c", args], { cwd: dir, env });
      expect(r.code, `${workflow}: RUN ${args}\n${r.stdout}${r.stderr}`).toBe(0);
    } else {
      throw new Error(`the rehearsal does not know the build stage's ${op}: teach it (containers/image-rehearsal.test.ts)`);
    }
  }
}

/** The runtime stage: the production install, package.json and the build output, in a folder owned by root. */
async function assembleRuntime(stages: Stage[], buildDir: string, deps: string, appDir: string): Promise<string[]> {
  const runtime = stage(stages, "runtime").instructions;
  const copies = runtime.filter((i) => i.op === "COPY").map((i) => i.args);
  expect(copies).toEqual(["--from=deps /app/node_modules ./node_modules", "package.json ./", "--from=build /app/dist/ ./"]);
  expect(runtime.find((i) => i.op === "USER")?.args).toBe("node");
  await mkdir(appDir, { recursive: true });
  await symlink(path.join(deps, "node_modules"), path.join(appDir, "node_modules"));
  await cp(path.join(PROJECT_ROOT, "package.json"), path.join(appDir, "package.json"));
  await cp(path.join(buildDir, "dist"), appDir, { recursive: true, verbatimSymlinks: true });
  const entrypoint = JSON.parse(runtime.find((i) => i.op === "ENTRYPOINT")!.args) as string[];
  expect(entrypoint[0]).toBe("node");
  return entrypoint.slice(1).map((a) => a.replace(/^\/app\//, `${appDir}/`));
}

let base: string;
let stages: Stage[];
let s3: TestS3;
let dirs: TaskDirs;
const installs: { arm64?: RunResult; host?: RunResult } = {};

beforeAll(async () => {
  base = await mkdtemp(path.join(tmpdir(), "image-rehearsal-"));
  await chmod(base, 0o755); // readable by the step's user, like /app in the image; writable by root only
  stages = parseDockerfile(await readFile(DOCKERFILE, "utf8"));
  [installs.arm64, installs.host] = await Promise.all([
    productionInstall(stages, path.join(base, "deps-arm64"), LINUX_ARM64),
    productionInstall(stages, path.join(base, "deps-host"), []),
  ]);
  s3 = await startTestS3({ buckets: [BUCKET] });
  dirs = await makeTaskDirs("image-rehearsal-task");
}, 600_000);

afterAll(async () => {
  await s3?.stop();
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

const listKeys = async (prefix: string) =>
  ((await s3.s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix }))).Contents ?? []).map((o) => o.Key!.slice(prefix.length)).sort();
const put = async (key: string, body: string | Buffer): Promise<void> => {
  await s3.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body }));
};

/** One real step of each image (two where the second is the one that loads DuckDB), with its inputs in S3. */
/** The names a reader of a published prefix gets: the manifest's files, and the manifest. */
const publishedNames = async (prefix: string) => (await committedFiles(s3.s3, `s3://${BUCKET}/${prefix}`)).map((f) => f.name);

const REHEARSALS: Record<string, { steps: string[]; env: Record<string, string>; setUp(): Promise<void>; check(): Promise<void> }> = {
  "ski-atlas": {
    steps: ["extract", "analyze"],
    env: {
      REGION: "andorra",
      PERIOD: "2021-06",
      RUN_ID: "andorra-2021-06",
      RAW_URI: `s3://${BUCKET}/raw/andorra/andorra.osm.pbf`,
      EXTRACT_URI: `s3://${BUCKET}/staging/andorra/2021-06/r/extract.osm.pbf`,
      STAGING_URI: `s3://${BUCKET}/staging/andorra/2021-06/r/out/`,
      PUBLISH_URI: `s3://${BUCKET}/andorra/2021-06/`,
    },
    setUp: async () => put("raw/andorra/andorra.osm.pbf", await readFile(await dataFile(ANDORRA_PBF))),
    check: async () => expect(await listKeys("staging/andorra/2021-06/r/out/")).toEqual(expect.arrayContaining(["ski_areas.parquet", "ski_areas_analyzed.csv", "lifts.parquet", "pistes.parquet"])),
  },
  weather: {
    steps: ["ingest", "analyze"],
    env: { RUN_ID: "2014-12-31", SOURCE_URI: `s3://${BUCKET}/incoming/weather/`, STAGING_URI: `s3://${BUCKET}/staging/weather/2014-12-31/` },
    setUp: async () => {
      const wxData = await dataDir(WEATHER_DIR);
      const stations = (await readdir(wxData)).sort().slice(0, 3);
      for (const s of stations) await put(`incoming/weather/${s}`, await readFile(path.join(wxData, s)));
    },
    check: async () => expect(await listKeys("staging/weather/2014-12-31/")).toEqual(expect.arrayContaining(["weather_records.parquet", "weather_stats.parquet"])),
  },
  grader: {
    steps: ["grade"],
    // As on AWS (no ATLAS_LOCAL): the credentials are a session's, as the state machine hands them over
    // (workflows/run-session.ts); the embedded S3 takes its key pair with any session token.
    env: {
      AWS_SESSION_TOKEN: "rehearsal-session",
      RUN_ID: "exam-1",
      TENANT_URI: `s3://${BUCKET}/jobs/grader/exams/exam-1/`,
      CONFIG_URI: `s3://${BUCKET}/jobs/grader/exams/exam-1/config.json`,
      OUTPUT_URI: `s3://${BUCKET}/jobs/grader/exams/exam-1/runs/exam-1/`,
    },
    setUp: async () => {
      await put("jobs/grader/exams/exam-1/submissions.jsonl", ['{"id":"alice","answers":{"q1":"B"}}', '{"id":"bob","answers":{"q1":"a"}}', "not json"].join("\n"));
      await put("jobs/grader/exams/exam-1/config.json", JSON.stringify({ answerKey: { q1: "b" }, submissions: `s3://${BUCKET}/jobs/grader/exams/exam-1/submissions.jsonl` }));
    },
    check: async () => expect(await publishedNames("jobs/grader/exams/exam-1/runs/exam-1/")).toEqual(expect.arrayContaining(["grades.csv", "manifest.json"])),
  },
  training: {
    // Reads the statistics the weather rehearsal wrote (the tests below run in order), published as a weather run
    // is (training follows its manifest, lib/uri-io.ts).
    steps: ["train"],
    env: { RUN_ID: "model-1", CONFIG_URI: `s3://${BUCKET}/jobs/training/config.json`, OUTPUT_URI: `s3://${BUCKET}/jobs/training/runs/model-1/` },
    setUp: async () => {
      await publishStaged(s3.s3, {
        stagingUri: `s3://${BUCKET}/staging/weather/2014-12-31/`,
        publishUri: `s3://${BUCKET}/weather/2014-12-31/`,
        rows: async () => undefined,
        manifest: () => ({ workflow: "weather", runId: "2014-12-31" }),
        log: () => {},
      });
      await put("jobs/training/yield.txt", await readFile(await dataFile(YIELD_FILE)));
      await put("jobs/training/config.json", JSON.stringify({ weather: `s3://${BUCKET}/weather/2014-12-31/`, yield: `s3://${BUCKET}/jobs/training/yield.txt` }));
    },
    check: async () => expect(await publishedNames("jobs/training/runs/model-1/")).toEqual(expect.arrayContaining(["model.json", "manifest.json"])),
  },
};

describe.each(["ski-atlas", "weather", "grader", "training"])("the %s image", (workflow) => {
  it("is one of the workflows' containers", () => expect(CONTAINERS).toContain(workflow));

  it.runIf(canSwitchUser)("builds with its tsconfig, and runs a real step from the production install as a non-root user", async () => {
    const buildDir = path.join(base, `build-${workflow}`);
    await build(stages, workflow, buildDir);
    const appDir = path.join(base, `app-${workflow}`);
    const entrypoint = await assembleRuntime(stages, buildDir, path.join(base, "deps-host"), appDir);
    const rehearsal = REHEARSALS[workflow];
    await rehearsal.setUp();
    for (const step of rehearsal.steps) {
      const r = await runAsNobody([process.execPath, ...entrypoint, step], {
        // Stricter than the image (whose working dir is /work): a step that writes next to itself fails here.
        cwd: appDir,
        env: { ...s3.env, ...taskEnvironment(tierByName("small"), dirs.work), HOME: dirs.work, CODE_VERSION: "rehearsal", ...rehearsal.env },
      });
      expect(r.code, `${workflow} ${step}: ${r.stderr}`).toBe(0);
      expect(r.stderr).toContain(`[${step}] done`);
    }
    await rehearsal.check();
    // The steps clean up their temporary files: the work dir is as they found it.
    expect(await readdir(dirs.work)).toEqual([]);
  });
});
