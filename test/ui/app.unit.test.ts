import { describe, expect, it } from 'vitest';
import * as f from '../../host/ui/app/format.ts';
import { History, type Reading } from '../../host/ui/app/history.ts';

describe("the dashboard's number formats (host/ui/app/format.ts)", () => {
  it('durations in the unit that reads best', () => {
    expect(f.seconds(0.000085)).toBe('85 µs');
    expect(f.seconds(0.0013)).toBe('1.3 ms');
    expect(f.seconds(0.0247)).toBe('24.7 ms');
    expect(f.seconds(2.5)).toBe('2.50 s');
    expect(f.seconds(null)).toBe('–');
  });

  it('rates, bytes, percentages, counts, ages', () => {
    expect(f.rate(0)).toBe('0/s');
    expect(f.rate(0.25)).toBe('0.25/s');
    expect(f.rate(12.4)).toBe('12/s');
    expect(f.rate(1530)).toBe('1.5k/s');
    expect(f.rate(null)).toBe('–');
    expect(f.bytes(512)).toBe('512 B');
    expect(f.bytes(1536)).toBe('1.5 KiB');
    expect(f.bytes(1024 ** 3)).toBe('1.0 GiB');
    expect(f.percent(0.1234)).toBe('12.3%');
    expect(f.percent(1)).toBe('100%');
    expect(f.percent(null)).toBe('–');
    expect(f.count(1234567)).toBe('1,234,567');
    expect(f.ago(10_000, 10_500)).toBe('now');
    expect(f.ago(0, 30_000)).toBe('30 s ago');
    expect(f.ago(0, 600_000)).toBe('10 min ago');
  });
});

const BOUNDS = [0.001, 0.01, 0.1];
function reading(time: number, calls: number, errors: number, cumulative: number[], host = 'h1'): Reading {
  return {
    time, host: { id: host },
    functions: [{ name: 'm.f', calls, errors, latency: { bounds: BOUNDS, cumulative, count: calls, sum: 0 } }],
    cache: { outbox: calls, callKeys: calls * 2, misses: calls / 2, lapsed: 0 },
  };
}

describe("the dashboard's history of readings (host/ui/app/history.ts)", () => {
  it('turns counters since the start into rates and quantiles per interval', () => {
    const h = new History();
    h.add(reading(0, 0, 0, [0, 0, 0]));
    h.add(reading(2000, 10, 2, [10, 10, 10]));
    h.add(reading(4000, 10, 2, [10, 10, 10]));
    h.add(reading(6000, 14, 2, [10, 10, 14]));
    const s = h.functionSeries('m.f');
    expect(s.rate).toEqual([5, 0, 2]);
    expect(s.errorRate).toEqual([1, 0, 0]);
    // 10 calls under 1 ms; then none (no quantile: a gap); then 4 between 10 and 100 ms.
    expect(s.p50[0]).toBeCloseTo(0.0005);
    expect(s.p50[1]).toBeNull();
    expect(s.p99[2]).toBeGreaterThan(0.01);
    expect(h.totalRate()).toEqual([5, 0, 2]);
    expect(h.hitRate()).toEqual([0.75, null, 0.75]);
    expect(h.gauge((r) => r.cache.outbox)).toEqual([0, 10, 10, 14]);
  });

  it('is bounded, and starts again for another host', () => {
    const h = new History(3);
    for (let i = 0; i < 10; i++) h.add(reading(i * 1000, i, 0, [i, i, i]));
    expect(h.size).toBe(3);
    h.add(reading(20_000, 1, 0, [1, 1, 1], 'h2'));
    expect(h.size).toBe(1);
    expect(h.functionSeries('m.f').rate).toEqual([]);
  });
});
