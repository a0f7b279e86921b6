import { readConfig, type AtlasConfig } from "./config.ts";
import { skiAtlas } from "./ski-atlas.ts";
import { skiAtlasMonthly } from "./ski-atlas-monthly.ts";
import type { Workflow } from "./types.ts";
import { weather } from "./weather.ts";
import { grader, training } from "./jobs.ts";

/** Every workflow, children before the parents that start them. Adding a workflow means adding it here. */
export function allWorkflows(config: AtlasConfig = readConfig()): Workflow[] {
  return [skiAtlas, skiAtlasMonthly(config), weather, grader, training];
}

export function workflowByName(name: string, config?: AtlasConfig): Workflow {
  const all = allWorkflows(config);
  const found = all.find((w) => w.name === name);
  if (!found) throw new Error(`unknown workflow '${name}' (expected one of ${all.map((w) => w.name).join(", ")})`);
  return found;
}
