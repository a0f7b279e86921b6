import type { ParsedBlob } from "./blocks.ts";
import type { NodeBatch } from "./node-filter.ts";
import type { WayBatch } from "./way-filter.ts";

/**
 * What both implementations of the per-block work offer (block-core.ts picks one): in a module of its own so that
 * the compiled core's wrapper (native-core.ts) and block-core.ts, which constructs it, do not import each other.
 */

/** What pass 1 makes of one block: its kept ways, or (`wholeIfMixed`, a block holding nodes or relations) the block inflated. */
export type WaysResult = (WayBatch & { hasWays: boolean; raw?: undefined }) | { raw: Uint8Array };

export type CoreKind = "native" | "javascript";

export interface BlockCore {
  readonly kind: CoreKind;
  /** For the log: which core, and with what. */
  readonly description: string;
  /** Pass 1: the sorted, distinct ids of the ways kept relations list (borrowed, not copied: may be shared). */
  setWayRefs(ids: Float64Array, count: number): void;
  /** Pass 2: the sorted, distinct ids of the nodes to keep (borrowed, not copied: may be shared). */
  setNeeded(ids: Float64Array, count: number): void;
  ways(input: ParsedBlob | Uint8Array, wholeIfMixed: boolean): WaysResult;
  nodes(input: ParsedBlob | Uint8Array, mayHoldWays: boolean): NodeBatch;
  /** Sorts ids[0, count) in place and drops repeats; returns how many are left. */
  sortUnique(ids: Float64Array, count: number): number;
}
