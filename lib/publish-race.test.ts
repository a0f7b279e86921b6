import { spawn, type ChildProcess } from "node:child_process";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { verifyMain } from "../cli/verify.ts";
import { LEASE_NAME, MANIFEST_NAME, VERSIONS_DIR } from "./manifest.ts";
import { CRASH_AFTER_COPIES_ENV, PAUSE_AFTER_COPIES_ENV } from "./publish-prefix.ts";
import { readCommitted } from "./published.ts";
import { getObjectText, listObjects, putObjectText } from "./s3-objects.ts";
import { startHoldingProxy, type HoldingProxy } from "./testing/holding-proxy.ts";
import { startTestS3, type TestS3 } from "./testing/s3rver.ts";

/**
 * Two writers of one prefix at once, as real processes against the embedded S3 (which enforces S3's conditional
 * writes): the first one alive (paused with its lease renewed), frozen past its lease (SIGSTOP), crashed, or with
 * a request held in the network (a proxy that lets it land later) while the second one, on a fair clock or one
 * running 60 s ahead, takes over and publishes. Before the lease, the second writer rolled back the first one's
 * live journal (issue 10, finding 1); with the lease alone, a late copy or manifest of the first writer still
 * landed over the second one's month (issue 21, finding 1). Now: whatever the interleaving, the month readers see
 * is one writer's, whole, and `npm run verify` says OK.
 */
const REPO_ROOT = path.join(import.meta.dirname, "..");
const BUCKET = "race-test";
const staging = (v: string) => `s3://${BUCKET}/staging/${v}/out/`;
/** Every version changes every file, so a month mixing two versions cannot pass verify by accident. */
const VERSIONS: Record<string, Record<string, string>> = {
  v1: { "a.csv": "id\n1\n", "b.csv": "id\n10\n", "c.csv": "id\n100\n" },
  v2: { "a.csv": "id\n2\n2\n", "b.csv": "id\n20\n20\n", "c.csv": "id\n200\n200\n", "d.csv": "id\n2000\n" },
  v3: { "a.csv": "id\n3\n3\n3\n", "b.csv": "id\n30\n30\n30\n", "c.csv": "id\n300\n300\n300\n" },
};
let s3: TestS3;
let network: HoldingProxy;
let months = 0;

beforeAll(async () => {
  s3 = await startTestS3({ buckets: [BUCKET] });
  network = await startHoldingProxy(s3.endpoint);
  for (const [v, files] of Object.entries(VERSIONS)) {
    for (const [name, body] of Object.entries(files)) await putObjectText(s3.s3, staging(v) + name, body, "text/csv");
  }
});
afterAll(async () => {
  await network?.stop();
  await s3?.stop();
});

interface Writer {
  child: ChildProcess;
  stderr: () => string;
  /** Resolves when a stderr line matches. */
  saw(pattern: RegExp): Promise<void>;
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>;
}

/**
 * `lib/testing/publish-child.ts publish` as a child process, with a short lease (4 s, see startTestS3); its clock
 * `ATLAS_TEST_CLOCK_SKEW_MS` off (lib/testing/clock-skew.ts).
 */
function writer(command: "publish", env: Record<string, string>): Writer {
  const child = spawn(process.execPath, ["--import", "tsx", "--import", "./lib/testing/clock-skew.ts", "lib/testing/publish-child.ts", command], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...s3.env, ATLAS_LOCAL: "1", ATLAS_LEASE_WAIT_MS: "60000", ...env },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  const watchers: { pattern: RegExp; resolve: () => void }[] = [];
  child.stderr!.setEncoding("utf8").on("data", (d: string) => {
    stderr += d;
    for (const w of [...watchers]) if (w.pattern.test(stderr)) (watchers.splice(watchers.indexOf(w), 1), w.resolve());
  });
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve) =>
    child.on("close", (code, signal) => resolve({ code, signal, stderr })),
  );
  return {
    child,
    stderr: () => stderr,
    saw: (pattern) =>
      new Promise<void>((resolve, reject) => {
        if (pattern.test(stderr)) return resolve();
        watchers.push({ pattern, resolve });
        void done.then(() => reject(new Error(`exited before printing ${pattern}:\n${stderr}`)));
      }),
    done,
  };
}

