// Guest used by `npm run bench` to measure state operations from inside a function.
import { get, getString, put, putString, now } from "cloudburst";

/** Reads `key` n times from the cache; returns the elapsed milliseconds (host clock). */
export function getLoop(key: string, n: i32): f64 {
  const start = now();
  let bytes = 0;
  for (let i = 0; i < n; i++) {
    const v = get(key);
    if (v !== null) bytes += v.length;
  }
  const elapsed = now() - start;
  return bytes > 0 ? elapsed : -1;
}

/** Writes n values of `size` bytes to keys prefix0..prefix{n-1}; the host commits them when the call returns. */
export function putLoop(prefix: string, n: i32, size: i32): i32 {
  const value = new Uint8Array(size);
  for (let i = 0; i < n; i++) put(prefix + i.toString(), value);
  return n;
}

/** Reads prefix0..prefix{n-1} once each (distinct keys: every read goes to LMDB); returns elapsed ms. */
export function getDistinct(prefix: string, n: i32): f64 {
  const keys = new Array<string>(n);
  for (let i = 0; i < n; i++) keys[i] = prefix + i.toString();
  const start = now();
  let bytes = 0;
  for (let i = 0; i < n; i++) {
    const v = get(keys[i]);
    if (v !== null) bytes += v.length;
  }
  const elapsed = now() - start;
  return bytes == n * 1024 ? elapsed : -1;
}

/** Parses a decimal value written by `seed3`/`rmw` (0 when the key is absent). */
function num(key: string): i64 {
  const s = getString(key);
  return s === null ? 0 : I64.parseInt(s);
}

/** Writes 1, 2 and 3 to prefix+"a", "b", "c": the inputs of `rmw`. */
export function seed3(prefix: string): i32 {
  putString(prefix + "a", "1");
  putString(prefix + "b", "2");
  putString(prefix + "c", "3");
  return 3;
}

/**
 * A small read-modify-write (issue 14): reads prefix+"a", "b", "c", writes their sum plus
 * `by` to prefix+"out" and returns it. Its baseline is the same function over Redis
 * (tools/bench/hotpath-fn.mjs, POST /rmw).
 */
export function rmw(prefix: string, by: i64): i64 {
  const total = num(prefix + "a") + num(prefix + "b") + num(prefix + "c") + by;
  putString(prefix + "out", total.toString());
  return total;
}
