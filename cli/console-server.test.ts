import { request } from "node:http";
import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startConsole, type ConsoleServer } from "./console-server.ts";

/**
 * The console's server over real HTTP, against run folders planted the way an attacker could: a run.json whose
 * log and file entries point outside the run, a symlink in the run folder to a file elsewhere, and requests whose
 * Host is not the console's own (a DNS-rebinding page) or whose URL has a malformed `%` escape.
 */
let scratch: string;
let runsRoot: string;
let dataRoot: string;
let secret: string;
let server: ConsoleServer;
/** What the tasks page asked the (stand-in) task platform for. */
const taskQueries: { status?: string }[] = [];

const SECRET_TEXT = "the secret outside every run folder";

/** A minimal record: what the console reads of it (states, outputs, execution). */
function record(id: string, runDir: string, logFile: string, files: { name: string; path: string }[]) {
  return {
    id,
    workflow: "ski-atlas",
    status: "SUCCEEDED",
    execution: { name: "exec", arn: "arn:local" },
    run_dir: runDir,
    started_at: "2026-12-01T00:00:00.000Z",
    states: [{ name: "Publish", attempts: [{ number: 1, started_at: "2026-12-01T00:00:00.000Z", tier: "small", log_file: logFile }] }],
    outputs: { location: null, files: files.map((f) => ({ key: f.name, bytes: 1, ...f })) },
    children: [],
  };
}

async function plantRun(id: string, make: (dir: string) => Promise<object>): Promise<void> {
  const dir = path.join(runsRoot, id);
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, "run.json"), JSON.stringify(await make(dir)));
}

