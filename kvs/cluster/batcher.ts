/**
 * Per-destination batching of changed keys: replica pushes (per peer) and subscription
 * pushes (per subscriber). Keys, not values, are queued, and the sender reads each key's
 * current value when it sends: a key changed ten times in a window goes once, with its
 * newest (merged) value, which is what a lattice receiver needs. One request per
 * destination is in flight at a time, so a slow or stopped destination costs one hung
 * request, not a pile of them; keys queued meanwhile coalesce into the next batch.
 */

/** What to do with a batch whose send failed. */
export type FailureDecision = { retryInMs: number } | 'drop';

/**
 * Options of `KeyBatcher`.
 *
 * @example
 * new KeyBatcher({ delayMs: 10, maxBatch: 2000, send, onFailure: () => 'drop' })
 */
export interface KeyBatcherOptions {
  /** How long the first queued key waits for others before a send. */
  readonly delayMs: number;
  /** Keys per send at most. */
  readonly maxBatch: number;
  /** Sends one batch; a rejection is a failure of the whole batch. */
  readonly send: (dest: string, keys: string[]) => Promise<void>;
  /** Failure policy; `attempt` counts consecutive failures of this destination (1 first). */
  readonly onFailure: (dest: string, keys: string[], err: unknown, attempt: number) => FailureDecision;
}

interface Lane {
  readonly keys: Set<string>;
  timer: NodeJS.Timeout | undefined;
  running: Promise<void> | undefined;
  failures: number;
}

/**
 * @example
 * const b = new KeyBatcher({ delayMs: 5, maxBatch: 1000, send: push, onFailure: retryThrice });
 * b.enqueue('http://127.0.0.1:7070', 'default/k/a');
 * await b.idle();
 */
export class KeyBatcher {
  readonly #opts: KeyBatcherOptions;
  readonly #lanes = new Map<string, Lane>();
  #closed = false;

  constructor(opts: KeyBatcherOptions) {
    this.#opts = opts;
  }

  /** Queues `key` for `dest`. */
  enqueue(dest: string, key: string): void {
    if (this.#closed) return;
    let lane = this.#lanes.get(dest);
    if (!lane) this.#lanes.set(dest, (lane = { keys: new Set(), timer: undefined, running: undefined, failures: 0 }));
    lane.keys.add(key);
    if (!lane.timer && !lane.running) this.#schedule(dest, lane, this.#opts.delayMs);
  }

  /** Keys queued (not in flight) for `dest`. */
  queued(dest: string): number {
    return this.#lanes.get(dest)?.keys.size ?? 0;
  }

  /** Forgets everything queued for `dest` (a dropped subscriber, a departed peer). */
  discard(dest: string): string[] {
    const lane = this.#lanes.get(dest);
    if (!lane) return [];
    const keys = [...lane.keys];
    lane.keys.clear();
    if (lane.timer) clearTimeout(lane.timer);
    lane.timer = undefined;
    if (!lane.running) this.#lanes.delete(dest);
    return keys;
  }

  /** Resolves once nothing is queued or in flight (retries waiting count as queued). */
  async idle(): Promise<void> {
    for (;;) {
      const busy = [...this.#lanes.values()].filter((l) => l.running || l.keys.size > 0);
      if (busy.length === 0 || this.#closed) return;
      await Promise.all(busy.map((l) => l.running ?? new Promise((r) => setTimeout(r, this.#opts.delayMs + 1))));
    }
  }

  /** Stops sending; queued keys are dropped (callers keep durable hints for what matters). */
  close(): void {
    this.#closed = true;
    for (const lane of this.#lanes.values()) if (lane.timer) clearTimeout(lane.timer);
    this.#lanes.clear();
  }

  #schedule(dest: string, lane: Lane, delayMs: number): void {
    lane.timer = setTimeout(() => {
      lane.timer = undefined;
      this.#run(dest, lane);
    }, delayMs);
  }

  #run(dest: string, lane: Lane): void {
    if (this.#closed || lane.keys.size === 0) return;
    const keys: string[] = [];
    for (const k of lane.keys) {
      keys.push(k);
      lane.keys.delete(k);
      if (keys.length >= this.#opts.maxBatch) break;
    }
    let next = 0;
    lane.running = this.#opts
      .send(dest, keys)
      .then(
        () => {
          lane.failures = 0;
        },
        (err: unknown) => {
          const decision = this.#opts.onFailure(dest, keys, err, ++lane.failures);
          if (decision === 'drop') {
            lane.failures = 0;
            return;
          }
          for (const k of keys) lane.keys.add(k);
          next = decision.retryInMs;
        },
      )
      .finally(() => {
        lane.running = undefined;
        if (this.#closed) return;
        if (lane.keys.size > 0) this.#schedule(dest, lane, next);
        else if (this.#lanes.get(dest) === lane) this.#lanes.delete(dest);
      });
  }
}
