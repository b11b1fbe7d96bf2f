import { CloudburstError } from '../../common/index.ts';
import { type KvClient } from '../../kvs/index.ts';
import { counterFrom, gaugeFrom, type MetricsRegistry } from '../metrics.ts';
import type { HostCache, OutboxEntry } from './cache.ts';
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
 * cuts the window short. On acknowledgement it clears each mark whose token
 * is unchanged. If the tier is down, the marks stay and the sweep retries with backoff; the
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
    gaugeFrom(registry, 'cloudburst_outbox_keys', 'Writes in the outbox, not yet acknowledged by the KV tier.', () => this.#cache.outboxSize());
    gaugeFrom(registry, 'cloudburst_outbox_rejected_keys', 'Refused writes kept for inspection (GET /v1/outbox/rejected).', () => this.#cache.rejectedCount());
    counterFrom(registry, 'cloudburst_outbox_flushed_total', 'Outbox writes the KV tier acknowledged.', () => this.flushed);
    counterFrom(registry, 'cloudburst_outbox_rejected_total', 'Outbox writes the KV tier refused for good.', () => this.rejected);
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
          if (batch.length === 0) break;
          await this.#send(batch);
          if (batch.length < this.#batchSize) break;
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
    // A key that is no longer dirty was acknowledged already.
    const entries = this.#cache.dirtyEntries(keys);
    if (entries.length > 0) await this.#send(entries);
  }

  async #send(batch: OutboxEntry[]): Promise<void> {
    if (this.#cache.fsync === 'batch') await this.#cache.sync();
    // Requests of at most MAX_REQUEST_BYTES of values (a larger value goes alone), so that a
    // few large values do not make one request the tier cannot take in time.
    let entries: { key: string; bytes: Uint8Array }[] = [];
    let sent: OutboxEntry[] = [];
    let bytes = 0;
    for (const e of batch) {
      const raw = this.#cache.getEncoded(e.key);
      if (raw === undefined) continue; // cannot happen: a value is never evicted while dirty
      if (entries.length > 0 && bytes + raw.byteLength > MAX_REQUEST_BYTES) {
        await this.#merge(entries, sent, bytes);
        entries = [];
        sent = [];
        bytes = 0;
      }
      entries.push({ key: e.key, bytes: raw });
      sent.push(e);
      bytes += raw.byteLength;
    }
    if (entries.length > 0) await this.#merge(entries, sent, bytes);
  }

  async #merge(entries: { key: string; bytes: Uint8Array }[], sent: OutboxEntry[], bytes: number): Promise<void> {
    // Time to move the bytes on a loaded machine, on top of the client's usual deadline.
    const results = await this.#kv.mergeBatch(entries, { extraMs: Math.ceil(bytes / BYTES_PER_MS), origin: this.#origin?.() });
    const done: OutboxEntry[] = [];
    const refused: { entry: OutboxEntry; code: string; message: string }[] = [];
    let retry: CloudburstError | undefined;
    results.forEach((err, i) => {
      const e = sent[i]!;
      if (err === null) {
        done.push(e);
      } else if (err.userFault) {
        // A value the tier will never take (a type conflict between hosts; the host refuses
        // what is over the tier's limits before acknowledging it): retrying forever would
        // wedge the outbox. The key leaves the cache with a durable record of the refusal.
        refused.push({ entry: e, code: err.code, message: err.message });
        this.#onRejected(e.key, err);
      } else {
        retry = err;
      }
    });
    this.flushed += this.#cache.clean(done);
    this.#onFlushed?.(done.map((e) => e.key));
    if (refused.length > 0) this.rejected += this.#cache.reject(refused);
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
