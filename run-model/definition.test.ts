import { describe, expect, it } from "vitest";
import { successPath, type AslStates } from "./definition.ts";

const machine = (states: Record<string, Record<string, unknown>>, startAt = "A"): AslStates => ({ StartAt: startAt, States: states }) as AslStates;

describe("the success path of a definition", () => {
  it("GIVEN a Pass, a Task, a Choice and a Succeed WHEN walked THEN each state once, in order, the Choice by its Default", () => {
    const path = successPath(
      machine({
        A: { Type: "Pass", Next: "Work?" },
        "Work?": { Type: "Choice", Choices: [{ Variable: "$.skip", BooleanEquals: true, Next: "Done" }], Default: "B" },
        B: { Type: "Task", Resource: "arn:aws:states:::lambda:invoke", Next: "Done", Catch: [{ ErrorEquals: ["States.ALL"], Next: "Failed" }] },
        Done: { Type: "Succeed" },
        Failed: { Type: "Fail" },
      }),
    );
    expect(path).toEqual([
      { name: "A", type: "Pass" },
      { name: "Work?", type: "Choice" },
      { name: "B", type: "Task", resource: "arn:aws:states:::lambda:invoke" },
      { name: "Done", type: "Succeed" },
    ]);
  });

  it("GIVEN a state that ends the machine WHEN walked THEN the path ends there", () => {
    expect(successPath(machine({ A: { Type: "Pass", End: true }, B: { Type: "Pass", End: true } })).map((s) => s.name)).toEqual(["A"]);
  });

  it.each([
    ["a loop", { A: { Type: "Pass", Next: "B" }, B: { Type: "Pass", Next: "A" } }, /loops back to 'A'/],
    ["a Choice without Default", { A: { Type: "Choice", Choices: [] } }, /'A' \(Choice\) has no Default/],
    ["a Map", { A: { Type: "Map", Next: "B" }, B: { Type: "Succeed" } }, /enters the Map 'A'/],
    ["a Fail state", { A: { Type: "Fail" } }, /ends in the Fail state 'A'/],
    ["a missing state", { A: { Type: "Pass", Next: "Nowhere" } }, /reaches 'Nowhere'/],
  ])("GIVEN %s WHEN walked THEN it says so instead of guessing", (_what, states, message) => {
    expect(() => successPath(machine(states as Record<string, Record<string, unknown>>))).toThrow(message);
  });
});
