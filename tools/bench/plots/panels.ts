// The chart shapes the suites share, as vega-lite fragments: horizontal bars (case names are
// long: "math.square, authentication off"), ours in blues and the baseline measured beside it
// in oranges, so the baseline stands out in every chart; latency on a log scale, because the
// tails (p99) are often ten times the median and would flatten everything else.
import type { TopLevelSpec } from './render.ts';

/** A vega-lite fragment (a panel of a chart). */
export type Spec = Record<string, unknown>;

/** Whose figure a bar is: ours, the baseline measured in the same run, or a reference not measured here. */
export type Side = 'ours' | 'baseline' | 'reference';

/** Legend entries and their colors: dark for p50 (or the one value), light for p99. */
const COLORS: Record<string, string> = {
  'ours p50': '#1f5fa8', 'ours p99': '#8fb8e6',
  'baseline p50': '#d9730d', 'baseline p99': '#f5bf8a',
  'reference p50': '#7a7a7a', 'reference p99': '#c4c4c4',
  ours: '#1f5fa8', baseline: '#d9730d', reference: '#9e9e9e',
};

/** The color scale of the keys that occur in `rows` (so the legend lists only those). */
function colorScale(keys: readonly string[]): { domain: string[]; range: string[] } {
  const domain = Object.keys(COLORS).filter((k) => keys.includes(k));
  return { domain, range: domain.map((k) => COLORS[k]!) };
}

/** A figure with the precision that means something at its size (for bar labels). */
export function label(x: number): string {
  if (Math.abs(x) >= 1000) return Math.round(x).toLocaleString('en-US');
  if (Math.abs(x) >= 100) return x.toFixed(0);
  if (Math.abs(x) >= 10) return x.toFixed(1);
  return x.toFixed(2);
}

const usable = (x: number, log: boolean): boolean => Number.isFinite(x) && (!log || x > 0);

export interface LatencyCase {
  name: string;
  side: Side;
  p50: number;
  p99: number;
}

/**
 * p50 and p99 of each case as two bars, log scale. `unit` is the unit of the values as given
 * ('µs' or 'ms'); `scale` divides them first (1000: µs shown as ms).
 */
export function latencyPanel(opts: { title: string; unit: string; cases: readonly LatencyCase[]; scale?: number; width?: number; axis?: string }): Spec {
  const k = opts.scale ?? 1;
  const values = opts.cases.flatMap((c) => (['p50', 'p99'] as const)
    .filter((p) => usable(c[p], true))
    .map((p) => ({ case: c.name, percentile: p, key: `${c.side} ${p}`, value: c[p] / k, text: label(c[p] / k) })));
  return bars(opts.title, values, opts.cases.map((c) => c.name), opts.axis ?? `latency (${opts.unit}, log scale)`, true, opts.width, true);
}

export interface ValueCase {
  name: string;
  side: Side;
  value: number;
}

/** One bar per case (throughput, CPU per request, MiB...); optional goal lines. */
export function valuePanel(opts: { title: string; axis: string; cases: readonly ValueCase[]; log?: boolean; width?: number; rules?: readonly { value: number; label: string }[] }): Spec {
  const log = opts.log ?? false;
  const values = opts.cases.filter((c) => usable(c.value, log)).map((c) => ({ case: c.name, key: c.side, value: c.value, text: label(c.value) }));
  const rules = (opts.rules ?? []).filter((r) => usable(r.value, log));
  const panel = bars(opts.title, values, opts.cases.map((c) => c.name), opts.axis, log, opts.width, false, rules.map((r) => r.value));
  if (rules.length === 0) return panel;
  const ruleData = { values: rules.map((r) => ({ value: r.value, text: r.label })) };
  return {
    ...panel,
    layer: [
      ...(panel.layer as Spec[]),
      { data: ruleData, mark: { type: 'rule', color: '#c0392b', strokeDash: [6, 3], strokeWidth: 2 }, encoding: { x: { field: 'value', type: 'quantitative' } } },
      // The label twice: a white outline under it keeps it readable over a bar.
      ...[{ stroke: 'white', strokeWidth: 3 }, {}].map((halo) => ({
        data: ruleData, mark: { type: 'text', color: '#c0392b', align: 'left', dx: 3, baseline: 'top', fontSize: 10, fontWeight: 'bold', y: 0, dy: 2, ...halo }, encoding: { x: { field: 'value', type: 'quantitative' }, text: { field: 'text' } },
      })),
    ],
  };
}

