import { inflateParsedSync, parseBlob, readBlob, scanBlocks, type ParsedBlob } from "../containers/ski-atlas/pbf/blocks.ts";
import { loadNativeAddon } from "../containers/ski-atlas/pbf/native-core.ts";
import { FileSource } from "../containers/ski-atlas/pbf/source.ts";

/** CPU seconds of the calling thread alone (Node ≥ 23.9), or of the whole process on an older Node. */
function threadCpuSeconds(): number {
  const usage = (process as { threadCpuUsage?: () => NodeJS.CpuUsage }).threadCpuUsage?.() ?? process.cpuUsage();
  return (usage.user + usage.system) / 1e6;
}

export interface InflateFloor {
  /** With Node's zlib (the TypeScript reader's inflate). */
  cpuS: number;
  /** With libdeflate (the compiled core's inflate), when the core is built here. */
  libdeflateCpuS?: number;
  blocks: number;
  inflatedMB: number;
}

/**
 * The CPU seconds it takes one thread to inflate every block of `file` once, with the extractor's own code: Node's
 * zlib (blocks.ts) and libdeflate (the compiled core, pbf/native/). The floor of any reader of the file, whatever
 * it does after inflating. Reads are not counted: blobs are read in batches of about 64 MiB, then inflated.
 */
export async function inflateFloorCpuS(file: string): Promise<InflateFloor> {
  const loaded = loadNativeAddon();
  const native = "addon" in loaded ? { addon: loaded.addon, handle: loaded.addon.createCore([]) } : undefined;
  const src = await FileSource.open(file);
  try {
    const refs = await scanBlocks(src);
    let cpuS = 0, libdeflateCpuS = 0, inflated = 0;
    for (let i = 0; i < refs.length; ) {
      const batch: ParsedBlob[] = [];
      for (let bytes = 0; i < refs.length && bytes < 64 * 2 ** 20; i++) {
        batch.push(parseBlob(await readBlob(src, refs[i])));
        bytes += refs[i].size;
      }
      let before = threadCpuSeconds();
      for (const blob of batch) inflated += inflateParsedSync(blob).length;
      cpuS += threadCpuSeconds() - before;
      if (!native) continue;
      before = threadCpuSeconds();
      for (const blob of batch) if (blob.kind === "zlib" && native.addon.inflate(native.handle, blob.data, blob.rawSize) === null) throw new Error("libdeflate refused a block zlib inflated");
      libdeflateCpuS += threadCpuSeconds() - before;
    }
    return { cpuS, ...(native ? { libdeflateCpuS } : {}), blocks: refs.length, inflatedMB: inflated / 1e6 };
  } finally {
    await src.close();
  }
}
