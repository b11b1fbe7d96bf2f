/**
 * Quantiles from Prometheus histograms, the way `histogram_quantile` computes them: pure, so
 * that the host (`GET /v1/overview`: quantiles since the host started) and the dashboard in
 * the browser (quantiles of each poll interval, from the difference of two readings) compute
 * them alike. Imported by the browser bundle too: nothing here may use Node.
 */

/**
 * One histogram reading: the finite upper bounds (ascending, seconds for latencies), the
 * cumulative count at each bound (what the `_bucket{le=...}` series say), and the total
 * (`_count`, which is also the `+Inf` bucket).
 *
 * @example
 * { bounds: [0.001, 0.01], cumulative: [3, 9], count: 10, sum: 0.05 }
 */
export interface HistogramReading {
  bounds: number[];
  cumulative: number[];
  count: number;
  sum: number;
}

/**
 * The `q` quantile (0..1) of a histogram, by linear interpolation inside the bucket it falls
 * in (the lowest bucket starts at 0). A quantile in the `+Inf` bucket is the highest finite
 * bound, as Prometheus answers. Undefined without observations.
 *
 * @example
 * quantile({ bounds: [1, 2], cumulative: [0, 10], count: 10, sum: 15 }, 0.5) // 1.5
 */
export function quantile(h: HistogramReading, q: number): number | undefined {
  if (!(h.count > 0) || h.bounds.length === 0) return undefined;
  const rank = Math.min(1, Math.max(0, q)) * h.count;
  for (let i = 0; i < h.bounds.length; i++) {
    const upTo = h.cumulative[i] ?? 0;
    if (upTo >= rank && upTo > 0) {
      const below = i === 0 ? 0 : (h.cumulative[i - 1] ?? 0);
      const lower = i === 0 ? 0 : h.bounds[i - 1]!;
      const inBucket = upTo - below;
      if (inBucket <= 0) return h.bounds[i]!;
      return lower + ((h.bounds[i]! - lower) * (rank - below)) / inBucket;
    }
  }
  return h.bounds[h.bounds.length - 1]!;
}

/**
 * What was observed between two readings of one histogram (`later` minus `earlier`), for the
 * quantiles of an interval. A histogram that went back (its host restarted, its module was
 * deleted and deployed again) is taken as new: `later` whole.
 *
 * @example
 * quantile(difference(previous, current), 0.99)
 */
export function difference(earlier: HistogramReading | undefined, later: HistogramReading): HistogramReading {
  if (earlier === undefined || earlier.count > later.count || earlier.bounds.length !== later.bounds.length) return later;
  return {
    bounds: later.bounds,
    cumulative: later.cumulative.map((c, i) => c - (earlier.cumulative[i] ?? 0)),
    count: later.count - earlier.count,
    sum: later.sum - earlier.sum,
  };
}
