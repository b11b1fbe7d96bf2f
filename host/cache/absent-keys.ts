/**
 * Keys the KV tier said it has no value for, remembered so that the next read of one does not
 * ask the tier again (negative caching).
 *
 * Without it, a function that reads a key nobody wrote yet (a counter's first call, an optional
 * setting, a "seen" marker) paid a round trip to the KV tier on every call: the cache holds
 * values, not absences. The host subscribes to a key it remembers as absent, as to one it
 * caches, so a first write anywhere is pushed here and lands in the cache, which every read
 * consults first: an entry here only ever answers a read the cache could not. An entry lasts
 * `ttlMs` (a bound on how stale an absence can be should a push be lost: one read of the tier
 * per key per `ttlMs` at most), and goes when the key leaves the cache (an eviction: the tier
 * may hold its value), when the tier sends a value, or when the set is full (oldest first;
 * `onForgotten` then ends the subscriptions).
 */
/** Keys a host remembers as absent, at most (a few MiB with their subscriptions). */
export const ABSENT_KEYS_MAX = 10_000;

export interface AbsentKeysOptions {
  /** Keys remembered at most. */
  maxKeys: number;
  /** How long an absence is believed (ms). */
  ttlMs: number;
  /** Keys dropped (for room, or past `ttlMs`): no longer needed on the tier's push list (unless cached). */
  onForgotten?: (keys: string[]) => void;
  /** The clock (ms); tests give their own. */
  now?: () => number;
}

export class AbsentKeys {
  /** Key -> when the tier said it has none, oldest first (a Map keeps insertion order). */
  readonly #since = new Map<string, number>();
  readonly #maxKeys: number;
  readonly #ttlMs: number;
  readonly #onForgotten: (keys: string[]) => void;
  readonly #now: () => number;
  /** Reads answered here, without the tier. */
  hits = 0;

  constructor(opts: AbsentKeysOptions) {
    this.#maxKeys = opts.maxKeys;
    this.#ttlMs = opts.ttlMs;
    this.#onForgotten = opts.onForgotten ?? (() => undefined);
    this.#now = opts.now ?? (() => performance.now());
  }

  get size(): number {
    return this.#since.size;
  }

  /** Whether the tier said lately that it has no value for `key` (counts a hit when so). */
  known(key: string): boolean {
    const since = this.#since.get(key);
    if (since === undefined) return false;
    if (this.#now() - since >= this.#ttlMs) {
      this.#since.delete(key);
      this.#onForgotten([key]);
      return false;
    }
    this.hits++;
    return true;
  }

  /** The tier has no value for `key` (as of now). */
  remember(key: string): void {
    this.#since.delete(key);
    this.#since.set(key, this.#now());
    if (this.#since.size <= this.#maxKeys) return;
    const dropped: string[] = [];
    for (const k of this.#since.keys()) {
      if (this.#since.size <= this.#maxKeys) break;
      this.#since.delete(k);
      dropped.push(k);
    }
    this.#onForgotten(dropped);
  }

  /**
   * `keys` may have values now (the tier sent one, or they left the cache). Their
   * subscriptions are the caller's to end, if it wants them ended.
   */
  forget(keys: Iterable<string>): void {
    for (const k of keys) this.#since.delete(k);
  }
}
