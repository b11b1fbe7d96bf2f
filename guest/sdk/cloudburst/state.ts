// Last-writer-wins state: plain values under string keys. A key's lattice type is fixed by
// its first write, so `get` on a counter key (or `put` on a set key) fails the call.

import * as host from "./imports";
import { keyAt, keyBytes, takeBytes, takeMembers, takeString, utf8 } from "./memory";

/**
 * Reads the value of `key`, or null when it is absent or deleted.
 *
 * ```ts
 * const avatar = get("user:42:avatar");
 * if (avatar !== null) process(avatar);
 * ```
 */
export function get(key: string): Uint8Array | null {
  const kl = keyBytes(key);
  return takeBytes(host.get(keyAt, kl));
}

/**
 * Reads the value of `key` as a UTF-8 string, or null when it is absent or deleted.
 *
 * ```ts
 * const name = getString("user:42:name") || "anonymous";
 * ```
 */
export function getString(key: string): string | null {
  const kl = keyBytes(key);
  return takeString(host.get(keyAt, kl));
}

/**
 * Reads every concurrent version of `key`: in a causal request, writes made on different
 * hosts without seeing each other are all kept, and `get` returns one of them (the latest
 * stamp, the same on every host). The first element is what `get` returns; empty when the
 * key is absent or deleted.
 *
 * ```ts
 * const drafts = getAll("doc:7"); // merge them, then put the result: it supersedes all of them
 * ```
 */
export function getAll(key: string): Uint8Array[] {
  const kl = keyBytes(key);
  return takeMembers(host.get_all(keyAt, kl));
}

/** `getAll`, each version decoded as UTF-8. */
export function getAllStrings(key: string): string[] {
  const all = getAll(key);
  const out = new Array<string>(all.length);
  for (let i = 0; i < all.length; i++) out[i] = String.UTF8.decodeUnsafe(all[i].dataStart, <usize>all[i].length);
  return out;
}

/**
 * Writes `value` under `key` (last writer wins). Returns as soon as the host's cache has it;
 * the host flushes it to the KV tier in the background.
 *
 * ```ts
 * put("thumb:1", pixels);
 * ```
 */
export function put(key: string, value: Uint8Array): void {
  const kl = keyBytes(key);
  host.put(keyAt, kl, value.dataStart, value.byteLength);
}

/**
 * Writes `value` under `key` as UTF-8 (last writer wins).
 *
 * ```ts
 * putString("user:42:name", "Ada");
 * ```
 */
export function putString(key: string, value: string): void {
  const v = utf8(value);
  const kl = keyBytes(key);
  host.put(keyAt, kl, changetype<usize>(v), v.byteLength);
}

/**
 * Writes `value` under `key` and returns only once the KV tier acknowledged it, so the write
 * survives the loss of this host. Slower than `put`: use it for writes others must not lose.
 *
 * ```ts
 * putDurable("order:7", receipt);
 * ```
 */
export function putDurable(key: string, value: Uint8Array): void {
  const kl = keyBytes(key);
  host.put_durable(keyAt, kl, value.dataStart, value.byteLength);
}

/**
 * Deletes `key`: later reads return null until someone writes it again.
 *
 * ```ts
 * del("session:abc");
 * ```
 */
export function del(key: string): void {
  const kl = keyBytes(key);
  host.del(keyAt, kl);
}
