import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["**/*.test.ts"],
    // Scaled runs, not `npm test`: the 12-region load test (about 2 minutes alone, `npm run test:load`) and the
    // 1,000-task burst (tens of minutes on 2 cores, `npm run test:tasks-load`).
    exclude: ["node_modules/**", ".sst/**", ".data/**", "dist/**", ...(process.env.ATLAS_LOAD_TESTS ? [] : ["local/monthly-load.test.ts", "local/tasks-load.test.ts"])],
    testTimeout: 180_000,
    hookTimeout: 120_000,
    // Child processes (osmium, step entrypoints) already use both cores; forks keep suites isolated.
    pool: "forks",
    poolOptions: { forks: { maxForks: 2 } },
  },
});
