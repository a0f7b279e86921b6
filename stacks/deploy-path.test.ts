import { spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "../lib/project-root.ts";
import { allWorkflows } from "../workflows/index.ts";
import { containerSteps } from "../workflows/types.ts";
import { CONTAINER_DOCKERFILE } from "./constructs/ContainerTasks.ts";
import { GPU_DOCKERFILE } from "./constructs/TaskDefinitions.ts";
import { TASK_TYPES } from "../lib/tasks/task-types.ts";

/**
 * The deploy path as SST runs it: `stacks/sst-build-offline.ts` makes the calls `sst deploy` and `sst dev` make
 * (SST's own config loader, which bundles sst.config.ts into `.sst.config.<timestamp>.mjs`, then App, the stacks,
 * `app.finish()` with the functions bundled, `app.synth()`), with only the AWS lookups stubbed. Importing
 * sst.config.ts directly, as the other stack tests do, hides what that bundling changes (issue 15, item 1).
 * Every asset the cloud assembly references must exist: what `sst deploy` would upload or `docker build`.
 */
const CONTAINERS = [...new Set(allWorkflows().flatMap((w) => containerSteps(w).map((s) => s.container)))];
/** The task images built from the shared Dockerfile (the CPU task types'); the GPU one has its own (GPU_DOCKERFILE). */
const CPU_TASK_IMAGES = Object.values(TASK_TYPES).filter((t) => t.queue === "cpu").map((t) => t.image);

interface FileAsset {
  source: { path: string; packaging: "zip" | "file" };
}
interface DockerAsset {
  source: { directory: string; dockerFile?: string; dockerBuildArgs?: Record<string, string>; platform?: string };
}
interface AssetManifest {
  files: Record<string, FileAsset>;
  dockerImages: Record<string, DockerAsset>;
}
type Template = { Resources: Record<string, { Type: string; Properties: Record<string, any> }> };

const scratch: string[] = [];
afterAll(async () => {
  await Promise.all(scratch.map((d) => rm(d, { recursive: true, force: true })));
});

/** Runs the offline `sst deploy`/`sst dev` build in its own process, from the project root, as SST's CLI runs. */
async function sstBuild(stage: string, mode: "deploy" | "dev"): Promise<{ code: number; stderr: string; dir: string }> {
  const dir = await mkdtemp(path.join(tmpdir(), `sst-${stage}-${mode}-`));
  scratch.push(dir);
  const { NODE_ENV: _vitestSetsTest, ...env } = process.env;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", "stacks/sst-build-offline.ts", stage, mode, dir], {
      cwd: PROJECT_ROOT,
      env: {
        // SST skips its bootstrap lookup and sourcemap upload when NODE_ENV is "test" (vitest's value): the CLI runs
        // without it.
        ...env,
        AWS_ACCESS_KEY_ID: "offline",
        AWS_SECRET_ACCESS_KEY: "offline",
        AWS_REGION: "us-east-1",
        // Any AWS call the script does not stub is refused at once rather than waiting for a network.
        AWS_ENDPOINT_URL: "http://127.0.0.1:9",
        AWS_EC2_METADATA_DISABLED: "true",
      },
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    // Against a hang only (seen once, idle with esbuild's service waiting, on a machine with a load of 35): a build
    // takes one to four minutes here.
    const deadline = setTimeout(() => {
      stderr += `\nkilled: the SST build did not finish in ${SST_BUILD_LIMIT_MS / 60_000} minutes\n`;
      child.kill("SIGKILL");
    }, SST_BUILD_LIMIT_MS);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(deadline);
      resolve({ code: code ?? -1, stderr, dir });
    });
  });
}

const SST_BUILD_LIMIT_MS = 10 * 60_000;

function readJson<T>(file: string): T {
  return JSON.parse(readFileSync(file, "utf8")) as T;
}

/**
 * One after the other, as separate SST commands would run: each `new App` rewrites `.sst/types`, which two SST
 * processes building at once in the same project could trip over.
 */
let previous: Promise<unknown> = Promise.resolve();
function inTurn<T>(run: () => Promise<T>): Promise<T> {
  const next = previous.then(run, run);
  previous = next.catch(() => undefined);
  return next;
}

