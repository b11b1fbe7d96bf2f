import { counterFrom, gaugeFrom, type MetricsRegistry } from '../metrics.ts';

/** What the KV tier offers for cache freshness (KvClient implements it). */
export interface SubscriptionTier {
  /**
   * Resolves with the keys that reached none of their replicas (the others are subscribed);
   * `onCovered` hears of subscribed keys as their nodes answer.
   */
  subscribeSome(subscriber: string, keys: readonly string[], ttlMs: number, onCovered?: (keys: string[]) => void): Promise<string[]>;
}

export interface SubscriptionOptions {
  /** Lease of a subscription on the KV nodes; renewed every third of it. Default 30 s. */
  ttlMs?: number;
  /** New keys are subscribed in batches gathered over this long. Default 20 ms. */
  batchMs?: number;
  /** Keys per subscribe request. */
  chunk?: number;
  /**
   * Called with keys just subscribed (not renewals). A write that landed between the host's
   * read and its subscription is pushed to nobody: the host reads these keys once more.
   * Resolves with the keys it could not read (their nodes are down): they are tried again.
   */
  onSubscribed?: (keys: string[]) => Promise<readonly string[]>;
}

/**
 * Keeps the host subscribed to the keys it caches, so the KV tier pushes every merged change
 * of them to `POST /v1/internal/kv/push` (the cache-freshness protocol: docs/architecture.md, "The KV tier").
 *
 * Subscriptions are leases: a host that dies stops renewing and the tier forgets it. A key
 * is added when the host reads it from the tier (a miss: found, or for a guest's read found
 * absent, `AbsentKeys`) or flushes a write of it.
 */
export class Subscriptions {
  readonly #tier: SubscriptionTier;
  readonly #subscriber: () => string;
  readonly #ttlMs: number;
  readonly #batchMs: number;
  readonly #chunk: number;
  readonly #onSubscribed: ((keys: string[]) => Promise<readonly string[]>) | undefined;
  readonly #keys = new Set<string>();
  readonly #pending = new Set<string>();
  /**
   * Keys whose last subscribe failed: pushes may have been missed (the lease may have run
   * out), so once subscribed again they are read once more, like new ones.
   */
  readonly #lapsed = new Set<string>();
  #batchTimer: NodeJS.Timeout | undefined;
  #renewTimer: NodeJS.Timeout | undefined;
  #retryTimer: NodeJS.Timeout | undefined;
  #retryMs = 0;
  #closed = false;
  failures = 0;

  constructor(tier: SubscriptionTier, subscriber: () => string, opts: SubscriptionOptions = {}) {
    this.#tier = tier;
    this.#subscriber = subscriber;
    this.#ttlMs = opts.ttlMs ?? 30_000;
    this.#batchMs = opts.batchMs ?? 20;
    this.#chunk = opts.chunk ?? 1000;
    this.#onSubscribed = opts.onSubscribed;
  }

  get size(): number {
    return this.#keys.size;
  }

  /** What this host is subscribed to on the tier, and the subscribes that failed. */
  registerMetrics(registry: MetricsRegistry): void {
    gaugeFrom(registry, 'cloudburst_subscribed_keys', 'Keys this host subscribes to on the KV tier (cached, or remembered absent).', () => this.size);
    gaugeFrom(registry, 'cloudburst_subscriptions_lapsed', 'Keys whose last subscribe failed (retried with backoff; pushes may have been missed).', () => this.lapsed);
    counterFrom(registry, 'cloudburst_subscription_failures_total', 'Subscribe requests that failed for some keys.', () => this.failures);
  }

  start(): void {
    this.#renewTimer = setInterval(() => void this.#send([...this.#keys]), Math.max(1000, this.#ttlMs / 3));
    this.#renewTimer.unref();
  }

  /** Subscribes to these keys (soon, batched) unless already subscribed. */
  add(keys: Iterable<string>): void {
    if (this.#closed) return;
    for (const k of keys) {
      if (!this.#keys.has(k)) this.#pending.add(k);
    }
    if (this.#pending.size > 0 && !this.#batchTimer) {
      this.#batchTimer = setTimeout(() => {
        this.#batchTimer = undefined;
        const keys = [...this.#pending];
        this.#pending.clear();
        for (const k of keys) this.#keys.add(k);
        void this.#send(keys, true);
      }, this.#batchMs);
      this.#batchTimer.unref();
    }
  }

  /**
   * Subscribes `keys`, part by part. Keys whose nodes do not answer lapse: they stay
   * subscribed-to-be (reads of them are cache hits and would never ask again), are retried
   * soon with backoff, and are read once more when that succeeds, since their pushes may have
   * been missed. Each key is on its own: a node that is down or hung delays only its keys; the
   * keys of a node that answers are read again (if new or lapsed) as soon as it answers.
   */
  async #send(keys: string[], fresh = false): Promise<void> {
    for (let i = 0; i < keys.length && !this.#closed; i += this.#chunk) {
      const part = keys.slice(i, i + this.#chunk);
      const covered = new Set<string>();
      const rereads: Promise<void>[] = [];
      const onCovered = (ks: string[]): void => {
        const reread = ks.filter((k) => fresh || this.#lapsed.has(k));
        for (const k of ks) {
          covered.add(k);
          this.#lapsed.delete(k);
        }
        if (reread.length > 0) rereads.push(this.#reread(reread));
      };
      const missed = await this.#tier.subscribeSome(this.#subscriber(), part, this.#ttlMs, onCovered)
        .catch(() => part.filter((k) => !covered.has(k)));
      if (missed.length > 0) {
        this.failures++;
        this.#lapse(missed);
      }
      await Promise.all(rereads);
    }
  }

  /** Reads keys again after (re)subscribing them; those that could not be read lapse. */
  async #reread(keys: string[]): Promise<void> {
    const unread = await (this.#onSubscribed?.(keys) ?? Promise.resolve([])).catch(() => keys);
    if (unread.length > 0) this.#lapse(unread);
  }

  #lapse(keys: Iterable<string>): void {
    for (const k of keys) if (this.#keys.has(k)) this.#lapsed.add(k);
    this.#retrySoon();
  }

  #retrySoon(): void {
    if (this.#retryTimer || this.#closed) return;
    this.#retryMs = Math.min(Math.max(this.#retryMs * 2, 250), Math.max(1000, this.#ttlMs / 3));
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      const keys = [...this.#lapsed];
      void this.#send(keys).then(() => {
        if (this.#lapsed.size === 0) this.#retryMs = 0;
      });
    }, this.#retryMs);
    this.#retryTimer.unref();
  }

  /** Forgets keys that left the cache (their leases simply run out on the tier). */
  remove(keys: readonly string[]): void {
    for (const k of keys) {
      this.#keys.delete(k);
      this.#pending.delete(k);
      this.#lapsed.delete(k);
    }
  }

  /** Keys whose subscription failed and is being retried. */
  get lapsed(): number {
    return this.#lapsed.size;
  }

  /** Subscribes every key again now (the ring moved: the keys may have new replicas). */
  renew(): void {
    void this.#send([...this.#keys]);
  }

  close(): void {
    this.#closed = true;
    if (this.#batchTimer) clearTimeout(this.#batchTimer);
    if (this.#renewTimer) clearInterval(this.#renewTimer);
    if (this.#retryTimer) clearTimeout(this.#retryTimer);
  }
}
