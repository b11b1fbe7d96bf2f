// The bench's charts (tools/bench/plots/): each suite's result, in the shape the suite saves
// it, through its spec builder and vega's SVG renderer; the SVG must carry the series, labels
// and values a reader looks for (bars are read back from their aria-labels, which vega writes
// per mark item: "axis title: value; case: name; key: ours p50").
import { describe, expect, it } from 'vitest';
import { renderSvg } from '../../tools/bench/plots/render.ts';
import { ShapeError } from '../../tools/bench/plots/read.ts';
import { PLOTS } from '../../tools/bench/plots/suites.ts';
import { textWidth } from '../../tools/bench/plots/text-width.ts';
import { RESULTS } from './bench-plots-fixtures.ts';

/** The aria-labels of the marks vega described as `role` ("bar", "line", "point"...). */
function marks(svg: string, role: string): string[] {
  return [...svg.matchAll(/aria-label="([^"]*)"[^>]*aria-roledescription="([^"]*)"/g)].filter((m) => m[2] === role)
    // Numbers as plain digits (vega groups thousands or not, depending on the run's locale).
    .map((m) => m[1]!.replace(/&amp;/g, '&').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/(\d),(\d{3})/g, '$1$2'));
}

/** The text of every <text> element (titles, axis labels and titles, legends, value labels). */
function texts(svg: string): string[] {
  return [...svg.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) => m[1]!.replace(/&amp;/g, '&').replace(/&gt;/g, '>').replace(/&quot;/g, '"'));
}

const render = async (suite: string, result = RESULTS[suite]!): Promise<string> => renderSvg(PLOTS[suite]!.chart(result));

describe('bench plots: every suite has a chart and headline figures', () => {
  it('every suite of npm run bench has a plot module and a fixture', () => {
    expect(Object.keys(PLOTS).sort()).toEqual(Object.keys(RESULTS).sort());
  });

  it.each(Object.keys(RESULTS))('%s: renders an SVG titled with the suite and its run, with no undefined or NaN labels', async (suite) => {
    const svg = await render(suite);
    expect(svg.startsWith('<svg')).toBe(true);
    const t = texts(svg);
    expect(t.some((x) => x.startsWith(`${suite}: `))).toBe(true);
    expect(t.some((x) => x.startsWith('2026-12-04 15:14:59 UTC, Node v20.20.2'))).toBe(true);
    for (const x of t) expect(x).not.toMatch(/undefined|NaN|null/);
  });
});

