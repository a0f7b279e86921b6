#!/usr/bin/env node
// Entrypoint of the OCR image (GPU, linux/amd64; containers/ocr/Dockerfile): `node containers/ocr/main.js ocr`.
import { runStepMain } from "../../lib/run-step.ts";
import { ocr } from "./ocr-step.ts";

process.exitCode = await runStepMain("ocr", { ocr }, process.argv.slice(2), process.env);
