// A shared counter. Many calls, on many hosts, may run `incr` at the same time.
//
// Storing the count as a plain value (read it, add, `put` it back) would lose increments:
// two calls read 5, both write 6. A counter lattice instead remembers each writer's share and
// merges them, so every increment counts no matter how calls interleave or where they run.

import { counter } from "cloudburst";

/** Adds `by` to the counter named `key` and returns the new total. */
export function incr(key: string, by: i64): i64 {
  return counter.add(key, by);
}

/** Returns the current total of the counter named `key` (0 if nobody counted yet). */
export function get(key: string): i64 {
  return counter.get(key);
}
