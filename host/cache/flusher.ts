import { CloudburstError } from '../../common/index.ts';
import { type KvClient } from '../../kvs/index.ts';
import { counterFrom, gaugeFrom, type MetricsRegistry } from '../metrics.ts';
import type { HostCache, OutboxBatch, Refusal } from './cache.ts';
import { FlushPolicy } from './flush-policy.ts';

/** Bytes of values one merge request carries at most (a larger value goes alone). */
const MAX_REQUEST_BYTES = 8 * 1024 * 1024;
/** 2 MB/s: the slack a request's deadline gets for the bytes it carries (a loaded machine moves 64 MiB slowly). */
const BYTES_PER_MS = 2_000;

export interface FlusherOptions {
  /** Keys per batch sent to the KV tier. */
  batchSize?: number;
  /** Sweep period: dirty keys are also flushed this often, whatever kicked them. */
  intervalMs?: number;
  /**
   * How long a kick waits before flushing while writes are rare. Under sustained writes the
   * wait grows with the commit rate up to `maxDelayMs`, so that the writes of many calls
   * travel (and are fsynced) together (flush-policy.ts). Durable writes do not wait. Default 2 ms.
   */
  delayMs?: number;
  /** The longest a kick waits, under sustained writes (at least `delayMs`). Default 20 ms. */
  maxDelayMs?: number | undefined;
  /** Called for writes the KV tier refused for good (e.g. a type conflict with another host). */
  onRejected?: (key: string, err: CloudburstError) => void;
  /** Called with the keys the tier acknowledged. */
  onFlushed?: (keys: readonly string[]) => void;
  /**
   * This host's subscriber URL, sent with each batch: the tier does not push a value back to
   * the host that flushed exactly it (absorbing it would cost a request and a cache read).
   */
  origin?: () => string;
}

/**
 * Sends the outbox to the KV tier.
 *
 * A commit kicks the flusher, which batches every dirty key it finds into one merge request
 * after a window that grows with the commit rate (2 ms while writes are rare, up to
 * `maxDelayMs` under sustained writes: flush-policy.ts), so that many calls' writes travel
 * and are fsynced together. Whoever waits for the tier does not wait for the window:
 * `flushKeys` (durable puts, `PUT /v1/kv`) and `flushAll` (drain) send at once, `flushNow`
 * cuts the window short. On acknowledgement it deletes exactly the outbox records it took
 * (a later commit of the same keys has its own record and stays). If the tier is down, the marks stay and the sweep retries with backoff; the
 * outbox is in LMDB, so a restarted host resumes flushing where the dead one stopped.
 */
export class Flusher {
  readonly #cache: HostCache;
  readonly #kv: KvClient;
  readonly #batchSize: number;
  readonly #intervalMs: number;
  readonly #policy: FlushPolicy;
  readonly #onRejected: (key: string, err: CloudburstError) => void;
  readonly #onFlushed: ((keys: readonly string[]) => void) | undefined;
  readonly #origin: (() => string) | undefined;
  #timer: NodeJS.Timeout | undefined;
  /** The pending delayed flush, if one is scheduled. */
  #scheduled: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #again = false;
  #backoffMs = 0;
  #closed = false;
  flushed = 0;
  rejected = 0;
  failures = 0;

  constructor(cache: HostCache, kv: KvClient, opts: FlusherOptions = {}) {
    this.#cache = cache;
    this.#kv = kv;
    this.#batchSize = opts.batchSize ?? 512;
    this.#intervalMs = opts.intervalMs ?? 1000;
    this.#policy = new FlushPolicy({ minMs: opts.delayMs, maxMs: opts.maxDelayMs });
    this.#onFlushed = opts.onFlushed;
    this.#origin = opts.origin;
    this.#onRejected = opts.onRejected ?? ((key, err) => console.error(`outbox: the KV tier refused ${key}: ${err.code} ${err.message}; the refused value is kept (GET /v1/outbox/rejected)`));
  }

