// Typed arrays in and out. The host turns a JSON array argument such as `[1.5, 2, 3.25]` into
// a Float64Array in the guest's memory, so the function reads plain numbers with no parsing.

/** Returns the sum of the elements of `a` (0 for an empty array). */
export function sum(a: Float64Array): f64 {
  let total = 0.0;
  for (let i = 0; i < a.length; i++) {
    total += a[i];
  }
  return total;
}
