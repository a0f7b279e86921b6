#!/usr/bin/env node
// Entrypoint of the weather image: `node containers/weather/main.js <ingest|analyze|publish|rollback>`
// (locally: `npx tsx containers/weather/main.ts <step>`). See README.md for the environment contract.
import { rollbackInterruptedPublish } from "../../lib/publish-prefix.ts";
import { runStepMain } from "../../lib/run-step.ts";
import { analyze } from "./analyze.ts";
import { rollbackConfig } from "./config.ts";
import { ingest } from "./ingest.ts";
import { publish } from "./publish.ts";

const WEATHER_STEPS = {
  ingest: async (...a: Parameters<typeof ingest>) => void (await ingest(...a)),
  analyze: async (...a: Parameters<typeof analyze>) => void (await analyze(...a)),
  publish: async (...a: Parameters<typeof publish>) => void (await publish(...a)),
  /** The failure path: undoes an interrupted publish of PUBLISH_URI (nothing to do when none was interrupted). */
  rollback: async (...[env, s3, log]: Parameters<typeof publish>) => {
    const { publishUri } = rollbackConfig(env);
    if ((await rollbackInterruptedPublish(s3, publishUri, log)) === "none") log(`nothing to roll back under ${publishUri}`);
  },
};

process.exitCode = await runStepMain("weather", WEATHER_STEPS, process.argv.slice(2), process.env);
