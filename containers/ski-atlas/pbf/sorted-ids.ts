/**
 * Sorted, distinct ids in a SharedArrayBuffer: the ways kept relations list and the nodes kept ways and relations
 * reference, handed to the worker threads without a copy. Built in place in one buffer of the final capacity
 * (filled, sorted, deduplicated), so the ids are never held twice: at a continent's scale they are the largest
 * thing the extract holds (8 bytes a reference).
 */

export interface SharedIds {
  shared: SharedArrayBuffer;
  /** The whole buffer; ids are [0, count). */
  array: Float64Array;
  count: number;
}

/**
 * Fills a shared buffer of `capacity` ids with `fill` (which returns how many it wrote), then sorts and dedupes it
 * with `sortUnique` (the block core's: compiled, or `sortUniqueInPlace`).
 */
export function sharedSortedIds(capacity: number, fill: (out: Float64Array) => number, sortUnique = sortUniqueInPlace): SharedIds {
  const shared = new SharedArrayBuffer(Math.max(8, capacity * 8));
  const array = new Float64Array(shared);
  const n = fill(array);
  if (n > capacity) throw new Error(`sharedSortedIds: ${n} ids written, room for ${capacity}`);
  return { shared, array, count: sortUnique(array, n) };
}

/** Sorts a[0, n) ascending in place and drops repeats; returns how many are left. */
export function sortUniqueInPlace(a: Float64Array, n: number): number {
  sortInPlace(a, 0, n);
  let count = 0;
  for (let k = 0; k < n; k++) if (k === 0 || a[k] !== a[count - 1]) a[count++] = a[k];
  return count;
}

/** Below this length a range is insertion-sorted (the usual cut-off: quicksort's overhead beats its gain). */
const INSERTION_SORT_BELOW = 24;

/**
 * Sorts a[lo, hi) ascending, in place: an introsort (median-of-3 quicksort, heapsort past 2·log2(n) levels so
 * that no input is quadratic, insertion sort for short ranges). Hand-written because V8's TypedArray sort copies
 * an array backed by a SharedArrayBuffer to a temporary buffer first (measured: sorting 400 MB of shared ids
 * peaks at 800 MB of RSS, an unshared one at 400 MB), and the point here is to hold the ids once. Ids are
 * integers (never NaN), so `<` is a total order. `depthLimit`: quicksort levels before heapsort (tests lower it).
 */
export function sortInPlace(a: Float64Array, lo: number, hi: number, depthLimit = 2 * Math.ceil(Math.log2(Math.max(2, hi - lo)))): void {
  introsort(a, lo, hi, depthLimit);
}

function introsort(a: Float64Array, lo: number, hi: number, depth: number): void {
  while (hi - lo > INSERTION_SORT_BELOW) {
    if (depth-- === 0) {
      heapsort(a, lo, hi);
      return;
    }
    const x = a[lo], y = a[(lo + hi) >>> 1], z = a[hi - 1];
    const pivot = x < y ? (y < z ? y : x < z ? z : x) : x < z ? x : y < z ? z : y;
    let i = lo, j = hi - 1;
    while (i <= j) {
      while (a[i] < pivot) i++;
      while (a[j] > pivot) j--;
      if (i <= j) {
        const t = a[i];
        a[i++] = a[j];
        a[j--] = t;
      }
    }
    // Recurse into the smaller side, loop on the larger: the stack stays O(log n).
    if (j + 1 - lo < hi - i) {
      introsort(a, lo, j + 1, depth);
      lo = i;
    } else {
      introsort(a, i, hi, depth);
      hi = j + 1;
    }
  }
  for (let i = lo + 1; i < hi; i++) {
    const v = a[i];
    let j = i - 1;
    while (j >= lo && a[j] > v) {
      a[j + 1] = a[j];
      j--;
    }
    a[j + 1] = v;
  }
}

function heapsort(a: Float64Array, lo: number, hi: number): void {
  const n = hi - lo;
  const siftDown = (root: number, size: number) => {
    const v = a[lo + root];
    for (;;) {
      let child = 2 * root + 1;
      if (child >= size) break;
      if (child + 1 < size && a[lo + child + 1] > a[lo + child]) child++;
      if (a[lo + child] <= v) break;
      a[lo + root] = a[lo + child];
      root = child;
    }
    a[lo + root] = v;
  };
  for (let i = (n >>> 1) - 1; i >= 0; i--) siftDown(i, n);
  for (let end = n - 1; end > 0; end--) {
    const t = a[lo];
    a[lo] = a[lo + end];
    a[lo + end] = t;
    siftDown(0, end);
  }
}
