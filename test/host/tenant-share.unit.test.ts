// The share policy of the executor pool (host/executor/tenant-share.ts), on a hand-turned clock.
// The pool enforcing it with real workers is tested in fair-queue.test.ts.
import { describe, expect, it } from 'vitest';
import { TenantShare } from '../../host/executor/tenant-share.ts';

const WINDOW = 1000;

function share(workers: number) {
  const clock = { now: 0 };
  const s = new TenantShare(workers, WINDOW, () => clock.now);
  /** `n` jobs of `tenant` take a worker. */
  const start = (tenant: string, n = 1) => {
    for (let i = 0; i < n; i++) s.started(tenant);
  };
  /** A job of `tenant` that ran ends now. */
  const end = (tenant: string) => s.ended(tenant);
  return { s, clock, start, end };
}

describe('TenantShare', () => {
  it('one active tenant may take every worker', () => {
    const { s, start } = share(4);
    for (let i = 0; i < 4; i++) {
      expect(s.admits('a')).toBe(true);
      start('a');
    }
    // Past the workers too: the pool only asks when a worker is free.
    expect(s.admits('a')).toBe(true);
    expect(s.holding()).toEqual({ a: 4 });
  });

  it('with two active tenants, each holds at most half of the workers while the other holds less', () => {
    const { s, start } = share(4);
    s.queued('b');
    start('a', 2);
    expect(s.admits('a')).toBe(false);
    expect(s.admits('b')).toBe(true);
    s.unqueued('b');
    start('b');
    expect(s.admits('a')).toBe(false);
    start('b');
    // Each holds its share: a free worker (the pool does not have one here) would go to either.
    expect(s.admits('a')).toBe(true);
    expect(s.admits('b')).toBe(true);
  });

  it('a tenant that asks counts itself active: a newcomer is admitted when the others hold every worker', () => {
    const { s, start } = share(2);
    start('a', 2);
    expect(s.admits('b')).toBe(true);
    start('b');
    // A third tenant: a share of max(1, floor(2/3)) = 1 each; a holds 2 and b 1, c is still admitted.
    expect(s.admits('c')).toBe(true);
    // Once c waits for a worker, a worker a frees is not a's again.
    s.queued('c');
    s.ended('a');
    expect(s.admits('a')).toBe(false);
    expect(s.admits('c')).toBe(true);
  });

  it('a tenant stays active for the window after its last job, then its share goes back to the others', () => {
    const { s, clock, start, end } = share(2);
    start('b');
    end('b');
    start('a');
    // b called moments ago and will call again: the second worker is kept for it.
    expect(s.admits('a')).toBe(false);
    expect(s.nextExpiry()).toBe(WINDOW);
    clock.now = WINDOW - 1;
    expect(s.admits('a')).toBe(false);
    clock.now = WINDOW;
    expect(s.admits('a')).toBe(true);
    expect(s.nextExpiry()).toBeUndefined();
  });

  it('a tenant with calls waiting is active however long ago its last job ended', () => {
    const { s, clock, start, end } = share(2);
    start('b');
    end('b');
    s.queued('b');
    start('a');
    clock.now = 10 * WINDOW;
    expect(s.admits('a')).toBe(false);
    expect(s.nextExpiry()).toBeUndefined();
    s.unqueued('b');
    start('b');
    end('b');
    clock.now += WINDOW;
    expect(s.admits('a')).toBe(true);
  });

  it('the remainder of the division is not left idle: beyond its share when every other tenant holds its own', () => {
    const { s, start } = share(3);
    start('a');
    start('b');
    // Shares of 1; the third worker goes to whoever asks first (the pool asks in turn).
    expect(s.admits('a')).toBe(true);
    start('a');
    expect(s.admits('b')).toBe(true);
  });

  it('a job waiting in recv does not count toward its tenant\'s share, and counts again once back', () => {
    const { s, start } = share(2);
    start('a');
    start('b');
    expect(s.admits('a')).toBe(true); // both hold their share of 1: no one is short
    s.ended('b');
    // b's worker is free and kept for b: a holds its share.
    expect(s.admits('a')).toBe(false);
    // a's job waits in recv (for a message from a's next job, say): that job may run.
    s.paused('a');
    expect(s.admits('a')).toBe(true);
    start('a');
    expect(s.holding()).toEqual({ a: 2 });
    s.resumed('a');
    expect(s.admits('a')).toBe(false);
  });
});

describe('TenantShare: shares of the base size, not of a grown pool', () => {
  it('a pool grown past its base (cap 2) to 8 workers: with two active tenants each holds 1; alone, one takes all 8', () => {
    const clock = { now: 0 };
    const s = new TenantShare(0, WINDOW, () => clock.now, 2);
    s.resize(8);
    // Alone: the grown pool is the tenant's.
    for (let i = 0; i < 8; i++) {
      expect(s.admits('a')).toBe(true);
      s.started('a');
    }
    for (let i = 0; i < 7; i++) s.ended('a');
    // b becomes active: a holds 1, its share of the base (2 / 2), and gets no more while b holds less.
    s.queued('b');
    expect(s.admits('a')).toBe(false);
    expect(s.admits('b')).toBe(true);
    s.unqueued('b');
    s.started('b');
    expect(s.admits('b')).toBe(false);
    expect(s.admits('a')).toBe(false);
  });

  it('a pool smaller than its cap (still starting): shares are of the workers there are', () => {
    const clock = { now: 0 };
    const s = new TenantShare(0, WINDOW, () => clock.now, 4);
    s.resize(2);
    s.queued('b');
    s.started('a');
    // 2 workers, two tenants: a holds its share (1); with the cap's 4, it would have had 2.
    expect(s.admits('a')).toBe(false);
    s.unqueued('b');
  });
});
