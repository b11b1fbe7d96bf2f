// The executor pool's scaling policy (host/executor/pool-scaler.ts), on a hand-turned clock.
// The pool following it with real workers is tested in pool-scaling.test.ts.
import { describe, expect, it } from 'vitest';
import { PoolScaler, type PoolLoad } from '../../host/executor/pool-scaler.ts';

// Unless a case says otherwise, every running job stalls (waits on something), as in the cases
// growth is for; the cases of short work on every core are at the end.
const load = (l: Partial<PoolLoad>): PoolLoad => {
  const busy = l.busy ?? 0;
  return { ready: 2, starting: 0, busy, queued: 0, oldestQueuedAt: undefined, stalled: busy, shortSince: undefined, ...l };
};
const scaler = () => new PoolScaler({ min: 2, max: 4, scaleUpWaitMs: 20, idleTimeoutMs: 30_000 });

describe('PoolScaler', () => {
  it('starts workers at once below the floor, whatever the load', () => {
    const s = scaler();
    expect(s.grow(load({ ready: 1 }), 0)).toBe('floor');
    expect(s.grow(load({ ready: 1, starting: 1 }), 0)).toBeUndefined();
  });

  it('a call waiting past scaleUpWaitMs starts one worker per scaleUpWaitMs, while more calls wait than workers start, up to max', () => {
    const s = scaler();
    const waiting = load({ busy: 2, queued: 2, oldestQueuedAt: 100 });
    expect(s.grow(waiting, 119)).toBeUndefined();
    expect(s.nextCheck(waiting, 110)).toBe(120);
    expect(s.grow(waiting, 120)).toBe('queue');
    // One per scaleUpWaitMs: not twice at once.
    const oneStarting = { ...waiting, starting: 1 };
    expect(s.grow(oneStarting, 121)).toBeUndefined();
    expect(s.nextCheck(oneStarting, 121)).toBe(140);
    expect(s.grow(oneStarting, 140)).toBe('queue');
    // As many starting as waiting: nothing more.
    expect(s.grow({ ...waiting, starting: 2 }, 500)).toBeUndefined();
    expect(s.nextCheck({ ...waiting, starting: 2 }, 500)).toBeUndefined();
    // The cap.
    expect(s.grow({ ...waiting, ready: 3, starting: 1, queued: 5 }, 1000)).toBeUndefined();
    expect(s.grow({ ...waiting, ready: 4, queued: 5 }, 1000)).toBeUndefined();
  });

  it('busy workers above 70% of the ready ones for a whole second start one worker, then another only after another second', () => {
    const s = scaler();
    const full = load({ busy: 2 });
    s.observe(full, 0);
    expect(s.grow(full, 999)).toBeUndefined();
    expect(s.nextCheck(full, 500)).toBe(1000);
    expect(s.grow(full, 1000)).toBe('utilization');
    s.observe(full, 1001);
    expect(s.grow(full, 1500)).toBeUndefined();
    expect(s.grow(full, 2000)).toBe('utilization');
    // A dip below the threshold starts the spell again.
    s.observe(load({ busy: 1 }), 2100);
    s.observe(full, 2200);
    expect(s.grow(full, 3100)).toBeUndefined();
    expect(s.grow(full, 3200)).toBe('utilization');
    // 2 of 3 is not above 70%.
    const twoOfThree = load({ ready: 3, busy: 2 });
    const t = new PoolScaler({ min: 2, max: 4, scaleUpWaitMs: 20, idleTimeoutMs: 30_000 });
    t.observe(twoOfThree, 0);
    expect(t.grow(twoOfThree, 60_000)).toBeUndefined();
  });

  it('a failed start holds starts back, for twice as long per failure in a row, until one succeeds', () => {
    const s = scaler();
    const short = load({ ready: 1 });
    expect(s.startFailed(0)).toBe(100);
    expect(s.holdingBack(50)).toBe(true);
    expect(s.grow(short, 99)).toBeUndefined();
    expect(s.nextCheck(short, 50)).toBe(100);
    expect(s.grow(short, 100)).toBe('floor');
    expect(s.startFailed(100)).toBe(200);
    expect(s.startFailed(300)).toBe(400);
    for (let i = 0; i < 10; i++) s.startFailed(1000);
    expect(s.startFailed(1000)).toBe(10_000);
    s.started();
    expect(s.holdingBack(1001)).toBe(false);
    expect(s.startFailed(2000)).toBe(100);
  });

  it('idle workers may stop only above the floor and while nothing waits', () => {
    const s = scaler();
    expect(s.mayStop(load({ ready: 3 }))).toBe(true);
    expect(s.mayStop(load({ ready: 2 }))).toBe(false);
    expect(s.mayStop(load({ ready: 3, busy: 2, queued: 1, oldestQueuedAt: 0 }))).toBe(false);
  });
  it('past its base size (the cores by default), short work on every core does not grow the pool, however long calls wait or the workers stay busy', () => {
    const s = scaler();
    // Two workers on two cores, both running jobs that started 5 ms ago; calls wait.
    const short = load({ busy: 2, stalled: 0, shortSince: 95, queued: 6, oldestQueuedAt: 60 });
    s.observe(short, 0);
    expect(s.grow(short, 100)).toBeUndefined();
    expect(s.grow(short, 5000)).toBeUndefined();
    // It looks again when the oldest running job would have run scaleUpWaitMs: not before, not in a loop.
    expect(s.nextCheck(short, 100)).toBe(115);
    // Then a job that stalls (ran that long, or waits on the main thread) makes a worker useful.
    expect(s.grow({ ...short, stalled: 1 }, 5001)).toBe('queue');
  });

  it('below its base size the pool grows for short work too (a worker failed to start)', () => {
    const s = scaler();
    const short = load({ ready: 1, busy: 1, stalled: 0, shortSince: 95, queued: 3, oldestQueuedAt: 60 });
    expect(s.grow(short, 100)).toBe('floor');
  });

  it('with nothing waiting and nothing running past the base size, there is nothing to look at again', () => {
    const s = scaler();
    expect(s.nextCheck(load({ busy: 0 }), 100)).toBeUndefined();
    const busyShort = load({ busy: 2, stalled: 0, shortSince: 99 });
    s.observe(busyShort, 100);
    // Busy above the threshold: it looks again when the oldest job would count as stalled.
    expect(s.nextCheck(busyShort, 100)).toBe(119);
  });
});
