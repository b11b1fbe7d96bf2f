// The dev suite (dev-loop.ts): `cloudburst dev`'s time from a save to the moment the new
// version answers, against asc's own build of the same file (the baseline: what any build
// costs), and the rest (watch, debounce, deploy, first call) against its goal of 1 s.
import { absolute, compare } from './headline.ts';
import { latencyPanel, runLine, stack, valuePanel } from './panels.ts';
import { num, summary } from './read.ts';
import type { SuitePlot } from './suite.ts';

export const devPlot: SuitePlot = {
  about: 'cloudburst dev: from a save to callable, against asc building the same file',
  chart(r) {
    const goal = num(r, 'goalRestMs');
    return stack('dev: save to callable', runLine(r, `${num(r, 'saves')} saves`), [
      latencyPanel({
        title: 'Each save: to callable, and asc\'s share of it',
        unit: 'ms',
        cases: [
          { name: 'save -> callable', side: 'ours', ...summary(r, 'saveToCallable') },
          { name: 'asc build alone (baseline)', side: 'baseline', ...summary(r, 'asc') },
        ],
      }),
      valuePanel({
        title: 'What dev adds to the build (watch, debounce, deploy, first call)',
        axis: 'ms',
        cases: [
          { name: 'the rest, p50', side: 'ours', value: num(r, 'rest.p50') },
          { name: 'the rest, p99', side: 'ours', value: num(r, 'rest.p99') },
        ],
        rules: [{ value: goal, label: `goal ${goal} ms` }],
      }),
    ]);
  },
  headline(r) {
    return [
      compare('save to callable p50 vs asc build alone', 'ms', num(r, 'saveToCallable.p50'), num(r, 'asc.p50')),
      absolute('the rest (save to callable minus asc) p50', 'ms', num(r, 'rest.p50'), '<', num(r, 'goalRestMs')),
      absolute('the rest p99', 'ms', num(r, 'rest.p99'), '<', num(r, 'goalRestMs')),
    ];
  },
};
