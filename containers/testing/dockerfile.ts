import { spawn } from "node:child_process";
import { cp, readFile } from "node:fs/promises";
import * as path from "node:path";
import { PROJECT_ROOT } from "../../lib/project-root.ts";
import type { RunResult } from "../../lib/testing/non-root.ts";

/**
 * What the image rehearsals (containers/image-rehearsal.test.ts, containers/tasks-image-rehearsal.test.ts) need to
 * imitate a Dockerfile without Docker: its stages and instructions, commands run in a folder, and the build
 * context (the project minus what .dockerignore leaves out).
 */
export interface Stage {
  name: string;
  instructions: { op: string; args: string }[];
}

/** The Dockerfile's stages and instructions (continuation lines joined, comments dropped). */
export function parseDockerfile(text: string): Stage[] {
  const lines = text.replace(/\\\n/g, " ").split("\n").map((l) => l.trim()).filter((l) => l && !l.startsWith("#"));
  const stages: Stage[] = [];
  for (const line of lines) {
    const [, op, args] = line.match(/^(\w+)\s+(.*)$/) ?? [];
    if (op === "FROM") stages.push({ name: args.match(/\sAS\s+(\S+)/i)?.[1] ?? "runtime", instructions: [] });
    else if (stages.length) stages.at(-1)!.instructions.push({ op, args });
  }
  return stages;
}

export function stage(stages: Stage[], name: string, file = "the Dockerfile"): Stage {
  const found = stages.find((s) => s.name === name);
  if (!found) throw new Error(`${file} has no stage '${name}'`);
  return found;
}

/** A stage's RUN commands, each `&&` part on its own. */
export function runCommands(s: Stage): string[] {
  return s.instructions.filter((i) => i.op === "RUN").flatMap((i) => i.args.split("&&").map((c) => c.trim()));
}

export function run(argv: string[], opts: { cwd: string; env?: Record<string, string> }): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), { cwd: opts.cwd, env: { ...process.env, ...opts.env }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

/**
 * What .dockerignore leaves out of the build context: its patterns are paths from the context's root (a folder
 * with all it holds) or `**' + '/…` globs matched on any path's last part.
 */
async function dockerIgnored(): Promise<(relative: string) => boolean> {
  const patterns = (await readFile(path.join(PROJECT_ROOT, ".dockerignore"), "utf8")).split("\n").map((l) => l.trim()).filter((l) => l && !l.startsWith("#"));
  return (relative) =>
    patterns.some((p) => (p.startsWith("**/") ? path.matchesGlob(path.basename(relative), p.slice(3)) : relative === p || relative.startsWith(`${p}/`)));
}

/** Copies `src` of the build context (the project minus what .dockerignore leaves out) to `dest`. */
export async function copyFromContext(src: string, dest: string): Promise<void> {
  const ignored = await dockerIgnored();
  await cp(path.join(PROJECT_ROOT, src), dest, { recursive: true, filter: (p) => !ignored(path.relative(PROJECT_ROOT, p).split(path.sep).join("/")) });
}
