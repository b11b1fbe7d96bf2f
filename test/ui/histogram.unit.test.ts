import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { difference, quantile, type HistogramReading } from '../../host/ui/histogram.ts';
import { Metrics } from '../../host/metrics.ts';
import { MetricValues } from '../../host/ui/metric-values.ts';

/** A histogram of `values` over `bounds`, as Prometheus counts them (cumulative, le inclusive). */
function histogramOf(bounds: number[], values: number[]): HistogramReading {
  return {
    bounds,
    cumulative: bounds.map((b) => values.filter((v) => v <= b).length),
    count: values.length,
    sum: values.reduce((a, b) => a + b, 0),
  };
}

const BOUNDS = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1];

describe('quantiles from histograms (host/ui/histogram.ts)', () => {
  it('interpolates inside the bucket, from 0 for the first', () => {
    expect(quantile({ bounds: [1, 2], cumulative: [0, 10], count: 10, sum: 15 }, 0.5)).toBe(1.5);
    expect(quantile({ bounds: [1, 2], cumulative: [10, 10], count: 10, sum: 5 }, 0.5)).toBe(0.5);
    expect(quantile({ bounds: [1, 2], cumulative: [4, 8], count: 8, sum: 8 }, 0.75)).toBe(1.5);
  });

  it('answers the highest finite bound for a quantile in +Inf, and nothing without observations', () => {
    expect(quantile({ bounds: [1, 2], cumulative: [0, 0], count: 3, sum: 30 }, 0.5)).toBe(2);
    expect(quantile({ bounds: [1, 2], cumulative: [0, 0], count: 0, sum: 0 }, 0.5)).toBeUndefined();
    expect(quantile({ bounds: [], cumulative: [], count: 5, sum: 1 }, 0.5)).toBeUndefined();
  });

  it('lands in the bucket of the true quantile, and grows with q', () => {
    fc.assert(fc.property(
      fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 1, maxLength: 200 }),
      fc.double({ min: 0.01, max: 1, noNaN: true }),
      (values, q) => {
        const h = histogramOf(BOUNDS, values);
        const est = quantile(h, q)!;
        const sorted = [...values].sort((a, b) => a - b);
        const truth = sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)]!;
        // The bucket holding the true value: (lower, upper].
        const upper = BOUNDS.find((b) => truth <= b)!;
        const lower = BOUNDS[BOUNDS.indexOf(upper) - 1] ?? 0;
        expect(est).toBeGreaterThanOrEqual(lower);
        expect(est).toBeLessThanOrEqual(upper);
        expect(quantile(h, Math.min(1, q + 0.1))!).toBeGreaterThanOrEqual(est);
      },
    ));
  });

  it('the difference of two readings is the histogram of what came between them', () => {
    fc.assert(fc.property(
      fc.array(fc.double({ min: 0, max: 2, noNaN: true }), { maxLength: 50 }),
      fc.array(fc.double({ min: 0, max: 2, noNaN: true }), { maxLength: 50 }),
      (before, after) => {
        const d = difference(histogramOf(BOUNDS, before), histogramOf(BOUNDS, [...before, ...after]));
        const between = histogramOf(BOUNDS, after);
        expect(d.cumulative).toEqual(between.cumulative);
        expect(d.count).toBe(between.count);
      },
    ));
  });

  it('takes a reading that went back (a restarted host) as new', () => {
    const later = histogramOf(BOUNDS, [0.002]);
    expect(difference(histogramOf(BOUNDS, [0.002, 0.003, 0.004]), later)).toBe(later);
    expect(difference(undefined, later)).toBe(later);
  });
});

describe('MetricValues: the overview reads what /metrics renders', () => {
  it('calls, errors and latency buckets agree with the Prometheus text', async () => {
    const metrics = new Metrics();
    for (const s of [0.0004, 0.002, 0.002, 0.03, 0.7]) metrics.observeCall('m.f', s, undefined);
    metrics.observeCall('m.f', 0.01, 'GUEST_TRAP');
    metrics.observeCall('m.g', 12, 'CALL_TIMEOUT');
    const text = await metrics.render();
    const values = await MetricValues.read(metrics.registry);

    const calls = values.byLabel('cloudburst_calls_total', 'function');
    const sample = (fn: string, outcome: string): number => calls.get(fn)!.find((s) => s.labels.outcome === outcome)!.value;
    expect(sample('m.f', 'ok')).toBe(5);
    expect(text).toContain('cloudburst_calls_total{function="m.f",outcome="ok"} 5');
    expect(sample('m.f', 'error')).toBe(1);
    expect(text).toContain('cloudburst_calls_total{function="m.f",outcome="error"} 1');
    expect(values.byLabel('cloudburst_call_errors_total', 'function').get('m.g')![0]!.labels.code).toBe('CALL_TIMEOUT');

    const h = values.histograms('cloudburst_call_duration_seconds', 'function').get('m.f')!;
    expect(h.count).toBe(6);
    for (const [i, le] of h.bounds.entries()) {
      expect(text).toContain(`cloudburst_call_duration_seconds_bucket{le="${le}",function="m.f"} ${h.cumulative[i]}`);
    }
    // 12 s is past the last bound: only in +Inf, so the p99 is the last finite bound.
    const g = values.histograms('cloudburst_call_duration_seconds', 'function').get('m.g')!;
    expect(quantile(g, 0.99)).toBe(10);
    expect(values.value('cloudburst_no_such_metric')).toBeUndefined();
  });
});
