/**
 * The host's metrics as values, read from the same registry, through the same `collect`
 * functions, as `GET /metrics` renders: so the dashboard's numbers and the Prometheus text
 * agree (a count the page shows is a count a scrape shows).
 */
import type { MetricsRegistry } from '../metrics.ts';
import type { HistogramReading } from './histogram.ts';

type Labels = Record<string, string | number>;
interface Sample {
  labels: Labels;
  value: number;
  metricName?: string;
}

/**
 * A reading of every metric of a registry at one time.
 *
 * @example
 * const m = await MetricValues.read(metrics.registry);
 * m.value('cloudburst_outbox_keys'); // 0
 * m.byLabel('cloudburst_calls_total', 'function'); // Map { 'math.square' => [...] }
 */
export class MetricValues {
  readonly #metrics: Map<string, Sample[]>;

  private constructor(metrics: Map<string, Sample[]>) {
    this.#metrics = metrics;
  }

  static async read(registry: MetricsRegistry): Promise<MetricValues> {
    const json = (await registry.getMetricsAsJSON()) as unknown as { name: string; values: Sample[] }[];
    return new MetricValues(new Map(json.map((m) => [m.name, m.values])));
  }

  /** An unlabelled gauge or counter; undefined when the host has no such metric. */
  value(name: string): number | undefined {
    return this.#metrics.get(name)?.find((s) => Object.keys(s.labels).length === 0)?.value;
  }

  /** The samples of a labelled metric, grouped by the value of one label. */
  byLabel(name: string, label: string): Map<string, Sample[]> {
    const out = new Map<string, Sample[]>();
    for (const s of this.#metrics.get(name) ?? []) {
      const key = s.labels[label];
      if (key === undefined) continue;
      const list = out.get(String(key));
      if (list) list.push(s);
      else out.set(String(key), [s]);
    }
    return out;
  }

  /** An unlabelled histogram's reading (its `_bucket`, `_sum` and `_count` series); empty when the host has none. */
  histogram(name: string): HistogramReading {
    const samples = (this.#metrics.get(name) ?? []).filter((s) => Object.keys(s.labels).every((l) => l === 'le'));
    const buckets = samples
      .filter((s) => s.metricName === `${name}_bucket` && s.labels.le !== '+Inf')
      .map((s) => ({ le: Number(s.labels.le), n: s.value }))
      .sort((a, b) => a.le - b.le);
    return {
      bounds: buckets.map((b) => b.le),
      cumulative: buckets.map((b) => b.n),
      count: samples.find((s) => s.metricName === `${name}_count`)?.value ?? 0,
      sum: samples.find((s) => s.metricName === `${name}_sum`)?.value ?? 0,
    };
  }

  /** A histogram's reading per value of `label` (the `_bucket`, `_sum` and `_count` series). */
  histograms(name: string, label: string): Map<string, HistogramReading> {
    const out = new Map<string, HistogramReading>();
    for (const [key, samples] of this.byLabel(name, label)) {
      const buckets = samples
        .filter((s) => s.metricName === `${name}_bucket` && s.labels.le !== '+Inf')
        .map((s) => ({ le: Number(s.labels.le), n: s.value }))
        .sort((a, b) => a.le - b.le);
      out.set(key, {
        bounds: buckets.map((b) => b.le),
        cumulative: buckets.map((b) => b.n),
        count: samples.find((s) => s.metricName === `${name}_count`)?.value ?? 0,
        sum: samples.find((s) => s.metricName === `${name}_sum`)?.value ?? 0,
      });
    }
    return out;
  }
}
