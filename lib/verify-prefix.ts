import { createReadStream } from "node:fs";
import { readdir, readFile, stat } from "node:fs/promises";
import { join, relative, sep } from "node:path";
import type { Readable } from "node:stream";
import { GetObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { digestStream } from "./hash.ts";
import { dataPathOf, JOURNAL_NAME, MANIFEST_NAME, parseManifest, type PublishedManifest } from "./manifest.ts";
import { contentsBesides, leftoverFolders } from "./published.ts";
import { getObjectText, listObjects } from "./s3-objects.ts";
import { parseS3Uri } from "./s3.ts";

/** A published prefix, wherever it is: an S3 prefix or a local copy of one (`npm start -- --out DIR`). */
export interface PrefixReader {
  /** `s3://bucket/prefix/` or `/dir/`: prefixes the messages. */
  location: string;
  /** Every object under the prefix, by name relative to it (nested ones contain "/"). */
  list(): Promise<{ name: string; size: number }[]>;
  /** An object's text, or undefined when it does not exist. */
  readText(name: string): Promise<string | undefined>;
  sha256(name: string): Promise<string>;
}

export function s3Prefix(s3: S3Client, uri: string): PrefixReader {
  const prefix = uri.endsWith("/") ? uri : `${uri}/`;
  const { bucket, key } = parseS3Uri(prefix);
  return {
    location: prefix,
    list: () => listObjects(s3, prefix),
    readText: (name) => getObjectText(s3, prefix + name),
    async sha256(name) {
      const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key + name }));
      return (await digestStream(out.Body as Readable, "sha256")).hex;
    },
  };
}

export function localDirectory(dir: string): PrefixReader {
  const root = dir.endsWith(sep) ? dir : dir + sep;
  return {
    location: root,
    async list() {
      const entries = await readdir(root, { recursive: true, withFileTypes: true });
      const files = entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
      const listed = await Promise.all(files.map(async (p) => ({ name: relative(root, p).split(sep).join("/"), size: (await stat(p)).size })));
      return listed.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    },
    async readText(name) {
      try {
        return await readFile(join(root, name), "utf8");
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
        throw err;
      }
    },
    async sha256(name) {
      return (await digestStream(createReadStream(join(root, name)), "sha256")).hex;
    },
  };
}

export interface Verification {
  /** One sentence per problem; empty when the prefix is exactly what its manifest says. */
  problems: string[];
  manifest?: PublishedManifest;
  /** Folders no reader follows (a failed publish's version, one whose removal failed): not problems; the next
   * publish removes them. `""` stands for data files beside a versioned manifest (the layout before versions). */
  leftovers: string[];
}

/**
 * Checks a published prefix the way a reader sees it: its manifest, then every listed file where the manifest
 * says (its version folder, or beside it) with the listed bytes and sha256, and no other file there. Version
 * folders the manifest does not name are never read: reported as leftovers, not problems. A journal of the
 * protocol before versions is a problem: that code was changing the month in place when it stopped.
 */
export async function verifyPublished(prefix: PrefixReader): Promise<Verification> {
  const problems: string[] = [];
  const listed = await prefix.list();
  const present = new Map(listed.map((o) => [o.name, o]));
  if (present.has(JOURNAL_NAME)) {
    problems.push(`${prefix.location}${JOURNAL_NAME} is present: a publish by an earlier version of this code was changing this prefix in place and did not finish (publish it again)`);
  }
  const text = await prefix.readText(MANIFEST_NAME);
  if (text === undefined) {
    problems.push(`${prefix.location}${MANIFEST_NAME} is missing: nothing is published here (or publish did not finish)`);
    return { problems, leftovers: [] };
  }
  let manifest: PublishedManifest;
  try {
    manifest = parseManifest(text);
  } catch (err) {
    problems.push(`${prefix.location}${MANIFEST_NAME} is not a valid manifest (${(err as Error).message})`);
    return { problems, leftovers: [] };
  }
  for (const file of manifest.files) {
    const at = dataPathOf(manifest, file.name);
    const obj = present.get(at);
    if (!obj) {
      problems.push(`${at} is listed in the manifest but missing`);
      continue;
    }
    if (obj.size !== file.bytes) {
      problems.push(`${at} has ${obj.size} bytes, the manifest says ${file.bytes}`);
      continue;
    }
    const hex = await prefix.sha256(at);
    if (hex !== file.sha256) problems.push(`${at} has sha256 ${hex}, the manifest says ${file.sha256}`);
  }
  // The lease says who may change the prefix, not what it holds.
  const { unlisted, leftovers } = contentsBesides(listed.map((o) => o.name), manifest);
  for (const name of unlisted) problems.push(`${name} is not listed in the manifest`);
  return { problems, manifest, leftovers: leftoverFolders(leftovers) };
}
