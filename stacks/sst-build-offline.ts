/**
 * Builds the app the way `sst deploy` and `sst dev` do before they reach CloudFormation, with no AWS account:
 * `tsx stacks/sst-build-offline.ts <stage> <deploy|dev> <assembly-dir>`, run from the project root (SST's CLI runs
 * there too). Used by stacks/deploy-path.test.ts; each run is its own process, as each SST command is.
 *
 * The same calls as SST's CLI (sst/cli/program.js, cli/commands/deploy.js and dev.js):
 *   1. `initProject` (sst/project.js): finds sst.config.ts and loads it with `load` (sst/stacks/build.js), which
 *      bundles it with esbuild into `.sst.config.<timestamp>.mjs` in the working directory and imports that;
 *   2. `Stacks.load(project.paths.config)`: the same bundling, this time with the stacks;
 *   3. `Stacks.synth({ fn, mode })` (sst/stacks/synth.js): `new App` in the command's mode, the config's stacks,
 *      `app.finish()` (in deploy mode it bundles every function with esbuild, and adds the sourcemap uploader),
 *      then `app.synth()` into the assembly directory (`buildDir`: SST's default is `.sst/dist`).
 *
 * Stubbed, because they need AWS, and only they: the two AWS calls SST makes on this path, STS GetCallerIdentity
 * (the account id) and CloudFormation DescribeStacks of the `CDKToolkit` and `SSTBootstrap` stacks (the bootstrap
 * lookup in sst/bootstrap.js), answered as a bootstrapped account answers; and the one context lookup CDK asks for
 * (the region's availability zones, for the VPC), given as `CDK_CONTEXT_JSON`, as a real deploy's first synth
 * would cache it in cdk.context.json. Any other AWS call would go to an endpoint that refuses connections (set by
 * the caller, AWS_ENDPOINT_URL), so it fails at once instead of waiting for a network.
 */
import { createRequire } from "node:module";
import * as path from "node:path";
import { mockClient } from "aws-sdk-client-mock";
import { initProject, useProject } from "sst/project.js";
import { Stacks } from "sst/stacks/index.js";
import { PROJECT_ROOT } from "../lib/project-root.ts";

export const OFFLINE_ACCOUNT = "123456789012";

/**
 * The AWS SDK clients exactly as SST resolves them: SST may have its own copies under node_modules/sst, and a stub
 * on another copy of the class would not be seen. They have no `exports` map, so SST's `import` loads the same
 * CommonJS module that `require` from SST's folder returns.
 */
const requireFromSst = createRequire(createRequire(path.join(PROJECT_ROOT, "package.json")).resolve("sst/project.js"));
const { GetCallerIdentityCommand, STSClient } = requireFromSst("@aws-sdk/client-sts");
const { CloudFormationClient, DescribeStacksCommand } = requireFromSst("@aws-sdk/client-cloudformation");

/**
 * aws-sdk-client-mock, typed loosely: SST's AWS SDK clients may be built on other @smithy/types than the project's,
 * so their types need not line up although they are the very classes SST uses at run time.
 */
interface Stub {
  on(command: unknown, input?: object): { resolves(output: unknown): Stub };
}
const stub = (client: unknown) => mockClient(client as Parameters<typeof mockClient>[0]) as unknown as Stub;

function stubAwsCallsOfTheBuild(region: string): void {
  stub(STSClient)
    .on(GetCallerIdentityCommand)
    .resolves({ Account: OFFLINE_ACCOUNT, Arn: `arn:aws:iam::${OFFLINE_ACCOUNT}:user/offline`, UserId: "OFFLINE" });
  const stack = (name: string, outputs: Record<string, string>) => ({
    Stacks: [
      {
        StackName: name,
        StackStatus: "UPDATE_COMPLETE" as const,
        CreationTime: new Date(0),
        Outputs: Object.entries(outputs).map(([OutputKey, OutputValue]) => ({ OutputKey, OutputValue })),
      },
    ],
  });
  stub(CloudFormationClient)
    .on(DescribeStacksCommand, { StackName: "CDKToolkit" })
    // CDK bootstrap version 14 or later is what SST requires.
    .resolves(stack("CDKToolkit", { BootstrapVersion: "28", BucketName: `cdk-hnb659fds-assets-${OFFLINE_ACCOUNT}-${region}` }))
    .on(DescribeStacksCommand, { StackName: "SSTBootstrap" })
    // The bootstrap version sst@2.49.8 deploys (LATEST_VERSION in sst/bootstrap.js).
    .resolves(stack("SSTBootstrap", { Version: "7.4", BucketName: `sstbootstrap-offline-${region}` }));
}

async function main(argv: string[]): Promise<void> {
  const [stage, mode, buildDir] = argv;
  if (!stage || (mode !== "deploy" && mode !== "dev") || !buildDir) {
    throw new Error("usage: tsx stacks/sst-build-offline.ts <stage> <deploy|dev> <assembly-dir>");
  }
  await initProject({ stage });
  const project = useProject();
  const region = project.config.region ?? "us-east-1";
  stubAwsCallsOfTheBuild(region);
  const zones = ["a", "b", "c", "d", "e", "f"].map((z) => `${region}${z}`);
  process.env.CDK_CONTEXT_JSON = JSON.stringify({ [`availability-zones:account=${OFFLINE_ACCOUNT}:region=${region}`]: zones });
  const [, sstConfig] = await Stacks.load(project.paths.config);
  const assembly = await Stacks.synth({ fn: sstConfig.stacks, mode, buildDir });
  process.stdout.write(`${JSON.stringify({ directory: assembly.directory, stacks: assembly.stacks.map((s) => s.stackName) })}\n`);
}

try {
  await main(process.argv.slice(2));
} catch (err) {
  process.stderr.write(`error: ${(err as Error).stack ?? err}\n`);
  process.exitCode = 1;
}
