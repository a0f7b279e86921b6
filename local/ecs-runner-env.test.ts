import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { taskEnvironment, tierByName } from "../workflows/tiers.ts";
import { containerEnvironment } from "./ecs-runner.ts";

/** A task work dir by name only: containerEnvironment just passes it on (nothing is created). */
const WORK_DIR = path.join("work", "task-1");

describe("the local ECS runner's container environment", () => {
  it("is the task definition's environment for the tier (as the stacks set it), then the container overrides", () => {
    const large = tierByName("large");
    const env = containerEnvironment({ CODE_VERSION: "abc", AWS_ENDPOINT_URL_S3: "http://127.0.0.1:1" }, large, WORK_DIR, [
      { Name: "REGION", Value: "andorra" },
      { Name: "TMPDIR", Value: "/elsewhere" },
    ]);
    expect(env).toEqual({
      CODE_VERSION: "abc",
      AWS_ENDPOINT_URL_S3: "http://127.0.0.1:1",
      ...taskEnvironment(large, WORK_DIR),
      REGION: "andorra",
      // A container override wins over the task definition, as on ECS.
      TMPDIR: "/elsewhere",
    });
    expect(env.NODE_OPTIONS).toBe("--max-old-space-size=8192");
  });
});
