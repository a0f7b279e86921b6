import { spawn, type ChildProcess } from "node:child_process";
import * as path from "node:path";
import { GetObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { verifyMain } from "../cli/verify.ts";
import { JOURNAL_NAME, LEASE_NAME, MANIFEST_NAME } from "./manifest.ts";
import { CRASH_AFTER_COPIES_ENV, PAUSE_AFTER_COPIES_ENV } from "./publish-prefix.ts";
import { getObjectText, listObjects, putObjectText } from "./s3-objects.ts";
import { parseS3Uri } from "./s3.ts";
import { startTestS3, type TestS3 } from "./testing/s3rver.ts";

/**
 * Two writers of one prefix at once, as real processes against the embedded S3 (which enforces S3's conditional
 * writes): publish/publish and publish/rollback, in both orders, with the first writer alive (paused with its
 * lease renewed), frozen past its lease (SIGSTOP), or crashed. Before the lease, the second writer rolled back the
 * first one's live journal and both exited 0 over a torn month (issue 10, finding 1). Now: whatever the
 * interleaving, the month is one writer's, whole, and `npm run verify` says OK.
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
let months = 0;

beforeAll(async () => {
  s3 = await startTestS3({ buckets: [BUCKET] });
  for (const [v, files] of Object.entries(VERSIONS)) {
    for (const [name, body] of Object.entries(files)) await putObjectText(s3.s3, staging(v) + name, body, "text/csv");
  }
});
afterAll(async () => s3?.stop());

interface Writer {
  child: ChildProcess;
  stderr: () => string;
  /** Resolves when a stderr line matches. */
  saw(pattern: RegExp): Promise<void>;
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>;
}

/** `lib/testing/publish-child.ts publish|rollback` as a child process, with a short lease (4 s, see startTestS3). */
function writer(command: "publish" | "rollback", env: Record<string, string>): Writer {
  const child = spawn(process.execPath, ["--import", "tsx", "lib/testing/publish-child.ts", command], {
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
const rollback = (month: string, env: Record<string, string> = {}) => writer("rollback", { PUBLISH_URI: month, ...env });

/** A fresh month holding a complete v1. */
async function monthWithV1(): Promise<string> {
  const month = `s3://${BUCKET}/region/2026-${String(++months).padStart(2, "0")}/`;
  const first = await publish(month, "v1").done;
  expect(first.code, first.stderr).toBe(0);
  return month;
}

/** The month is exactly `version`, whole: its files' bytes, its manifest's writer, no journal, no lease left. */
async function expectWholly(month: string, version: string): Promise<void> {
  const { bucket } = parseS3Uri(month);
  const present: Record<string, string> = {};
  for (const o of await listObjects(s3.s3, month)) {
    if (o.name === MANIFEST_NAME) continue;
    present[o.name] = await (await s3.s3.send(new GetObjectCommand({ Bucket: bucket, Key: o.key }))).Body!.transformToString();
  }
  expect(present).toEqual(VERSIONS[version]);
  expect(JSON.parse((await getObjectText(s3.s3, month + MANIFEST_NAME))!).writer).toBe(version);
  const out: string[] = [];
  const code = await verifyMain([month], { ...process.env, ...s3.env }, { stdout: { write: (t: string) => out.push(t) }, stderr: { write: (t: string) => out.push(t) } });
  expect(out.join(""), "npm run verify").toMatch(/^OK \d+ files/);
  expect(code).toBe(0);
  expect(present[JOURNAL_NAME] ?? present[LEASE_NAME]).toBeUndefined();
}

describe("one writer per published prefix (real processes, embedded S3 with conditional writes)", () => {
  it("GIVEN a publish paused mid-copy (alive, renewing its lease) WHEN a second publish starts THEN it waits, and the month ends as the second one's, whole", async () => {
    const month = await monthWithV1();
    const first = publish(month, "v2", { [PAUSE_AFTER_COPIES_ENV]: "1" });
    await first.saw(/publish paused until SIGUSR2/);
    const second = publish(month, "v3");
    await second.saw(/is leased by publish:/);
    expect(second.stderr()).not.toMatch(/rolling back/); // it never touches live work
    first.child.kill("SIGUSR2");
    const [a, b] = [await first.done, await second.done];
    expect(a.code, a.stderr).toBe(0);
    expect(b.code, b.stderr).toBe(0);
    expect(b.stderr).not.toMatch(/rolling back/);
    await expectWholly(month, "v3");
  }, 120_000);

  it("GIVEN a publish frozen mid-copy past its lease WHEN a second publish takes the lease over THEN it undoes the frozen one's journal and publishes; the frozen one, thawed, stops with exit 75", async () => {
    const month = await monthWithV1();
    const first = publish(month, "v2", { [PAUSE_AFTER_COPIES_ENV]: "1" });
    await first.saw(/publish paused until SIGUSR2/);
    first.child.kill("SIGSTOP"); // a writer that no longer runs: no renewals
    const second = publish(month, "v3");
    const b = await second.done;
    expect(b.code, b.stderr).toBe(0);
    expect(b.stderr).toMatch(/took over the lease .* from publish:/);
    expect(b.stderr).toMatch(/rolling back the interrupted publish .* whose lease is gone/);
    first.child.kill("SIGCONT");
    first.child.kill("SIGUSR2");
    const a = await first.done;
    expect(a.code, a.stderr).toBe(75);
    expect(a.stderr.trim().split("\n").filter((l) => l.startsWith("error:"))).toEqual([expect.stringMatching(/^error: lost the lease of .*: stopped before changing it further; retry$/)]);
    await expectWholly(month, "v3");
  }, 120_000);

  it("GIVEN a publish paused mid-copy WHEN the failure path's rollback starts THEN it waits, finds the publish committed, and undoes nothing", async () => {
    const month = await monthWithV1();
    const first = publish(month, "v2", { [PAUSE_AFTER_COPIES_ENV]: "2" });
    await first.saw(/publish paused until SIGUSR2/);
    const undo = rollback(month);
    await undo.saw(/is leased by publish:/);
    first.child.kill("SIGUSR2");
    const [a, r] = [await first.done, await undo.done];
    expect(a.code, a.stderr).toBe(0);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/outcome none/);
    await expectWholly(month, "v2");
  }, 120_000);

  it("GIVEN a rollback of a crashed publish, paused mid-restore WHEN a new publish starts THEN it waits for the rollback, then publishes whole", async () => {
    const month = await monthWithV1();
    const crashed = await publish(month, "v2", { [CRASH_AFTER_COPIES_ENV]: "2" }).done;
    expect(crashed.signal).toBe("SIGSEGV"); // journal and lease left behind
    expect(await getObjectText(s3.s3, month + JOURNAL_NAME)).toBeDefined();
    const undo = rollback(month, { [PAUSE_AFTER_COPIES_ENV]: "1" });
    await undo.saw(/rollback paused until SIGUSR2/);
    expect(undo.stderr()).toMatch(/took over the lease .* from publish:/); // the crashed writer's lease had expired
    const next = publish(month, "v3");
    await next.saw(/is leased by rollback:/);
    undo.child.kill("SIGUSR2");
    const [r, b] = [await undo.done, await next.done];
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/outcome rolled-back/);
    expect(b.code, b.stderr).toBe(0);
    expect(b.stderr).not.toMatch(/rolling back/);
    await expectWholly(month, "v3");
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
