// The autoscale suite (autoscale.ts, the paper's Fig. 6): closed-loop clients stepping 1 -> 32
// -> 1 through `cloudburst up --autoscale` (ours) and through the same platform at fixed
// capacity (the baseline), per 0.5 s window: the load, calls/s, p99, workers and hosts, with
// the autoscaler's decisions marked. Goals: a worker within 2 s of the step, a ready host
// within 5 s, no failed request.
import { absolute, compare, reference, type HeadlineRow } from './headline.ts';
import { runLine, stack, type Spec } from './panels.ts';
import { at, has, list, num } from './read.ts';
import type { SuitePlot } from './suite.ts';

const OURS = 'autoscale (ours)';
const RUNS: [string, string][] = [['autoscale', OURS], ['fixed', 'fixed capacity (baseline)']];
const RUN_COLORS = { domain: RUNS.map((r) => r[1]), range: ['#1f5fa8', '#d9730d'] };
const WIDTH = 620;

interface WindowRow {
  run: string;
  t: number;
  clients: number;
  throughput: number;
  p99: number;
  workers: number;
  hosts: number;
  failed: number;
}

function windowsOf(r: Record<string, unknown>): WindowRow[] {
  return RUNS.filter(([k]) => has(r, k)).flatMap(([k, run]) => list(r, `${k}.windows`).map((w, i) => {
    const n = (f: string): number => num(w, f);
    return { run, t: n('t'), clients: n('clients'), throughput: n('throughput'), p99: n('p99'), workers: n('workers'), hosts: n('hosts'), failed: n('failed') };
  }));
}

/** One time series panel over the shared time axis. */
function series(title: string, values: Spec[], y: Spec, height: number, extra: Spec[] = [], domainMax?: number): Spec {
  const x = { field: 't', type: 'quantitative', title: 'time since the load started (s)', ...(domainMax ? { scale: { domain: [0, domainMax], nice: false } } : {}) };
  return {
    title, width: WIDTH, height,
    layer: [
      { data: { values }, mark: { type: 'line', interpolate: 'step-after', strokeWidth: 2 }, encoding: { x, y, color: { field: 'run', type: 'nominal', scale: RUN_COLORS, legend: { title: null } }, strokeDash: { field: 'run', type: 'nominal', scale: { domain: RUN_COLORS.domain, range: [[1, 0], [6, 3]] }, legend: { title: null } } } },
      ...extra,
    ],
  };
}

/** The autoscaler's decisions as labelled vertical lines (`t` in s). */
function decisionMarks(r: Record<string, unknown>): Spec[] {
  if (!has(r, 'autoscale.decisions')) return [];
  const values = list(r, 'autoscale.decisions').map((d) => ({ t: num(d, 't'), text: String((d as { action?: unknown }).action ?? '') }))
    .filter((d) => Number.isFinite(d.t) && d.t >= 0);
  if (values.length === 0) return [];
  return [
    { data: { values }, mark: { type: 'rule', color: '#2e8b57', strokeDash: [3, 3] }, encoding: { x: { field: 't', type: 'quantitative' } } },
    { data: { values }, mark: { type: 'text', color: '#2e8b57', angle: 270, align: 'right', baseline: 'bottom', dx: -4, dy: -2, fontSize: 9, y: 0 }, encoding: { x: { field: 't', type: 'quantitative' }, text: { field: 'text' } } },
  ];
}

export const autoscalePlot: SuitePlot = {
  about: 'host and worker autoscaling under a stepped load, against fixed capacity',
  chart(r) {
    const w = windowsOf(r) as unknown as Spec[];
    const rows = w as unknown as WindowRow[];
    const tMax = Math.max(...rows.map((x) => x.t)) + 0.5;
    const withP99 = rows.filter((x) => Number.isFinite(x.p99) && x.p99 > 0) as unknown as Spec[];
    const capacity = rows.flatMap((x) => [
      { run: x.run, t: x.t, what: 'workers', n: x.workers },
      ...(x.run === OURS ? [{ run: x.run, t: x.t, what: 'ready hosts', n: x.hosts }] : []),
    ]);
    const capacityPanel: Spec = {
      title: 'Workers (all hosts) and ready hosts',
      width: WIDTH, height: 140,
      data: { values: capacity },
      mark: { type: 'line', interpolate: 'step-after', strokeWidth: 2 },
      encoding: {
        x: { field: 't', type: 'quantitative', title: 'time since the load started (s)', scale: { domain: [0, tMax], nice: false } },
        y: { field: 'n', type: 'quantitative', title: 'count', axis: { tickMinStep: 1 } },
        color: { field: 'run', type: 'nominal', scale: RUN_COLORS, legend: { title: null } },
        strokeDash: { field: 'what', type: 'nominal', scale: { domain: ['workers', 'ready hosts'], range: [[1, 0], [2, 2]] }, legend: { title: null } },
        detail: { field: 'what' },
      },
    };
    const failed = rows.filter((x) => x.failed > 0) as unknown as Spec[];
    const panels: Spec[] = [
      series('Closed-loop clients', w.filter((x) => x.run === OURS), { field: 'clients', type: 'quantitative', title: 'clients' }, 70, [], tMax),
      series('Calls answered per second (green lines: the autoscaler\'s decisions)', w, { field: 'throughput', type: 'quantitative', title: 'calls/s' }, 180, [
        ...decisionMarks(r),
        ...(failed.length ? [{ data: { values: failed }, mark: { type: 'point', shape: 'cross', color: '#c0392b', size: 80 }, encoding: { x: { field: 't', type: 'quantitative' }, y: { value: 170 }, tooltip: { field: 'failed' } } }] : []),
      ], tMax),
      series('p99 latency per window', withP99, { field: 'p99', type: 'quantitative', title: 'p99 (ms, log scale)', scale: { type: 'log' }, axis: { format: ',~g' } }, 160, [], tMax),
      capacityPanel,
    ];
    const wait = has(r, 'waitMs') ? `each call waits ${num(r, 'waitMs')} ms in recv; ${num(r, 'windowMs')} ms windows` : '';
    return stack('autoscale: a stepped load, elastic against fixed capacity', runLine(r, wait), panels);
  },
  headline(r) {
    const rows: HeadlineRow[] = [];
    // null: no worker / host came at all during the high step: the goal is not met.
    const within = (figure: string, path: string, limit: number): HeadlineRow => (at(r, path) === null
      ? { ...absolute(figure, 's', Number.NaN, '<=', limit), verdict: 'NOT met' }
      : absolute(figure, 's', num(r, path), '<=', limit));
    if (has(r, 'autoscale')) {
      rows.push(
        within('first worker added after the step', 'autoscale.firstWorkerAddedS', 2),
        within('first host added and ready after the step', 'autoscale.firstHostReadyS', 5),
        absolute('failed requests, autoscale run', 'requests', num(r, 'autoscale.failed.total'), '=', 0),
      );
    }
    if (has(r, 'autoscale') && has(r, 'fixed')) {
      rows.push(compare('calls/s, last 2 s at 32 clients: autoscale vs fixed', 'calls/s', num(r, 'autoscale.plateau.lastPerSecond'), num(r, 'fixed.plateau.lastPerSecond')));
      rows.push(reference('failed requests, fixed run', 'requests', num(r, 'fixed.failed.total')));
    }
    return rows;
  },
};
