import { Template } from "aws-cdk-lib/assertions";
import type { Stack } from "aws-cdk-lib";
import { App, getStack } from "sst/constructs";
import { initProject } from "sst/project.js";
import { APP_NAME, wireApp } from "./app.ts";
import { AtlasStack } from "./AtlasStack.ts";

export interface OfflineSynth {
  app: App;
  stack: Stack;
  template: Template;
}

const cache = new Map<string, Promise<OfflineSynth>>();

/**
 * Synthesizes the app the way `sst deploy` does (the same wiring as sst.config.ts, stacks/app.ts) but without AWS credentials
 * or network, which `sst build` would wait for. The tests, `npm run asl` and the local engine all use it, so
 * they all see the definitions a deploy would create.
 */
export function synthesizeOffline(mode: "deploy" | "dev" = "deploy", stage = "local"): Promise<OfflineSynth> {
  const key = `${mode}/${stage}`;
  let result = cache.get(key);
  if (!result) {
    result = (async () => {
      // CloudFormation's built-in validation adds seconds per synth and checks nothing the tests do not.
      process.env.CDK_VALIDATION ??= "false";
      await initProject({ stage });
      const app = new App({ mode, stage, name: APP_NAME, region: "us-east-1", account: "123456789012" });
      wireApp(app);
      const stack = getStack(AtlasStack);
      return { app, stack, template: Template.fromStack(stack) };
    })();
    cache.set(key, result);
  }
  return result;
}
