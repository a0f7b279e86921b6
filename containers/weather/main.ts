#!/usr/bin/env node
// Entrypoint of the weather image: `node containers/weather/main.js <ingest|analyze|publish|rollback>`
// (locally: `npx tsx containers/weather/main.ts <step>`). See README.md for the environment contract.
import { reportUnfinishedPublish } from "../../lib/publish-prefix.ts";
import { runStepMain } from "../../lib/run-step.ts";
import { analyze } from "./analyze.ts";
import { rollbackConfig } from "./config.ts";
import { ingest } from "./ingest.ts";
import { publish } from "./publish.ts";

const WEATHER_STEPS = {
  ingest: async (...a: Parameters<typeof ingest>) => void (await ingest(...a)),
  analyze: async (...a: Parameters<typeof analyze>) => void (await analyze(...a)),
  publish: async (...a: Parameters<typeof publish>) => void (await publish(...a)),
  /** The failure path: a publish changes nothing visible before it commits, so this only says what it left. */
  rollback: async (...[env, s3, log]: Parameters<typeof publish>) => void (await reportUnfinishedPublish(s3, rollbackConfig(env).publishUri, log)),
};

process.exitCode = await runStepMain("weather", WEATHER_STEPS, process.argv.slice(2), process.env);