/** One GET with the Host header given (Node's http client sends what it is told, as a rebinding browser would). */
function get(urlPath: string, host = `127.0.0.1:${server.port}`): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port: server.port, path: urlPath, method: "GET", headers: { host }, setHost: false }, (res) => {
      let body = "";
      res.on("data", (c: Buffer) => (body += c.toString()));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

beforeAll(async () => {
  scratch = await mkdtemp(path.join(tmpdir(), "console-server-test-"));
  runsRoot = path.join(scratch, "runs");
  dataRoot = path.join(scratch, "data-root");
  await mkdir(dataRoot, { recursive: true });
  secret = path.join(scratch, "outside", "secret.csv");
  await mkdir(path.dirname(secret), { recursive: true });
  await writeFile(secret, `secret\n${SECRET_TEXT}\n`);

  // A run as the engine writes it: its log and a published CSV inside its own folder.
  await plantRun("honest", async (dir) => {
    await mkdir(path.join(dir, "logs"), { recursive: true });
    await writeFile(path.join(dir, "logs", "publish.log"), "[publish] copied 7 files\n");
    await mkdir(path.join(dir, "published"), { recursive: true });
    await writeFile(path.join(dir, "published", "changes.csv"), "kind,name\nadded,Soldeu\n");
    return record("honest", dir, path.join(dir, "logs", "publish.log"), [{ name: "changes.csv", path: path.join(dir, "published", "changes.csv") }]);
  });
  // A planted record: its log and its file point outside, and run_dir claims the whole file system.
  await plantRun("planted", async () => record("planted", "/", secret, [{ name: "changes.csv", path: secret }]));
  // A symlink inside the run folder whose target is outside it.
  await plantRun("symlinked", async (dir) => {
    await mkdir(path.join(dir, "published"), { recursive: true });
    await symlink(secret, path.join(dir, "published", "changes.csv"));
    await symlink(secret, path.join(dir, "run.log"));
    return record("symlinked", dir, path.join(dir, "run.log"), [{ name: "changes.csv", path: path.join(dir, "published", "changes.csv") }]);
  });
  // `..` in a recorded path that starts inside the run folder.
  await plantRun("dotdot", async (dir) => record("dotdot", dir, path.join(dir, "..", "..", "outside", "secret.csv"), [{ name: "changes.csv", path: `${dir}/../../outside/secret.csv` }]));
  server = await startConsole({ runsRoot, dataRoot, tasks: async (query) => (taskQueries.push(query), { tasks: [] }) });
}, 60_000);

afterAll(async () => {
  await server?.close();
  await rm(scratch, { recursive: true, force: true });
});

describe("the console's Host check", () => {
  it("GIVEN the console's own addresses WHEN asked THEN it answers", async () => {
    for (const host of [`127.0.0.1:${server.port}`, `localhost:${server.port}`, `[::1]:${server.port}`, `LOCALHOST:${server.port}`]) {
      const { status, body } = await get("/api/runs", host);
      expect(status, host).toBe(200);
      expect(JSON.parse(body).map((r: { id: string }) => r.id).sort(), host).toEqual(["dotdot", "honest", "planted", "symlinked"]);
    }
  });

  it("GIVEN a foreign Host (a DNS-rebinding page) or another port WHEN asked THEN 421 with one line, and no run data", async () => {
    for (const host of ["attacker.example", `attacker.example:${server.port}`, `127.0.0.1:${server.port + 1}`, "127.0.0.1", ""]) {
      for (const page of ["/api/runs", "/api/runs/honest", "/api/runs/honest/log?visit=0&attempt=1", "/"]) {
        const { status, body } = await get(page, host);
        expect(status, `${host} ${page}`).toBe(421);
        expect(body.trim().split("\n"), `${host} ${page}`).toEqual([expect.stringMatching(/^error: this console answers only 127\.0\.0\.1:\d+, localhost:\d+, \[::1\]:\d+, not Host '/)]);
        expect(body).not.toContain("honest");
      }
    }
  });
});

describe("what the console reads from disk", () => {
  it("GIVEN an honest run WHEN its log and file are asked for THEN both are served (the check lets the real thing through)", async () => {
    const log = await get("/api/runs/honest/log?visit=0&attempt=1");
    expect(log).toEqual({ status: 200, body: "[publish] copied 7 files\n" });
    const preview = await get("/api/runs/honest/files/changes.csv");
    expect(preview.status).toBe(200);
    expect(JSON.parse(preview.body).rows).toEqual([["added", "Soldeu"]]);
  });

  it.each(["planted", "symlinked", "dotdot"])("GIVEN the %s run WHEN its log is asked for THEN the file outside is not served", async (id) => {
    const { status, body } = await get(`/api/runs/${id}/log?visit=0&attempt=1`);
    expect(status).toBe(404);
    expect(body).not.toContain(SECRET_TEXT);
  });

  it.each(["planted", "symlinked", "dotdot"])("GIVEN the %s run WHEN its published file is previewed THEN 403 in one line, the file unread", async (id) => {
    const { status, body } = await get(`/api/runs/${id}/files/changes.csv`);
    expect(status).toBe(403);
    expect(JSON.parse(body).error).toMatch(/^changes\.csv is not served: only files in the run's own folder or in .* are$/);
    expect(body).not.toContain(SECRET_TEXT);
  });

  it("GIVEN a file under the data root WHEN a run's record names it THEN it is served (published copies live there)", async () => {
    const inData = path.join(dataRoot, "published", "changes.csv");
    await mkdir(path.dirname(inData), { recursive: true });
    await writeFile(inData, "kind,name\nremoved,Pal\n");
    await plantRun("in-data-root", async (dir) => record("in-data-root", dir, "", [{ name: "changes.csv", path: inData }]));
    const preview = await get("/api/runs/in-data-root/files/changes.csv");
    expect(preview.status).toBe(200);
    expect(JSON.parse(preview.body).rows).toEqual([["removed", "Pal"]]);
  });
});

describe("logs of attempts numbered across visits", () => {
  it("GIVEN a step whose 2nd visit holds attempts 2 and 3 WHEN attempt 2's log is asked for THEN attempt 2's log, not the visit's 2nd entry", async () => {
    await plantRun("retried", async (dir) => {
      await mkdir(path.join(dir, "logs"), { recursive: true });
      const attempt = (number: number) => ({ number, started_at: "2026-12-01T00:00:00.000Z", tier: "small", log_file: path.join(dir, "logs", `analyze-${number}.log`) });
      for (const n of [1, 2, 3]) await writeFile(path.join(dir, "logs", `analyze-${n}.log`), `attempt ${n}\n`);
      return { ...record("retried", dir, "", []), states: [{ name: "Analyze", attempts: [attempt(1)] }, { name: "Analyze", attempts: [attempt(2), attempt(3)] }] };
    });
    expect(await get("/api/runs/retried/log?visit=1&attempt=2")).toEqual({ status: 200, body: "attempt 2\n" });
    expect(await get("/api/runs/retried/log?visit=1&attempt=3")).toEqual({ status: 200, body: "attempt 3\n" });
  });
});

describe("the page's own files", () => {
  it("GIVEN the page's scripts and the vendored libraries WHEN asked THEN served; a path out of the page's folder is not", async () => {
    for (const file of ["/", "/app.js", "/run.js", "/graph.js", "/runs.js", "/app.css", "/vendor/dagre.js", "/vendor/svg-pan-zoom.js", "/vendor/leaflet.js"]) {
      expect((await get(file)).status, file).toBe(200);
    }
    expect((await get("/vendor/svg-pan-zoom.js")).body).toContain("svgPanZoom");
    for (const file of ["/../console-server.ts", "/%2e%2e/console-server.ts", "/console-server.ts", "/nope.js", "/index.html.js"]) {
      const { status, body } = await get(file);
      expect(status, file).toBe(404);
      expect(body).not.toContain("startConsole");
    }
  });
});

describe("the tasks list", () => {
  it("GIVEN an unknown status WHEN the tasks are asked for THEN 400 with one line, and the task platform is not asked", async () => {
    const asked = taskQueries.length;
    const { status, body } = await get("/api/tasks?status=BOGUS%27");
    expect(status).toBe(400);
    expect(JSON.parse(body).error).toBe("unknown status 'BOGUS'': use QUEUED, RUNNING, SUCCEEDED, FAILED");
    expect(taskQueries).toHaveLength(asked);
    expect((await get("/api/tasks?status=FAILED")).status).toBe(200);
    expect(taskQueries.at(-1)).toEqual({ status: "FAILED" });
  });
});

describe("malformed URLs", () => {
  it("GIVEN a malformed % escape in a run id or a file name WHEN asked THEN 400 with one line, not 500", async () => {
    for (const page of ["/api/runs/%E0%A4%A", "/api/runs/%", "/api/runs/honest/files/%zz.csv"]) {
      const { status, body } = await get(page);
      expect(status, page).toBe(400);
      expect(JSON.parse(body).error, page).toMatch(/^malformed %-escape in '/);
    }
  });
});
