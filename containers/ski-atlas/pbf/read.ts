import { open } from "node:fs/promises";
import { inBlock, inflateInOrder, InflateBudget, loadBlock, scanBlocks } from "./blocks.ts";
import { checkHeader, decodeAll, PrimitiveBlock, type EntityVisitor } from "./decode.ts";

/** Decodes every entity of a PBF file, in file order (for small files: the extract). */
export async function readPbf(path: string, visitor: EntityVisitor, parallel = 4): Promise<void> {
  const fh = await open(path, "r");
  try {
    const { size } = await fh.stat();
    const refs = await scanBlocks(fh, size);
    const budget = new InflateBudget(size);
    const header = await loadBlock(fh, refs[0], budget);
    try {
      checkHeader(header);
    } catch (err) {
      throw inBlock(refs[0], err);
    }
    const data = refs.slice(1).filter((r) => r.type === "OSMData");
    for await (const { ref, data: raw } of inflateInOrder(fh, data, budget, parallel)) {
      try {
        decodeAll(new PrimitiveBlock(raw), visitor);
      } catch (err) {
        throw inBlock(ref, err);
      }
    }
  } finally {
    await fh.close();
  }
}
