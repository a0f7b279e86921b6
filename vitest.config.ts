import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["**/*.test.ts"],
    exclude: ["node_modules/**", ".sst/**", ".data/**", "dist/**"],
    testTimeout: 180_000,
    hookTimeout: 120_000,
    // Child processes (osmium, step entrypoints) already use both cores; forks keep suites isolated.
    pool: "forks",
    poolOptions: { forks: { maxForks: 2 } },
  },
});
