import { readFileSync } from "node:fs";
import * as path from "node:path";
import { Ajv } from "ajv";
import addFormatsModule from "ajv-formats";
import type { RunRecord } from "../../run-records/record.ts";

/** The documented JSON Schema (docs/run-record.schema.json), compiled once, for tests to check records against. */
const schema = JSON.parse(readFileSync(path.join(import.meta.dirname, "..", "..", "docs", "run-record.schema.json"), "utf8"));
const ajv = new Ajv({ allErrors: true, strict: true });
// ajv-formats is CommonJS: its default export arrives wrapped once more under ESM.
const addFormats = ((addFormatsModule as unknown as { default?: typeof addFormatsModule }).default ?? addFormatsModule) as unknown as (a: Ajv) => void;
addFormats(ajv);
const validate = ajv.compile(schema);

/** The schema's complaints about a record, one line each; empty when it conforms. */
export function schemaProblems(record: RunRecord | unknown): string[] {
  if (validate(record)) return [];
  return (validate.errors ?? []).map((e) => `${e.instancePath || "/"} ${e.message}`);
}
