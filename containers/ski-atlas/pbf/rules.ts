import { type PrimitiveBlock, StringMatcher } from "./decode.ts";

/** Tag rules of the extract (`osmium tags-filter` expressions), compiled per block to bit masks. */

export interface TagRule {
  /** Object types the rule applies to: any of "n", "w", "r". */
  types: string;
  key: string;
  /** Allowed values; absent = any value. */
  values?: readonly string[];
}

/** Rules of one object type, compiled to bit masks over a block's string table. */
export class RuleSet {
  private keys: StringMatcher;
  private vals: StringMatcher;
  private keyBits: number[];
  private valBits: number[];
  private anyMask = 0;
  readonly empty: boolean;
  keyMask = new Int32Array(0);
  valMask = new Int32Array(0);
  /** Whether the current block can match at all. */
  relevant = false;

  constructor(rules: readonly TagRule[], type: string) {
    const mine = rules.filter((r) => r.types.includes(type));
    if (mine.length > 31) throw new Error("too many tag rules");
    this.empty = mine.length === 0;
    const keyList = [...new Set(mine.map((r) => r.key))];
    const valList = [...new Set(mine.flatMap((r) => r.values ?? []))];
    this.keys = new StringMatcher(keyList);
    this.vals = new StringMatcher(valList);
    this.keyBits = keyList.map(() => 0);
    this.valBits = valList.map(() => 0);
    mine.forEach((r, bit) => {
      this.keyBits[keyList.indexOf(r.key)] |= 1 << bit;
      if (!r.values) this.anyMask |= 1 << bit;
      for (const v of r.values ?? []) this.valBits[valList.indexOf(v)] |= 1 << bit;
    });
  }

  prepare(block: PrimitiveBlock): void {
    const n = block.stringCount;
    if (this.keyMask.length < n) {
      this.keyMask = new Int32Array(n * 2);
      this.valMask = new Int32Array(n * 2);
    }
    let keys = 0, vals = 0;
    for (let i = 0; i < n; i++) {
      const k = this.empty ? -1 : this.keys.match(block, i);
      const v = this.empty ? -1 : this.vals.match(block, i);
      this.keyMask[i] = k < 0 ? 0 : this.keyBits[k];
      this.valMask[i] = v < 0 ? 0 : this.valBits[v];
      keys |= this.keyMask[i];
      vals |= this.valMask[i];
    }
    this.relevant = (keys & (this.anyMask | vals)) !== 0;
  }

  /** Whether tag (k, v) (string-table indexes, already checked to be in range) matches. */
  match(k: number, v: number): boolean {
    return (this.keyMask[k] & (this.anyMask | this.valMask[v])) !== 0;
  }
}

export function plainMatch(rules: readonly TagRule[], type: string, key: string, value: string): boolean {
  return rules.some((r) => r.types.includes(type) && r.key === key && (!r.values || r.values.includes(value)));
}
