import { open } from "node:fs/promises";
import { inflateBlob, inflateInOrder, readBlob, scanBlocks } from "./blocks.ts";
import { checkHeader, decodeAll, PrimitiveBlock, type EntityVisitor } from "./decode.ts";

/** Decodes every entity of a PBF file, in file order (for small files: the extract). */
export async function readPbf(path: string, visitor: EntityVisitor, parallel = 4): Promise<void> {
  const fh = await open(path, "r");
  try {
    const { size } = await fh.stat();
    const refs = await scanBlocks(fh, size);
    checkHeader(await inflateBlob(await readBlob(fh, refs[0])));
    const data = refs.slice(1).filter((r) => r.type === "OSMData");
    for await (const { data: raw } of inflateInOrder(fh, data, parallel)) decodeAll(new PrimitiveBlock(raw), visitor);
  } finally {
    await fh.close();
  }
}
