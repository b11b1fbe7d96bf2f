// The memory suite (memory.ts): a `cloudburst up` process's anonymous memory before runaway
// guests (the baseline), after each round of them, and idle afterwards; with the default
// settings and with a smaller worker memory budget.
import { compare, reference } from './headline.ts';
import { runLine, stack, type Spec } from './panels.ts';
import { list, num } from './read.ts';
import type { SuitePlot } from './suite.ts';

interface Point {
  run: string;
  stage: string;
  order: number;
  mib: number;
}

function points(r: Record<string, unknown>): Point[] {
  return list(r, 'runs').flatMap((run, i) => {
    const name = String((run as { settings?: unknown }).settings ?? `run ${i + 1}`);
    const rounds = list(run, 'afterRoundMiB');
    return [
      { run: name, stage: 'before (baseline)', order: 0, mib: num(run, 'startMiB') },
      ...rounds.map((_, k) => ({ run: name, stage: `after round ${k + 1}`, order: k + 1, mib: num(run, `afterRoundMiB.${k}`) })),
      { run: name, stage: 'idle after 5 s', order: rounds.length + 1, mib: num(run, 'idleMiB') },
    ];
  });
}

export const memoryPlot: SuitePlot = {
  about: 'what runaway guests leave in a host\'s memory',
  chart(r) {
    const values = points(r);
    const stages = [...new Map(values.map((p) => [p.order, p.stage])).entries()].sort((a, b) => a[0] - b[0]).map((e) => e[1]);
    const runs = [...new Set(values.map((p) => p.run))];
    const color = { field: 'run', type: 'nominal', title: 'up flags', scale: { domain: runs, range: ['#1f5fa8', '#6a3d9a', '#2ca02c'].slice(0, Math.max(1, runs.length)) } };
    const x = { field: 'stage', type: 'ordinal', sort: stages, title: null, axis: { labelAngle: 0 } };
    const y = { field: 'mib', type: 'quantitative', title: 'anonymous memory (MiB)', scale: { zero: true } };
    // Each run's memory before the runaways (its baseline) as a dashed line across the panel.
    const baselines = values.filter((p) => p.order === 0);
    const panel: Spec = {
      title: 'Anonymous memory (RssAnon) of the up process; dashed: before the runaway calls',
      width: { step: 56 },
      height: 220,
      layer: [
        { data: { values }, mark: { type: 'bar', tooltip: true }, encoding: { x, xOffset: { field: 'run', sort: runs }, y, color } },
        { data: { values }, mark: { type: 'text', dy: -4, fontSize: 10, baseline: 'bottom' }, encoding: { x, xOffset: { field: 'run', sort: runs }, y, text: { field: 'mib', type: 'quantitative', format: '.0f' } } },
        { data: { values: baselines }, mark: { type: 'rule', strokeDash: [6, 3], strokeWidth: 1.5 }, encoding: { y: { field: 'mib', type: 'quantitative' }, color } },
      ],
    };
    return stack('memory: what runaway guests leave behind', runLine(r, `${num(r, 'rounds')} rounds of: allocate to the limit, 100,000 keys, 50 MB and 70 MB values`), [panel]);
  },
  headline(r) {
    return list(r, 'runs').flatMap((run, i) => {
      const name = String((run as { settings?: unknown }).settings ?? `run ${i + 1}`);
      return [
        compare(`${name}: idle after the runaways vs before`, 'MiB', num(run, 'idleMiB'), num(run, 'startMiB')),
        reference(`${name}: workers replaced`, '', num(run, 'workersRetired')),
      ];
    });
  },
};
