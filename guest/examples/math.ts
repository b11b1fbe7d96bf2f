// The smallest Cloudburst functions: pure computations, no state.
//
// Every exported function becomes a function the host can call. `cloudburst build` records
// its parameter and result types in the module, so the host can turn the JSON arguments of
// a call into an i64 and the i64 result back into JSON.
//
//   cloudburst build guest/examples/math.ts

/** Returns x + 1. */
export function increment(x: i64): i64 {
  return x + 1;
}

/** Returns x * x (wrapping around on overflow, like any i64 arithmetic). */
export function square(x: i64): i64 {
  return x * x;
}
