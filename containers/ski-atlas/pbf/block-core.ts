import { inflateParsedSync, type ParsedBlob } from "./blocks.ts";
import { GROUP_WAYS, PrimitiveBlock } from "./decode.ts";
import { NativeCore, loadNativeAddon } from "./native-core.ts";
import { NodeFilter, type NodeBatch } from "./node-filter.ts";
import type { BlockCore, CoreKind, WaysResult } from "./block-core-api.ts";
import { RuleSet, type TagRule } from "./rules.ts";
import { sortUniqueInPlace } from "./sorted-ids.ts";
import { filterWays, type WayBatch } from "./way-filter.ts";

/**
 * The per-block work of the extractor, behind one interface with two implementations: the compiled core
 * (native-core.ts: libdeflate and C) and the TypeScript (node-filter.ts, way-filter.ts, blocks.ts' zlib), which is
 * the reference the tests compare the compiled core with. Both take a block as a parsed Blob to inflate or as
 * inflated bytes, and return the same batches, or throw the same PbfFormatError.
 */

export type { BlockCore, CoreKind, WaysResult } from "./block-core-api.ts";

export class JsCore implements BlockCore {
  readonly kind = "javascript";
  readonly description = "TypeScript";
  private readonly rules: readonly TagRule[];
  private readonly wayRules: RuleSet;
  private wayRefs: Float64Array = new Float64Array(0);
  private nWayRefs = 0;
  private filter: NodeFilter;

  constructor(rules: readonly TagRule[]) {
    this.rules = rules;
    this.wayRules = new RuleSet(rules, "w");
    this.filter = new NodeFilter(new Float64Array(0), 0, rules);
  }

  setWayRefs(ids: Float64Array, count: number): void {
    this.wayRefs = ids;
    this.nWayRefs = count;
  }

  setNeeded(ids: Float64Array, count: number): void {
    this.filter = new NodeFilter(ids, count, this.rules);
  }

  ways(input: ParsedBlob | Uint8Array, wholeIfMixed: boolean): WaysResult {
    const data = input instanceof Uint8Array ? input : inflateParsedSync(input);
    const block = new PrimitiveBlock(data);
    const hasWays = block.groups.some((g) => g.kind === GROUP_WAYS);
    // A copy: zlib's output buffers cannot be transferred (nor a Buffer's slice, a view); a few blocks only.
    if (wholeIfMixed && block.groups.some((g) => g.kind !== GROUP_WAYS)) return { raw: new Uint8Array(data) };
    return { ...filterWays(block, this.wayRules, this.wayRefs, this.nWayRefs), hasWays };
  }

  nodes(input: ParsedBlob | Uint8Array, mayHoldWays: boolean): NodeBatch {
    return this.filter.filter(new PrimitiveBlock(input instanceof Uint8Array ? input : inflateParsedSync(input)), mayHoldWays);
  }

  sortUnique(ids: Float64Array, count: number): number {
    return sortUniqueInPlace(ids, count);
  }
}

/**
 * Which core an extract uses: ATLAS_PBF_CORE=js the TypeScript; otherwise the compiled core, or, where it cannot
 * be loaded (not built for this machine), the TypeScript with the reason (the step logs it: one line).
 */
export function chooseCore(env: NodeJS.ProcessEnv = process.env): { kind: CoreKind; description: string } {
  if (env.ATLAS_PBF_CORE === "js") return { kind: "javascript", description: "TypeScript (ATLAS_PBF_CORE=js)" };
  const loaded = loadNativeAddon();
  return "addon" in loaded
    ? { kind: "native", description: `compiled (libdeflate ${loaded.addon.libdeflateVersion})` }
    : { kind: "javascript", description: `TypeScript (the compiled core did not load: ${loaded.error})` };
}

/** A core of the given kind for `rules` on this thread (the compiled one must load: chooseCore said it does). */
export function createBlockCore(kind: CoreKind, rules: readonly TagRule[]): BlockCore {
  if (kind === "javascript") return new JsCore(rules);
  const loaded = loadNativeAddon();
  if (!("addon" in loaded)) throw new Error(`the compiled PBF core did not load on this thread: ${loaded.error}`);
  return new NativeCore(loaded.addon, rules);
}
