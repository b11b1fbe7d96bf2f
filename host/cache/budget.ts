import { counterFrom, gaugeFrom, type MetricsRegistry } from '../metrics.ts';
import type { HostCache } from './cache.ts';
import { LruIndex } from './lru.ts';

export interface CacheBudgetOptions {
  maxBytes: number;
  /** Keys the cache may hold (see LruIndex.maxKeys). Default: no limit. */
  maxKeys?: number;
  /** How often the budget is checked. Default 100 ms. */
  intervalMs?: number;
  /** Keys that left the cache (their subscriptions can go). */
  onEvicted?: (keys: string[]) => void;
  /**
   * Keys never evicted: ones whose cached value is the only copy of this host's own part
   * (a tenant's state-bytes ledger: this host's entry must not restart from 0). Default: none.
   */
  keep?: (key: string) => boolean;
  /**
   * Called when a round could not evict some keys it chose because they are dirty (not yet in
   * the KV tier): the host flushes at once rather than at the end of the group-commit window,
   * so that the next round can evict them. Default: nothing.
   */
  onDirty?: () => void;
}

/**
 * Keeps the cache within its size budget: an LRU index rebuilt from the cache at start, fed
 * by every write the main thread makes and by the keys calls and the flusher report, and an
 * eviction loop that removes the least recently used clean keys once the cache is over budget.
 * A dirty key is skipped (HostCache.evict checks it in the evicting transaction) and moved to
 * the back, so the next round looks at others first.
 */
export class CacheBudget {
  readonly #cache: HostCache;
  readonly #lru: LruIndex;
  readonly #onEvicted: (keys: string[]) => void;
  readonly #keep: (key: string) => boolean;
  readonly #onDirty: () => void;
  readonly #timer: NodeJS.Timeout;

  constructor(cache: HostCache, opts: CacheBudgetOptions) {
    this.#cache = cache;
    this.#lru = new LruIndex(opts.maxBytes, opts.maxKeys);
    this.#onEvicted = opts.onEvicted ?? (() => undefined);
    this.#keep = opts.keep ?? (() => false);
    this.#onDirty = opts.onDirty ?? (() => undefined);
    for (const [key, size] of cache.sizes()) this.#lru.touch(key, size);
    cache.onStored = (key, size) => this.#lru.touch(key, size);
    this.#timer = setInterval(() => this.evict(), opts.intervalMs ?? 100);
    this.#timer.unref();
  }

  get bytes(): number {
    return this.#lru.bytes;
  }

  get maxBytes(): number {
    return this.#lru.maxBytes;
  }

  get keys(): number {
    return this.#lru.count;
  }

  get evicted(): number {
    return this.#lru.evicted;
  }

  /** The cache's size against its budget, and what eviction removed. */
  registerMetrics(registry: MetricsRegistry): void {
    gaugeFrom(registry, 'cloudburst_cache_keys', 'Keys in the cache.', () => this.#cache.keyCount());
    gaugeFrom(registry, 'cloudburst_cache_bytes', 'Bytes of the cached keys and values, as the budget counts them.', () => this.bytes);
    gaugeFrom(registry, 'cloudburst_cache_max_bytes', 'The cache\'s size budget in bytes (cacheMiB).', () => this.maxBytes);
    gaugeFrom(registry, 'cloudburst_cache_indexed_keys', 'Keys in the budget\'s LRU index (bounded by cacheKeys).', () => this.keys);
    counterFrom(registry, 'cloudburst_cache_evicted_total', 'Clean keys evicted to stay within the budget.', () => this.evicted);
  }

  /** Marks keys as just used (read or written by a call, flushed). */
  touch(keys: readonly string[]): void {
    // A worker's commit is in another thread's transaction: the main thread's read snapshot may
    // predate it, and a new key would be sized 0 (the budget then undercounts the cache).
    if (keys.some((k) => !this.#lru.has(k))) this.#cache.refresh();
    for (const k of keys) this.#lru.touch(k, this.#lru.has(k) ? undefined : (this.#cache.getFast(k)?.length ?? 0) + k.length);
  }

  /** One eviction round, if the cache is over budget. */
  evict(): void {
    if (!this.#lru.over()) return;
    const candidates = this.#lru.candidates();
    const evictable = candidates.filter((k) => !this.#keep(k));
    const removed = new Set(this.#cache.evict(evictable));
    for (const k of candidates) {
      if (removed.has(k)) this.#lru.remove(k);
      else this.#lru.touch(k);
    }
    this.#lru.evicted += removed.size;
    if (removed.size > 0) this.#onEvicted([...removed]);
    // What was chosen and kept is dirty: its flush should not wait for the window.
    if (removed.size < evictable.length) this.#onDirty();
  }

  close(): void {
    clearInterval(this.#timer);
    this.#cache.onStored = undefined;
  }
}
