import { inflateParsedSync, parseBlob, readBlob, scanBlocks, type ParsedBlob } from "../containers/ski-atlas/pbf/blocks.ts";
import { FileSource } from "../containers/ski-atlas/pbf/source.ts";

/** CPU seconds of the calling thread alone (Node ≥ 23.9), or of the whole process on an older Node. */
function threadCpuSeconds(): number {
  const usage = (process as { threadCpuUsage?: () => NodeJS.CpuUsage }).threadCpuUsage?.() ?? process.cpuUsage();
  return (usage.user + usage.system) / 1e6;
}

/**
 * The CPU seconds it takes one thread to inflate every block of `file` once, with the extractor's own code
 * (blocks.ts): the floor of any reader of the file, whatever it does after inflating. Reads are not counted:
 * blobs are read in batches of about 64 MiB, then inflated.
 */
export async function inflateFloorCpuS(file: string): Promise<{ cpuS: number; blocks: number; inflatedMB: number }> {
  const src = await FileSource.open(file);
  try {
    const refs = await scanBlocks(src);
    let cpuS = 0, inflated = 0;
    for (let i = 0; i < refs.length; ) {
      const batch: ParsedBlob[] = [];
      for (let bytes = 0; i < refs.length && bytes < 64 * 2 ** 20; i++) {
        batch.push(parseBlob(await readBlob(src, refs[i])));
        bytes += refs[i].size;
      }
      const before = threadCpuSeconds();
      for (const blob of batch) inflated += inflateParsedSync(blob).length;
      cpuS += threadCpuSeconds() - before;
    }
    return { cpuS, blocks: refs.length, inflatedMB: inflated / 1e6 };
  } finally {
    await src.close();
  }
}
