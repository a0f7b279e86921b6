import { spawn } from "node:child_process";
import type { Readable } from "node:stream";
import { OsmData, type MemberType, type OsmMember, type Tags } from "../osm-data.ts";
import { osmiumFailure, osmiumSpawnError } from "../osmium.ts";

/**
 * osmium's view of a file, as OsmData: `osmium cat -f opl` parsed line by line. The test oracle for the PBF reader
 * of pbf/ (tests only: the image reads extracts with extract-reader.ts).
 */

const ESCAPE = /%([0-9a-fA-F]+)%/g;
function unescape(s: string): string {
  return s.includes("%") ? s.replace(ESCAPE, (_, hex: string) => String.fromCodePoint(parseInt(hex, 16))) : s;
}

function parseTags(s: string): Tags {
  const tags: Tags = {};
  if (!s) return tags;
  for (const kv of s.split(",")) {
    const eq = kv.indexOf("=");
    if (eq < 0) continue;
    tags[unescape(kv.slice(0, eq))] = unescape(kv.slice(eq + 1));
  }
  return tags;
}

/** Parses one OPL line (written with add_metadata=false, or with metadata, which is skipped). */
export function parseOplLine(line: string, data: OsmData): void {
  if (line.length === 0) return;
  const kind = line.charCodeAt(0);
  const fields = line.split(" ");
  const id = Number(fields[0].slice(1));
  let tags = "", x = "", y = "", nodes = "", members = "";
  for (let i = 1; i < fields.length; i++) {
    const f = fields[i];
    switch (f.charCodeAt(0)) {
      case 84 /* T */: tags = f.slice(1); break;
      case 120 /* x */: x = f.slice(1); break;
      case 121 /* y */: y = f.slice(1); break;
      case 78 /* N */: nodes = f.slice(1); break;
      case 77 /* M */: members = f.slice(1); break;
    }
  }
  if (kind === 110 /* n */) {
    if (x === "" || y === "") return; // node without location
    const lon = Number(x), lat = Number(y);
    data.addNode(id, lon, lat);
    if (tags) data.taggedNodes.push({ id, tags: parseTags(tags), lon, lat });
  } else if (kind === 119 /* w */) {
    const refs = nodes ? nodes.split(",").map((r) => Number(r.slice(1))) : [];
    data.ways.set(id, { id, tags: parseTags(tags), refs, coords: new Float64Array(0) });
  } else if (kind === 114 /* r */) {
    const list: OsmMember[] = [];
    if (members) {
      for (const m of members.split(",")) {
        const at = m.indexOf("@");
        list.push({ type: m[0] as MemberType, ref: Number(m.slice(1, at)), role: unescape(m.slice(at + 1)) });
      }
    }
    data.relations.set(id, { id, tags: parseTags(tags), members: list });
  }
}

/** Parses an OPL text stream (already decoded as UTF-8). */
async function readOplStream(stream: Readable | AsyncIterable<string>, data = new OsmData()): Promise<OsmData> {
  let rest = "";
  for await (const chunk of stream as AsyncIterable<string>) {
    const text = rest + chunk;
    let start = 0;
    for (let nl = text.indexOf("\n"); nl >= 0; nl = text.indexOf("\n", start)) {
      parseOplLine(text.slice(start, nl), data);
      start = nl + 1;
    }
    rest = text.slice(start);
  }
  if (rest) parseOplLine(rest, data);
  data.finish();
  return data;
}

/** Runs `osmium cat <pbf> -f opl` and parses its output (tests: the oracle's view of a file). Bad input → StepError 65 (see osmium.ts). */
export async function readOsmFile(path: string, what: string, fix: string): Promise<OsmData> {
  const child = spawn("osmium", ["cat", path, "-f", "opl,add_metadata=false", "-o", "-", "--no-progress"], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (d: string) => {
    if (stderr.length < 64 * 1024) stderr += d;
  });
  child.stdout.setEncoding("utf8");
  const spawnError = new Promise<never>((_, reject) => child.on("error", (err) => reject(osmiumSpawnError(err))));
  spawnError.catch(() => {});
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on("close", (code, signal) => resolve({ code, signal })),
  );
  const data = await Promise.race([readOplStream(child.stdout), spawnError]);
  const { code, signal } = await Promise.race([exit, spawnError]);
  if (code !== 0) throw osmiumFailure({ code, signal, stderr }, what, fix);
  return data;
}
