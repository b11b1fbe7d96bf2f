// The gossip suite (gossip.ts): the average of 10 functions' numbers by push-sum gossip over
// direct messages, against the same average gathered through the KV tier (the baseline).
import { compare, reference } from './headline.ts';
import { latencyPanel, runLine, stack } from './panels.ts';
import { num, summary } from './read.ts';
import type { SuitePlot } from './suite.ts';

export const gossipPlot: SuitePlot = {
  about: 'push-sum gossip between running functions against gathering through the KV tier',
  chart(r) {
    const where = `${num(r, 'functions')} functions on ${num(r, 'hosts')} hosts`;
    return stack('gossip: an average by direct messages', runLine(r, where), [
      latencyPanel({
        title: 'One run: first async call to last result',
        unit: 'ms',
        cases: [
          { name: 'gossip (push-sum, direct messages)', side: 'ours', ...summary(r, 'gossip') },
          { name: 'gather through the KV tier (baseline)', side: 'baseline', ...summary(r, 'gather') },
        ],
      }),
    ]);
  },
  headline(r) {
    return [
      compare('gossip p50 vs gather through the KV tier', 'ms', num(r, 'gossip.p50'), num(r, 'gather.p50')),
      compare('gossip p99 vs gather through the KV tier', 'ms', num(r, 'gossip.p99'), num(r, 'gather.p99')),
      reference('gossip worst relative error', '%', num(r, 'gossipWorstRelativeError') * 100),
    ];
  },
};
