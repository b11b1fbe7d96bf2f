import { CloudburstError, decode, type KvClient, type Lattice } from '../../kvs/index.ts';
import type { HostCache, OutboxEntry } from './cache.ts';

export interface FlusherOptions {
  /** Keys per batch sent to the KV tier. */
  batchSize?: number;
  /** Sweep period: dirty keys are also flushed this often, whatever kicked them. */
  intervalMs?: number;
  /**
   * How long a kick waits before flushing, so that the writes of many calls travel (and are
   * fsynced) together. Durable writes do not wait. Default 2 ms.
   */
  delayMs?: number;
  /** Called for writes the KV tier refused for good (e.g. a type conflict with another host). */
  onRejected?: (key: string, err: CloudburstError) => void;
  /** Called with the keys the tier acknowledged. */
  onFlushed?: (keys: readonly string[]) => void;
}

/**
 * Sends the outbox to the KV tier.
 *
 * A commit kicks the flusher, which batches every dirty key it finds into one merge request
 * (a few ms of writes travel together). On acknowledgement it clears each mark whose token
 * is unchanged. If the tier is down, the marks stay and the sweep retries with backoff; the
 * outbox is in LMDB, so a restarted host resumes flushing where the dead one stopped.
 */
export class Flusher {
  readonly #cache: HostCache;
  readonly #kv: KvClient;
  readonly #batchSize: number;
  readonly #intervalMs: number;
  readonly #delayMs: number;
  readonly #onRejected: (key: string, err: CloudburstError) => void;
  readonly #onFlushed: ((keys: readonly string[]) => void) | undefined;
  #timer: NodeJS.Timeout | undefined;
  #scheduled = false;
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
    this.#delayMs = opts.delayMs ?? 2;
    this.#onFlushed = opts.onFlushed;
    this.#onRejected = opts.onRejected ?? ((key, err) => console.error(`outbox: the KV tier refused ${key}: ${err.code} ${err.message}`));
  }

  start(): void {
    this.#timer = setInterval(() => this.kick(), this.#intervalMs);
    this.#timer.unref();
    this.kick();
  }

  /** Schedules a flush in `delayMs`, coalescing every kick until then. */
  kick(): void {
    if (this.#scheduled || this.#closed) return;
    this.#scheduled = true;
    setTimeout(() => {
      this.#scheduled = false;
      void this.flushAll().catch(() => undefined);
    }, this.#delayMs).unref();
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
      if (!this.#closed) setTimeout(() => this.kick(), this.#backoffMs).unref();
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
    const entries: { key: string; value: Lattice }[] = [];
    const sent: OutboxEntry[] = [];
    for (const e of batch) {
      const raw = this.#cache.getEncoded(e.key);
      if (raw === undefined) continue; // cannot happen: a value is never evicted while dirty
      entries.push({ key: e.key, value: decode(raw) });
      sent.push(e);
    }
    const results = await this.#kv.mergeBatch(entries);
    const done: OutboxEntry[] = [];
    const refused: OutboxEntry[] = [];
    let retry: CloudburstError | undefined;
    results.forEach((err, i) => {
      const e = sent[i]!;
      if (err === null) {
        done.push(e);
      } else if (err.userFault) {
        // A value the tier will never take (type conflict between hosts): retrying forever
        // would wedge the outbox. Report it and drop the key from the cache.
        this.rejected++;
        this.#onRejected(e.key, err);
        refused.push(e);
      } else {
        retry = err;
      }
    });
    this.flushed += this.#cache.clean(done);
    this.#onFlushed?.(done.map((e) => e.key));
    if (refused.length > 0) this.#cache.discard(refused);
    if (retry) throw retry;
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer) clearInterval(this.#timer);
    await this.#running?.catch(() => undefined);
  }
}
