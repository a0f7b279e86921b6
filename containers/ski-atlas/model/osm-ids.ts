/**
 * `type/id` strings (`relation/12`, `way/7`) ordered by type name, then by number: the order of every published
 * table (nodes, then relations, then ways).
 */
export function compareOsmIds(a: string, b: string): number {
  const [ta, ia] = a.split("/");
  const [tb, ib] = b.split("/");
  if (ta !== tb) return ta < tb ? -1 : 1;
  return Number(ia) - Number(ib);
}

/** Ascending OSM id: the model reads relations and ways in id order, whatever order they were stored in. */
export function byId(a: { id: number }, b: { id: number }): number {
  return a.id - b.id;
}
