import type { KvClient, Lattice } from '../../kvs/index.ts';
import type { CommitLedger, HostCache } from './cache.ts';
import type { AbsentKeys } from './absent-keys.ts';
import type { Flusher } from './flusher.ts';
import { Histogram } from 'prom-client';
import { counterFrom, gaugeFrom, type MetricsRegistry } from '../metrics.ts';

/** Where values from the tier go into the cache (the causal cut, `consistency/causal.ts`). */
export interface Admission {
  absorb(key: string, value: Lattice): Lattice | undefined;
  absorbAwait(key: string, value: Lattice, deadline: number): Promise<Lattice | undefined>;
}

/** Buckets of `cloudburst_push_lag_seconds`: a push is batched over a few ms; seconds mean a backlog. */
const PUSH_LAG_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * The main thread's read-through access to state: the cache in front of the KV tier.
 *
 * Reads are served from the cache; a miss reads the tier and keeps what it found (and, for a
 * guest's read, that it found nothing: `AbsentKeys`). Writes
 * merge into the cache with their outbox mark; `writeDurable` then waits until the tier
 * acknowledged them (what `PUT /v1/kv` and module deploys need).
 */
export class ReadThroughCache {
  readonly cache: HostCache;
  readonly kv: KvClient;
  readonly flusher: Flusher;
  /** Changes pushed by the tier, for metrics. */
  pushed = 0;
  /** How late pushes arrive (`cloudburst_push_lag_seconds`), once metrics are registered. */
  #pushLag: Histogram | undefined;
  /** Reads sent to the tier (misses, and reads that asked for a fresh value), for metrics. */
  fetched = 0;
  /**
   * Keys calls used (read or wrote, each once per call, as the worker reports them) and the
   * guests' reads among them the cache did not hold: what the dashboard's hit rate is made of
   * (`1 - misses / keys`), counted here so that it reads the same numbers as /metrics.
   */
  callKeys = 0;
  guestMisses = 0;
  /** Misses being fetched, so concurrent misses of one key make one request. */
  readonly #inflight = new Map<string, Promise<Lattice | undefined>>();

  readonly #onFetched: (key: string) => void;
  /** Hear of values the tier sent this host on its own (`onTierValue`). */
  readonly #tierListeners = new Set<(key: string, value: Lattice) => void>();
  /** Values from the tier are admitted through the causal cut. */
  readonly #admission: Admission;
  /** Keys the tier had no value for, lately. */
  readonly #absent: AbsentKeys | undefined;

  /**
   * `onFetched` hears of each key read from the tier and kept (found, or remembered absent):
   * the host subscribes to it. `absent` remembers what guests' reads found absent (none: every
   * miss asks the tier).
   */
  constructor(cache: HostCache, kv: KvClient, flusher: Flusher, admission: Admission, onFetched: (key: string) => void = () => undefined, absent?: AbsentKeys) {
    this.cache = cache;
    this.kv = kv;
    this.flusher = flusher;
    this.#admission = admission;
    this.#onFetched = onFetched;
    this.#absent = absent;
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
    return this.#fetch(key, false);
  }

  /**
   * A running guest's read miss (the bridge's `fetch`): as `fetch`, but a key the tier lately
   * had no value for is not asked again (`AbsentKeys`; the cache's value if a write or a push
   * brought one since, else undefined), and a key found absent is remembered and subscribed to.
   * Only guests' reads: a host's own records (modules, futures, DAGs) are read from the tier
   * whenever the cache has none, so that what another host just wrote is found at once.
   */
  fetchForGuest(key: string): Promise<Lattice | undefined> {
    this.guestMisses++;
    if (!this.#inflight.has(key) && this.#absent?.known(key)) return Promise.resolve(this.cache.get(key));
    return this.#fetch(key, true);
  }

  #fetch(key: string, rememberAbsent: boolean): Promise<Lattice | undefined> {
    let p = this.#inflight.get(key);
    if (!p) {
      this.fetched++;
      p = this.kv.get(key).then((remote) => {
        if (remote === undefined) {
          if (rememberAbsent && this.#absent !== undefined) {
            this.#absent.remember(key);
            this.#onFetched(key);
          }
          return this.cache.get(key);
        }
        this.#onFetched(key);
        // A causal version whose dependencies are not here yet waits for them (a second at most;
        // then the read goes on without it, and it is admitted in the background).
        return this.#admission.absorbAwait(key, remote, performance.now() + 1000);
      }).finally(() => this.#inflight.delete(key));
      this.#inflight.set(key, p);
    }
    return p;
  }

  /**
   * The merged value of every replica of `key` (a read-all, not one replica's answer), into
   * the cache. What decides that a key is absent from the tier, not just from one replica.
   */
  async fetchMerged(key: string): Promise<Lattice | undefined> {
    const remote = await this.kv.getFresh(key);
    if (remote === undefined) return this.cache.get(key);
    this.#onFetched(key);
    return this.#admission.absorbAwait(key, remote, performance.now() + 1000);
  }

  registerMetrics(registry: MetricsRegistry): void {
    counterFrom(registry, 'cloudburst_pushed_changes_total', 'Changes the KV tier pushed for subscribed keys.', () => this.pushed);
    this.#pushLag = new Histogram({
      name: 'cloudburst_push_lag_seconds',
      help: 'How late the KV tier\'s pushes of subscribed keys arrive: from the merge of the oldest change in a push (the KV node\'s clock) to its arrival here (this host\'s clock; across machines, their clock skew is in it).',
      buckets: PUSH_LAG_BUCKETS, registers: [registry],
    });
    counterFrom(registry, 'cloudburst_tier_reads_total', 'Reads of one key this host sent to the KV tier (cache misses, fresh reads, background reads such as a tenant\'s state ledger).', () => this.fetched);
    counterFrom(registry, 'cloudburst_call_keys_total', 'Keys function calls used (read or written), each counted once per call.', () => this.callKeys);
    counterFrom(registry, 'cloudburst_guest_read_misses_total', 'Guests\' reads of keys the cache did not hold (sent to the KV tier, or answered by the memory of absent keys).', () => this.guestMisses);
    const absent = this.#absent;
    if (absent === undefined) return;
    counterFrom(registry, 'cloudburst_absent_hits_total', 'Cache misses answered "no value" without the KV tier (the tier had none lately).', () => absent.hits);
    gaugeFrom(registry, 'cloudburst_absent_keys', 'Keys remembered as having no value in the KV tier.', () => absent.size);
  }

  /**
   * A push arrived whose oldest change was merged at `changedAt` (ms since the epoch, the KV
   * node's clock: KV_HEADERS.changedAt). A clock behind the node's counts as no lag.
   */
  observePushLag(changedAt: number): void {
    this.#pushLag?.observe(Math.max(0, Date.now() - changedAt) / 1000);
  }

  /** A change the KV tier pushed for a subscribed key. */
  absorbPushed(key: string, value: Lattice): void {
    this.pushed++;
    this.absorbFromTier(key, value);
  }

  /**
   * A value the tier sent without being asked for it by a read: a push, or the re-read of a
   * key just subscribed (a change between the read and the subscription is pushed to nobody).
   * Listeners hear of it after the cache has it.
   */
  absorbFromTier(key: string, value: Lattice): void {
    this.#absent?.forget([key]);
    this.#admission.absorb(key, value);
    for (const listener of this.#tierListeners) listener(key, value);
  }

  /**
   * Reads keys just subscribed once more (`Subscriptions`' `onSubscribed`): a write that
   * landed between the host's read and its subscription is pushed to nobody. Resolves with the
   * keys whose nodes could not be read (the subscriptions try them again).
   */
  async readAgain(keys: readonly string[]): Promise<readonly string[]> {
    const { values, unreadable } = await this.kv.getSome(keys);
    values.forEach((v, i) => v !== undefined && this.absorbFromTier(keys[i]!, v));
    return unreadable;
  }

  /**
   * Calls `listener` with every value `absorbFromTier` receives (what it was sent, not the
   * merged value), so that a waiter can be woken by the tier instead of polling it. Returns
   * the function that removes the listener.
   */
  onTierValue(listener: (key: string, value: Lattice) => void): () => void {
    this.#tierListeners.add(listener);
    return () => this.#tierListeners.delete(listener);
  }

  /**
   * Commits writes to the cache and outbox; the flusher sends them within its group-commit
   * window, or at once with `awaited` (others wait for them in the tier, e.g. a future's
   * outcome polled from other hosts) without this call waiting for the tier.
   */
  write(writes: ReadonlyMap<string, Lattice>, opts: { awaited?: boolean } = {}): Map<string, Lattice> {
    const merged = this.cache.commit(writes);
    if (opts.awaited) this.flusher.flushNow();
    else this.flusher.kick();
    return merged;
  }

  /**
   * Merges a value straight into the KV tier (acknowledged by its write quorum), not through
   * the outbox, then keeps the tier's merged value in the cache as a read would. For a record
   * that must be in the tier before anybody hears of it but need not survive this host's
   * crash by itself (no fsync of the cache on the way): a future's pending record.
   */
  async mergeToTier(key: string, value: Lattice): Promise<Lattice | undefined> {
    const merged = await this.kv.merge(key, value);
    return this.#admission.absorb(key, merged);
  }

  /**
   * Commits writes (settled with `ledger`, see HostCache.commit), then waits until the KV tier
   * acknowledged every one of them.
   */
  async writeDurable(writes: ReadonlyMap<string, Lattice>, ledger?: CommitLedger): Promise<Map<string, Lattice>> {
    const merged = this.cache.commit(writes, ledger);
    await this.flusher.flushKeys([...writes.keys()]);
    return merged;
  }
}
