import { describe, expect, it } from "vitest";
import { statusAndValue } from "./status.ts";

describe("lifecycle status (Status.ts)", () => {
  it("reads an operating object's value from its main key", () => {
    expect(statusAndValue("aerialway", { aerialway: "chair_lift" })).toEqual({ status: "operating", value: "chair_lift" });
    expect(statusAndValue("aerialway", { name: "x" })).toEqual({ status: "operating", value: null });
  });

  it("reads {key}={state} with the value from {state}={value}", () => {
    expect(statusAndValue("aerialway", { aerialway: "construction", construction: "gondola" })).toEqual({ status: "construction", value: "gondola" });
    expect(statusAndValue("aerialway", { aerialway: "disused" })).toEqual({ status: "disused", value: null });
  });

  it("reads {state}:{key}={value} when the main key is absent", () => {
    expect(statusAndValue("piste:type", { "proposed:piste:type": "downhill" })).toEqual({ status: "proposed", value: "downhill" });
    expect(statusAndValue("aerialway", { "removed:aerialway": "chair_lift", demolished: "yes" })).toEqual({ status: "removed", value: "chair_lift" });
  });

  it("reads {state}=yes and piste:{state}=yes, keeping the main key's value", () => {
    expect(statusAndValue("aerialway", { aerialway: "drag_lift", abandoned: "yes" })).toEqual({ status: "abandoned", value: "drag_lift" });
    expect(statusAndValue("piste:type", { "piste:type": "downhill", "piste:abandoned": "yes" })).toEqual({ status: "abandoned", value: "downhill" });
    expect(statusAndValue("site", { site: "piste", disused: "no" })).toEqual({ status: "operating", value: "piste" });
  });
});
