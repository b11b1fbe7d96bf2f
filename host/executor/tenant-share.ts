/** What the pool knows of one tenant's use of its workers. */
interface Use {
  /** Workers running a job of the tenant. */
  holding: number;
  /** Of those, jobs waiting in `recv` (see `paused`): they do not count toward the share. */
  paused: number;
  /** Jobs of the tenant waiting for a worker. */
  waiting: number;
  /** When its last job ended (ms, `now()`); -Infinity before any did. */
  lastEnd: number;
}

/**
 * Fair shares of a host's workers between the tenants active on it (host/README.md, "Fair
 * queuing"). A tenant is active while a job of it runs or waits, and for `windowMs` after one
 * ended, so that a tenant calling sequentially stays active between its calls. With one active
 * tenant, it may use every worker. With `n` active tenants, each may hold `max(1, floor(workers
 * / n))` workers, its share; a free worker beyond a tenant's share stays free while another
 * active tenant holds less than its share (it is that tenant's, when its next call comes), and
 * goes to whoever's turn it is otherwise (the remainder of the division, or a tenant with
 * nothing queued having no use for it, is not left idle).
 *
 * A job waiting in `recv` does not count toward its tenant's share: it waits for a message
 * another job of the same tenant may still have to send, and that sender must be able to get a
 * worker (with a share of one, it could not otherwise).
 *
 * Shares are of at most `cap` workers: the pool's base size (`--workers`, the cores by
 * default). The pool grows past it when calls wait (pool-scaler.ts), but the cores do not: a
 * flooding tenant holding half of a pool grown to 8 workers on 2 cores runs 4 guests at once,
 * and another tenant's call gets a third of a core. Measured (`npm run bench -- tenants
 * --quick`, 2 cores): shares of the grown pool left tenant b at 5.3x its latency alone; shares
 * of the base size, 0.9x p50 / 1.6x p99 (the goal: 2x). Alone, a tenant still uses every
 * worker the pool has; with others active, a tenant over its share takes a free worker only
 * while fewer guests run than the cap.
 */
export class TenantShare {
  #workers: number;
  readonly #cap: number;
  readonly #windowMs: number;
  readonly #now: () => number;
  readonly #tenants = new Map<string, Use>();

  constructor(workers: number, windowMs = 1000, now: () => number = () => performance.now(), cap = Number.POSITIVE_INFINITY) {
    this.#cap = cap;
    this.#workers = Math.min(workers, cap);
    this.#windowMs = windowMs;
    this.#now = now;
  }

  /**
   * The pool's ready workers changed (it grows and shrinks, see pool-scaler.ts): shares are of
   * the workers there are (up to the cap), not of those there could be. Over the maximum, a tenant could take
   * workers up to its share of a pool that does not exist yet, and a worker the pool just added
   * for another tenant's waiting call would go to it first; over the workers there are, the
   * waiting tenant below its share gets it.
   */
  resize(workers: number): void {
    this.#workers = Math.min(workers, this.#cap);
  }

  /** Whether a job of `tenant` may take a free worker now. */
  admits(tenant: string): boolean {
    const now = this.#now();
    let active = 0;
    for (const [t, use] of this.#tenants) {
      if (this.#active(use, now)) active++;
      else if (use.holding === 0 && use.waiting === 0) this.#tenants.delete(t);
    }
    const mine = this.#tenants.get(tenant);
    if (mine === undefined || !this.#active(mine, now)) active++;
    if (active <= 1) return true;
    const share = Math.max(1, Math.floor(this.#workers / active));
    if (mine === undefined || counted(mine) < share) return true;
    let running = 0;
    for (const [t, use] of this.#tenants) {
      if (t !== tenant && this.#active(use, now) && counted(use) < share) return false;
      running += counted(use);
    }
    // Over its share, a tenant takes a free worker only while fewer guests run than the cap (the
    // base size): beyond it, another guest at once only splits the cores the others' calls run on.
    return running < this.#cap;
  }

  /** A job of `tenant` waits for a worker. */
  queued(tenant: string): void {
    this.#use(tenant).waiting++;
  }

  /** A waiting job of `tenant` left the queue (it got a worker, or the pool closed). */
  unqueued(tenant: string): void {
    this.#use(tenant).waiting--;
  }

  /** A job of `tenant` got a worker. */
  started(tenant: string): void {
    this.#use(tenant).holding++;
  }

  /** A job of `tenant` gave its worker back. */
  ended(tenant: string): void {
    const use = this.#use(tenant);
    use.holding--;
    use.lastEnd = this.#now();
  }

  /** A running job of `tenant` waits in `recv`: it stops counting toward the share. */
  paused(tenant: string): void {
    this.#use(tenant).paused++;
  }

  /** ...and is back. */
  resumed(tenant: string): void {
    this.#use(tenant).paused--;
  }

  /**
   * When (`now()`) the next tenant that is active only by its window stops being active:
   * shares grow then, so a worker held free for it may go to another tenant's waiting job.
   */
  nextExpiry(): number | undefined {
    let at: number | undefined;
    const now = this.#now();
    for (const use of this.#tenants.values()) {
      if (use.holding > 0 || use.waiting > 0) continue;
      const end = use.lastEnd + this.#windowMs;
      if (end > now && (at === undefined || end < at)) at = end;
    }
    return at;
  }

  /** Workers each tenant holds now, those waiting in `recv` included. */
  holding(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [t, use] of this.#tenants) if (use.holding > 0) out[t] = use.holding;
    return out;
  }

  #active(use: Use, now: number): boolean {
    return use.holding > 0 || use.waiting > 0 || now - use.lastEnd < this.#windowMs;
  }

  #use(tenant: string): Use {
    let use = this.#tenants.get(tenant);
    if (!use) this.#tenants.set(tenant, (use = { holding: 0, paused: 0, waiting: 0, lastEnd: -Infinity }));
    return use;
  }
}

function counted(use: Use): number {
  return use.holding - use.paused;
}
