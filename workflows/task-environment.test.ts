import { readdir } from "node:fs/promises";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "../lib/project-root.ts";
import { TASK_ENV } from "../lib/task-env.ts";
import { canSwitchUser, makeTaskDirs, runAsNobody, type TaskDirs } from "../lib/testing/non-root.ts";
import { machineTierTable, NODE_HEAP_SHARE, TIERS, taskEnvironment, tierByName } from "./tiers.ts";

/**
 * The environment a task gets for its tier (the task definitions and the local ECS runner both take it from
 * `taskEnvironment`), checked in real processes that run as the images run: non-root, in a working directory they
 * cannot write, with one work dir of their own (issue 15, items 5 and 6).
 */
const resolve = createRequire(import.meta.url).resolve;
// Absolute: the processes run in a folder from which the project's packages cannot be found by name.
const TSX = pathToFileURL(resolve("tsx")).href;
const DUCKDB_HELPER = path.join(PROJECT_ROOT, "lib", "duckdb.ts");
const DUCKDB_PACKAGE = pathToFileURL(resolve("@duckdb/node-api")).href;

/** A table of about 450 MB of strings: well past a 64 MiB memory limit, so DuckDB must spill to write it. */
const SPILLING_SQL = "CREATE TABLE big AS SELECT i, repeat('x', 200) || i::VARCHAR AS s FROM range(2000000) t(i)";

describe.runIf(canSwitchUser)("a task's environment, as the non-root user of the images", () => {
  let dirs: TaskDirs;
  beforeAll(async () => {
    dirs = await makeTaskDirs("task-env");
  });
  afterAll(() => dirs?.remove());

  const node = (code: string, env: Record<string, string>) =>
    runAsNobody([process.execPath, "--import", TSX, "--input-type=module", "-e", code], {
      cwd: dirs.readOnly,
      env: { HOME: dirs.work, ...env },
    });

  it("lets DuckDB spill into the work dir, past its memory limit, and cleans up after it", async () => {
    // The small tier's environment, with DuckDB's limit lowered so that a small table already spills.
    const env = { ...taskEnvironment(tierByName("small"), dirs.work), [TASK_ENV.duckdbMemoryLimit]: "64MiB" };
    const r = await node(
      `const { Duck } = await import(${JSON.stringify(DUCKDB_HELPER)});
       const db = await Duck.open();
       await db.run(${JSON.stringify(SPILLING_SQL)});
       const spilled = await db.query("SELECT path, size::BIGINT AS size FROM duckdb_temporary_files()");
       const [count] = await db.query("SELECT count(*)::INTEGER AS n FROM (SELECT s FROM big ORDER BY s DESC)");
       const [limit] = await db.query("SELECT current_setting('memory_limit') AS v");
       db.close();
       console.log(JSON.stringify({ spilled: spilled.map((f) => ({ path: f.path, size: Number(f.size) })), rows: count.n, limit: limit.v }));`,
      env,
    );
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { spilled: { path: string; size: number }[]; rows: number; limit: string };
    expect(out.rows).toBe(2_000_000);
    expect(out.limit).toMatch(/^6[0-9]\.\d+ MiB$/);
    expect(out.spilled.reduce((n, f) => n + f.size, 0)).toBeGreaterThan(64 * 2 ** 20);
    for (const f of out.spilled) expect(path.dirname(path.dirname(f.path))).toBe(dirs.work);
    // Each DuckDB spills into a folder of its own, removed when it closes.
    expect((await readdir(dirs.work)).filter((f) => f.startsWith("duckdb-spill-"))).toEqual([]);
  });

  it("(the failure it prevents) DuckDB left to its defaults cannot spill where the user may not write", async () => {
    const r = await node(
      `const { DuckDBInstance } = await import(${JSON.stringify(DUCKDB_PACKAGE)});
       const db = await DuckDBInstance.create(":memory:", { threads: "1", memory_limit: "64MiB" });
       await (await db.connect()).run(${JSON.stringify(SPILLING_SQL)});`,
      { TMPDIR: dirs.work },
    );
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/Failed to create directory "\.tmp".*Permission denied/);
  });

  it.each(TIERS.map((t) => [t.name, t] as const))("caps Node's heap at the %s tier's share of its memory", async (_, tier) => {
    const r = await node(`console.log(JSON.stringify((await import("node:v8")).getHeapStatistics()))`, taskEnvironment(tier, dirs.work));
    expect(r.code, r.stderr).toBe(0);
    const limitMiB = JSON.parse(r.stdout).heap_size_limit / 2 ** 20;
    // The old space is capped at the share; V8 adds its young generation (at most a few hundred MiB) on top.
    expect(limitMiB).toBeGreaterThanOrEqual(tier.memoryMiB * NODE_HEAP_SHARE);
    expect(limitMiB).toBeLessThanOrEqual(tier.memoryMiB * NODE_HEAP_SHARE + 256);
  });
});