  /** The outbox's metrics: what waits, what went out, what the tier refused. */
  registerMetrics(registry: MetricsRegistry): void {
    gaugeFrom(registry, 'cloudburst_outbox_keys', 'Keys with writes in the outbox, not yet acknowledged by the KV tier.', () => this.#cache.outboxSize());
    gaugeFrom(registry, 'cloudburst_outbox_commits', 'Commits in the outbox (one record each, naming the keys it wrote), not yet acknowledged by the KV tier.', () => this.#cache.outboxCommits());
    gaugeFrom(registry, 'cloudburst_outbox_rejected_keys', 'Refused writes kept for inspection (GET /v1/outbox/rejected).', () => this.#cache.rejectedCount());
    counterFrom(registry, 'cloudburst_outbox_flushed_total', 'Keys of outbox records the KV tier acknowledged (a key counts once per record that named it).', () => this.flushed);
    counterFrom(registry, 'cloudburst_outbox_rejected_total', 'Outbox writes the KV tier refused for good (one per refusal recorded).', () => this.rejected);
    counterFrom(registry, 'cloudburst_outbox_flush_failures_total', 'Flush requests that failed (the writes stay in the outbox and are retried).', () => this.failures);
  }

  start(): void {
    this.#timer = setInterval(() => this.#schedule(), this.#intervalMs);
    this.#timer.unref();
    this.#schedule();
  }

  /** The current group-commit window, in ms (what a kick now would wait). */
  get delayMs(): number {
    return this.#policy.delayMs();
  }

  /**
   * Reports one commit: schedules a flush after the policy's delay, coalescing every kick
   * until then (the commit is durable in LMDB already; the delay only defers its visibility).
   */
  kick(): void {
    this.#policy.commit();
    this.#schedule();
  }

  /**
   * Flushes the whole outbox now instead of at the end of the window: for writes somebody
   * waits for (a future's outcome other hosts poll, dirty keys eviction cannot remove).
   */
  flushNow(): void {
    if (this.#closed) return;
    if (this.#scheduled) clearTimeout(this.#scheduled);
    this.#scheduled = undefined;
    void this.flushAll().catch(() => undefined);
  }

  #schedule(): void {
    if (this.#scheduled || this.#closed) return;
    this.#scheduled = setTimeout(() => {
      this.#scheduled = undefined;
      void this.flushAll().catch(() => undefined);
    }, this.#policy.delayMs());
    this.#scheduled.unref();
  }

  /** Flushes until the outbox is empty (or the tier fails). */
  flushAll(): Promise<void> {
    if (this.#running) {
      // A flush is under way: make it go round once more, for what was committed since.
      this.#again = true;
      return this.#running;
    }
    const run = this.#drain();
    this.#running = run;
    const clear = (): void => {
      if (this.#running === run) this.#running = undefined;
    };
    run.then(clear, clear);
    return run;
  }

  async #drain(): Promise<void> {
    // Start on a later tick, so that #running is set before any of this runs.
    await Promise.resolve();
    try {
      do {
        this.#again = false;
        for (;;) {
          const batch = this.#cache.dirty(this.#batchSize);
          if (batch.records.length === 0) break;
          await this.#send(batch);
          if (batch.keys.length < this.#batchSize) break;
        }
      } while (this.#again && !this.#closed);
      this.#backoffMs = 0;
    } catch (err) {
      this.failures++;
      this.#backoffMs = Math.min(Math.max(this.#backoffMs * 2, 50), 5000);
      if (!this.#closed) setTimeout(() => this.#schedule(), this.#backoffMs).unref();
      throw err;
    }
  }

  /**
   * Sends the current value of these keys now and resolves when the tier acknowledged them
   * (the durable put). Sends even keys another flush has in flight: resending is idempotent.
   */
  async flushKeys(keys: readonly string[]): Promise<void> {
    // A key that no record names any more was acknowledged already. The records that name
    // these keys go whole (their other keys too), so that they can be deleted.
    const batch = this.#cache.dirtyEntries(keys);
    if (batch.records.length > 0) await this.#send(batch);
  }

  async #send(batch: OutboxBatch): Promise<void> {
    if (this.#cache.fsync === 'batch') await this.#cache.sync();
    // Requests of at most MAX_REQUEST_BYTES of values (a larger value goes alone), so that a
    // few large values do not make one request the tier cannot take in time.
    const done = new Set<string>();
    const refused: Refusal[] = [];
    let retry: CloudburstError | undefined;
    let entries: { key: string; bytes: Uint8Array }[] = [];
    let bytes = 0;
    const merge = async (): Promise<void> => {
      try {
        await this.#merge(entries, bytes, done, refused);
      } catch (err) {
        retry = err as CloudburstError;
      }
      entries = [];
      bytes = 0;
    };
    for (const key of batch.keys) {
      const raw = this.#cache.getEncoded(key);
      if (raw === undefined) {
        // Only a refusal recorded meanwhile (by a concurrent flush) takes a dirty key's
        // value: nothing is left to send, and the record of it is the refusal's.
        done.add(key);
        continue;
      }
      if (entries.length > 0 && bytes + raw.byteLength > MAX_REQUEST_BYTES) {
        await merge();
        if (retry) break; // the tier is failing: what was acknowledged so far is settled below
      }
      entries.push({ key, bytes: raw });
      bytes += raw.byteLength;
    }
    if (entries.length > 0 && !retry) await merge();
    // The records whose keys were all acknowledged (or refused) go, in one transaction with the refusals.
    const settled = this.#cache.settle(batch, done, refused);
    this.flushed += settled.cleared;
    this.rejected += settled.rejected;
    if (done.size > 0) this.#onFlushed?.([...done]);
    if (retry) throw retry;
  }

  /** One merge request: adds what the tier acknowledged to `done`, what it refused for good to `refused`; throws what should be retried. */
  async #merge(entries: { key: string; bytes: Uint8Array }[], bytes: number, done: Set<string>, refused: Refusal[]): Promise<void> {
    // Time to move the bytes on a loaded machine, on top of the client's usual deadline.
    const results = await this.#kv.mergeBatch(entries, { extraMs: Math.ceil(bytes / BYTES_PER_MS), origin: this.#origin?.() });
    let retry: CloudburstError | undefined;
    results.forEach((err, i) => {
      const { key } = entries[i]!;
      if (err === null) {
        done.add(key);
      } else if (err.userFault) {
        // A value the tier will never take (a type conflict between hosts; the host refuses
        // what is over the tier's limits before acknowledging it): retrying forever would
        // wedge the outbox. The key leaves the cache with a durable record of the refusal.
        refused.push({ key, code: err.code, message: err.message });
        this.#onRejected(key, err);
      } else {
        retry = err;
      }
    });
    if (retry) throw retry;
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer) clearInterval(this.#timer);
    if (this.#scheduled) clearTimeout(this.#scheduled);
    this.#scheduled = undefined;
    await this.#running?.catch(() => undefined);
  }
}
