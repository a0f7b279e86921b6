import { spawn } from "node:child_process";
import { describe, expect, it } from "vitest";
import { groupThreads, ThreadCpuSampler } from "./thread-cpu.ts";

/**
 * The benchmark's per-thread account of the extract (what bounds it). Checked on real processes: a Node child
 * whose main thread and one worker_thread each burn some CPU, sampled from its parent as `npm run bench` samples
 * the step under /usr/bin/time. Amounts are lower bounds far below what is burnt, never timings.
 */
describe("per-thread CPU of a step", () => {
  it("GIVEN readings of named threads WHEN grouped THEN each goes to its group and unknown names to other", () => {
    const last = new Map<string, [string, number]>([
      ["1", ["MainThread", 1.5]],
      ["2", ["WorkerThread", 2]],
      ["3", ["WorkerThread", 2.5]],
      ["4", ["V8Worker", 0.5]],
      ["5", ["V8Worker", 0.25]],
      ["6", ["libuv-worker", 0.1]],
      ["7", ["SignalInspector", 0.05]],
      ["8", ["S3Reader", 0.75]],
    ]);
    expect(groupThreads(last)).toEqual({ main: 1.5, workers: 4.5, reader: 0.75, v8Helpers: 0.75, libuvPool: 0.1, other: 0.05, workerThreads: 2 });
  });

  it("GIVEN a child whose main thread and one worker burn CPU WHEN sampled from its parent THEN both show in their groups", async () => {
    const burn = (ms: number) => `const t = Date.now(); while (Date.now() - t < ${ms}) {}`;
    const script =
      `const { Worker } = require("node:worker_threads");` +
      `const w = new Worker(${JSON.stringify(burn(600))}, { eval: true });` +
      `${burn(300)}; w.on("exit", () => {});`;
    // `; true` keeps sh from exec'ing node, so node is the child of the spawned process (as under /usr/bin/time).
    const parent = spawn("sh", ["-c", `"${process.execPath}" -e '${script}'; true`], { stdio: "ignore" });
    const sampler = new ThreadCpuSampler(parent.pid!, 20);
    await new Promise((resolve) => parent.on("close", resolve));
    const threads = sampler.stop();
    expect(threads.workerThreads).toBe(1);
    expect(threads.workers).toBeGreaterThan(0.1);
    expect(threads.main).toBeGreaterThan(0.05);
  });
});