const publish = (month: string, version: string, env: Record<string, string> = {}) =>
  writer("publish", { STAGING_URI: staging(version), PUBLISH_URI: month, WRITER: version, ...env });
/** A writer whose S3 requests go through the holding network. */
const behindNetwork = (month: string, version: string) => publish(month, version, { AWS_ENDPOINT_URL_S3: network.endpoint });
/** The first CopyObject of `version`'s staged files into the month (PUT with x-amz-copy-source). */
const copyOf = (version: string) => (req: { method?: string; headers: Record<string, unknown> }) =>
  req.method === "PUT" && String(req.headers["x-amz-copy-source"] ?? "").includes(`/staging/${version}/`);
/** The PUT of the month's manifest (its commit). */
const manifestPut = (req: { method?: string; url?: string; headers: Record<string, unknown> }) =>
  req.method === "PUT" && (req.url ?? "").split("?")[0].endsWith(`/${MANIFEST_NAME}`) && req.headers["x-amz-copy-source"] === undefined;

/** A fresh month holding a complete v1. */
async function monthWithV1(): Promise<string> {
  const month = `s3://${BUCKET}/region/2026-${String(++months).padStart(2, "0")}/`;
  const first = await publish(month, "v1").done;
  expect(first.code, first.stderr).toBe(0);
  return month;
}

/**
 * The month, as readers see it, is exactly `version`, whole: the files its manifest names hold that version's bytes,
 * the manifest is that writer's, `npm run verify` says OK, and no lease is left.
 */
async function expectWholly(month: string, version: string): Promise<void> {
  const committed = (await readCommitted(s3.s3, month))!;
  const present: Record<string, string> = {};
  for (const f of committed.manifest.files) present[f.name] = (await getObjectText(s3.s3, committed.uri(f.name)))!;
  expect(present).toEqual(VERSIONS[version]);
  expect(committed.manifest.writer).toBe(version);
  const out: string[] = [];
  const code = await verifyMain([month], { ...process.env, ...s3.env }, { stdout: { write: (t: string) => out.push(t) }, stderr: { write: (t: string) => out.push(t) } });
  expect(out.join(""), "npm run verify").toMatch(/^OK \d+ files/);
  expect(code).toBe(0);
  expect(await getObjectText(s3.s3, month + LEASE_NAME)).toBeUndefined();
}

/** The version folders under the month: the committed one, and any a later publish has not removed yet. */
async function versionFolders(month: string): Promise<string[]> {
  return [...new Set((await listObjects(s3.s3, month + VERSIONS_DIR)).map((o) => o.name.split("/")[0]))].sort();
}

