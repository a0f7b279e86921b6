#!/usr/bin/env node
// Entrypoint of the weather image: `node containers/weather/main.js <ingest|analyze|publish>`
// (locally: `npx tsx containers/weather/main.ts <step>`). See README.md for the environment contract.
import { runStepMain } from "../../lib/run-step.ts";
import { analyze } from "./analyze.ts";
import { ingest } from "./ingest.ts";
import { publish } from "./publish.ts";

const WEATHER_STEPS = {
  ingest: async (...a: Parameters<typeof ingest>) => void (await ingest(...a)),
  analyze: async (...a: Parameters<typeof analyze>) => void (await analyze(...a)),
  publish: async (...a: Parameters<typeof publish>) => void (await publish(...a)),
};

process.exitCode = await runStepMain("weather", WEATHER_STEPS, process.argv.slice(2), process.env);
