/**
 * A small LRU of values read from the KV tier, each used for at most `maxAgeMs` after the read
 * that fetched it BEGAN (not ended): whatever the tier acknowledged before that read began is
 * in it, so a change acknowledged at time t is seen by every lookup that starts after
 * t + maxAgeMs, on every host, without relying on pushes (which may be late or lost).
 * Concurrent lookups of one key share one read.
 *
 * When a read fails (the tier cannot be reached), the value of the last read that succeeded is
 * used if that read began at most `maxStaleMs` ago: a host cut off from the tier goes on serving
 * what it can from its cache instead of refusing every request, and no change can be
 * acknowledged by replicas it cannot reach without it learning of it once it reaches them. A
 * read that neither succeeds nor fails within `patienceMs` (a replica stopped, not gone: the
 * client waits out its own deadline, seconds) is treated the same way meanwhile: the lookup gets
 * the last value, and the read goes on; once it ends, the lookups after it see what it read.
 *
 * @example
 * const cache = new FreshCache<TokenRecord | undefined>({ maxEntries: 10_000, maxAgeMs: 1000, maxStaleMs: 60_000 });
 * const record = await cache.get(hash, () => store.token(hash));
 */
interface Entry<T> {
  startedAt: number;
  value: Promise<T>;
  /** The last read that succeeded, for when a later one fails. */
  last?: { startedAt: number; value: T };
}

export class FreshCache<T> {
  readonly #maxEntries: number;
  readonly #maxAgeMs: number;
  readonly #maxStaleMs: number;
  readonly #patienceMs: number | undefined;
  readonly #now: () => number;
  /** Insertion order is recency. */
  readonly #entries = new Map<string, Entry<T>>();

  constructor(opts: { maxEntries: number; maxAgeMs: number; maxStaleMs: number; patienceMs?: number; now?: () => number }) {
    this.#maxEntries = opts.maxEntries;
    this.#maxAgeMs = opts.maxAgeMs;
    this.#maxStaleMs = opts.maxStaleMs;
    this.#patienceMs = opts.patienceMs;
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
    const last = hit?.last;
    const entry: Entry<T> = {
      startedAt: now,
      value: read().then(
        (value) => {
          entry.last = { startedAt: now, value };
          return value;
        },
        (err: unknown) => {
          const failedAt = this.#now();
          const usable = last !== undefined && failedAt - last.startedAt <= this.#maxStaleMs;
          if (this.#entries.get(key) === entry) {
            this.#entries.delete(key);
            // The last good value, for lookups in the next maxAgeMs, so they do not each wait for a tier that is not answering.
            if (usable) this.#entries.set(key, { startedAt: failedAt, value: Promise.resolve(last.value), last });
          }
          if (usable) return last.value;
          throw err;
        },
      ),
      ...(last === undefined ? {} : { last }),
    };
    if (last !== undefined && this.#patienceMs !== undefined) entry.value = this.#patient(entry.value, last);
    entry.value.catch(() => undefined);
    this.#entries.set(key, entry);
    while (this.#entries.size > this.#maxEntries) this.#entries.delete(this.#entries.keys().next().value!);
    return entry.value;
  }

  /** `reading`, or `last`'s value if `reading` has not ended within patienceMs and `last` is recent enough. */
  #patient(reading: Promise<T>, last: { startedAt: number; value: T }): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        if (this.#now() - last.startedAt <= this.#maxStaleMs) resolve(last.value);
      }, this.#patienceMs);
      timer.unref();
      reading.then(
        (v) => { clearTimeout(timer); resolve(v); },
        (err: unknown) => { clearTimeout(timer); reject(err); },
      );
    });
  }

  /**
   * The value `get` would answer now without reading, if it is at hand: the key's read began
   * less than `maxAgeMs` ago and succeeded. Undefined otherwise (no entry, a read still under
   * way, a fallback to an older read, an entry too old): the caller then goes through `get`.
   * Does not count as a use for the LRU order.
   */
  fresh(key: string): T | undefined {
    const hit = this.#entries.get(key);
    if (hit === undefined || hit.last === undefined || hit.last.startedAt !== hit.startedAt) return undefined;
    return this.#now() - hit.startedAt < this.#maxAgeMs ? hit.last.value : undefined;
  }

  /** The value of the last read of `key` that succeeded, however old (what `get` falls back on), without reading. */
  peek(key: string): T | undefined {
    return this.#entries.get(key)?.last?.value;
  }

  /** Forgets a key (this host just changed it: its next lookup reads the tier). */
  forget(key: string): void {
    this.#entries.delete(key);
  }
}
