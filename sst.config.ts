import type { SSTConfig } from "sst";
import { APP_NAME, wireApp } from "./stacks/app.ts";

/** atlas-pipelines: batch data pipelines on Step Functions + ECS Fargate. See README.md and docs/ARCHITECTURE.md. */
export default {
  config() {
    return { name: APP_NAME, region: process.env.AWS_REGION ?? "us-east-1" };
  },
  stacks(app) {
    wireApp(app);
  },
} satisfies SSTConfig;
