import { describe, expect, it } from "vitest";
import { classifyError } from "../../lib/classify-error.ts";
import { StepError } from "../../lib/exit-codes.ts";
import { readConfig } from "./config.ts";
import { parseMd5File, sameVersion } from "./source-version.ts";

const base = { REGION: "andorra", PERIOD: "2026-11", RUN_ID: "r1" };

describe("config", () => {
  it("reads each step's variables and normalizes prefixes", () => {
    const c = readConfig("analyze", { ...base, EXTRACT_URI: "s3://bkt/x.pbf", STAGING_URI: "s3://bkt/out" });
    expect(c).toMatchObject({ step: "analyze", stagingUri: "s3://bkt/out/", local: false });
  });

  it("rejects bad values with exit 64", () => {
    const bad = (step: string, env: Record<string, string>) => {
      try {
        readConfig(step, env);
      } catch (e) {
        return (e as StepError).exitCode;
      }
      return 0;
    };
    expect(bad("extract", { ...base, RAW_URI: "http://x", EXTRACT_URI: "s3://bkt/k" })).toBe(64);
    expect(bad("extract", { ...base, PERIOD: "2026-13", RAW_URI: "s3://bkt/k", EXTRACT_URI: "s3://bkt/k" })).toBe(64);
    expect(bad("nope", base)).toBe(64);
  });
});

describe("classifyError", () => {
  it("maps S3 and network failures to exit codes", () => {
    expect(classifyError(Object.assign(new Error("denied"), { name: "AccessDenied" })).exitCode).toBe(77);
    expect(classifyError(Object.assign(new Error("x"), { name: "InternalError", $metadata: { httpStatusCode: 500 } })).exitCode).toBe(75);
    expect(classifyError(new TypeError("fetch failed", { cause: Object.assign(new Error("refused"), { code: "ECONNREFUSED" }) })).exitCode).toBe(75);
    expect(classifyError(new RangeError("bug")).exitCode).toBe(1);
    expect(classifyError(new StepError("kept", 65)).exitCode).toBe(65);
  });
});

describe("source versions", () => {
  it("parses Geofabrik .md5 files", () => {
    expect(parseMd5File("0123456789abcdef0123456789ABCDEF  andorra-latest.osm.pbf\n")).toBe("0123456789abcdef0123456789abcdef");
    expect(parseMd5File("<html>")).toBeUndefined();
  });

  it("compares md5, then ETag, then Last-Modified with size", () => {
    const url = "https://x/a.pbf";
    expect(sameVersion({ url, md5: "a", etag: "1" }, { url, md5: "a", etag: "2" })).toBe(true);
    expect(sameVersion({ url, md5: "a" }, { url, md5: "b" })).toBe(false);
    expect(sameVersion({ url, etag: "1" }, { url, etag: "1" })).toBe(true);
    expect(sameVersion({ url, lastModified: "t", bytes: 5 }, { url, lastModified: "t", bytes: 5 })).toBe(true);
    expect(sameVersion({ url, lastModified: "t", bytes: 5 }, { url, lastModified: "t", bytes: 6 })).toBe(false);
    expect(sameVersion({ url, etag: "1" }, { url: "https://y/a.pbf", etag: "1" })).toBe(false);
    expect(sameVersion({ url }, { url })).toBe(false);
  });
});
