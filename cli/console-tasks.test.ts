import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as path from "node:path";
import type { Page } from "puppeteer-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TaskClient } from "../lib/tasks/task-client.ts";
import { textImage } from "../lib/tasks/testing/images.ts";
import { startConsole, type ConsoleServer } from "./console-server.ts";
import { offlineTaskList } from "./console-tasks.ts";
import { startOfflineTasks, type OfflineTasks } from "./tasks-offline.ts";
import { launchBrowser } from "./testing/browser.ts";

/**
 * The console's tasks page in headless chromium, fed by an offline task table: three tasks in three statuses,
 * listed newest change first, each with its status and, when it failed, why; the status filter.
 */
let root: string;
let platform: OfflineTasks;
let server: ConsoleServer;
let browser: Awaited<ReturnType<typeof launchBrowser>>;
let page: Page;
const ids: Record<"queued" | "running" | "failed", string> = { queued: "", running: "", failed: "" };
const WHY = "the message was dead-lettered after 5 receives";

beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), "console-tasks-"));
  // The platform without its worker: what is submitted stays QUEUED until the test moves it on.
  platform = await startOfflineTasks(path.join(root, "store"));
  const client = new TaskClient({ baseUrl: platform.apiUrl });
  const image = await textImage(["console"]);
  for (const which of ["failed", "running", "queued"] as const) ids[which] = (await client.submitFile(which === "running" ? "ocr" : "thumbnail", { name: `${which}.png`, bytes: image })).taskId;
  await platform.table.fail({ taskId: ids.failed, now: new Date().toISOString(), error: WHY });
  await platform.table.claim(ids.running, "run-1");
  // The console finds the platform as any command does: by the store's lock file.
  server = await startConsole({ runsRoot: path.join(root, "runs"), tasks: offlineTaskList(path.join(root, "store")) });
  browser = await launchBrowser();
  page = await browser.browser.newPage();
  page.setDefaultTimeout(30_000);
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
  await platform?.stop();
  await rm(root, { recursive: true, force: true });
});

const rows = () =>
  page.$$eval("#tasks-table tbody tr", (trs) =>
    trs.map((tr) => ({ task: tr.getAttribute("data-task"), status: tr.getAttribute("data-status"), badge: tr.querySelector(".status")?.textContent, why: tr.querySelector("td.why")?.textContent })),
  );

describe("the console's tasks page", () => {
  it("GIVEN tasks QUEUED, RUNNING and FAILED in the offline table WHEN the Tasks tab is opened THEN each is listed with its status, the failed one with why", async () => {
    await page.goto(server.url);
    await page.waitForSelector('#nav a[data-nav="tasks"]');
    await page.click('#nav a[data-nav="tasks"]');
    await page.waitForSelector("#tasks-table tbody tr");
    const listed = await rows();
    expect(listed.map((r) => r.task).sort()).toEqual(Object.values(ids).sort());
    expect(Object.fromEntries(listed.map((r) => [r.task, r.badge]))).toEqual({ [ids.queued]: "QUEUED", [ids.running]: "RUNNING", [ids.failed]: "FAILED" });
    expect(listed.find((r) => r.task === ids.failed)!.why).toBe(WHY);
    expect(await page.$eval('#nav a[data-nav="tasks"]', (a) => a.classList.contains("current"))).toBe(true);
  });

  it("GIVEN the list WHEN filtered to FAILED THEN only the failed task is shown, and the address keeps the filter", async () => {
    await page.select("#filter-task-status", "FAILED");
    await page.waitForFunction("document.querySelectorAll('#tasks-table tbody tr').length === 1");
    expect((await rows()).map((r) => [r.task, r.status])).toEqual([[ids.failed, "FAILED"]]);
    expect(await page.evaluate("location.hash")).toBe("#/tasks?status=FAILED");
  });
});
