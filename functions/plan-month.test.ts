import { describe, expect, it } from "vitest";
import { handler, planMonth, type PlanMonthEvent } from "./plan-month.ts";

const base: PlanMonthEvent = {
  input: {},
  execution: { startTime: "2026-11-01T06:00:00.000Z" },
  defaults: { regions: ["iceland", "andorra"] },
};
const aws = { local: false };

describe("planMonth", () => {
  it("GIVEN a scheduled run with no input WHEN planned THEN the default regions run for the start time's month", () => {
    expect(planMonth({ ...base, input: null }, aws)).toEqual({
      period: "2026-11",
      items: [
        { region: "iceland", period: "2026-11", name: "iceland-2026-11", source: null },
        { region: "andorra", period: "2026-11", name: "andorra-2026-11", source: null },
      ],
    });
  });

  it("GIVEN explicit regions with duplicates and a period WHEN planned THEN they replace the defaults, deduped in order", () => {
    const out = planMonth({ ...base, input: { regions: ["alps", "new-zealand", "alps"], period: "2025-07" } }, aws);
    expect(out.period).toBe("2025-07");
    expect(out.items.map((i) => i.name)).toEqual(["alps-2025-07", "new-zealand-2025-07"]);
  });

  it("GIVEN regions as a comma string WHEN planned THEN it is split", () => {
    const out = planMonth({ ...base, input: { regions: "iceland, liechtenstein" } }, aws);
    expect(out.items.map((i) => i.region)).toEqual(["iceland", "liechtenstein"]);
  });

  it.each([
    [{ regions: ["iceland", "../x"] }, /^invalid region "\.\.\/x"/],
    [{ regions: ["a/b"] }, /^invalid region "a\/b"/],
    [{ regions: ["Iceland"] }, /^invalid region "Iceland"/],
    [{ regions: ["atlantis"] }, /^unknown region "atlantis"; known regions/],
    [{ regions: [] }, /regions is empty/],
    [{ regions: { iceland: true } }, /regions must be a list/],
    [{ period: "2026-13" }, /^invalid period "2026-13"/],
    [{ period: "26-01" }, /^invalid period "26-01"/],
    [{ region: "iceland" }, /unknown input field "region"/],
  ])("GIVEN input %j WHEN planned THEN InvalidInputError", (input, message) => {
    expect(() => planMonth({ ...base, input: input as PlanMonthEvent["input"] }, aws)).toThrow(
      expect.objectContaining({ name: "InvalidInputError", message: expect.stringMatching(message) }),
    );
  });

  it("GIVEN a bad default region WHEN planned without regions THEN the defaults are validated too", () => {
    expect(() => planMonth({ ...base, defaults: { regions: ["Europe"] } }, aws)).toThrow(/invalid region "Europe"/);
  });

  it("GIVEN the local-only sample region WHEN planned on AWS or locally THEN only the local engine accepts it", () => {
    const event = { ...base, input: { regions: ["sample"] } };
    expect(() => planMonth(event, aws)).toThrow(/only run with the local engine/);
    expect(planMonth(event, { local: true }).items).toEqual([{ region: "sample", period: "2026-11", name: "sample-2026-11", source: null }]);
  });

  it("GIVEN the handler WHEN invoked THEN it returns the same plan", async () => {
    await expect(handler(base)).resolves.toMatchObject({ period: "2026-11", items: [{ name: "iceland-2026-11" }, { name: "andorra-2026-11" }] });
  });

  it("GIVEN sources for some regions WHEN planned THEN those items carry them and the rest use the registry (null)", () => {
    const event = { input: { regions: ["iceland", "andorra"], period: "2026-11", sources: { andorra: "file:///data/a.osm.pbf" } }, execution: { startTime: "2026-11-01T06:00:00Z" }, defaults: { regions: [] } };
    expect(planMonth(event, { local: true }).items.map((i) => i.source)).toEqual([null, "file:///data/a.osm.pbf"]);
    expect(() => planMonth({ ...event, input: { ...event.input, sources: { alps: "x" } } }, { local: true })).toThrow(/not in this run: alps/);
  });
});