describe("one writer per published prefix (real processes, embedded S3 with conditional writes)", () => {
  it("GIVEN a publish paused mid-copy (alive, renewing its lease) WHEN a second publish starts THEN it waits, and the month ends as the second one's, whole", async () => {
    const month = await monthWithV1();
    const first = publish(month, "v2", { [PAUSE_AFTER_COPIES_ENV]: "1" });
    await first.saw(/publish paused until SIGUSR2/);
    const second = publish(month, "v3");
    await second.saw(/is leased by publish:/);
    first.child.kill("SIGUSR2");
    const [a, b] = [await first.done, await second.done];
    expect(a.code, a.stderr).toBe(0);
    expect(b.code, b.stderr).toBe(0);
    await expectWholly(month, "v3");
    expect(await versionFolders(month), "the versions v1 and v2 were removed by the publishes that replaced them").toHaveLength(1);
  }, 120_000);

  it("GIVEN a publish frozen past its lease with a copy held in the network WHEN a second publish takes over and publishes, and then the held copy lands THEN the month is still the second one's, whole, and the first stops with exit 75", async () => {
    const month = await monthWithV1();
    const held = network.hold(copyOf("v2"));
    const first = behindNetwork(month, "v2");
    await held.arrived;
    first.child.kill("SIGSTOP"); // frozen: no renewals, its copy still in the network
    const b = await publish(month, "v3").done;
    expect(b.code, b.stderr).toBe(0);
    expect(b.stderr).toMatch(/took over the lease .* from publish:/);
    expect(await held.release(), "the delayed copy lands").toBe(200);
    first.child.kill("SIGCONT");
    const a = await first.done;
    expect(a.code, a.stderr).toBe(75);
    expect(a.stderr.trim().split("\n").filter((l) => l.startsWith("error:"))).toEqual([expect.stringMatching(/^error: lost the lease of /)]);
    await expectWholly(month, "v3");
  }, 120_000);

  it("GIVEN a publish whose clock is 60 s behind the next one's, with a copy held in the network WHEN the next one (clock ahead) takes its live lease over and publishes, and then the held copy lands THEN the month is the second one's, whole", async () => {
    const month = await monthWithV1();
    const held = network.hold(copyOf("v2"));
    const first = behindNetwork(month, "v2");
    await held.arrived; // alive and renewing: only this copy waits
    const b = await publish(month, "v3", { ATLAS_TEST_CLOCK_SKEW_MS: "60000" }).done;
    expect(b.code, b.stderr).toBe(0);
    expect(b.stderr).toMatch(/took over the lease .* from publish:/);
    expect(await held.release()).toBe(200);
    const a = await first.done;
    expect(a.code, a.stderr).toBe(75);
    await expectWholly(month, "v3");
  }, 120_000);

  it("GIVEN a publish frozen past its lease with its manifest (the commit) held in the network WHEN a second publish commits first and then the held manifest arrives THEN S3 refuses it (412): the month is the second one's and the first says it lost", async () => {
    const month = await monthWithV1();
    const held = network.hold(manifestPut);
    const first = behindNetwork(month, "v2");
    await held.arrived;
    first.child.kill("SIGSTOP");
    const b = await publish(month, "v3").done;
    expect(b.code, b.stderr).toBe(0);
    expect(await held.release(), "If-Match on the manifest this writer read: stale").toBe(412);
    first.child.kill("SIGCONT");
    const a = await first.done;
    expect(a.code, a.stderr).toBe(75);
    expect(a.stderr).toMatch(/^error: lost the lease of .*nothing of this publish became visible; retry$/m);
    await expectWholly(month, "v3");
  }, 120_000);

  it("GIVEN a publish that crashed after 2 copies THEN readers still see the month before, whole; its folder is never read, and the next publish removes it", async () => {
    const month = await monthWithV1();
    const crashed = await publish(month, "v2", { [CRASH_AFTER_COPIES_ENV]: "2" }).done;
    expect(crashed.signal).toBe("SIGSEGV"); // its lease and half a version folder are left behind
    expect(await getObjectText(s3.s3, month + LEASE_NAME)).toBeDefined();
    expect(await versionFolders(month)).toHaveLength(2);
    const out: string[] = [];
    const io = { stdout: { write: (t: string) => out.push(t) }, stderr: { write: (t: string) => out.push(t) } };
    expect(await verifyMain([month], { ...process.env, ...s3.env }, io)).toBe(0);
    expect(out.join("")).toMatch(/^OK 3 files \(not read, removed by the next publish: versions\/\S+\/\)$/m);
    const next = await publish(month, "v3").done; // waits out the crashed writer's lease (4 s)
    expect(next.code, next.stderr).toBe(0);
    await expectWholly(month, "v3");
    expect(await versionFolders(month)).toEqual([(await readCommitted(s3.s3, month))!.manifest.dataPrefix!.split("/")[1]]);
  }, 120_000);

  it("GIVEN a writer holding the lease for longer than the second one waits THEN the second fails with exit 75 and one line naming the holder, and changes nothing", async () => {
    const month = await monthWithV1();
    const first = publish(month, "v2", { [PAUSE_AFTER_COPIES_ENV]: "0" });
    await first.saw(/publish paused until SIGUSR2/);
    const second = await publish(month, "v3", { ATLAS_LEASE_WAIT_MS: "1000" }).done;
    expect(second.code, second.stderr).toBe(75);
    const errors = second.stderr.split("\n").filter((l) => l.startsWith("error:"));
    expect(errors).toEqual([expect.stringMatching(/^error: s3:\/\/race-test\/region\/2026-\d\d\/ is being changed by another writer \(publish:.*\): retry when it is done$/)]);
    first.child.kill("SIGUSR2");
    expect((await first.done).code).toBe(0);
    await expectWholly(month, "v2");
  }, 120_000);
});
