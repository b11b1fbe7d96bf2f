/**
 * The anti-entropy index: for every stored key, its ring token, a second key hash and a
 * 64-bit fingerprint of its encoded value, kept in memory and updated on every commit, and
 * per-peer digests maintained incrementally from it (an anti-entropy round never scans LMDB,
 * and only walks the map to list the keys of buckets that differ).
 *
 * A digest between this node and a peer covers the keys both replicate under the same
 * placement ring, in DIGEST_BUCKETS buckets: each bucket is the XOR of a mix of (key,
 * value fingerprint) over its keys, as two u32. Equal buckets mean equal contents (with
 * probability 1 - 2^-64 per bucket); the peers then exchange only the differing buckets.
 */
import { fmix32, keyToken, murmur3, valueHash } from './hash.ts';
import type { Ring } from './ring.ts';
import type { LatticeStore } from '../store.ts';
import { Buffer } from 'node:buffer';

/**
 * Buckets per digest: 256 x 8 bytes = 2 KiB per exchange; with n keys shared, a single
 * differing key costs a transfer of about n/256 keys.
 */
export const DIGEST_BUCKETS = 256;

interface Entry {
  readonly token: number;
  readonly k2: number;
  v1: number;
  v2: number;
}

/**
 * @example
 * const index = new DigestIndex(store);
 * const mine = index.digest('kv-1', 'kv-2', view.placement);
 */
export class DigestIndex {
  readonly #entries = new Map<string, Entry>();
  readonly #store: LatticeStore;
  // Built on first use: a node alone never pays for hashing its writes.
  #built = false;
  // Digests against every peer under one ring, kept up to date on each commit (XOR out the
  // key's old contribution, XOR in the new), so an anti-entropy round costs O(1) when the
  // ring holds still; rebuilt in one pass when the ring object changes.
  #cache: { ring: Ring; self: string; digests: Map<string, Uint32Array> } | undefined;

  constructor(store: LatticeStore) {
    this.#store = store;
    store.onCommit((key, bytes) => {
      if (this.#built) this.update(key, bytes);
    });
  }

  get size(): number {
    return this.#index().size;
  }

  #index(): Map<string, Entry> {
    if (!this.#built) {
      this.#built = true;
      for (const [key, bytes] of this.#store.scan()) this.update(key, bytes);
    }
    return this.#entries;
  }

  /** Records `key`'s new encoding (`undefined`: the key was dropped). */
  update(key: string, bytes: Uint8Array | undefined): void {
    const cur = this.#entries.get(key);
    if (cur) this.#apply(cur); // XOR the old contribution out
    if (bytes === undefined) {
      this.#entries.delete(key);
      return;
    }
    const [v1, v2] = valueHash(bytes);
    if (cur) {
      cur.v1 = v1;
      cur.v2 = v2;
      this.#apply(cur);
      return;
    }
    const e: Entry = { token: keyToken(key), k2: murmur3(Buffer.from(key, 'utf8'), 0x2545f491), v1, v2 };
    this.#entries.set(key, e);
    this.#apply(e);
  }

  /** The key's ring token, when the key is stored here. */
  token(key: string): number | undefined {
    return this.#index().get(key)?.token;
  }

  /** Every stored key with its token (a snapshot: safe across awaits). */
  keys(): [string, number][] {
    return [...this.#index()].map(([k, e]) => [k, e.token]);
  }

  /** The digest of the keys `self` and `peer` both replicate under `ring` (a copy). */
  digest(self: string, peer: string, ring: Ring): Uint32Array {
    this.#index();
    if (!this.#cache || this.#cache.ring !== ring || this.#cache.self !== self) this.#rebuild(self, ring);
    return (this.#cache!.digests.get(peer) ?? new Uint32Array(DIGEST_BUCKETS * 2)).slice();
  }

  /** The keys shared with `peer` that fall in `buckets`. */
  keysIn(self: string, peer: string, ring: Ring, buckets: ReadonlySet<number>): string[] {
    const out: string[] = [];
    for (const [key, e] of this.#index()) {
      if (buckets.has(bucketOf(e)) && shared(ring, e.token, self, peer)) out.push(key);
    }
    return out;
  }

  /** How many shared keys fall in each bucket (to size repair requests). */
  bucketSizes(self: string, peer: string, ring: Ring): Uint32Array {
    const out = new Uint32Array(DIGEST_BUCKETS);
    for (const e of this.#index().values()) if (shared(ring, e.token, self, peer)) out[bucketOf(e)]!++;
    return out;
  }

  #rebuild(self: string, ring: Ring): void {
    this.#cache = { ring, self, digests: new Map() };
    for (const e of this.#entries.values()) this.#apply(e);
  }

  // XORs `e`'s contribution into the digest of every peer it is shared with.
  #apply(e: Entry): void {
    const cache = this.#cache;
    if (!cache) return;
    const replicas = cache.ring.replicasForToken(e.token);
    if (!replicas.some((m) => m.id === cache.self)) return;
    const b = 2 * bucketOf(e);
    const c1 = fmix32(e.token ^ e.v1);
    const c2 = fmix32(e.k2 ^ e.v2 ^ 0x9e3779b9);
    for (const m of replicas) {
      if (m.id === cache.self) continue;
      let d = cache.digests.get(m.id);
      if (!d) cache.digests.set(m.id, (d = new Uint32Array(DIGEST_BUCKETS * 2)));
      d[b] = d[b]! ^ c1;
      d[b + 1] = d[b + 1]! ^ c2;
    }
  }
}

function bucketOf(e: Entry): number {
  return e.k2 >>> 24;
}

function shared(ring: Ring, token: number, a: string, b: string): boolean {
  let seen = 0;
  for (const m of ring.replicasForToken(token)) if (m.id === a || m.id === b) seen++;
  return seen === 2;
}

/**
 * The buckets where two digests differ.
 *
 * @example
 * differingBuckets(mine, theirs) // [3, 17]
 */
export function differingBuckets(a: Uint32Array, b: Uint32Array): number[] {
  const out: number[] = [];
  for (let i = 0; i < DIGEST_BUCKETS; i++) {
    if (a[2 * i] !== b[2 * i] || a[2 * i + 1] !== b[2 * i + 1]) out.push(i);
  }
  return out;
}

/** A digest as base64 of its little-endian bytes (JSON-friendly, 2.7 KiB). */
export function digestToWire(d: Uint32Array): string {
  const bytes = Buffer.alloc(d.length * 4);
  for (let i = 0; i < d.length; i++) bytes.writeUInt32LE(d[i]!, i * 4);
  return bytes.toString('base64');
}

/** Parses `digestToWire`; undefined when malformed. */
export function digestFromWire(s: unknown): Uint32Array | undefined {
  if (typeof s !== 'string') return undefined;
  const bytes = Buffer.from(s, 'base64');
  if (bytes.byteLength !== DIGEST_BUCKETS * 8) return undefined;
  const out = new Uint32Array(DIGEST_BUCKETS * 2);
  for (let i = 0; i < out.length; i++) out[i] = bytes.readUInt32LE(i * 4);
  return out;
}