describe("taskEnvironment", () => {
  it("puts temporary files in the work dir and sizes DuckDB to the tier's memory and disk", () => {
    expect(taskEnvironment(tierByName("large"), "/scratch")).toEqual({
      ATLAS_TIER: "large",
      NODE_OPTIONS: "--max-old-space-size=8192",
      TMPDIR: "/scratch",
      ATLAS_DUCKDB_MEMORY_LIMIT: "4096MiB",
      ATLAS_DUCKDB_MAX_TEMP_DIRECTORY_SIZE: "50GiB",
    });
    expect(taskEnvironment(tierByName("small")).TMPDIR).toBe("/work");
  });
});

describe("the machine's tier table", () => {
  it("GIVEN every tier WHEN put in the table THEN each column has one entry per tier, in order, and the disk only above Fargate's free 20 GiB", () => {
    const table = machineTierTable();
    expect(table.name).toEqual(TIERS.map((t) => t.name));
    expect(table.next).toEqual([1, 2, 3, 4, 4]);
    for (const column of Object.values(table.environment)) expect(column).toHaveLength(TIERS.length);
    expect(table.environment.NODE_OPTIONS).toEqual(TIERS.map((t) => taskEnvironment(t).NODE_OPTIONS));
    expect(table.task).toEqual([
      { Cpu: "256", Memory: "1024" },
      { Cpu: "1024", Memory: "2048" },
      { Cpu: "2048", Memory: "4096" },
      { Cpu: "4096", Memory: "16384", EphemeralStorage: { SizeInGiB: 100 } },
      { Cpu: "8192", Memory: "32768", EphemeralStorage: { SizeInGiB: 200 } },
    ]);
  });

  it("GIVEN each tier's size WHEN checked against Fargate's CPU and memory pairs THEN each is one Fargate accepts, and the disk is 21–200 GiB when asked for", () => {
    // Fargate's task sizes (AWS docs, "Task CPU and memory"): per vCPU units, the memory range in MiB and its step.
    const fargate: Record<string, { min: number; max: number; step: number } | number[]> = {
      256: [512, 1024, 2048],
      512: { min: 1024, max: 4096, step: 1024 },
      1024: { min: 2048, max: 8192, step: 1024 },
      2048: { min: 4096, max: 16384, step: 1024 },
      4096: { min: 8192, max: 30720, step: 1024 },
      8192: { min: 16384, max: 61440, step: 4096 },
      16384: { min: 32768, max: 122880, step: 8192 },
    };
    for (const task of machineTierTable().task) {
      const allowed = fargate[task.Cpu];
      const memory = Number(task.Memory);
      if (Array.isArray(allowed)) expect(allowed, task.Cpu).toContain(memory);
      else expect(memory >= allowed.min && memory <= allowed.max && (memory - allowed.min) % allowed.step === 0, `${task.Cpu}/${task.Memory}`).toBe(true);
      if (task.EphemeralStorage) expect(task.EphemeralStorage.SizeInGiB).toBeGreaterThanOrEqual(21);
      if (task.EphemeralStorage) expect(task.EphemeralStorage.SizeInGiB).toBeLessThanOrEqual(200);
    }
  });
});
