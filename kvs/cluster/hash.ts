/**
 * Fast non-cryptographic hashes for placement and digests. MurmurHash3 (x86, 32-bit) is
 * well mixed, tiny and runs at a few ns per byte in V8 with Math.imul; the ring and the
 * anti-entropy buckets only need good spread, not resistance to an adversary (a key's
 * position only decides which nodes store it).
 */
import { Buffer } from 'node:buffer';
import { createHash } from 'node:crypto';

/**
 * MurmurHash3 x86_32 of `bytes` with `seed`, as an unsigned 32-bit integer.
 *
 * @example
 * murmur3(new TextEncoder().encode('hello'), 0) // 0x248bfa47
 */
export function murmur3(bytes: Uint8Array, seed = 0): number {
  let h = seed >>> 0;
  const n = bytes.length;
  const blocks = n & ~3;
  for (let i = 0; i < blocks; i += 4) {
    let k = bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24);
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  let k = 0;
  switch (n & 3) {
    case 3:
      k ^= bytes[blocks + 2]! << 16;
    // falls through
    case 2:
      k ^= bytes[blocks + 1]! << 8;
    // falls through
    case 1:
      k ^= bytes[blocks]!;
      k = Math.imul(k, 0xcc9e2d51);
      k = (k << 15) | (k >>> 17);
      k = Math.imul(k, 0x1b873593);
      h ^= k;
  }
  h ^= n;
  return fmix32(h);
}

/**
 * The murmur3 finalizer: a bijective mix of a 32-bit integer.
 *
 * @example
 * fmix32(1) !== fmix32(2)
 */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * A key's position on the ring: murmur3 of its UTF-8 bytes.
 *
 * @example
 * keyToken('default/k/a') // a u32
 */
export function keyToken(key: string): number {
  return murmur3(Buffer.from(key, 'utf8'), 0);
}

/** Above this size the native digest beats a JS loop. */
const NATIVE_HASH_BYTES = 4096;

/**
 * A 64-bit fingerprint of an encoded value, as two u32 (anti-entropy compares them, so
 * a 32-bit collision alone cannot hide a difference).
 *
 * @example
 * const [a, b] = valueHash(bytes);
 */
export function valueHash(bytes: Uint8Array): [number, number] {
  if (bytes.byteLength > NATIVE_HASH_BYTES) {
    const d = createHash('sha1').update(bytes).digest();
    return [d.readUInt32LE(0), d.readUInt32LE(4)];
  }
  return [murmur3(bytes, 0x9747b28c), murmur3(bytes, 0x5bd1e995)];
}
