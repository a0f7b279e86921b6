import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { taskSizeOverrides, tierByName, tierEnvironment, TASK_DEFINITION_TIER } from "../workflows/tiers.ts";
import { containerEnvironment, taskSize } from "./ecs-runner.ts";

/** A task work dir by name only: containerEnvironment just passes it on (nothing is created). */
const WORK_DIR = path.join("work", "task-1");

describe("the local ECS runner's container environment", () => {
  it("is the task definition's environment (TMPDIR, the work dir), then RunTask's container override with the tier's variables and the step's", () => {
    const large = tierByName("large");
    const override = [...Object.entries(tierEnvironment(large)).map(([Name, Value]) => ({ Name, Value })), { Name: "REGION", Value: "andorra" }, { Name: "TMPDIR", Value: "/elsewhere" }];
    const env = containerEnvironment({ CODE_VERSION: "abc", AWS_ENDPOINT_URL_S3: "http://127.0.0.1:1" }, WORK_DIR, override);
    expect(env).toEqual({
      CODE_VERSION: "abc",
      AWS_ENDPOINT_URL_S3: "http://127.0.0.1:1",
      ...tierEnvironment(large),
      REGION: "andorra",
      // A container override wins over the task definition, as on ECS.
      TMPDIR: "/elsewhere",
    });
    expect(env.NODE_OPTIONS).toBe("--max-old-space-size=8192");
    expect(containerEnvironment({}, WORK_DIR).TMPDIR).toBe(WORK_DIR);
  });

  it("sizes a task by RunTask's task-level override, else by the task definition", () => {
    expect(taskSize(taskSizeOverrides(tierByName("large")))).toEqual({ cpu: 4096, memoryMiB: 16384 });
    expect(taskSize(undefined)).toEqual({ cpu: TASK_DEFINITION_TIER.vcpu * 1024, memoryMiB: TASK_DEFINITION_TIER.memoryMiB });
  });
});
