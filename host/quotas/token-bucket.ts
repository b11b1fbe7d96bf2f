/**
 * A token bucket: `capacity` tokens, refilled continuously at `rate` per second. Refilled
 * lazily when taken from, so an idle bucket costs nothing. Rate and capacity are given on each
 * take: a tenant's quotas may change between calls.
 */
export class TokenBucket {
  #tokens: number;
  #at: number;

  constructor(capacity: number, now: number) {
    this.#tokens = capacity;
    this.#at = now;
  }

  /**
   * Takes a token if there is one. Returns 0 when it did, else the seconds until the bucket
   * holds a whole token again (Infinity at a rate of 0).
   */
  take(rate: number, capacity: number, nowMs: number): number {
    this.#tokens = Math.min(capacity, this.#tokens + ((nowMs - this.#at) / 1000) * rate);
    this.#at = nowMs;
    if (this.#tokens >= 1) {
      this.#tokens -= 1;
      return 0;
    }
    return rate > 0 ? (1 - this.#tokens) / rate : Infinity;
  }

  /** Whether the bucket would be full by `nowMs` (nothing to remember about it any more). */
  full(rate: number, capacity: number, nowMs: number): boolean {
    return this.#tokens + ((nowMs - this.#at) / 1000) * rate >= capacity;
  }
}
