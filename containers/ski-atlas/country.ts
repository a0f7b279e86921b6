import { createRequire } from "node:module";

/**
 * The part of the package used here. Written out rather than `typeof import(…)`: the package's `exports` name ESM
 * and type files (`import`, `types`) it does not ship, so only its CommonJS build resolves.
 */
interface CountryCoder {
  iso1A2Code(location: [number, number]): string | null;
}
let coder: CountryCoder | undefined;

/**
 * ISO 3166-1 alpha-2 code of the country containing a point, from `@rapideditor/country-coder`'s packaged country
 * boundaries, or null (sea, unclaimed land). Loaded on first use (a synchronous require of the package's CommonJS
 * build): parsing its boundaries takes 0.3–0.9 s here, and every step of the image shares one entrypoint, so only
 * analyze should pay for it.
 */
export function countryCode(lon: number, lat: number): string | null {
  coder ??= createRequire(import.meta.url)("@rapideditor/country-coder") as CountryCoder;
  return coder.iso1A2Code([lon, lat]);
}
