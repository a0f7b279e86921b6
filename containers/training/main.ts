#!/usr/bin/env node
// Entrypoint of the training image: `node containers/training/main.js train`. See README.md.
import { runStepMain } from "../../lib/run-step.ts";
import { train } from "./train.ts";

process.exitCode = await runStepMain("training", { train }, process.argv.slice(2), process.env);
