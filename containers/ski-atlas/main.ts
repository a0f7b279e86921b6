#!/usr/bin/env node
// Entrypoint of the ski-atlas image: `node containers/ski-atlas/main.js <download|extract|analyze|publish>`
// (locally: `npx tsx containers/ski-atlas/main.ts <step>`). See README.md for the environment contract.
import { runStepMain } from "../../lib/run-step.ts";
import { SKI_ATLAS_STEPS } from "./steps.ts";

process.exitCode = await runStepMain("ski-atlas", SKI_ATLAS_STEPS, process.argv.slice(2), process.env);
