import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compareStamps, Hlc, type Stamp } from '../../kvs/index.ts';
import { PROPERTY } from './arbitraries.ts';

function clockOf(...times: number[]): () => number {
  let i = 0;
  return () => times[Math.min(i++, times.length - 1)]!;
}

describe('hlc', () => {
  it('hlc: follows physical time when it moves forward', () => {
    const hlc = new Hlc('w', clockOf(100, 200));
    expect(hlc.now()).toEqual({ ms: 100, c: 0, writer: 'w' });
    expect(hlc.now()).toEqual({ ms: 200, c: 0, writer: 'w' });
  });

  it('hlc: stays monotonic when the clock goes backwards', () => {
    const hlc = new Hlc('w', clockOf(1000, 500, 500, 999, 1001));
    const stamps: Stamp[] = Array.from({ length: 5 }, () => hlc.now());
    for (let i = 1; i < stamps.length; i++) expect(compareStamps(stamps[i]!, stamps[i - 1]!)).toBeGreaterThan(0);
    expect(stamps[1]).toEqual({ ms: 1000, c: 1, writer: 'w' });
    expect(stamps[4]).toEqual({ ms: 1001, c: 0, writer: 'w' });
  });

  it('hlc: observe moves past a remote stamp from the future', () => {
    const hlc = new Hlc('a', () => 100);
    const remote = { ms: 5000, c: 7, writer: 'b' };
    hlc.observe(remote);
    const next = hlc.now();
    expect(compareStamps(next, remote)).toBeGreaterThan(0);
    expect(next.ms).toBe(5000);
  });

  it('hlc: observe of an older stamp still advances the logical counter', () => {
    const hlc = new Hlc('a', () => 100);
    const first = hlc.now();
    hlc.observe({ ms: 100, c: 9, writer: 'b' });
    const next = hlc.now();
    expect(compareStamps(next, first)).toBeGreaterThan(0);
    expect(compareStamps(next, { ms: 100, c: 9, writer: 'b' })).toBeGreaterThan(0);
  });

  it('hlc: a full logical counter borrows a millisecond instead of wrapping', () => {
    const hlc = new Hlc('a', () => 100);
    hlc.observe({ ms: 100, c: 0xffff, writer: 'b' });
    const next = hlc.now();
    expect(next.ms).toBe(101);
    expect(compareStamps(next, { ms: 100, c: 0xffff, writer: 'b' })).toBeGreaterThan(0);
  });

  it('hlc: rejects writer ids the codec cannot carry', () => {
    expect(() => new Hlc('x'.repeat(256))).toThrow(expect.objectContaining({ code: 'KV_BAD_VALUE' }));
    expect(() => new Hlc('\udc00')).toThrow(expect.objectContaining({ code: 'KV_BAD_VALUE' }));
  });
});

describe('hlc properties', () => {
  it('hlc: every stamp is above every stamp issued or observed before, whatever the clock does', () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('now' as const), clock: fc.integer({ min: 0, max: 50 }) }),
      fc.record({
        kind: fc.constant('observe' as const),
        clock: fc.integer({ min: 0, max: 50 }),
        remote: fc.record({ ms: fc.integer({ min: 0, max: 60 }), c: fc.integer({ min: 0, max: 0xffff }), writer: fc.constantFrom('b', 'c') }),
      }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        let clock = 0;
        const hlc = new Hlc('a', () => clock);
        let highest: Stamp = { ms: 0, c: 0, writer: '' };
        for (const o of ops) {
          clock = o.clock;
          if (o.kind === 'observe') {
            hlc.observe(o.remote);
            if (compareStamps(o.remote, highest) > 0) highest = o.remote;
          } else {
            const next = hlc.now();
            expect(compareStamps(next, highest)).toBeGreaterThan(0);
            highest = next;
          }
        }
      }),
      PROPERTY,
    );
  });
});
