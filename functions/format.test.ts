import { describe, expect, it } from "vitest";
import { formatBytes, formatDuration, snsMessage, snsSubject } from "./format.ts";

describe("format", () => {
  it.each([
    [0, "0 B"],
    [999, "999 B"],
    [1778051, "1.8 MB"],
    [373_000_000, "373 MB"],
    [31_000_000_000, "31 GB"],
  ])("GIVEN %d bytes WHEN formatted THEN %s", (bytes, text) => {
    expect(formatBytes(bytes)).toBe(text);
  });

  it.each([
    [250, "250 ms"],
    [4000, "4.0 s"],
    [95_000, "1 min 35 s"],
    [4 * 3600_000 + 7 * 60_000, "4 h 7 min"],
  ])("GIVEN %d ms WHEN formatted THEN %s", (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });

  it("GIVEN a subject with line breaks and non-ASCII WHEN cleaned THEN it is one printable line under 100 chars", () => {
    expect(snsSubject("a\nb é")).toBe("a b ?");
    expect(snsSubject("x".repeat(150))).toBe(`${"x".repeat(96)}...`);
  });

  it("GIVEN a message over the SNS limit WHEN cleaned THEN it is truncated", () => {
    const out = snsMessage("y".repeat(300_000));
    expect(out.length).toBeLessThan(70_000);
    expect(out.endsWith("(truncated)")).toBe(true);
  });
});
