#!/usr/bin/env node
// Entrypoint of the grader image: `node containers/grader/main.js grade`. See README.md.
import { runStepMain } from "../../lib/run-step.ts";
import { grade } from "./grade.ts";

process.exitCode = await runStepMain("grader", { grade }, process.argv.slice(2), process.env);