describe('bench plots: what each chart shows', () => {
  it('host: p50 and p99 bars of each case on a log µs axis, the floor drawn as the baseline', async () => {
    const svg = await render('host');
    const bars = marks(svg, 'bar').filter((b) => b.startsWith('latency (µs, log scale)'));
    expect(bars).toHaveLength(10);
    expect(bars).toContain('latency (µs, log scale): 155.4; case: node:http floor (baseline); percentile: p50; key: baseline p50');
    expect(bars).toContain('latency (µs, log scale): 5181.1; case: math.square; percentile: p99; key: ours p99');
    // The baseline is orange, ours blue.
    expect(svg).toMatch(/aria-label="[^"]*key: baseline p50"[^>]*fill="#d9730d"/);
    expect(svg).toMatch(/aria-label="[^"]*key: ours p50"[^>]*fill="#1f5fa8"/);
    const t = texts(svg);
    expect(t).toEqual(expect.arrayContaining(['requests per second (req/s)', 'CPU time per request (µs)', 'get goal 1 µs', 'put goal 5 µs', 'baseline p50', 'ours p99']));
    expect(marks(svg, 'bar').filter((b) => b.startsWith('requests per second'))).toEqual([
      'requests per second (req/s): 19869; case: node:http floor (baseline); key: baseline',
      'requests per second (req/s): 3831; case: math.square; key: ours',
    ]);
  });

  it('kvs: every configuration against Redis, and the kill -9 timeline', async () => {
    const svg = await render('kvs');
    // put and get, p50 and p99, of six configurations; p50 and p99 of two kinds of push.
    expect(marks(svg, 'bar').filter((b) => b.includes('percentile'))).toHaveLength(24 + 4);
    expect(marks(svg, 'bar').filter((b) => b.includes('case: Redis (baseline); percentile: p50; key: baseline p50'))).toHaveLength(2);
    expect(marks(svg, 'bar').filter((b) => b.startsWith('puts per second'))).toHaveLength(6);
    expect(texts(svg)).toEqual(expect.arrayContaining(['kill -9', 'time (s)', 'puts per second (req/s)', '3 nodes N=3 W=2']));
  });

  it('locality: hot, cold and the Redis baseline per input size, in ms', async () => {
    const svg = await render('locality');
    const bars = marks(svg, 'bar');
    expect(bars).toHaveLength(6);
    expect(bars).toContain('latency (ms, log scale): 45; input (10 arrays): 8 MB; variant: node:http + Redis (baseline)');
    expect(texts(svg)).toContain('latency (ms, log scale)');
  });

  it('dag: the goal line across two hosts and workerd as a reference, not a measured baseline', async () => {
    const svg = await render('dag');
    expect(texts(svg)).toEqual(expect.arrayContaining(['goal', 'reference', 'workerd A -> B (issue 14, not measured here)']));
    expect(marks(svg, 'rule mark')).toEqual(['value: 2134.1']);
    expect(marks(svg, 'bar').filter((b) => b.startsWith('p50 latency (µs)'))).toHaveLength(4);
  });

  it('dev: save to callable against asc alone, and the rest against its 1 s goal', async () => {
    const svg = await render('dev');
    const bars = marks(svg, 'bar');
    expect(bars).toContain('latency (ms, log scale): 555; case: save -> callable; percentile: p50; key: ours p50');
    expect(bars).toContain('latency (ms, log scale): 490; case: asc build alone (baseline); percentile: p50; key: baseline p50');
    expect(bars).toContain('ms: 65; case: the rest, p50; key: ours');
    expect(texts(svg)).toContain('goal 1000 ms');
    const rows = PLOTS.dev!.headline(RESULTS.dev!);
    expect(rows.map((r) => [r.figure, r.verdict])).toEqual([
      ['save to callable p50 vs asc build alone', 'ref'],
      ['the rest (save to callable minus asc) p50', 'met'],
      ['the rest p99', 'met'],
    ]);
    expect(rows[0]!.ratio).toBeCloseTo(555 / 490, 5);
  });

  it('gossip: gossip against the gather baseline in ms', async () => {
    const bars = marks(await render('gossip'), 'bar');
    expect(bars).toContain('latency (ms, log scale): 61.5; case: gather through the KV tier (baseline); percentile: p50; key: baseline p50');
    expect(bars).toHaveLength(4);
  });

  it('consistency: lww as the baseline of every panel, anomalies per mode, lines by chain length', async () => {
    const svg = await render('consistency');
    const t = texts(svg);
    expect(t).toEqual(expect.arrayContaining(['lww (baseline)', 'rr', 'causal', 'repeatable read', 'functions in the chain', 'requests that violated it (%)']));
    expect(marks(svg, 'bar').filter((b) => b.startsWith('requests that violated it'))).toHaveLength(9);
    expect(t).toContain('7 of 100');
  });

  it('memory: a bar per run and stage (before, each round, idle), each run\'s baseline dashed', async () => {
    const svg = await render('memory');
    expect(texts(svg)).toEqual(expect.arrayContaining(['before (baseline)', 'after round 1', 'idle after 5 s', '(defaults)', '--worker-memory-mib 256', '160']));
    expect(marks(svg, 'bar')).toHaveLength(6);
    expect(marks(svg, 'rule mark')).toHaveLength(2);
  });

  it('tenants: share as ours, fair and fifo as baselines, the 2x goal', async () => {
    const svg = await render('tenants');
    expect(texts(svg)).toEqual(expect.arrayContaining(['goal 2x', 'share (ours, default): b while a floods', 'one FIFO queue (baseline): b alone']));
    expect(marks(svg, 'bar').filter((b) => b.startsWith('latency'))).toHaveLength(12);
  });

  it('autoscale: the elastic run against fixed capacity over time, with the decisions', async () => {
    const svg = await render('autoscale');
    const t = texts(svg);
    expect(t).toEqual(expect.arrayContaining(['autoscale (ours)', 'fixed capacity (baseline)', 'time since the load started (s)', 'calls/s', 'p99 (ms, log scale)', 'out', 'added', 'ready hosts']));
  });

  it('hotpath: one ratio bar per relative figure colored by verdict; absolute figures stay in the table', async () => {
    const svg = await render('hotpath');
    const ratios = marks(svg, 'bar').filter((b) => b.startsWith('ours / baseline'));
    expect(ratios).toHaveLength(3);
    expect(ratios.find((b) => b.includes('verdict: NOT met'))).toContain('4.56');
    expect(svg).toMatch(/aria-label="[^"]*verdict: met[^"]*"[^>]*fill="#2e8b57"/);
    expect(texts(svg)).toContain('node:http + Redis GET+SET (baseline)');
  });
});

