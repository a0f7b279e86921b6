import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["**/*.test.ts"],
    // The 12-region load test is a scaled run (about 2 minutes alone): `npm run test:load`, not `npm test`.
    exclude: ["node_modules/**", ".sst/**", ".data/**", "dist/**", ...(process.env.ATLAS_LOAD_TESTS ? [] : ["local/monthly-load.test.ts"])],
    testTimeout: 180_000,
    hookTimeout: 120_000,
    // Child processes (osmium, step entrypoints) already use both cores; forks keep suites isolated.
    pool: "forks",
    poolOptions: { forks: { maxForks: 2 } },
  },
});
