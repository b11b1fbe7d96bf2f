/**
 * The cache's size budget: an LRU index of cached keys with their sizes, kept by the main
 * thread. It learns of keys from the main thread's own reads and writes, from the keys each
 * call touched (reported by the worker), and from the flusher; it is rebuilt by a scan at
 * start. Eviction removes the least recently used clean keys until the cache is back under
 * 90% of its budget. Dirty keys (in the outbox) are never evicted: the HostCache checks
 * that inside the evicting transaction.
 *
 * @example
 * const lru = new LruIndex(64 * 1024 * 1024);
 * lru.touch('default/k/a', 1030);
 * const victims = lru.over() ? lru.candidates() : [];
 */
/** What a cached key costs in LMDB beyond its key and value bytes (page and node headers). */
export const ENTRY_OVERHEAD = 64;

export class LruIndex {
  readonly maxBytes: number;
  /**
   * Keys the cache may hold, whatever their sizes: each costs the main thread's heap a few
   * hundred bytes (this index, the subscription to its changes; in the embedded mode also the
   * KV node's subscription), which a byte budget of tiny values would not bound.
   */
  readonly maxKeys: number;
  /** Insertion order is recency: a touched key is moved to the end. */
  readonly #sizes = new Map<string, number>();
  #bytes = 0;
  evicted = 0;

  constructor(maxBytes: number, maxKeys = Number.POSITIVE_INFINITY) {
    this.maxBytes = maxBytes;
    this.maxKeys = maxKeys;
  }

  get bytes(): number {
    return this.#bytes;
  }

  get count(): number {
    return this.#sizes.size;
  }

  /** Marks a key as just used; `size` (key + value bytes) when known, else the last known. */
  touch(key: string, size?: number): void {
    const old = this.#sizes.get(key);
    if (old !== undefined) this.#sizes.delete(key);
    const next = size === undefined ? old : size + ENTRY_OVERHEAD;
    if (next === undefined) return;
    this.#sizes.set(key, next);
    this.#bytes += next - (old ?? 0);
  }

  has(key: string): boolean {
    return this.#sizes.has(key);
  }

  remove(key: string): void {
    const old = this.#sizes.get(key);
    if (old === undefined) return;
    this.#sizes.delete(key);
    this.#bytes -= old;
  }

  over(): boolean {
    return this.#bytes > this.maxBytes || this.#sizes.size > this.maxKeys;
  }

  /** Least recently used keys whose removal brings the cache under 90% of its budget (bytes and keys). */
  candidates(): string[] {
    const bytes = this.#bytes - this.maxBytes * 0.9;
    const keys = this.#sizes.size - Math.floor(this.maxKeys * 0.9);
    const out: string[] = [];
    let freed = 0;
    for (const [key, size] of this.#sizes) {
      if (freed >= bytes && out.length >= keys) break;
      out.push(key);
      freed += size;
    }
    return out;
  }
}
