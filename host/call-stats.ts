/**
 * The per-call metrics kept in plain numbers and shown at scrape time.
 *
 * prom-client finds a series by hashing its labels on every `inc` and `observe` (a string built
 * from the label names and values, then a map lookup, then label validation): three such
 * operations per call were ~1.5% of the host's main thread under `math.square` load. Here a
 * call costs a Map lookup by function name, then increments of fields; prom-client sees the
 * numbers only when /metrics is read (`collect` of its counters, `get` of the histogram), with
 * the same names, labels, series order and text as when prom-client counted them.
 */
import type { Registry } from 'prom-client';

/** One function's numbers since the host started (or since its module was deleted). */
export interface FunctionStats {
  ok: number;
  error: number;
  /** Errors by code, in the order the codes were first seen. */
  readonly codes: Map<string, number>;
  /** Observations per bucket, not cumulative: `buckets[i]` counts values in (bounds[i-1], bounds[i]]. */
  readonly buckets: Float64Array;
  sum: number;
  count: number;
}

export function newFunctionStats(bounds: readonly number[]): FunctionStats {
  return { ok: 0, error: 0, codes: new Map(), buckets: new Float64Array(bounds.length), sum: 0, count: 0 };
}

/** Adds one observation of `seconds` to `s` (what prom-client's Histogram.observe does). */
export function observeSeconds(s: FunctionStats, bounds: readonly number[], seconds: number): void {
  s.sum += seconds;
  s.count++;
  // Values above the last bound count only in +Inf (`count`), as in prom-client.
  for (let i = 0; i < bounds.length; i++) {
    if (seconds <= bounds[i]!) {
      s.buckets[i]!++;
      return;
    }
  }
}

interface ValuePair {
  labels: Record<string, string | number>;
  sharedLabels?: Record<string, string>;
  value: number;
  metricName?: string;
}

/**
 * A histogram by function, read from `stats` when scraped, registered in `registry` like a
 * prom-client Histogram (same text: `_bucket` series with `le` first, then `_sum`, `_count`).
 */
export function histogramFrom(
  registry: Registry,
  opts: { name: string; help: string; bounds: readonly number[]; stats: () => Iterable<[string, FunctionStats]> },
): void {
  const { name, help, bounds, stats } = opts;
  const forString = (): { name: string; help: string; type: 'histogram'; values: ValuePair[]; aggregator: 'sum' } => {
    const values: ValuePair[] = [];
    for (const [fn, s] of stats()) {
      const shared = { function: fn };
      let acc = 0;
      for (let i = 0; i < bounds.length; i++) {
        acc += s.buckets[i]!;
        values.push({ labels: { le: bounds[i]! }, sharedLabels: shared, value: acc, metricName: `${name}_bucket` });
      }
      values.push({ labels: { le: '+Inf' }, sharedLabels: shared, value: s.count, metricName: `${name}_bucket` });
      values.push({ labels: {}, sharedLabels: shared, value: s.sum, metricName: `${name}_sum` });
      values.push({ labels: {}, sharedLabels: shared, value: s.count, metricName: `${name}_count` });
    }
    return { name, help, type: 'histogram', values, aggregator: 'sum' };
  };
  const metric = {
    name, help, type: 'histogram', aggregator: 'sum',
    getForPromString: async () => forString(),
    // The JSON form has every label on the value, as prom-client's `get` gives it.
    get: async () => {
      const data = forString();
      return { ...data, values: data.values.map(({ sharedLabels, ...v }) => ({ ...v, labels: { ...v.labels, ...sharedLabels }, exemplar: 'le' in v.labels ? null : undefined })) };
    },
    // The numbers belong to the host's calls: a registry reset does not clear them.
    reset: () => undefined,
  };
  registry.registerMetric(metric as unknown as Parameters<Registry['registerMetric']>[0]);
}
