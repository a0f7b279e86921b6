/**
 * A machine whose clock is off (tests): loaded first into a child process (`node --import tsx --import
 * ./lib/testing/clock-skew.ts …`), it moves that process's `Date.now()` and `new Date()` by
 * `ATLAS_TEST_CLOCK_SKEW_MS` milliseconds, as a wrong system clock would. Timers are not affected (they count
 * elapsed time, as they do on a machine whose clock is wrong).
 */
const skew = Number(process.env.ATLAS_TEST_CLOCK_SKEW_MS ?? "0");
if (Number.isFinite(skew) && skew !== 0) {
  const RealDate = Date;
  const realNow = RealDate.now.bind(RealDate);
  class SkewedDate extends RealDate {
    constructor(...args: unknown[]) {
      if (args.length === 0) super(realNow() + skew);
      else super(...(args as [string | number | Date]));
    }
    static override now(): number {
      return realNow() + skew;
    }
  }
  globalThis.Date = SkewedDate as DateConstructor;
}
