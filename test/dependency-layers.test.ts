import { execFile } from "node:child_process";
import { readdir } from "node:fs/promises";
import { createRequire } from "node:module";
import * as path from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "../lib/project-root.ts";

/**
 * The layer order of docs/ARCHITECTURE.md ("Layers"), as dependency-cruiser checks it with .dependency-cruiser.cjs:
 * every import runs down the layers, none runs in a circle, and there is no exception list.
 */
const CONFIG = path.join(PROJECT_ROOT, ".dependency-cruiser.cjs");
const CLI = path.join(PROJECT_ROOT, "node_modules", "dependency-cruiser", "bin", "dependency-cruiser.mjs");

/** Runs dependency-cruiser from `cwd` over `targets`; its exit code is the number of errors. */
async function cruise(cwd: string, targets: string[]): Promise<{ code: number; output: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [CLI, "--config", CONFIG, "--output-type", "err", ...targets], { cwd });
    return { code: 0, output: stdout + stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === "number" ? e.code : 1, output: `${e.stdout ?? ""}${e.stderr ?? ""}` };
  }
}

describe("the layers (docs/ARCHITECTURE.md)", () => {
  it("GIVEN the whole repository WHEN dependency-cruiser checks it THEN no import breaks a layer rule or runs in a circle", async () => {
    const { code, output } = await cruise(PROJECT_ROOT, ["."]);
    const summary = output.trim().split("\n").at(-1);
    console.log(`dependency-cruiser: ${summary}`);
    expect(output).toMatch(/no dependency violations found \(\d+ modules, \d+ dependencies cruised\)/);
    expect(code).toBe(0);
  });

  it("GIVEN lib/ importing cli/ and the two importing each other WHEN checked THEN both the layer and the circle are errors", async () => {
    const { code, output } = await cruise(path.join(PROJECT_ROOT, "test", "fixtures", "layer-violation"), ["lib", "cli"]);
    expect(code).toBeGreaterThan(0);
    expect(output).toMatch(/error layer-lib: lib\/helper\.ts → cli\/tool\.ts/);
    expect(output).toMatch(/error no-circular:/);
  });

  it("GIVEN every top-level folder holding TypeScript WHEN listed THEN each is a layer of the rules, or test code", async () => {
    const config = createRequire(import.meta.url)(CONFIG) as { forbidden: { name: string }[] };
    const layers = config.forbidden.map((r) => /^layer-(.+)$/.exec(r.name)?.[1]).filter(Boolean);
    const entries = await readdir(PROJECT_ROOT, { withFileTypes: true });
    const folders: string[] = [];
    for (const e of entries) {
      if (!e.isDirectory() || e.name.startsWith(".") || ["node_modules", "dist", "test", "docs", "scripts"].includes(e.name)) continue;
      const files = await readdir(path.join(PROJECT_ROOT, e.name), { recursive: true });
      if (files.some((f) => String(f).endsWith(".ts"))) folders.push(e.name);
    }
    expect(folders.filter((f) => !layers.includes(f))).toEqual([]);
  });
});
