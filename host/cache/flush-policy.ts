/**
 * How long the write-behind flusher waits, after a commit, before it sends the outbox to the
 * KV tier: an adaptive group commit.
 *
 * Every flush costs about the same whatever it carries: an HMAC-signed request to the KV
 * node, its LMDB commit and fsync (`--fsync batch`), the reply, and the main thread's clean
 * transaction, on three threads of a machine that may have two cores. With a fixed short
 * delay a sequential caller (a commit every ~1.5 ms) pays one flush per call and its next
 * commit competes with that flush; with a long one a lone write reaches other hosts late.
 *
 * So the delay follows the commit rate: it is `minMs` while writes are rare, grows linearly
 * with the rate and reaches `maxMs` (the cap) at `fullRatePerSec` commits per second. The
 * rate is an exponentially decaying count of commits (time constant `decayMs`): a burst
 * raises it within a few commits, and a pause of a few `decayMs` brings it back to ~0, so the
 * first write after a quiet spell is flushed after `minMs`.
 *
 * The delay is a visibility delay only: a commit is durable on the host (LMDB) before the
 * flusher hears of it, and whoever waits for the KV tier (a durable put, `PUT /v1/kv`, a
 * drain) flushes at once instead of waiting for the window (Flusher.flushKeys, flushNow).
 *
 * Pure: time comes from the injected clock (ms, monotonic), so the unit test drives it.
 */

/** The shortest delay: a lone write reaches the KV tier this soon. */
export const DEFAULT_MIN_DELAY_MS = 2;
/**
 * The cap: under sustained writes a write may reach the KV tier (and other hosts) this late.
 * Measured (counter.incr, `up`): see host/README.md "Write-behind".
 */
export const DEFAULT_MAX_DELAY_MS = 20;
/** The commit rate (per second) at which the delay reaches the cap. */
export const DEFAULT_FULL_RATE_PER_SEC = 1000;
/** Time constant of the rate estimate: how long a burst is remembered. */
export const DEFAULT_DECAY_MS = 100;

export interface FlushPolicyOptions {
  minMs?: number | undefined;
  maxMs?: number | undefined;
  fullRatePerSec?: number;
  decayMs?: number;
  /** Monotonic clock in ms. Default `performance.now`. */
  now?: () => number;
}

export class FlushPolicy {
  readonly minMs: number;
  readonly maxMs: number;
  readonly #fullRatePerSec: number;
  readonly #decayMs: number;
  readonly #now: () => number;
  /** Commits counted with exponential decay; at a steady rate r (per ms) it tends to r * decayMs. */
  #weight = 0;
  #at = -Infinity;

  constructor(opts: FlushPolicyOptions = {}) {
    this.minMs = Math.max(0, opts.minMs ?? DEFAULT_MIN_DELAY_MS);
    // A cap below the minimum would make the minimum a lie: the cap is at least the minimum.
    this.maxMs = Math.max(this.minMs, opts.maxMs ?? DEFAULT_MAX_DELAY_MS);
    this.#fullRatePerSec = opts.fullRatePerSec ?? DEFAULT_FULL_RATE_PER_SEC;
    this.#decayMs = opts.decayMs ?? DEFAULT_DECAY_MS;
    this.#now = opts.now ?? (() => performance.now());
  }

  /** Counts one commit (call it for every commit, not only the ones that schedule a flush). */
  commit(): void {
    const t = this.#now();
    this.#weight = this.#decayed(t) + 1;
    this.#at = t;
  }

  /** The estimated commit rate, per second. */
  ratePerSec(): number {
    return (this.#decayed(this.#now()) / this.#decayMs) * 1000;
  }

  /** How long a flush scheduled now waits, in ms. */
  delayMs(): number {
    const share = Math.min(1, this.ratePerSec() / this.#fullRatePerSec);
    return this.minMs + (this.maxMs - this.minMs) * share;
  }

  #decayed(t: number): number {
    if (this.#weight === 0) return 0;
    return this.#weight * Math.exp(-Math.max(0, t - this.#at) / this.#decayMs);
  }
}
