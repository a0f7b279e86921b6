import GithubSlugger from "github-slugger";

/**
 * What the docs tests read of a Markdown file: the anchors GitHub gives its headings, and its links. Written here
 * rather than with a CommonMark parser because the repository's Markdown uses one construct of each kind (ATX
 * headings, inline links) and the only subtlety is code (fenced blocks and `spans`), which is never a link or a
 * heading; the slugs come from github-slugger, GitHub's own algorithm.
 */

/** Fenced code blocks (``` or ~~~) removed, line by line, keeping the line count. */
function withoutFencedCode(text: string): string[] {
  let fenced = false;
  return text.split("\n").map((line) => {
    if (/^\s*(```|~~~)/.test(line)) {
      fenced = !fenced;
      return "";
    }
    return fenced ? "" : line;
  });
}

/** The anchors GitHub gives the file's headings (`## Re-running a failed run` → `re-running-a-failed-run`), in order. */
export function markdownAnchors(text: string): Set<string> {
  const slugger = new GithubSlugger();
  const anchors = new Set<string>();
  for (const line of withoutFencedCode(text)) {
    const heading = /^#{1,6}\s+(.+?)\s*#*\s*$/.exec(line);
    // GitHub slugs the heading's rendered text: code spans lose their backticks.
    if (heading) anchors.add(slugger.slug(heading[1].replace(/`/g, "")));
  }
  return anchors;
}

export interface MarkdownLink {
  /** The target as written: `docs/RUNBOOK.md#alarms`, `#the-data`, `https://…`. */
  target: string;
  /** 1-based line of the link. */
  line: number;
}

/** Every inline link and image of the file (`[text](target)`, `![alt](target)`), outside code. */
export function markdownLinks(text: string): MarkdownLink[] {
  // Code spans may hold `[x](y)` as text; blank them out, keeping newlines so that line numbers stay right.
  const prose = withoutFencedCode(text).join("\n").replace(/(`+)[\s\S]*?\1/g, (code) => code.replace(/[^\n]/g, " "));
  const links: MarkdownLink[] = [];
  // Link text may hold one level of brackets ([::1]); the target ends at whitespace (a title may follow) or ")".
  const link = /!?\[(?:[^[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g;
  for (const m of prose.matchAll(link)) {
    links.push({ target: m[1], line: prose.slice(0, m.index).split("\n").length });
  }
  return links;
}
