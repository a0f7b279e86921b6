import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { inflateParsedSync, type ParsedBlob } from "./blocks.ts";
import type { BlockCore, WaysResult } from "./block-core-api.ts";
import type { NodeBatch } from "./node-filter.ts";
import { PbfFormatError } from "./protobuf.ts";
import type { TagRule } from "./rules.ts";

/**
 * The compiled core (native/pbf_core.c through native/pbf_addon.c): inflate with libdeflate, then the same block
 * filters as the TypeScript (node-filter.ts, way-filter.ts), in C, returning the same batches. Built for this
 * machine by `npm ci` / `npm test` and for the image by its compile stage (native/build.sh); never committed.
 */

/** A context of the addon (one per extract and thread). */
type Handle = { readonly __brand: "pbf core" };

interface Addon {
  libdeflateVersion: string;
  createCore(rules: TagRule[]): Handle;
  setNeeded(core: Handle, ids: Float64Array, count: number): void;
  setWayRefs(core: Handle, ids: Float64Array, count: number): void;
  /** null: libdeflate refused the data (corrupt, or larger than declared): inflate with zlib, call again. */
  nodes(core: Handle, data: Uint8Array, rawSize: number, mayHoldWays: boolean): NodeBatch | null;
  ways(core: Handle, data: Uint8Array, rawSize: number, wholeIfMixed: boolean): WaysResult | null;
  sortUnique(ids: Float64Array, count: number): number;
  /** Inflates a zlib Blob's data only: its size, or null when libdeflate refuses it (the bench's inflate floor). */
  inflate(core: Handle, data: Uint8Array, rawSize: number): number | null;
}

/** rawSize for a block given uncompressed (pbf_core.h PBF_INFLATED). */
const INFLATED = -2;

/** Where the build puts the addon for this platform, next to this module (in the image: /app/…/pbf/native/build/). */
export const NATIVE_CORE_PATH = fileURLToPath(new URL(`./native/build/pbf_core.${process.platform}-${process.arch}.node`, import.meta.url));

let loaded: { addon: Addon } | { error: string } | undefined;

/** Loads the addon once per thread: the addon, or why it could not be loaded. */
export function loadNativeAddon(): { addon: Addon } | { error: string } {
  if (loaded) return loaded;
  if (!existsSync(NATIVE_CORE_PATH)) {
    loaded = { error: `${NATIVE_CORE_PATH} is missing: build it with npm ci or sh containers/ski-atlas/pbf/native/build.sh` };
  } else {
    try {
      loaded = { addon: createRequire(import.meta.url)(NATIVE_CORE_PATH) as Addon };
    } catch (err) {
      loaded = { error: (err as Error).message.split("\n")[0] };
    }
  }
  return loaded;
}

/** A format error found by the core becomes the PbfFormatError the TypeScript would throw (same message). */
function asFormatError(err: unknown): unknown {
  return (err as { code?: string }).code === "PBF_FORMAT" ? new PbfFormatError((err as Error).message) : err;
}

export type { Addon as NativeAddon, Handle as NativeHandle };

export class NativeCore implements BlockCore {
  readonly kind = "native";
  private readonly addon: Addon;
  private readonly handle: Handle;

  constructor(addon: Addon, rules: readonly TagRule[]) {
    this.addon = addon;
    this.handle = addon.createCore([...rules]);
  }

  get description(): string {
    return `compiled (libdeflate ${this.addon.libdeflateVersion})`;
  }

  setWayRefs(ids: Float64Array, count: number): void {
    this.addon.setWayRefs(this.handle, ids, count);
  }

  setNeeded(ids: Float64Array, count: number): void {
    this.addon.setNeeded(this.handle, ids, count);
  }

  ways(input: ParsedBlob | Uint8Array, wholeIfMixed: boolean): WaysResult {
    return this.call(input, (data, rawSize) => this.addon.ways(this.handle, data, rawSize, wholeIfMixed));
  }

  nodes(input: ParsedBlob | Uint8Array, mayHoldWays: boolean): NodeBatch {
    return this.call(input, (data, rawSize) => this.addon.nodes(this.handle, data, rawSize, mayHoldWays));
  }

  sortUnique(ids: Float64Array, count: number): number {
    return this.addon.sortUnique(ids, count);
  }

  /**
   * Runs `fn` on the block: zlib Blobs are inflated by the core; a Blob libdeflate refuses (corrupt, or larger
   * than declared) is inflated by blocks.ts with zlib, whose verdict and message are the reference's, as are other
   * compressions (zstd) and raw Blobs.
   */
  private call<T>(input: ParsedBlob | Uint8Array, fn: (data: Uint8Array, rawSize: number) => T | null): T {
    try {
      if (input instanceof Uint8Array) return fn(input, INFLATED)!;
      if (input.kind === "zlib") {
        const result = fn(input.data, input.rawSize);
        if (result !== null) return result;
      }
      return fn(inflateParsedSync(input), INFLATED)!;
    } catch (err) {
      throw asFormatError(err);
    }
  }
}