describe('bench plots: headline figures', () => {
  const headline = (suite: string) => PLOTS[suite]!.headline(RESULTS[suite]!);

  it('a figure against its baseline: ratio and the verdict of its goal', () => {
    const p50 = headline('host').find((r) => r.figure === 'math.square seq p50 vs node:http floor')!;
    expect(p50).toMatchObject({ ours: 555.9, baseline: 155.4, goal: '<= 1.50x', verdict: 'NOT met' });
    expect(p50.ratio).toBeCloseTo(3.577, 3);
    expect(headline('dag').find((r) => r.figure.startsWith('DAG thr@8'))!.verdict).toBe('met');
  });

  it('absolute goals: counts that must be 0, times under a limit; "none came" is not met', () => {
    const c = headline('consistency');
    expect(c.find((r) => r.figure === "causal requests violating causal order (all modes' history)")).toMatchObject({ ours: 0, goal: '= 0 requests', verdict: 'met' });
    expect(c.find((r) => r.figure === 'lww requests violating repeatable read')).toMatchObject({ ours: 7, verdict: 'ref' });
    const a = headline('autoscale');
    expect(a.find((r) => r.figure === 'first worker added after the step')).toMatchObject({ ours: 0.5, goal: '<= 2 s', verdict: 'met' });
    expect(a.find((r) => r.figure === 'failed requests, autoscale run')).toMatchObject({ ours: 1, verdict: 'NOT met' });
    const none = PLOTS.autoscale!.headline({ ...RESULTS.autoscale!, autoscale: { ...(RESULTS.autoscale!.autoscale as object), firstHostReadyS: null } });
    expect(none.find((r) => r.figure === 'first host added and ready after the step')!.verdict).toBe('NOT met');
  });

  it('hotpath: the rows the suite judged, judged again by the same rule, absolute ones without a ratio', () => {
    const h = headline('hotpath');
    expect(h.map((r) => r.verdict)).toEqual(['NOT met', 'met', 'ref', 'ref', 'NOT met']);
    expect(h[4]).toMatchObject({ unit: 'µs', goal: '< 5.00 µs' });
    expect(h[4]!.ratio).toBeNaN();
  });

  it('a result without a field its chart needs: a ShapeError naming the field', () => {
    const { sequential: _, ...broken } = RESULTS.host!;
    expect(() => PLOTS.host!.chart(broken)).toThrow(ShapeError);
    expect(() => PLOTS.host!.chart(broken)).toThrow('sequential.floor.p50 is missing');
    expect(() => PLOTS.tenants!.headline({ share: { alone: { p50: 'fast' } } })).toThrow('share.flooded.p50 is missing');
  });
});

describe('bench plots: text widths for layout without a canvas', () => {
  it('narrow letters count less than wide ones, bold more than regular', () => {
    expect(textWidth('iiii', 10)).toBeLessThan(textWidth('mmmm', 10));
    expect(textWidth('node:http floor (baseline)', 11)).toBeLessThan(0.8 * 11 * 'node:http floor (baseline)'.length);
    expect(textWidth('Title', 14, true)).toBeGreaterThan(textWidth('Title', 14));
  });
});
