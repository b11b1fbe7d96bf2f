// The hotpath suite (hotpath.ts): every goal of issue 14 as a row already judged by the suite
// (hotpath-goals.ts), charted as ratios (ours / baseline) with their goals, and the
// sequential latency of every side: ours and the node:http / Redis baselines beside them.
import { goalText, judge, type GoalRow } from '../hotpath-goals.ts';
import type { HeadlineRow } from './headline.ts';
import { label, latencyPanel, runLine, stack, type Side, type Spec } from './panels.ts';
import { has, list, num, summary } from './read.ts';
import type { SuitePlot } from './suite.ts';

/** The sequential sides (hotpath-rows.ts's OneHostFigures.seq), labelled, ours or baseline. */
const SIDES: [string, string, Side][] = [
  ['floor', 'node:http floor (baseline)', 'baseline'],
  ['square', 'math.square', 'ours'],
  ['redisIncr', 'node:http + Redis GET+SET (baseline)', 'baseline'],
  ['incr', 'counter.incr', 'ours'],
  ['redisRmw', 'node:http + Redis 3 GET + SET (baseline)', 'baseline'],
  ['rmw', 'statebench.rmw (read 3, write 1)', 'ours'],
  ['chain', 'node:http A -> B (baseline)', 'baseline'],
  ['dag', 'DAG square(increment(x))', 'ours'],
];

const VERDICT_COLORS = { domain: ['met', 'NOT met', 'ref', 'n/a'], range: ['#2e8b57', '#c0392b', '#9e9e9e', '#d0d0d0'] };

/** The suite's rows, re-judged from ours, baseline and goal (the rule of hotpath-goals.ts). */
function rows(r: Record<string, unknown>): ReturnType<typeof judge>[] {
  return list(r, 'rows').map((row, i) => {
    const g: GoalRow = {
      figure: String((row as { figure?: unknown }).figure ?? `row ${i + 1}`),
      unit: String((row as { unit?: unknown }).unit ?? ''),
      ours: num(row, 'ours'),
      baseline: num(row, 'baseline'),
      ...(has(row, 'goal') ? { goal: { op: (row as { goal: GoalRow['goal'] }).goal!.op, ratio: num(row, 'goal.ratio') } } : {}),
      ...((row as { absolute?: unknown }).absolute === true ? { absolute: true } : {}),
    };
    return judge(g);
  });
}

/** Ratio ours / baseline per figure (log scale; 1 = parity), colored by verdict, the goal as a tick. */
function ratioPanel(judged: ReturnType<typeof judge>[]): Spec {
  const values = judged.filter((j) => !j.absolute && Number.isFinite(j.ratio) && j.ratio > 0).map((j) => ({
    figure: j.figure, ratio: j.ratio, verdict: j.verdict, goal: j.goal?.ratio ?? null, text: `${label(j.ratio)}x${j.verdict === 'ref' ? '' : ` ${j.verdict}`}`,
  }));
  const all = values.flatMap((v) => [v.ratio, v.goal ?? v.ratio]);
  // A decade to spare below the smallest ratio: its label sits left of its bar.
  const lo = 10 ** Math.floor(Math.log10(Math.min(...all, 1) / 8));
  const hi = 10 ** Math.ceil(Math.log10(Math.max(...all, 1) * 3));
  const y = { field: 'figure', type: 'nominal', sort: values.map((v) => v.figure), title: null, axis: { labelLimit: 460 } };
  const x = { field: 'ratio', type: 'quantitative', title: 'ours / baseline (x, log scale, bars from parity at 1; the black tick is the goal)', scale: { type: 'log', domain: [lo, hi], nice: false }, axis: { format: ',~g', grid: true } };
  return {
    title: 'Every figure as a ratio to its baseline',
    width: 420,
    height: { step: 20 },
    data: { values },
    layer: [
      { mark: { type: 'bar', tooltip: true }, encoding: { y, x, x2: { datum: 1 }, color: { field: 'verdict', type: 'nominal', scale: VERDICT_COLORS, legend: { title: 'verdict' } } } },
      { transform: [{ filter: 'datum.goal != null' }], mark: { type: 'tick', color: '#111', thickness: 3, size: 18 }, encoding: { y, x: { ...x, field: 'goal' } } },
      { data: { values: [{ one: 1 }] }, mark: { type: 'rule', color: '#333', strokeDash: [2, 2] }, encoding: { x: { field: 'one', type: 'quantitative' } } },
      // The label at the bar's far end: right of a bar above parity, left of one below.
      { transform: [{ filter: 'datum.ratio >= 1' }], mark: { type: 'text', align: 'left', dx: 3, fontSize: 9 }, encoding: { y, x, text: { field: 'text' } } },
      { transform: [{ filter: 'datum.ratio < 1' }], mark: { type: 'text', align: 'right', dx: -3, fontSize: 9 }, encoding: { y, x, text: { field: 'text' } } },
    ],
  };
}

export const hotpathPlot: SuitePlot = {
  about: "the hot path of state: issue 14's goals, each against its baseline",
  chart(r) {
    const panels: Spec[] = [ratioPanel(rows(r))];
    if (has(r, 'oneHost.seq')) {
      panels.push(latencyPanel({
        title: 'Sequential latency of every side (one host)',
        unit: 'µs',
        cases: SIDES.filter(([k]) => has(r, `oneHost.seq.${k}`)).map(([k, name, side]) => ({ name, side, ...summary(r, `oneHost.seq.${k}`) })),
      }));
    }
    const met = rows(r).filter((j) => j.verdict === 'met').length;
    const judged = rows(r).filter((j) => j.verdict === 'met' || j.verdict === 'NOT met').length;
    return stack('hotpath: the hot path of state against its baselines', runLine(r, `goals met: ${met} of ${judged}`), panels);
  },
  headline(r) {
    return rows(r).map((j): HeadlineRow => {
      // The suite writes "us"; every other table says µs.
      const unit = j.unit === 'us' ? 'µs' : j.unit;
      return { figure: j.figure, unit, ours: j.ours, baseline: j.absolute ? Number.NaN : j.baseline, ratio: j.absolute ? Number.NaN : j.ratio, goal: goalText({ ...j, unit }), verdict: j.verdict };
    });
  },
};
