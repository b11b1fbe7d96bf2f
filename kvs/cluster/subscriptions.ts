/**
 * Cache subscriptions (docs/architecture.md, "The KV tier"): a host leases interest in keys; every merged
 * change of a subscribed key is pushed to `POST {subscriber}/v1/internal/kv/push` as a merge
 * frame, batched per subscriber over a few ms. This replaces the original's 10-15 s polling
 * with a push within milliseconds of the merge.
 *
 * Subscriptions are soft state (memory only): a lease the host renews, so a restarted node
 * or a node that newly replicates a key learns it at the next renewal. A subscriber whose
 * pushes keep failing loses its subscriptions on this node and must subscribe again.
 */
import { CloudburstError } from '../../common/index.ts';
import { checkKey, encodeFrame, KV_CONTENT_TYPES, KV_HEADERS, KV_LIMITS, SUBSCRIBER_PUSH_PATH, type FrameEntry } from '../protocol.ts';
import type { LatticeStore } from '../store.ts';
import type { Transport } from '../transport.ts';
import { KeyBatcher } from './batcher.ts';

/** Bounds of a subscription request. */
export const SUBSCRIPTION_LIMITS = {
  minTtlMs: 1000,
  maxTtlMs: 3_600_000,
  defaultTtlMs: 30_000,
  urlLength: 2048,
  /** Failed pushes in a row before the subscriber is dropped. */
  attempts: 4,
} as const;

/**
 * A validated `POST /kv/v1/subscriptions` body.
 *
 * @example
 * parseSubscription({ subscriber: 'http://127.0.0.1:7070', keys: ['a'], ttlMs: 30000 })
 */
export interface SubscriptionRequest {
  readonly subscriber: string;
  readonly keys: readonly string[];
  readonly ttlMs: number;
  readonly unsubscribe: boolean;
}

function bad(message: string): CloudburstError {
  return new CloudburstError('INVALID_REQUEST', message);
}

/**
 * Validates a subscription body; the subscriber's trailing slash is dropped.
 *
 * @throws CloudburstError `INVALID_REQUEST`, `INVALID_KEY`
 */
export function parseSubscription(body: unknown): SubscriptionRequest {
  const b = body as { subscriber?: unknown; keys?: unknown; ttlMs?: unknown; unsubscribe?: unknown } | null;
  if (typeof b !== 'object' || b === null) throw bad('expected {"subscriber": url, "keys": [...], "ttlMs": n}');
  const { subscriber, keys, ttlMs, unsubscribe } = b;
  if (typeof subscriber !== 'string' || subscriber.length > SUBSCRIPTION_LIMITS.urlLength || !/^https?:\/\/[^/\s]+(\/\S*)?$/.test(subscriber)) {
    throw bad('"subscriber" must be an http(s) URL such as http://127.0.0.1:7070');
  }
  if (!Array.isArray(keys)) throw bad('"keys" must be an array of keys');
  if (keys.length > KV_LIMITS.maxBatchEntries) throw bad(`at most ${KV_LIMITS.maxBatchEntries} keys per request`);
  keys.forEach((k: unknown, i) => {
    try {
      checkKey(k);
    } catch (err) {
      throw new CloudburstError('INVALID_KEY', `keys[${i}]: ${(err as Error).message}`, { index: i });
    }
  });
  if (unsubscribe !== undefined && typeof unsubscribe !== 'boolean') throw bad('"unsubscribe" must be a boolean');
  const ttl = ttlMs ?? SUBSCRIPTION_LIMITS.defaultTtlMs;
  if (!Number.isInteger(ttl) || (ttl as number) < SUBSCRIPTION_LIMITS.minTtlMs || (ttl as number) > SUBSCRIPTION_LIMITS.maxTtlMs) {
    throw bad(`"ttlMs" must be an integer in ${SUBSCRIPTION_LIMITS.minTtlMs}..${SUBSCRIPTION_LIMITS.maxTtlMs}`);
  }
  return { subscriber: subscriber.replace(/\/+$/, ''), keys: keys as string[], ttlMs: ttl as number, unsubscribe: unsubscribe === true };
}

