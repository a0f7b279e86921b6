import { describe, expect, it } from "vitest";
import { ols } from "./ols.ts";
import { parseTrainingConfig, parseYield } from "./train.ts";

describe("ols", () => {
  it("GIVEN data made exactly from y = 3 + 2·x1 − 0.5·x2 WHEN fitted THEN it recovers the coefficients with R² 1 and RMSE 0", () => {
    const x = [[1, 4], [2, 1], [3, 7], [4, 2], [5, 9], [6, 3]];
    const y = x.map(([a, b]) => 3 + 2 * a - 0.5 * b);
    const fit = ols(x, y);
    expect(fit.intercept).toBeCloseTo(3, 10);
    expect(fit.coefficients[0]).toBeCloseTo(2, 10);
    expect(fit.coefficients[1]).toBeCloseTo(-0.5, 10);
    expect(fit.r2).toBeCloseTo(1, 12);
    expect(fit.rmse).toBeCloseTo(0, 10);
    expect(fit.n).toBe(6);
  });

  it("GIVEN a textbook simple regression WHEN fitted THEN slope, intercept, R² and RMSE match the closed form", () => {
    // x = 1..5, y = 2, 4, 5, 4, 5: slope = Sxy/Sxx = 6/10 = 0.6, intercept = 4 − 0.6·3 = 2.2,
    // residuals −0.8, 0.6, 1, −0.6, −0.2 → SSres = 2.4, SStot = 6, R² = 0.6, RMSE = √(2.4/5).
    const fit = ols([[1], [2], [3], [4], [5]], [2, 4, 5, 4, 5]);
    expect(fit.coefficients[0]).toBeCloseTo(0.6, 12);
    expect(fit.intercept).toBeCloseTo(2.2, 12);
    expect(fit.r2).toBeCloseTo(0.6, 12);
    expect(fit.rmse).toBeCloseTo(Math.sqrt(0.48), 12);
  });

  it("GIVEN collinear features or too few rows WHEN fitted THEN it refuses", () => {
    expect(() => ols([[1, 2], [2, 4], [3, 6], [4, 8]], [1, 2, 3, 4])).toThrow(/collinear/);
    expect(() => ols([[1, 2], [2, 3]], [1, 2])).toThrow(/cannot fit/);
  });
});

describe("training inputs", () => {
  it("GIVEN the yield file format WHEN parsed THEN years map to yields, and a bad line is exit 65", () => {
    expect([...parseYield("1985\t225447\n1986\t208944\n").entries()]).toEqual([[1985, 225447], [1986, 208944]]);
    expect(() => parseYield("1985\tabc\n")).toThrow(expect.objectContaining({ exitCode: 65 }));
  });

  it("GIVEN a config without features WHEN parsed THEN all three weather features are used", () => {
    expect(parseTrainingConfig('{"weather":"s3://b/weather/2026-01-01","yield":"s3://b/jobs/training/y.txt"}')).toEqual({
      weather: "s3://b/weather/2026-01-01/",
      yield: "s3://b/jobs/training/y.txt",
      features: ["avg_max_temp_c", "avg_min_temp_c", "total_precipitation_cm"],
    });
  });
});
