#!/usr/bin/env node
// Entrypoint of the thumbnail image (ARM64 Fargate, containers/Dockerfile with WORKFLOW=thumbnail):
// `node containers/thumbnail/main.js thumbnail`.
import { runStepMain } from "../../lib/run-step.ts";
import { thumbnail } from "./thumbnail.ts";

process.exitCode = await runStepMain("thumbnail", { thumbnail }, process.argv.slice(2), process.env);
