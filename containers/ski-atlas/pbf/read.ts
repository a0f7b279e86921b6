import { inBlock, inflateInOrder, InflateBudget, loadBlock, scanBlocks } from "./blocks.ts";
import { checkHeader, decodeAll, PrimitiveBlock, type EntityVisitor } from "./decode.ts";
import { FileSource } from "./source.ts";

/** Decodes every entity of a PBF file, in file order (for small files: the extract). */
export async function readPbf(path: string, visitor: EntityVisitor, parallel = 4): Promise<void> {
  const src = await FileSource.open(path);
  try {
    const refs = await scanBlocks(src);
    const budget = new InflateBudget(src.size);
    const header = await loadBlock(src, refs[0], budget);
    try {
      checkHeader(header);
    } catch (err) {
      throw inBlock(refs[0], err);
    }
    const data = refs.slice(1).filter((r) => r.type === "OSMData");
    for await (const { ref, data: raw } of inflateInOrder(src, data, budget, parallel)) {
      try {
        decodeAll(new PrimitiveBlock(raw), visitor);
      } catch (err) {
        throw inBlock(ref, err);
      }
    }
  } finally {
    await src.close();
  }
}
