import type { KvClient, Lattice } from '../kvs/index.ts';
import type { HostCache } from './cache/cache.ts';
import type { Flusher } from './cache/flusher.ts';

/** Where values from the tier go into the cache (the causal cut, `consistency/causal.ts`). */
export interface Admission {
  absorb(key: string, value: Lattice): Lattice | undefined;
  absorbAwait(key: string, value: Lattice, deadline: number): Promise<Lattice | undefined>;
}

/**
 * The main thread's view of state: the cache in front of the KV tier.
 *
 * Reads are served from the cache; a miss reads the tier and keeps what it found. Writes
 * merge into the cache with their outbox mark; `writeDurable` then waits until the tier
 * acknowledged them (what `PUT /v1/kv` and module deploys need).
 */
export class HostState {
  readonly cache: HostCache;
  readonly kv: KvClient;
  readonly flusher: Flusher;
  /** Changes pushed by the tier, for metrics. */
  pushed = 0;
  /** Misses being fetched, so concurrent misses of one key make one request. */
  readonly #inflight = new Map<string, Promise<Lattice | undefined>>();

  readonly #onFetched: (key: string) => void;
  /** Values from the tier are admitted through the causal cut. */
  readonly #admission: Admission;

  constructor(cache: HostCache, kv: KvClient, flusher: Flusher, admission: Admission, onFetched: (key: string) => void = () => undefined) {
    this.cache = cache;
    this.kv = kv;
    this.flusher = flusher;
    this.#admission = admission;
    this.#onFetched = onFetched;
  }

  async read(key: string, opts: { fresh?: boolean } = {}): Promise<Lattice | undefined> {
    if (!opts.fresh) {
      // Workers commit from other threads; a read on the main thread must see those commits.
      this.cache.refresh();
      const hit = this.cache.get(key);
      if (hit !== undefined) return hit;
    }
    return this.fetch(key);
  }

  /** Reads the key from the KV tier into the cache; resolves with the merged value. */
  fetch(key: string): Promise<Lattice | undefined> {
    let p = this.#inflight.get(key);
    if (!p) {
      p = this.kv.get(key).then((remote) => {
        if (remote === undefined) return this.cache.get(key);
        this.#onFetched(key);
        // A causal version whose dependencies are not here yet waits for them (a second at most;
        // then the read goes on without it, and it is admitted in the background).
        return this.#admission.absorbAwait(key, remote, performance.now() + 1000);
      }).finally(() => this.#inflight.delete(key));
      this.#inflight.set(key, p);
    }
    return p;
  }

  /** A change the KV tier pushed for a subscribed key. */
  absorbPushed(key: string, value: Lattice): void {
    this.pushed++;
    this.#admission.absorb(key, value);
  }

  /** Commits writes to the cache and outbox; the flusher sends them soon. */
  write(writes: ReadonlyMap<string, Lattice>): Map<string, Lattice> {
    const merged = this.cache.commit(writes);
    this.flusher.kick();
    return merged;
  }

  /** Commits writes, then waits until the KV tier acknowledged every one of them. */
  async writeDurable(writes: ReadonlyMap<string, Lattice>): Promise<Map<string, Lattice>> {
    const merged = this.cache.commit(writes);
    await this.flusher.flushKeys([...writes.keys()]);
    return merged;
  }
}
