// Guest used by `npm run bench` to measure state operations from inside a function.
import { get, put, now } from "cloudburst";

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
