/**
 * Variables a task gets from its size tier (`tierEnvironment` in workflows/tiers.ts, passed as RunTask's container override) and the
 * step code reads inside the image. Names only here: the image does not include workflows/.
 */
export const TASK_ENV = {
  /** The tier's name (`small`): set with the tier's other variables, read by whoever describes a task. */
  tier: "ATLAS_TIER",
  /** DuckDB's `memory_limit` (e.g. `512MiB`): above it DuckDB spills to its temp directory. */
  duckdbMemoryLimit: "ATLAS_DUCKDB_MEMORY_LIMIT",
  /** DuckDB's `max_temp_directory_size` (e.g. `10GiB`): how much of the task's disk spilling may take. */
  duckdbMaxTempDirectorySize: "ATLAS_DUCKDB_MAX_TEMP_DIRECTORY_SIZE",
} as const;
