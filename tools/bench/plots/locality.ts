// The locality suite (locality.ts, the paper's section 6.1.2): arrays.sum10 over 80 KB to
// 80 MB of input cached on the host (hot), fetched from the KV node (cold), and the same sum
// in a stateless function reading Redis every call (the baseline, the paper's Lambda + Redis).
import { compare } from './headline.ts';
import { label, runLine, stack, type Spec } from './panels.ts';
import { record, summary } from './read.ts';
import type { SuitePlot } from './suite.ts';

const VARIANTS: [string, string, string][] = [
  ['hot', 'hot: cached on the host', '#1f5fa8'],
  ['cold', 'cold: fetched from the KV node', '#6baed6'],
  ['redis', 'node:http + Redis (baseline)', '#d9730d'],
];

/** p50 as a bar, p99 as a black tick, per size and variant; ms on a log scale. */
function sizesPanel(sizes: Record<string, unknown>): Spec {
  const values = Object.keys(sizes).flatMap((size) => VARIANTS.map(([k, name]) => {
    const s = summary(sizes[size], k);
    return { size, variant: name, p50: s.p50 / 1000, p99: s.p99 / 1000, text: label(s.p50 / 1000) };
  })).filter((v) => v.p50 > 0 && Number.isFinite(v.p50));
  const all = values.flatMap((v) => [v.p50, v.p99]).filter((x) => x > 0 && Number.isFinite(x));
  const lo = 10 ** Math.floor(Math.log10(Math.min(...all) * 0.9));
  const hi = 10 ** Math.ceil(Math.log10(Math.max(...all) * 2.5));
  const x = { field: 'p50', type: 'quantitative', title: 'latency (ms, log scale)', scale: { type: 'log', domain: [lo, hi], nice: false }, axis: { format: ',~g', grid: true } };
  const y = { field: 'size', type: 'nominal', sort: Object.keys(sizes), title: 'input (10 arrays)' };
  const yOffset = { field: 'variant', sort: VARIANTS.map((v) => v[1]) };
  return {
    title: 'arrays.sum10: p50 (bar) and p99 (tick)',
    width: 520,
    height: { step: 20 },
    data: { values },
    layer: [
      { mark: { type: 'bar', tooltip: true }, encoding: { y, yOffset, x, x2: { datum: lo }, color: { field: 'variant', type: 'nominal', scale: { domain: VARIANTS.map((v) => v[1]), range: VARIANTS.map((v) => v[2]) }, legend: { title: null } } } },
      { mark: { type: 'tick', color: '#222', thickness: 2 }, encoding: { y, yOffset, x: { ...x, field: 'p99' } } },
      { mark: { type: 'text', align: 'left', dx: 3, fontSize: 9, color: '#333' }, encoding: { y, yOffset, x, text: { field: 'text' } } },
    ],
  };
}

export const localityPlot: SuitePlot = {
  about: 'data locality: cached (hot) and fetched (cold) inputs against a stateless function over Redis',
  chart(r) {
    return stack('locality: summing 10 arrays by reference', runLine(r, 'hot and cold are ours; the Redis function is the baseline'), [sizesPanel(record(r, 'sizes'))]);
  },
  headline(r) {
    const sizes = record(r, 'sizes');
    return Object.keys(sizes).flatMap((size) => [
      compare(`${size}: hot p50 vs node:http + Redis`, 'µs', summary(sizes[size], 'hot').p50, summary(sizes[size], 'redis').p50),
      compare(`${size}: cold p50 vs node:http + Redis`, 'µs', summary(sizes[size], 'cold').p50, summary(sizes[size], 'redis').p50),
    ]);
  },
};
