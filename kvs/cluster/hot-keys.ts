/**
 * Hot keys (the paper's selective replication): each node counts the reads it serves per key
 * over a window; a key read more than `factor` times the mean (over the keys read in that
 * window) and at least `minReads` times is hot. The node announces its hot keys in its
 * membership entry, so every node and client learns them by gossip and the ring: a hot key
 * is then readable from HOT_EXTRA_REPLICAS more nodes (its home replicas push it there), and
 * clients spread its reads over all of them. A key that is no longer hot anywhere goes back
 * to its N replicas (the extras shed it).
 */

/**
 * Options of `HotKeys`.
 *
 * @example
 * const opts: HotKeyOptions = { windowMs: 10_000, factor: 10, minReads: 100 };
 */
export interface HotKeyOptions {
  /** Counting window (default 10 s). */
  readonly windowMs: number;
  /** How far above the mean a key must be (default 10x). */
  readonly factor: number;
  /** And at least this many reads in the window (default 100). */
  readonly minReads: number;
}

export const DEFAULT_HOT_KEYS: HotKeyOptions = { windowMs: 10_000, factor: 10, minReads: 100 };

/** At most this many hot keys per node (they travel in every gossip message). */
const MAX_HOT = 16;
/** Distinct keys counted per window; beyond it only the total grows (bounded memory). */
const MAX_TRACKED = 100_000;

/**
 * @example
 * const hot = new HotKeys(DEFAULT_HOT_KEYS, (keys) => gossip.announceHot(keys));
 * hot.record(key); // on every read served
 * hot.roll();      // every windowMs
 */
export class HotKeys {
  readonly #opts: HotKeyOptions;
  readonly #announce: (keys: readonly string[]) => void;
  #counts = new Map<string, number>();
  #total = 0;
  #current: readonly string[] = [];

  /** `announced`: what this node announced before a restart (saved with the membership). */
  constructor(opts: HotKeyOptions, announce: (keys: readonly string[]) => void, announced: readonly string[] = []) {
    this.#opts = opts;
    this.#announce = announce;
    this.#current = [...announced].sort();
  }

  /** The keys this node announced hot. */
  get current(): readonly string[] {
    return this.#current;
  }

  /** Counts one read of `key`. */
  record(key: string): void {
    this.#total++;
    const n = this.#counts.get(key);
    if (n !== undefined) this.#counts.set(key, n + 1);
    else if (this.#counts.size < MAX_TRACKED) this.#counts.set(key, 1);
  }

  /** Ends the window: computes the hot set, announces it if it changed, starts counting afresh. */
  roll(): readonly string[] {
    const mean = this.#counts.size === 0 ? 0 : this.#total / this.#counts.size;
    const hot = [...this.#counts]
      .filter(([, n]) => n >= this.#opts.minReads && n > this.#opts.factor * mean)
      .sort((a, b) => b[1] - a[1])
      .slice(0, MAX_HOT)
      .map(([k]) => k)
      .sort();
    this.#counts = new Map();
    this.#total = 0;
    if (hot.length !== this.#current.length || hot.some((k, i) => k !== this.#current[i])) {
      this.#current = hot;
      this.#announce(hot);
    }
    return hot;
  }
}
