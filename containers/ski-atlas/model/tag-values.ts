import type { Tags } from "../osm-data.ts";

/** How tag values are read: mappers write lists, mixed case and units into them. */

/** Splits a multi-valued tag (`downhill;nordic`, ` Downhill `) into lower-case, trimmed, distinct values. */
export function splitValues(v: string | null | undefined): string[] {
  if (!v) return [];
  const out: string[] = [];
  for (const part of v.split(";")) {
    const t = part.trim().toLowerCase();
    if (t && !out.includes(t)) out.push(t);
  }
  return out;
}

/** A leading integer (`2400`, `2400 p/h`), or null: capacities are often written with their unit. */
export function leadingInt(v: string | undefined): number | null {
  const m = v === undefined ? null : /^\s*(\d+)/.exec(v);
  return m ? Number(m[1]) : null;
}

/** An `ele` value in metres (`2510`, `2510.5`, `2510,5`, `2510 m`), or null. */
export function elevationM(v: string | undefined): number | null {
  const m = v === undefined ? null : /^\s*(-?\d+(?:[.,]\d+)?)\s*(m)?\s*$/.exec(v);
  return m ? Number(m[1].replace(",", ".")) : null;
}

/** An object's name: `name`, else `piste:name` (pistes on a shared track carry their own name there). */
export function featureName(tags: Tags): string | null {
  return tags.name ?? tags["piste:name"] ?? null;
}
