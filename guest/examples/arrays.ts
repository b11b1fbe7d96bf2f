// Typed arrays in and out. The host turns a JSON array argument such as `[1.5, 2, 3.25]` into
// a Float64Array in the guest's memory, so the function reads plain numbers with no parsing.

/** Returns the sum of the elements of `a` (0 for an empty array). */
export function sum(a: Float64Array): f64 {
  let total = 0.0;
  for (let i = 0, n = a.length; i < n; i++) {
    // `unchecked` skips the bounds check: i < n holds, and this loop is the whole cost.
    total += unchecked(a[i]);
  }
  return total;
}

/**
 * The sum of ten arrays: the function of the paper's data-locality experiment. Pass each as
 * a reference, `{"ref": "key"}`, and the host schedules the call where the arrays are cached.
 */
export function sum10(
  a: Float64Array, b: Float64Array, c: Float64Array, d: Float64Array, e: Float64Array,
  f: Float64Array, g: Float64Array, h: Float64Array, i: Float64Array, j: Float64Array,
): f64 {
  return sum(a) + sum(b) + sum(c) + sum(d) + sum(e) + sum(f) + sum(g) + sum(h) + sum(i) + sum(j);
}
