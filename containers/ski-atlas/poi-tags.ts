/**
 * Points of interest a skier cares about: where to sleep, eat, park, rent gear, get help, and arrive.
 * Kept as nodes and ways by extract (ways are reduced to their centroid by analyze).
 * Keep in sync with README.md ("Nearby features").
 */
export const POI_TAGS: Record<string, readonly string[]> = {
  tourism: ["hotel", "chalet", "guest_house", "hostel", "alpine_hut", "wilderness_hut", "apartment", "camp_site", "motel"],
  amenity: [
    "restaurant", "cafe", "bar", "pub", "fast_food", "parking", "ski_rental", "ski_school",
    "pharmacy", "doctors", "clinic", "hospital", "fuel", "atm",
  ],
  shop: ["sports", "ski", "outdoor", "rental"],
  public_transport: ["station"],
  railway: ["station", "halt"],
};

/** POI_TAGS as lookups, each category string made once (analyze asks this of every tagged object of a region). */
const CATEGORIES: readonly [string, Map<string, string>][] = Object.entries(POI_TAGS).map(([key, values]) => [
  key,
  new Map(values.map((v) => [v, `${key}=${v}`])),
]);

/** `key=value` of the first POI tag an object has (in the order above), or undefined. */
export function poiCategory(tags: Record<string, string>): string | undefined {
  for (const [key, categories] of CATEGORIES) {
    const v = tags[key];
    if (v !== undefined) {
      const category = categories.get(v);
      if (category !== undefined) return category;
    }
  }
  return undefined;
}
