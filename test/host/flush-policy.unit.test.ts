// The adaptive group commit's policy (host/cache/flush-policy.ts), driven by a fake clock:
// the wait before a flush grows with the commit rate up to the cap, and falls back to the
// minimum once writes are rare, so a lone write reaches the KV tier after the minimum.
import { describe, expect, it } from 'vitest';
import { FlushPolicy } from '../../host/cache/flush-policy.ts';

function clocked(opts: { minMs?: number; maxMs?: number } = {}): { policy: FlushPolicy; advance: (ms: number) => void } {
  let t = 1_000;
  const policy = new FlushPolicy({ minMs: 2, maxMs: 40, fullRatePerSec: 1000, decayMs: 100, ...opts, now: () => t });
  return { policy, advance: (ms) => { t += ms; } };
}

/** `n` commits, one every `everyMs`. */
function commits(c: ReturnType<typeof clocked>, n: number, everyMs: number): void {
  for (let i = 0; i < n; i++) {
    c.advance(everyMs);
    c.policy.commit();
  }
}

describe('FlushPolicy', () => {
  it('a first write, and a write after a quiet spell, wait about the minimum', () => {
    const c = clocked();
    expect(c.policy.delayMs()).toBe(2);
    c.policy.commit();
    expect(c.policy.delayMs()).toBeLessThan(2.5);
    commits(c, 500, 1);
    c.advance(2_000);
    c.policy.commit();
    expect(c.policy.delayMs()).toBeLessThan(2.5);
  });

  it('sustained writes at the full rate or more wait the cap, never more', () => {
    const c = clocked();
    commits(c, 1_000, 1); // 1000 commits/s for a second
    expect(c.policy.ratePerSec()).toBeGreaterThan(950);
    expect(c.policy.delayMs()).toBeGreaterThan(38);
    commits(c, 5_000, 0.1); // 10,000/s
    expect(c.policy.delayMs()).toBe(40);
  });

  it('the wait grows with the rate in between', () => {
    const slow = clocked();
    commits(slow, 200, 10); // 100/s
    const fast = clocked();
    commits(fast, 1_000, 2); // 500/s
    expect(slow.policy.delayMs()).toBeGreaterThan(2);
    expect(fast.policy.delayMs()).toBeGreaterThan(slow.policy.delayMs());
    expect(fast.policy.delayMs()).toBeLessThan(40);
  });

  it('shrinks back as the rate falls after a burst', () => {
    const c = clocked();
    commits(c, 1_000, 1);
    const busy = c.policy.delayMs();
    c.advance(100);
    const later = c.policy.delayMs();
    c.advance(500);
    expect(later).toBeLessThan(busy);
    expect(c.policy.delayMs()).toBeLessThan(2.5);
  });

  it('a cap below the minimum is the minimum', () => {
    const c = clocked({ minMs: 300, maxMs: 20 });
    commits(c, 1_000, 1);
    expect(c.policy.maxMs).toBe(300);
    expect(c.policy.delayMs()).toBe(300);
  });
});
