import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import type { S3Client } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EXIT, StepError } from "../../lib/exit-codes.ts";
import { runIngest } from "./ingest.ts";

/**
 * Ingest on station files that hold nothing it can read: an empty file, a binary one, a file of unreadable lines,
 * and a file whose name is markup. Each ends in one line that names the file and says what is wrong with it (or, for
 * the hostile name, never names it), not in what DuckDB says of an empty table. Local `file://` sources: nothing is
 * written to S3 before these checks, so no S3 client is needed.
 */
let scratch: string;
const HOSTILE = "<img src=x onerror=alert(1)>.txt";
const GOOD_LINE = "19850101\t  -22\t -128\t   94\n";

beforeAll(async () => {
  scratch = await mkdtemp(path.join(tmpdir(), "weather-ingest-test-"));
});
afterAll(() => rm(scratch, { recursive: true, force: true }));

/** A source folder holding `files`; runs ingest on it and returns the error (if any) and what it logged. */
async function ingestFolder(files: Record<string, string | Buffer>): Promise<{ error?: StepError; log: string[] }> {
  const dir = path.join(scratch, randomBytes(4).toString("hex"));
  await mkdir(dir);
  for (const [name, body] of Object.entries(files)) await writeFile(path.join(dir, name), body);
  const log: string[] = [];
  const cfg = { runId: "2026-01-01", stagingUri: "s3://bucket/staging/weather/2026-01-01/", local: true, sourceUri: `${pathToFileURL(dir).href}/`, rejectSample: 100 };
  const error = await runIngest(cfg, undefined as unknown as S3Client, (line) => log.push(line)).then(
    () => undefined,
    (e: StepError) => e,
  );
  return { error, log };
}

describe("station files ingest cannot read", () => {
  it("GIVEN an empty station file WHEN ingested THEN one line names it as empty, exit 65 (bad data, not retried)", async () => {
    const { error } = await ingestFolder({ "USC1.txt": "" });
    expect(error).toBeInstanceOf(StepError);
    expect(error!.exitCode).toBe(EXIT.DATA_ERROR);
    expect(error!.message).toMatch(/^SOURCE_URI file:.* holds no weather record: USC1\.txt is empty \(0 bytes\) \(a station file holds lines YYYYMMDD<TAB>max<TAB>min<TAB>precipitation\)$/);
  });

  it("GIVEN a binary station file WHEN ingested THEN one line names it as not text", async () => {
    const { error } = await ingestFolder({ "USC2.txt": Buffer.concat([Buffer.from([0, 159, 146, 150]), randomBytes(2000)]) });
    expect(error!.exitCode).toBe(EXIT.DATA_ERROR);
    expect(error!.message).toMatch(/holds no weather record: USC2\.txt is not text \(binary, 2004 bytes\) \(a station file/);
    expect(error!.message).not.toMatch(/sniff|Invalid Input Error/i);
  });

  it("GIVEN files of lines that are not records WHEN ingested THEN each is named with what its first line was", async () => {
    const { error } = await ingestFolder({ "A.txt": "date,max,min,prcp\n1985-01-01,1,2,3\n", "B.txt": "\n\n\n" });
    expect(error!.message).toContain("A.txt has no line that reads as a record (2 lines; the first rejected as field_count); B.txt holds only blank lines (3 bytes)");
  });

  it("GIVEN one good file beside an empty one WHEN ingested THEN the run goes on (past these checks) and the log says what the empty file gave", async () => {
    const { error, log } = await ingestFolder({ "A.txt": GOOD_LINE, "B.txt": "" });
    // It gets as far as uploading (no S3 client here): the records were found.
    expect(error?.message ?? "").not.toMatch(/holds no weather record/);
    expect(log).toContain("B.txt: no record read: is empty (0 bytes)");
  });
});

describe("a station file named with markup", () => {
  it("GIVEN only a file named like an HTML tag WHEN ingested THEN it is not read, and the line says so without repeating the name", async () => {
    const { error, log } = await ingestFolder({ [HOSTILE]: GOOD_LINE });
    expect(error!.exitCode).toBe(EXIT.NO_INPUT);
    expect(error!.message).toMatch(/^SOURCE_URI file:.* holds no station files \(<station>\.txt, the station in letters, digits, _ and -\)$/);
    for (const line of [error!.message, ...log]) expect(line).not.toMatch(/img|onerror/);
    expect(log).toContain("skipping 1 file(s) whose names are not <station>.txt, the station in letters, digits, _ and -");
  });
});
