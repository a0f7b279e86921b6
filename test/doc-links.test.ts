import { readdir, readFile, stat } from "node:fs/promises";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "../lib/project-root.ts";
import { markdownAnchors, markdownLinks } from "../lib/testing/markdown.ts";

/**
 * The README is the front door and docs/ holds the rest (issue 22): every relative link and #anchor between them
 * must lead somewhere, and the README must stay short enough to be read, opening with the commands that work on a
 * fresh machine, the test command being the one CI runs.
 */

/** The README's length limit: past it, detail belongs in docs/. */
const README_MAX_LINES = 200;

/** Folders that hold no documentation of this project (dependencies, run data, build output, generated inputs). */
const NOT_DOCS = new Set(["node_modules", ".git", ".data", ".sst", "dist", "bench/data"]);

async function markdownFiles(dir = ""): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir(path.join(PROJECT_ROOT, dir), { withFileTypes: true })) {
    const rel = dir ? `${dir}/${entry.name}` : entry.name;
    if (entry.isDirectory() && !NOT_DOCS.has(entry.name) && !NOT_DOCS.has(rel)) found.push(...(await markdownFiles(rel)));
    else if (entry.isFile() && entry.name.endsWith(".md")) found.push(rel);
  }
  return found;
}

const exists = (file: string) => stat(file).then(() => true, () => false);

/** What is wrong with each relative link of one file: a missing file or a missing heading. */
async function brokenLinks(file: string, anchorsOf: (mdFile: string) => Promise<Set<string>>): Promise<string[]> {
  const text = await readFile(path.join(PROJECT_ROOT, file), "utf8");
  const broken: string[] = [];
  for (const { target, line } of markdownLinks(text)) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto:: not this repository's
    const [rawPath, anchor] = target.split("#", 2) as [string, string | undefined];
    const linked = rawPath ? path.join(path.dirname(path.join(PROJECT_ROOT, file)), decodeURIComponent(rawPath)) : path.join(PROJECT_ROOT, file);
    const where = `${file}:${line} → ${target}`;
    if (!(await exists(linked))) broken.push(`${where}: no such file`);
    else if (anchor !== undefined) {
      if (!linked.endsWith(".md")) broken.push(`${where}: an anchor into a file that is not Markdown`);
      else if (!(await anchorsOf(linked)).has(decodeURIComponent(anchor))) broken.push(`${where}: no heading has that anchor`);
    }
  }
  return broken;
}

describe("docs: the README as a front door, every link between the docs resolving", () => {
  it("GIVEN every Markdown file of the repository WHEN each relative link and #anchor is followed THEN the file exists and has a heading with that anchor", async () => {
    const files = await markdownFiles();
    expect(files).toContain("README.md");
    expect(files).toContain("docs/RUNBOOK.md");
    const anchors = new Map<string, Promise<Set<string>>>();
    const anchorsOf = (mdFile: string) => {
      if (!anchors.has(mdFile)) anchors.set(mdFile, readFile(mdFile, "utf8").then(markdownAnchors));
      return anchors.get(mdFile)!;
    };
    const broken = (await Promise.all(files.map((f) => brokenLinks(f, anchorsOf)))).flat();
    expect(broken).toEqual([]);
  });

  it("GIVEN the README WHEN read THEN it is at most 200 lines, opens with `npm install && npm start` and `npm test`, and CI runs that test command", async () => {
    const readme = await readFile(path.join(PROJECT_ROOT, "README.md"), "utf8");
    expect(readme.trimEnd().split("\n").length).toBeLessThanOrEqual(README_MAX_LINES);
    // The first thing after the title: one code block with the two commands that work on a fresh machine.
    const opening = /^# [^\n]+\n+```(?:bash|sh)?\n([\s\S]*?)```/.exec(readme)?.[1] ?? "";
    const commands = opening.split("\n").map((l) => l.replace(/#.*$/, "").trim()).filter(Boolean);
    expect(commands).toEqual(["npm install && npm start", "npm test"]);
    const ci = await readFile(path.join(PROJECT_ROOT, ".ci/run"), "utf8");
    expect(ci).toMatch(/^npm test\b/m);
  });

  it("GIVEN Markdown with code WHEN its links and anchors are read THEN code is neither a link nor a heading, and repeated headings get GitHub's -1 suffix", () => {
    const text = ["# Title", "See [the runbook](docs/RUNBOOK.md#alarms) and `[not](a-link)`.", "```md", "# not a heading", "[nor](this)", "```", "## `npm start`", "## Title", "![shot](docs/console.png)"].join("\n");
    expect(markdownLinks(text)).toEqual([
      { target: "docs/RUNBOOK.md#alarms", line: 2 },
      { target: "docs/console.png", line: 9 },
    ]);
    expect([...markdownAnchors(text)]).toEqual(["title", "npm-start", "title-1"]);
  });
});