/**
 * The value axis: a log scale from the power of ten below the smallest value to the one above
 * the largest (room for the labels; vega-lite draws log bars from the domain's start), or a
 * linear one from 0 with a little room on the right.
 */
function valueScale(values: readonly number[], log: boolean, extra: readonly number[] = []): Spec {
  const all = [...values, ...extra].filter((v) => usable(v, log));
  if (all.length === 0) return log ? { type: 'log' } : { zero: true };
  const max = Math.max(...all);
  if (!log) return { domain: [0, max * 1.15], nice: false };
  const lo = 10 ** Math.floor(Math.log10(Math.min(...all) * 0.9));
  const hi = 10 ** Math.ceil(Math.log10(max * 2.5));
  return { type: 'log', domain: [lo, hi], nice: false };
}

/** Horizontal bars of `values` ({case, key, value, text}), grouped per case when `grouped` (p50 and p99). */
function bars(title: string, values: Spec[], order: string[], axis: string, log: boolean, width = 520, grouped = false, extra: readonly number[] = []): Spec {
  const keys = [...new Set(values.map((v) => String(v.key)))];
  const x = {
    field: 'value', type: 'quantitative', title: axis, scale: valueScale(values.map((v) => Number(v.value)), log, extra),
    axis: log ? { format: ',~g', grid: true } : {},
  };
  const domain = (x.scale as { domain?: number[] }).domain;
  // A log bar has no zero to start from: it starts at the axis' start.
  const from = log && domain ? { x2: { datum: domain[0] } } : {};
  const y = { field: 'case', type: 'nominal', sort: order, title: null, axis: { labelLimit: 320 } };
  const offset = grouped ? { yOffset: { field: 'percentile', sort: ['p50', 'p99'] } } : {};
  return {
    title,
    width,
    // With an offset (p50 and p99 side by side) the step is each bar's.
    height: { step: grouped ? 15 : 22 },
    data: { values },
    layer: [
      { mark: { type: 'bar', tooltip: true }, encoding: { y, ...offset, x, ...from, color: { field: 'key', type: 'nominal', scale: colorScale(keys), legend: { title: null } } } },
      { mark: { type: 'text', align: 'left', dx: 3, fontSize: 9, color: '#333' }, encoding: { y, ...offset, x, text: { field: 'text' } } },
    ],
  };
}

/** A suite's chart: its panels stacked, one title (the suite, the run's date and size). */
export function stack(title: string, subtitle: string, panels: readonly Spec[]): TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: { text: title, subtitle },
    vconcat: [...panels],
    // Every panel its own axes and legends: they show different things.
    resolve: {
      scale: { color: 'independent', x: 'independent', y: 'independent', yOffset: 'independent', strokeDash: 'independent', strokeWidth: 'independent' },
      legend: { color: 'independent', strokeDash: 'independent' },
    },
  } as unknown as TopLevelSpec;
}

/** The subtitle every chart carries: when and how the figures were taken. */
export function runLine(result: Record<string, unknown>, extra = ''): string {
  const date = typeof result.date === 'string' ? result.date.replace('T', ' ').replace(/\.\d+Z$/, ' UTC') : 'date unknown';
  const node = typeof result.node === 'string' ? `, Node ${result.node}` : '';
  const quick = result.quick === true ? ', --quick' : '';
  return `${date}${node}${quick}${extra ? `; ${extra}` : ''}`;
}
