import type { TenantQuotas } from './tenant-quotas.ts';
import { quotaExceeded } from './quota-error.ts';
import { TokenBucket } from './token-bucket.ts';

interface TenantCalls {
  /** Calls admitted and not yet released: running, queued for a worker, or asynchronous and unfinished. */
  running: number;
  bucket: TokenBucket;
  /** The tenant's rate quotas at its last call: what the sweep judges its bucket by. */
  rate: number;
  burst: number;
}

/** How often (in admissions) tenants with nothing running and a full bucket are forgotten. */
const SWEEP_EVERY = 1024;

/**
 * The per-host call quotas of every tenant: calls at once (`concurrentCalls`) and their rate (a
 * token bucket of `burst` tokens refilled at `callsPerSecond`). A call is admitted before
 * anything of it runs, and holds its place until released (when it ends).
 */
export class CallAdmission {
  readonly #tenants = new Map<string, TenantCalls>();
  #sinceSweep = 0;

  /**
   * Admits one call of `tenant`, or refuses it. Returns the release, to be called once the
   * call ended (it may be called more than once; only the first counts).
   *
   * @throws CloudburstError `QUOTA_EXCEEDED` with `retryAfter`: 1 s over `concurrentCalls`;
   *   over the rate, the time until the bucket holds a token again.
   */
  admit(tenant: string, q: TenantQuotas, nowMs = performance.now()): () => void {
    if (++this.#sinceSweep >= SWEEP_EVERY) this.#sweep(nowMs);
    let t = this.#tenants.get(tenant);
    if (t === undefined) {
      t = { running: 0, bucket: new TokenBucket(q.burst, nowMs), rate: q.callsPerSecond, burst: q.burst };
      this.#tenants.set(tenant, t);
    }
    t.rate = q.callsPerSecond;
    t.burst = q.burst;
    if (t.running >= q.concurrentCalls) {
      throw quotaExceeded('concurrentCalls', q.concurrentCalls, `tenant ${tenant} has ${t.running} calls running on this host; its quota is ${q.concurrentCalls} at once`, 1);
    }
    const wait = t.bucket.take(q.callsPerSecond, q.burst, nowMs);
    if (wait > 0) {
      const after = Number.isFinite(wait) ? wait : undefined;
      throw quotaExceeded('callsPerSecond', q.callsPerSecond, `tenant ${tenant} is over its rate of ${q.callsPerSecond} calls per second on this host (bursts of ${q.burst})`, after);
    }
    t.running++;
    let released = false;
    const entry = t;
    return () => {
      if (released) return;
      released = true;
      entry.running--;
    };
  }

  /** Calls of `tenant` admitted and not released. */
  running(tenant: string): number {
    return this.#tenants.get(tenant)?.running ?? 0;
  }

  /** Forgets tenants that a fresh entry would describe exactly: nothing running, a full bucket. */
  #sweep(nowMs: number): void {
    this.#sinceSweep = 0;
    for (const [name, t] of this.#tenants) {
      if (t.running === 0 && t.bucket.full(t.rate, t.burst, nowMs)) this.#tenants.delete(name);
    }
  }
}
