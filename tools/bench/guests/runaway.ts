// Guests that take as much as they can, for the memory benchmark (tools/bench/memory.ts).

import { put } from "cloudburst";

/** Allocates 1 MiB buffers, keeping them all, until memory cannot grow any more. */
export function hoard(): i32 {
  const kept = new Array<ArrayBuffer>();
  while (true) kept.push(new ArrayBuffer(1 << 20));
  return kept.length;
}

/** Writes `n` keys `{prefix}{i}` of `size` bytes each. */
export function many(prefix: string, n: i32, size: i32): i32 {
  const value = new Uint8Array(size);
  for (let i = 0; i < n; i++) put(prefix + i.toString(), value);
  return n;
}

/** Writes one value of `size` bytes. */
export function big(key: string, size: i32): i32 {
  put(key, new Uint8Array(size));
  return size;
}

/** x * x: an ordinary call after the others. */
export function square(x: i64): i64 {
  return x * x;
}