describe.each([
  ["prod", "deploy"],
  ["ci", "deploy"],
  ["ci", "dev"],
] as const)("stage %s, `sst %s`, built offline the way SST builds it", (stage, mode) => {
  const build = inTurn(() => sstBuild(stage, mode));
  // A failed build fails every test below with SST's own message.
  const assembly = async () => {
    const b = await build;
    expect(b.code, b.stderr).toBe(0);
    const stackName = `${stage}-atlas-pipelines-AtlasStack`;
    return {
      dir: b.dir,
      assets: readJson<AssetManifest>(path.join(b.dir, `${stackName}.assets.json`)),
      template: readJson<Template>(path.join(b.dir, `${stackName}.template.json`)),
    };
  };

  // The first test of each build waits for it: a whole `sst deploy` build (esbuild, cdk-nag, CloudFormation
  // validation, asset staging), which takes minutes on a busy machine. The limit is only against a hang.
  it("builds one ARM64 image per container from the one Dockerfile, with a context that holds what it copies", { timeout: 900_000 }, async () => {
    const { dir, assets } = await assembly();
    const all = Object.values(assets.dockerImages).map((a) => a.source);
    const images = all.filter((s) => s.dockerFile === CONTAINER_DOCKERFILE);
    expect(images.map((s) => s.dockerBuildArgs?.WORKFLOW).sort()).toEqual([...CONTAINERS, ...CPU_TASK_IMAGES].sort());
    for (const image of images) {
      const context = path.join(dir, image.directory);
      expect(statSync(context).isDirectory(), context).toBe(true);
      expect(existsSync(path.join(context, CONTAINER_DOCKERFILE)), `${image.directory}/${image.dockerFile}`).toBe(true);
      expect(image.platform).toBe("linux/arm64");
      // What containers/Dockerfile COPYs from the context.
      const workflow = image.dockerBuildArgs!.WORKFLOW;
      for (const copied of ["package.json", "package-lock.json", "tsconfig.json", "lib", `containers/${workflow}/main.ts`, `containers/${workflow}/tsconfig.build.json`]) {
        expect(existsSync(path.join(context, copied)), `${workflow}: ${copied} in the build context`).toBe(true);
      }
      // .dockerignore at the root kept the local install and data out of what is sent to Docker.
      expect(readdirSync(context)).not.toContain("node_modules");
      expect(readdirSync(context)).not.toContain(".data");
    }
    // The GPU task image: its own Dockerfile, linux/amd64 (no ARM64 GPU AMI; ONNX Runtime's CUDA provider is x64).
    const gpu = all.filter((s) => s.dockerFile === GPU_DOCKERFILE);
    expect(gpu).toHaveLength(1);
    expect(gpu[0].platform).toBe("linux/amd64");
    const context = path.join(dir, gpu[0].directory);
    for (const copied of ["package.json", "package-lock.json", "tsconfig.json", "lib", GPU_DOCKERFILE, "containers/ocr/package.json", "containers/ocr/main.ts", "containers/ocr/tsconfig.build.json"]) {
      expect(existsSync(path.join(context, copied)), `ocr: ${copied} in the build context`).toBe(true);
    }
    expect(all).toHaveLength(images.length + gpu.length);
  });

  it("points every task definition at one of those images", async () => {
    const { assets, template } = await assembly();
    const tasks = Object.values(template.Resources).filter((r) => r.Type === "AWS::ECS::TaskDefinition");
    expect(tasks.length).toBeGreaterThan(0);
    for (const task of tasks) {
      const image = JSON.stringify(task.Properties.ContainerDefinitions[0].Image);
      const hash = image.match(/:([0-9a-f]{64})"/)?.[1];
      expect(hash && assets.dockerImages[hash], `${task.Properties.Family}: ${image}`).toBeTruthy();
    }
  });

  it("has every file asset on disk, and every function's handler inside its bundle", async () => {
    const { dir, assets, template } = await assembly();
    for (const [hash, { source }] of Object.entries(assets.files)) {
      expect(existsSync(path.join(dir, source.path)), `${hash}: ${source.path}`).toBe(true);
    }
    const functions = Object.entries(template.Resources).filter(([, r]) => r.Type === "AWS::Lambda::Function");
    expect(functions.filter(([id]) => id.startsWith("Functions")).length).toBeGreaterThan(0);
    for (const [id, fn] of functions) {
      const key: string | undefined = fn.Properties.Code?.S3Key;
      expect(key, `${id} is deployed from an asset, not inline code`).toMatch(/^[0-9a-f]{64}\.zip$/);
      const asset = assets.files[key!.replace(/\.zip$/, "")];
      expect(asset, `${id}: asset ${key}`).toBeDefined();
      const bundle = path.join(dir, asset.source.path);
      const handlerFile = (fn.Properties.Handler as string).replace(/\.[^.]+$/, "");
      const found = [".mjs", ".js", ".cjs"].some((ext) => existsSync(path.join(bundle, handlerFile + ext)));
      expect(found, `${id}: ${handlerFile}.(mjs|js|cjs) in ${asset.source.path}`).toBe(true);
    }
  });

  // The task platform as SST deploys it (its details are checked on the offline synthesis, stacks/task-platform.test.ts):
  // every resource kind it needs is in the stack SST builds, wired to each other.
  it("holds the task platform: queues and dead-letter queues, a pipe from each queue to its task machine, the table, the GPU capacity provider, the GPU task definition and the API", async () => {
    const { template } = await assembly();
    const of = (type: string) => Object.entries(template.Resources).filter(([, r]) => r.Type === type);
    const queues = of("AWS::SQS::Queue").filter(([id]) => id.startsWith("TaskPlatformQueues"));
    expect(queues).toHaveLength(4);
    const machines = of("AWS::StepFunctions::StateMachine").map(([id]) => id);
    for (const queue of ["gpu", "cpu"]) {
      const [mainId, main] = queues.find(([id]) => new RegExp(`^TaskPlatformQueues${queue}[0-9A-F]{8}$`).test(id))!;
      const dlqId = main.Properties.RedrivePolicy.deadLetterTargetArn["Fn::GetAtt"][0];
      expect(dlqId, `${queue}: its dead-letter queue`).not.toBe(mainId);
      expect(queues.map(([id]) => id), `${queue}: its dead-letter queue`).toContain(dlqId);
      const [, pipe] = of("AWS::Pipes::Pipe").find(([id]) => id.startsWith(`TaskPlatformPipes${queue}`))!;
      expect(pipe.Properties.Source["Fn::GetAtt"][0]).toMatch(new RegExp(`^TaskPlatformQueues${queue}[0-9A-F]{8}$`));
      expect(machines, `${queue}: the pipe's target`).toContain(pipe.Properties.Target.Ref);
    }
    expect(of("AWS::DynamoDB::Table").map(([, r]) => r.Properties.BillingMode)).toEqual(["PAY_PER_REQUEST"]);
    const [[, provider]] = of("AWS::ECS::CapacityProvider");
    expect(provider.Properties.AutoScalingGroupProvider.ManagedScaling.Status).toBe("ENABLED");
    expect(of("AWS::AutoScaling::AutoScalingGroup").map(([, r]) => r.Properties.MinSize)).toEqual(["0"]);
    const gpu = of("AWS::ECS::TaskDefinition").filter(([, r]) => JSON.stringify(r.Properties.ContainerDefinitions[0].ResourceRequirements ?? []).includes('"GPU"'));
    expect(gpu).toHaveLength(1);
    const routes = of("AWS::ApiGatewayV2::Route");
    expect(routes.length).toBeGreaterThan(0);
    for (const [, r] of routes) expect(r.Properties.AuthorizationType).toBe("AWS_IAM");
  });

  if (mode === "deploy") {
    it("bundles the helper functions' code (not the live-lambda stub sst dev deploys)", async () => {
      const { dir, assets, template } = await assembly();
      const plan = Object.entries(template.Resources).find(([id, r]) => r.Type === "AWS::Lambda::Function" && id.startsWith("Functionsplan") && r.Properties.Handler === "functions/plan.handler");
      expect(plan).toBeDefined();
      const bundle = path.join(dir, assets.files[plan![1].Properties.Code.S3Key.replace(/\.zip$/, "")].source.path);
      expect(readFileSync(path.join(bundle, "functions/plan.mjs"), "utf8")).toContain("handler");
    });
  }
});
