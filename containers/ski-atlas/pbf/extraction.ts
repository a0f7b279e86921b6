import { inBlock, InflateBudget, loadBlock, parseBlob, readBlob, type BlockRef, type ParsedBlob } from "./blocks.ts";
import type { BlockCore, WaysResult } from "./block-core.ts";
import { GROUP_DENSE, GROUP_NODES, GROUP_WAYS, PrimitiveBlock } from "./decode.ts";
import type { NodeBatch } from "./node-filter.ts";
import type { TagRule } from "./rules.ts";
import type { ByteSource } from "./source.ts";

/**
 * What the extractor's passes share (extract.ts runs them: relation-pass.ts, way-pass.ts, node-pass.ts): the
 * source and its blocks, the inflate budget, the reader ahead on this thread, the block runner (worker threads,
 * or this thread) and the counts.
 */

export interface ExtractStats {
  blocks: number;
  inflated: number;
  reinflated: number;
  /** Relation messages looked at, re-reads included: the work of resolving relation membership. */
  relationsScanned: number;
  nodeBlocksSkipped: number;
  wayBlocksSkipped: number;
}

/** Inflates and filters whole blocks, in parallel (block-pool.ts) or on this thread (InlineRunner). */
export interface BlockRunner {
  /** Blocks it works on at once. */
  readonly size: number;
  ways(blob: ParsedBlob): Promise<WaysResult>;
  nodes(blob: ParsedBlob): Promise<NodeBatch>;
  setWayRefs(ids: SharedArrayBuffer, count: number): void;
  setNeeded(ids: SharedArrayBuffer, count: number): void;
  close(): Promise<void>;
}

/** The runner without threads (a 1-vCPU task, or ATLAS_PBF_WORKERS=0): this thread's core, one block at a time. */
export class InlineRunner implements BlockRunner {
  readonly size = 1;
  private readonly core: BlockCore;
  constructor(core: BlockCore) {
    this.core = core;
  }
  async ways(blob: ParsedBlob): Promise<WaysResult> {
    return this.core.ways(blob, true);
  }
  async nodes(blob: ParsedBlob): Promise<NodeBatch> {
    return this.core.nodes(blob, false);
  }
  // This thread's core already has them (Extraction sets them).
  setWayRefs(): void {}
  setNeeded(): void {}
  async close(): Promise<void> {}
}

/** An empty PrimitiveBlock (an empty string table): what a block of an unknown type holds for us. */
export const EMPTY_BLOCK = Uint8Array.of(0x0a, 0x00);

/** Runs `fn`, naming block `ref` in any format error. */
export function located<T>(ref: BlockRef, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw inBlock(ref, err);
  }
}

export const hasNodes = (block: PrimitiveBlock): boolean => block.groups.some((g) => g.kind === GROUP_DENSE || g.kind === GROUP_NODES);
export const hasWays = (block: PrimitiveBlock): boolean => block.groups.some((g) => g.kind === GROUP_WAYS);

/** Reads and inflates blocks ahead of use on this thread (zlib on libuv's pool); each is handed out once. */
export class Fetcher {
  private started = new Map<number, Promise<Uint8Array>>();
  inflated = 0;
  private readonly src: ByteSource;
  private readonly refs: readonly BlockRef[];
  private readonly budget: InflateBudget;
  constructor(src: ByteSource, refs: readonly BlockRef[], budget: InflateBudget) {
    this.src = src;
    this.refs = refs;
    this.budget = budget;
  }
  prefetch(i: number): void {
    if (i < 1 || i >= this.refs.length || this.started.has(i)) return;
    this.inflated++;
    const p = loadBlock(this.src, this.refs[i], this.budget);
    p.catch(() => {});
    this.started.set(i, p);
  }
  /** Whether block i was started (read ahead) and not handed out yet. */
  has(i: number): boolean {
    return this.started.has(i);
  }
  async get(i: number): Promise<PrimitiveBlock> {
    this.prefetch(i);
    const p = this.started.get(i)!;
    this.started.delete(i);
    const data = await p;
    if (this.refs[i].type !== "OSMData") return new PrimitiveBlock(EMPTY_BLOCK);
    return located(this.refs[i], () => new PrimitiveBlock(data));
  }
}

export class Extraction {
  readonly src: ByteSource;
  readonly refs: readonly BlockRef[];
  readonly budget: InflateBudget;
  readonly fetcher: Fetcher;
  /** This thread's block core (the blocks pass 1 reads here, the boundary block, sorting the ids). */
  readonly core: BlockCore;
  readonly runner: BlockRunner;
  readonly rules: readonly TagRule[];
  /** Blocks read and inflated ahead on this thread. */
  readonly parallel: number;
  readonly stats: ExtractStats;

  constructor(src: ByteSource, refs: readonly BlockRef[], budget: InflateBudget, core: BlockCore, runner: BlockRunner, rules: readonly TagRule[], parallel: number) {
    this.src = src;
    this.refs = refs;
    this.budget = budget;
    this.fetcher = new Fetcher(src, refs, budget);
    this.core = core;
    this.runner = runner;
    this.rules = rules;
    this.parallel = parallel;
    this.stats = { blocks: refs.length, inflated: 1, reinflated: 0, relationsScanned: 0, nodeBlocksSkipped: 0, wayBlocksSkipped: 0 };
  }

  /** Reads block i's Blob and charges its declared size to the budget; undefined for a block type we do not know. */
  async readParsed(i: number): Promise<ParsedBlob | undefined> {
    const blob = await readBlob(this.src, this.refs[i]);
    if (this.refs[i].type !== "OSMData") return undefined;
    const parsed = located(this.refs[i], () => parseBlob(blob));
    located(this.refs[i], () => this.budget.take(parsed.declaredBytes));
    this.stats.inflated++;
    return parsed;
  }

  /**
   * Charges a Blob that declared no raw_size after it was inflated (`bytes`: at most the format's 32 MiB, where
   * inflation stops), as loadBlock does for the blocks inflated on this thread.
   */
  chargeUndeclared(i: number, blob: ParsedBlob, bytes: number): void {
    if (blob.kind !== "raw" && blob.rawSize < 0) located(this.refs[i], () => this.budget.take(bytes));
  }

  /** Pass 1's ids for the runner and this thread's core. */
  setWayRefs(ids: { shared: SharedArrayBuffer; array: Float64Array; count: number }): void {
    this.core.setWayRefs(ids.array, ids.count);
    this.runner.setWayRefs(ids.shared, ids.count);
  }

  /** Pass 2's ids for the runner and this thread's core. */
  setNeeded(ids: { shared: SharedArrayBuffer; array: Float64Array; count: number }): void {
    this.core.setNeeded(ids.array, ids.count);
    this.runner.setNeeded(ids.shared, ids.count);
  }
}
