import type { SSTConfig } from "sst";
import { AtlasStack } from "./stacks/AtlasStack.ts";

/** atlas-pipelines: batch data pipelines on Step Functions + ECS Fargate. See README.md and docs/ARCHITECTURE.md. */
export default {
  config() {
    return { name: "atlas-pipelines", region: process.env.AWS_REGION ?? "us-east-1" };
  },
  stacks(app) {
    app.setDefaultFunctionProps({ runtime: "nodejs24.x", architecture: "arm_64" });
    // Production keeps its bucket and logs when the stack goes; other stages clean up after themselves.
    if (app.stage !== "prod") app.setDefaultRemovalPolicy("destroy");
    app.stack(AtlasStack);
  },
} satisfies SSTConfig;
