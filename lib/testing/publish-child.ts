import { leaseSettings } from "../prefix-lease.ts";
import { crashAfterCopies, pauseAfterCopies, publishStaged } from "../publish-prefix.ts";
import { runStepMain, type StepFn } from "../run-step.ts";

/**
 * A writer of one prefix as its own process, for the race tests (lib/publish-race.test.ts): the shared publish
 * of lib/publish-prefix.ts behind the entrypoint convention every image uses (one `error:` line, the exit code).
 * `publish` reads STAGING_URI and PUBLISH_URI; the crash and pause hooks and the lease timing come from the
 * environment as in the images.
 */
const STEPS: Record<string, StepFn> = {
  async publish(env, s3, log) {
    const { manifest } = await publishStaged(s3, {
      stagingUri: env.STAGING_URI!,
      publishUri: env.PUBLISH_URI!,
      log,
      rows: async () => undefined,
      manifest: () => ({ workflow: "race-test", writer: env.WRITER ?? "?" }),
      crashAfterCopies: crashAfterCopies(env),
      pauseAfterCopies: pauseAfterCopies(env),
      lease: leaseSettings(env),
    });
    log(`committed ${JSON.stringify(manifest.writer)}`);
  },
};

process.exitCode = await runStepMain("race", STEPS, process.argv.slice(2), process.env);
