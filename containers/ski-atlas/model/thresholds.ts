/**
 * Every number the ski model decides with, in one place: distances (km) and shares, each with its reason. The tag
 * vocabularies (lifecycle states, lift types, difficulties) stay beside the rule that reads them, as in
 * openskidata-processor; README.md "Analysis rules" gives each rule.
 */

/**
 * A lift or piste that is neither a member nor inside a polygon joins a polygon-less resort within this distance
 * (from its midpoint to the convex hull of the resort's member geometry): a resort mapped only as a site relation
 * often lists its lifts but not every piste, and the hull spans only what it lists.
 */
export const NEAR_KM = 1;

/**
 * …or a polygon-mapped resort when one of its ends lies within this distance of the polygon: a bottom station is
 * often drawn just outside the resort's boundary. Shorter than NEAR_KM: a polygon is drawn around the resort, a
 * member hull only spans its members.
 */
export const POLYGON_NEAR_KM = 0.3;

/** POIs (hotels, restaurants, parkings…) within this distance of a ski area's footprint are kept: walking distance. */
export const POI_KM = 2;

/**
 * Share of a site relation's member lifts/pistes/nodes that must lie in a landuse polygon to merge the two: a resort
 * mapped both ways often leaves the polygon out of the relation, and most of its lifts inside the polygon say that
 * both are one resort.
 */
export const MERGE_SHARE = 0.5;

/** Two landuse polygons with the same name this close (km) are one resort drawn in parts (across a road, a ridge). */
export const SAME_NAME_KM = 1;

/** An unnamed landuse polygon this close (km) to another resort's polygon is part of it: the two share an edge. */
export const TOUCH_KM = 0.01;
