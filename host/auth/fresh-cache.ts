/**
 * A small LRU of values read from the KV tier, each used for at most `maxAgeMs` after the read
 * that fetched it BEGAN (not ended): whatever the tier acknowledged before that read began is
 * in it, so a change acknowledged at time t is seen by every lookup that starts after
 * t + maxAgeMs, on every host, without relying on pushes (which may be late or lost).
 * Concurrent lookups of one key share one read; a failed read is not kept.
 *
 * @example
 * const cache = new FreshCache<TokenRecord | undefined>({ maxEntries: 10_000, maxAgeMs: 1000 });
 * const record = await cache.get(hash, () => store.token(hash));
 */
export class FreshCache<T> {
  readonly #maxEntries: number;
  readonly #maxAgeMs: number;
  readonly #now: () => number;
  /** Insertion order is recency. */
  readonly #entries = new Map<string, { startedAt: number; value: Promise<T> }>();

  constructor(opts: { maxEntries: number; maxAgeMs: number; now?: () => number }) {
    this.#maxEntries = opts.maxEntries;
    this.#maxAgeMs = opts.maxAgeMs;
    this.#now = opts.now ?? Date.now;
  }

  get size(): number {
    return this.#entries.size;
  }

  get(key: string, read: () => Promise<T>): Promise<T> {
    const now = this.#now();
    const hit = this.#entries.get(key);
    this.#entries.delete(key);
    if (hit !== undefined && now - hit.startedAt < this.#maxAgeMs) {
      this.#entries.set(key, hit);
      return hit.value;
    }
    const entry = { startedAt: now, value: read() };
    this.#entries.set(key, entry);
    entry.value.catch(() => {
      if (this.#entries.get(key) === entry) this.#entries.delete(key);
    });
    while (this.#entries.size > this.#maxEntries) this.#entries.delete(this.#entries.keys().next().value!);
    return entry.value;
  }

  /** Forgets a key (this host just changed it: its next lookup reads the tier). */
  forget(key: string): void {
    this.#entries.delete(key);
  }
}
