import { DescribeExecutionCommand, ExecutionDoesNotExist, SFNClient } from "@aws-sdk/client-sfn";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { machineArnVariable } from "../lib/execution-history.ts";
import { handler, planMonth, planRerun, type PlanMonthEvent } from "./plan-month.ts";

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


  it("GIVEN sources for some regions WHEN planned THEN those items carry them and the rest use the registry (null)", () => {
    const event = { input: { regions: ["iceland", "andorra"], period: "2026-11", sources: { andorra: "file:///data/a.osm.pbf" } }, execution: { startTime: "2026-11-01T06:00:00Z" }, defaults: { regions: [] } };
    expect(planMonth(event, { local: true }).items.map((i) => i.source)).toEqual([null, "file:///data/a.osm.pbf"]);
    expect(() => planMonth({ ...event, input: { ...event.input, sources: { alps: "x" } } }, { local: true })).toThrow(/not in this run: alps/);
  });
});

/**
 * Reruns on AWS: Plan asks Step Functions (DescribeExecution on the region machine) for each region's attempts.
 * aws-sdk-client-mock stands in for Step Functions; the same decisions offline come from the engine's registry
 * (local/rerun.test.ts).
 */
describe("planning a rerun of a month on AWS", () => {
  const MACHINE_ARN = "arn:aws:states:eu-west-1:123456789012:stateMachine:skiatlasStateMachine8AE2B847-AbC123";
  const executionArn = (name: string) => `${MACHINE_ARN.replace(":stateMachine:", ":execution:")}:${name}`;
  const sfn = mockClient(SFNClient);
  const saved = process.env[machineArnVariable("ski-atlas")];
  beforeEach(() => {
    sfn.reset();
    process.env[machineArnVariable("ski-atlas")] = MACHINE_ARN;
    delete process.env.ATLAS_EXECUTIONS_DIR;
  });
  afterEach(() => {
    if (saved === undefined) delete process.env[machineArnVariable("ski-atlas")];
    else process.env[machineArnVariable("ski-atlas")] = saved;
  });

  /** Step Functions holding these executions of the region machine, by name. */
  function executions(statuses: Record<string, string>) {
    sfn.on(DescribeExecutionCommand).callsFake(async ({ executionArn: arn }: { executionArn: string }) => {
      const name = arn.split(":").pop()!;
      const status = statuses[name];
      if (!status) throw new ExecutionDoesNotExist({ $metadata: {}, message: `Execution Does Not Exist: '${arn}'` });
      return { executionArn: arn, name, status, startDate: new Date("2026-11-01T06:00:00Z"), ...(status === "RUNNING" ? {} : { stopDate: new Date("2026-11-01T07:00:00Z") }) };
    });
  }
  const event = (input: Record<string, unknown>): PlanMonthEvent => ({ ...base, input: { regions: ["iceland", "andorra"], ...input } });

  it("GIVEN no earlier execution WHEN the handler plans THEN each region starts as {region}-{period}, looked up on the region machine", async () => {
    executions({});
    await expect(handler(event({}))).resolves.toEqual({
      period: "2026-11",
      items: [
        { region: "iceland", period: "2026-11", name: "iceland-2026-11", source: null, start: true, previous: null },
        { region: "andorra", period: "2026-11", name: "andorra-2026-11", source: null, start: true, previous: null },
      ],
    });
    expect(sfn.commandCalls(DescribeExecutionCommand).map((c) => c.args[0].input.executionArn).sort()).toEqual(
      [executionArn("andorra-2026-11"), executionArn("iceland-2026-11")].sort(),
    );
  });

  it("GIVEN andorra SUCCEEDED and iceland FAILED then TIMED_OUT WHEN rerun THEN andorra is reused and iceland gets attempt -3", async () => {
    executions({ "andorra-2026-11": "SUCCEEDED", "iceland-2026-11": "FAILED", "iceland-2026-11-2": "TIMED_OUT" });
    const plan = await handler(event({}));
    expect(plan.items.map((i) => [i.region, i.name, i.start, i.previous?.status])).toEqual([
      ["iceland", "iceland-2026-11-3", true, "TIMED_OUT"],
      ["andorra", "andorra-2026-11", false, "SUCCEEDED"],
    ]);
  });

  it.each([
    ["ABORTED", "andorra-2026-11-2", true],
    ["FAILED", "andorra-2026-11-2", true],
    ["RUNNING", "andorra-2026-11", false],
  ])("GIVEN a manual andorra-2026-11 run that is %s WHEN the month runs THEN andorra's item is %s (start: %s)", async (status, name, start) => {
    executions({ "andorra-2026-11": status });
    const andorra = (await handler(event({}))).items.find((i) => i.region === "andorra")!;
    expect([andorra.name, andorra.start, andorra.previous?.status]).toEqual([name, start, status]);
  });

  it.each([
    [["andorra"], ["iceland-2026-11", false], ["andorra-2026-11-2", true]],
    [true, ["iceland-2026-11-2", true], ["andorra-2026-11-2", true]],
  ])("GIVEN both regions SUCCEEDED WHEN rerun with force %j THEN the forced regions get a new attempt", async (force, iceland, andorra) => {
    executions({ "andorra-2026-11": "SUCCEEDED", "iceland-2026-11": "SUCCEEDED" });
    const plan = await handler(event({ force }));
    expect(plan.items.map((i) => [i.name, i.start])).toEqual([iceland, andorra]);
  });

  it.each([
    [["alps"], /force names regions that are not in this run: alps/],
    ["andorra", /force must be true or a list of regions/],
  ])("GIVEN force %j WHEN planned THEN InvalidInputError and nothing is looked up", async (force, message) => {
    executions({});
    await expect(planRerun(event({ force }), aws, { describe: async () => undefined })).rejects.toMatchObject({ name: "InvalidInputError", message: expect.stringMatching(message) });
  });

  it("GIVEN no machine ARN in the function's environment WHEN the handler plans THEN it fails saying which variable is missing", async () => {
    delete process.env[machineArnVariable("ski-atlas")];
    await expect(handler(event({}))).rejects.toThrow(/ATLAS_MACHINE_ARN_SKI_ATLAS/);
  });
});
