import type { App } from "sst/constructs";
import { AtlasStack } from "./AtlasStack.ts";

/** The app's name: `sst.config.ts` gives it to SST, and the offline synthesis (stacks/synth-offline.ts) uses it. */
export const APP_NAME = "atlas-pipelines";

/**
 * What `sst.config.ts` does with the app: the stacks and their defaults. Here rather than in sst.config.ts, so that
 * the offline synthesis (stacks/synth-offline.ts) wires the app exactly as a deploy does without importing the
 * config, which sits above stacks/ (docs/ARCHITECTURE.md, "Layers").
 */
export function wireApp(app: App): void {
  app.setDefaultFunctionProps({ runtime: "nodejs24.x", architecture: "arm_64" });
  // Production keeps its bucket and logs when the stack goes; other stages clean up after themselves.
  if (app.stage !== "prod") app.setDefaultRemovalPolicy("destroy");
  app.stack(AtlasStack);
}
