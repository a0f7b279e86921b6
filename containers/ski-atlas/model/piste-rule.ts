import type { Tags } from "../osm-data.ts";
import { statusAndValue, type Status } from "./status.ts";
import { splitValues } from "./tag-values.ts";

/** Which ways are pistes, of what types and difficulty (openskidata-processor `src/transforms/RunFormatter.ts`). */

export const DIFFICULTIES = ["novice", "easy", "intermediate", "advanced", "expert", "freeride", "extreme"] as const;
export type Difficulty = (typeof DIFFICULTIES)[number];
const DIFFICULTY_SET = new Set<string>(DIFFICULTIES);

/**
 * `piste:difficulty` normalized (case, `;` lists: the first known value), or null (the `unknown` column): a
 * difficulty outside the scale (`black`, `red`) says nothing comparable across countries.
 */
export function normalizeDifficulty(v: string | null | undefined): Difficulty | null {
  return (splitValues(v).find((d) => DIFFICULTY_SET.has(d)) as Difficulty | undefined) ?? null;
}

/** The harder of two difficulties (a shared segment is reported once, under the harder of its pistes). */
export function harder(a: Difficulty | null, b: Difficulty | null): Difficulty | null {
  if (a === null) return b;
  if (b === null) return a;
  return DIFFICULTIES.indexOf(a) >= DIFFICULTIES.indexOf(b) ? a : b;
}

export interface PisteKind {
  status: Status;
  /** Normalized `piste:type` values (`downhill;nordic` is both: it counts in both columns). */
  types: string[];
}

/** A way with `piste:type` (or a lifecycle form of it) is a piste; null when it has none. */
export function pisteKind(tags: Tags): PisteKind | null {
  const { status, value } = statusAndValue("piste:type", tags);
  const types = splitValues(value);
  return types.length === 0 ? null : { status, types };
}

/**
 * Whether a piste way is an area (OpenSkiMap's convention: osmtogeojson `polygonFeatures` in
 * OSMToGeoJSONConverter.ts): a closed way with `area=yes`, or a closed downhill way without `area=no`. *Why:* a
 * closed downhill way outlines a slope, and its perimeter is no run; a closed nordic or sled way is a loop.
 */
export function isAreaPiste(closed: boolean, tags: Tags, types: readonly string[]): boolean {
  return closed && (tags.area === "yes" || (types.includes("downhill") && tags.area !== "no"));
}