/**
 * Options of `Subscriptions`.
 *
 * @example
 * new Subscriptions({ store, transport, nodeId, pushDelayMs: 5, clock: Date.now, log })
 */
export interface SubscriptionsOptions {
  readonly store: LatticeStore;
  readonly transport: Transport;
  readonly nodeId: string;
  readonly pushDelayMs: number;
  readonly clock: () => number;
  readonly log: (message: string, err: unknown) => void;
  /** The ring version for the push header. */
  readonly ringVersion: () => string;
}

/**
 * @example
 * const subs = new Subscriptions(opts);
 * subs.apply(parseSubscription(json));
 */
export class Subscriptions {
  readonly #opts: SubscriptionsOptions;
  /** key -> subscriber -> lease end. */
  readonly #byKey = new Map<string, Map<string, number>>();
  readonly #bySubscriber = new Map<string, Set<string>>();
  readonly #batcher: KeyBatcher;
  /** Per subscriber, when (ms since the epoch) the oldest change not yet in a push was merged (KV_HEADERS.changedAt). */
  readonly #oldestChange = new Map<string, number>();
  readonly #off: () => void;
  /**
   * key -> subscriber -> the bytes that subscriber is merging now (`fromSubscriber`): a
   * change committed with exactly those bytes is not pushed back to it, it has them.
   */
  readonly #sending = new Map<string, Map<string, Uint8Array>>();
  pushed = 0;
  dropped = 0;
  /** Pushes left out because the subscriber itself wrote exactly the committed value. */
  echoesSkipped = 0;

