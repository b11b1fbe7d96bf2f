// The tenants suite (tenants.ts): tenant b's sequential calls alone and while tenant a floods
// the host, under fair shares of the workers (`--queue share`, ours, the default) and the two
// baselines measured beside it (`fair`: the tenants' queues in turn; `fifo`: one queue).
import { compare } from './headline.ts';
import { latencyPanel, runLine, stack, valuePanel, type LatencyCase, type Side } from './panels.ts';
import { has, num, summary } from './read.ts';
import type { SuitePlot } from './suite.ts';

const QUEUES: [string, string, Side][] = [
  ['share', 'share (ours, default)', 'ours'],
  ['fair', 'fair, no shares (baseline)', 'baseline'],
  ['fifo', 'one FIFO queue (baseline)', 'baseline'],
];

export const tenantsPlot: SuitePlot = {
  about: "another tenant's latency while one tenant floods a host",
  chart(r) {
    const queues = QUEUES.filter(([q]) => has(r, q));
    const cases: LatencyCase[] = queues.flatMap(([q, name, side]) => [
      { name: `${name}: b alone`, side, ...summary(r, `${q}.alone`) },
      { name: `${name}: b while a floods`, side, ...summary(r, `${q}.flooded`) },
    ]);
    const flood = has(r, 'floodConnections') ? `tenant a: ${num(r, 'floodConnections')} connections of ${num(r, 'floodCallMs')} ms calls` : '';
    return stack("tenants: tenant b's math.square while tenant a floods", runLine(r, flood), [
      latencyPanel({ title: "Tenant b's sequential math.square, by queue", unit: 'µs', cases }),
      valuePanel({
        title: "Tenant b's latency with the flood / alone (goal for share: <= 2x)",
        axis: 'flooded / alone (x, log scale)',
        log: true,
        cases: queues.flatMap(([q, name, side]) => [
          { name: `${name}: p50`, side, value: num(r, `${q}.p50Ratio`) },
          { name: `${name}: p99`, side, value: num(r, `${q}.p99Ratio`) },
        ]),
        rules: [{ value: 2, label: 'goal 2x' }],
      }),
      valuePanel({
        title: "Tenant a's calls meanwhile (what the shares cost the flooding tenant)",
        axis: 'calls per second',
        cases: queues.map(([q, name, side]) => ({ name, side, value: num(r, `${q}.floodPerSecond`) })),
      }),
    ]);
  },
  headline(r) {
    return QUEUES.filter(([q]) => has(r, q)).flatMap(([q, name]) => (['p50', 'p99'] as const).map((p) => compare(
      `${name}: b's ${p} with the flood vs alone`, 'µs', num(r, `${q}.flooded.${p}`), num(r, `${q}.alone.${p}`), q === 'share' ? { op: '<=', ratio: 2 } : undefined,
    )));
  },
};
