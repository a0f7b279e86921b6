import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import type { Readable } from "node:stream";

export interface Digest {
  hex: string;
  bytes: number;
}

/** Hashes a stream (sha256, md5, …) and counts its bytes. */
export async function digestStream(stream: Readable | AsyncIterable<Uint8Array>, algorithm = "sha256"): Promise<Digest> {
  const hash = createHash(algorithm);
  let bytes = 0;
  for await (const chunk of stream as AsyncIterable<Uint8Array>) {
    hash.update(chunk);
    bytes += chunk.byteLength;
  }
  return { hex: hash.digest("hex"), bytes };
}

export function digestFile(path: string, algorithm = "sha256"): Promise<Digest> {
  return digestStream(createReadStream(path), algorithm);
}
