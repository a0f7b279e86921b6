#!/usr/bin/env node
// Entrypoint of the ski-atlas image: `node containers/ski-atlas/main.js <download|extract|analyze|publish>`
// (locally: `npx tsx containers/ski-atlas/main.ts <step>`). See README.md for the environment contract.
import { runStep } from "./step-runner.ts";

process.exitCode = await runStep(process.argv.slice(2), process.env);