  constructor(opts: SubscriptionsOptions) {
    this.#opts = opts;
    this.#batcher = new KeyBatcher({
      delayMs: opts.pushDelayMs,
      maxBatch: 1000,
      send: (subscriber, keys) => this.#push(subscriber, keys),
      onFailure: (subscriber, _keys, err, attempt) => {
        if (attempt < SUBSCRIPTION_LIMITS.attempts) return { retryInMs: 50 * 4 ** (attempt - 1) };
        opts.log(`kv: dropping subscriber ${subscriber} after ${attempt} failed pushes`, err);
        this.drop(subscriber);
        return 'drop';
      },
    });
    // Any change, whatever its origin (client, replica push, anti-entropy), reaches caches.
    this.#off = opts.store.onCommit((key, bytes) => {
      if (bytes !== undefined) this.#changed(key, bytes);
    });
  }

  /** Subscriptions held (key, subscriber pairs). */
  get size(): number {
    let n = 0;
    for (const subs of this.#byKey.values()) n += subs.size;
    return n;
  }

  /** Applies a validated request; returns how many keys it touched. */
  apply(req: SubscriptionRequest): number {
    if (req.unsubscribe) {
      const mine = this.#bySubscriber.get(req.subscriber);
      for (const key of req.keys) {
        this.#byKey.get(key)?.delete(req.subscriber);
        if (this.#byKey.get(key)?.size === 0) this.#byKey.delete(key);
        mine?.delete(key);
      }
      if (mine?.size === 0) this.#bySubscriber.delete(req.subscriber);
      return req.keys.length;
    }
    const until = this.#opts.clock() + req.ttlMs;
    let mine = this.#bySubscriber.get(req.subscriber);
    if (!mine) this.#bySubscriber.set(req.subscriber, (mine = new Set()));
    for (const key of req.keys) {
      let subs = this.#byKey.get(key);
      if (!subs) this.#byKey.set(key, (subs = new Map()));
      subs.set(req.subscriber, until);
      mine.add(key);
    }
    return req.keys.length;
  }

  /** Forgets every subscription of `subscriber` on this node. */
  drop(subscriber: string): void {
    this.#oldestChange.delete(subscriber);
    for (const key of this.#bySubscriber.get(subscriber) ?? []) {
      const subs = this.#byKey.get(key);
      subs?.delete(subscriber);
      if (subs?.size === 0) this.#byKey.delete(key);
    }
    this.#bySubscriber.delete(subscriber);
    this.#batcher.discard(subscriber);
    this.dropped++;
    // Only when no other subscriber shares the origin (a host with a path prefix).
    const origin = new URL(subscriber).origin;
    if (![...this.#bySubscriber.keys()].some((s) => new URL(s).origin === origin)) void this.#opts.transport.forget(origin);
  }

  /** Removes expired leases (the node calls it now and then). */
  sweep(): void {
    const now = this.#opts.clock();
    for (const [key, subs] of this.#byKey) {
      for (const [subscriber, until] of subs) {
        if (until > now) continue;
        subs.delete(subscriber);
        this.#bySubscriber.get(subscriber)?.delete(key);
        if (this.#bySubscriber.get(subscriber)?.size === 0) this.#bySubscriber.delete(subscriber);
      }
      if (subs.size === 0) this.#byKey.delete(key);
    }
  }

  /** Resolves once every queued push was sent (or given up). */
  idle(): Promise<void> {
    return this.#batcher.idle();
  }

  close(): void {
    this.#off();
    this.#batcher.close();
  }

  /**
   * Marks `entries` as being merged by `subscriber` (a host flushing its cache: the header
   * KV_HEADERS.origin); call the returned function once their merge is committed. A commit
   * whose value is byte-for-byte what the subscriber sent is not pushed back to it: the value
   * is in its cache already (it flushes only what it committed), and absorbing it would cost
   * it a request. Any other change (another writer's, or a merge that changed the value) is
   * pushed as usual, and a later change is pushed whatever the subscriber sent before.
   */
  fromSubscriber(subscriber: string, entries: readonly FrameEntry[]): () => void {
    const origin = subscriber.replace(/\/+$/, '');
    const marked: [string, Uint8Array][] = [];
    for (const { key, value } of entries) {
      if (value === undefined || !this.#byKey.get(key)?.has(origin)) continue;
      let bySub = this.#sending.get(key);
      if (!bySub) this.#sending.set(key, (bySub = new Map()));
      bySub.set(origin, value);
      marked.push([key, value]);
    }
    return () => {
      for (const [key, value] of marked) {
        const bySub = this.#sending.get(key);
        // A later batch of the same key may have replaced this mark: that one is its own.
        if (bySub?.get(origin) !== value) continue;
        bySub.delete(origin);
        if (bySub.size === 0) this.#sending.delete(key);
      }
    };
  }

  #changed(key: string, bytes: Uint8Array): void {
    const subs = this.#byKey.get(key);
    if (!subs) return;
    const now = this.#opts.clock();
    const sending = this.#sending.get(key);
    for (const [subscriber, until] of subs) {
      if (until <= now) continue;
      const sent = sending?.get(subscriber);
      if (sent !== undefined && Buffer.compare(sent, bytes) === 0) {
        this.echoesSkipped++;
        continue;
      }
      if (!this.#oldestChange.has(subscriber)) this.#oldestChange.set(subscriber, Date.now());
      this.#batcher.enqueue(subscriber, key);
    }
  }

  async #push(subscriber: string, keys: string[]): Promise<void> {
    const changedAt = this.#oldestChange.get(subscriber);
    this.#oldestChange.delete(subscriber);
    const entries: FrameEntry[] = [];
    for (const key of keys) {
      const value = this.#opts.store.getEncoded(key);
      if (value) entries.push({ key, value });
    }
    if (entries.length === 0) return;
    const url = new URL(subscriber);
    const reply = await this.#opts.transport.request(url.origin, {
      method: 'POST',
      path: url.pathname.replace(/\/$/, '') + SUBSCRIBER_PUSH_PATH,
      body: encodeFrame(entries),
      contentType: KV_CONTENT_TYPES.frame,
      headers: {
        [KV_HEADERS.node]: this.#opts.nodeId, [KV_HEADERS.ringVersion]: this.#opts.ringVersion(),
        ...(changedAt === undefined ? {} : { [KV_HEADERS.changedAt]: String(changedAt) }),
      },
      timeoutMs: 2000,
    });
    if (reply.status < 200 || reply.status >= 300) {
      throw new CloudburstError('KV_UNAVAILABLE', `the subscriber ${subscriber} answered ${reply.status} to a push`);
    }
    this.pushed += entries.length;
  }
}
