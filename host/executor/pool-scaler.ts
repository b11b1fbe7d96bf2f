/** The limits of a pool's size and when it changes (host/README.md, "Executor scaling"). */
export interface ScalerOptions {
  /** Workers the pool starts with and never goes below. */
  min: number;
  /** Workers it may grow to. */
  max: number;
  /** A call that waited this long for a worker (ms) starts one more. */
  scaleUpWaitMs: number;
  /** A worker idle this long (ms) is stopped, down to `min`. */
  idleTimeoutMs: number;
  /** Busy workers per ready worker above which the pool grows once it lasted `sustainMs`. Default 0.7. */
  busyThreshold?: number;
  /** Default 1000 ms. */
  sustainMs?: number;
  /** First wait before a start is tried again after one failed (ms), doubled per failure. Default 100. */
  retryMs?: number;
  /** Longest wait between tries (ms). Default 10 s. */
  maxRetryMs?: number;
}

/** What the pool is doing now, as the scaler sees it. */
export interface PoolLoad {
  /** Workers that take jobs. */
  ready: number;
  /** Workers starting (not given jobs until ready). */
  starting: number;
  /** Jobs running. */
  busy: number;
  /** Jobs waiting for a worker. */
  queued: number;
  /** When the job that has waited longest was queued (`now()`), if any waits. */
  oldestQueuedAt: number | undefined;
  /**
   * Jobs running that hold their worker without keeping a core busy with short work: waiting
   * on the main thread (a fetch, a message, a future) or running for `scaleUpWaitMs` already.
   * Only these make a worker past `min` useful: `min` (`--workers`) is the cores by default,
   * and when every running job is short work on a core, another thread only shares the same
   * cores among more of them.
   */
  stalled: number;
  /**
   * When the longest-running of the jobs that do not stall yet started (`now()`), if any:
   * `scaleUpWaitMs` later it stalls, if it still runs.
   */
  shortSince: number | undefined;
}

/** Why a worker is started. */
export type GrowReason = 'floor' | 'queue' | 'utilization';

/**
 * The pool's scaling policy, apart from the threads (pool.ts asks it, on every change of the
 * load and at the time it says to look again). Grows when calls wait longer than
 * `scaleUpWaitMs` (one worker per `scaleUpWaitMs` while more calls wait than workers are
 * starting), or when busy workers stay above `busyThreshold` of the ready ones for `sustainMs`
 * (one worker per `sustainMs`), never above `max`, and past `min` workers only while some
 * running job is stalled (waits on the main thread, or ran `scaleUpWaitMs` already: a worker
 * more then serves calls while it stalls; otherwise it would only share the same cores among
 * more threads); below `min` (a start failed, a worker died)
 * it starts workers at once. A failed start holds every start back for a delay that doubles
 * per failure in a row (`retryMs` up to `maxRetryMs`), so a start that always fails costs a
 * log line now and then, not a spinning loop. Idle workers may stop only while nothing waits.
 */
export class PoolScaler {
  readonly #o: Required<ScalerOptions>;
  /** Since when busy / ready has been above the threshold. */
  #aboveSince: number | undefined;
  #lastGrowAt = -Infinity;
  #failures = 0;
  #retryAt = -Infinity;

  constructor(opts: ScalerOptions) {
    this.#o = { busyThreshold: 0.7, sustainMs: 1000, retryMs: 100, maxRetryMs: 10_000, ...opts };
  }

  get options(): Readonly<Required<ScalerOptions>> {
    return this.#o;
  }

  /** Records the load (call on every change of it: a job started or ended, a worker came or went). */
  observe(load: PoolLoad, now: number): void {
    const above = load.ready > 0 && load.busy / load.ready > this.#o.busyThreshold;
    if (!above) this.#aboveSince = undefined;
    else this.#aboveSince ??= now;
  }

  /** Whether to start a worker now, and why (the caller starts it, then asks again). */
  grow(load: PoolLoad, now: number): GrowReason | undefined {
    const workers = load.ready + load.starting;
    if (now < this.#retryAt) return undefined;
    if (workers < this.#o.min) return 'floor';
    if (workers >= this.#o.max) return undefined;
    if (this.#onlyCores(load)) return undefined;
    if (this.#queueWaits(load, now) && now - this.#lastGrowAt >= this.#o.scaleUpWaitMs) {
      this.#lastGrowAt = now;
      // A worker on its way answers the busy spell too: another only if it lasts another window.
      if (this.#aboveSince !== undefined) this.#aboveSince = now;
      return 'queue';
    }
    if (this.#aboveSince !== undefined && now - this.#aboveSince >= this.#o.sustainMs && load.starting === 0) {
      // The next one only if the load stays above for another sustain window.
      this.#aboveSince = now;
      this.#lastGrowAt = now;
      return 'utilization';
    }
    return undefined;
  }

  /** Whether idle workers may be stopped now (`workers` of them ready or starting). */
  mayStop(load: PoolLoad): boolean {
    return load.queued === 0 && load.ready + load.starting > this.#o.min;
  }

  /** A worker started: failures in a row are forgotten. */
  started(): void {
    this.#failures = 0;
    this.#retryAt = -Infinity;
  }

  /** A worker failed to start: returns how long (ms) starts are held back. */
  startFailed(now: number): number {
    const delay = Math.min(this.#o.maxRetryMs, this.#o.retryMs * 2 ** this.#failures);
    this.#failures++;
    this.#retryAt = now + delay;
    return delay;
  }

  /** Whether a start failed last and the next try has yet to come. */
  holdingBack(now: number): boolean {
    return now < this.#retryAt;
  }

  /**
   * When (`now()`) to look again, growth-wise: when the oldest waiting call's wait reaches
   * `scaleUpWaitMs`, when the busy spell reaches `sustainMs`, when a held-back start may be
   * tried; undefined when nothing can change without a change of the load.
   */
  nextCheck(load: PoolLoad, now: number): number | undefined {
    const workers = load.ready + load.starting;
    const at: number[] = [];
    if (now < this.#retryAt && (workers < this.#o.max || workers < this.#o.min)) at.push(this.#retryAt);
    if (workers < this.#o.max && this.#onlyCores(load)) {
      // Nothing to grow for until a running job turns out long (or waits: then the pool hears of it).
      if ((load.queued > load.starting || this.#aboveSince !== undefined) && load.shortSince !== undefined) {
        at.push(load.shortSince + this.#o.scaleUpWaitMs);
      }
    } else if (workers < this.#o.max) {
      if (load.queued > load.starting && load.oldestQueuedAt !== undefined) {
        at.push(Math.max(load.oldestQueuedAt + this.#o.scaleUpWaitMs, this.#lastGrowAt + this.#o.scaleUpWaitMs));
      }
      if (this.#aboveSince !== undefined) at.push(this.#aboveSince + this.#o.sustainMs);
    }
    return at.length === 0 ? undefined : Math.max(now, Math.min(...at));
  }

  /**
   * Whether the workers are at least `min` (the cores, by default) and every running job is
   * short work on one: then another worker adds no throughput, only threads taking turns on
   * the same cores.
   */
  #onlyCores(load: PoolLoad): boolean {
    return load.stalled === 0 && load.ready + load.starting >= this.#o.min;
  }

  #queueWaits(load: PoolLoad, now: number): boolean {
    // Each starting worker will take a waiting call: more only for calls beyond those.
    return load.queued > load.starting && load.oldestQueuedAt !== undefined && now - load.oldestQueuedAt >= this.#o.scaleUpWaitMs;
  }
}
