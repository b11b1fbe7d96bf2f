// The DAG suite (dag.ts): square(increment(x)) as a DAG against math.square as one call (the
// goal's baseline), with every step its own call (fusion off), against two node:http
// processes A -> B, and across two hosts against one call plus two loopback round trips.
import { WORKERD_CHAIN_SHARE } from '../hotpath-rows.ts';
import { compare } from './headline.ts';
import { latencyPanel, runLine, stack, valuePanel, type Spec } from './panels.ts';
import { has, num, summary } from './read.ts';
import type { SuitePlot } from './suite.ts';

export const dagPlot: SuitePlot = {
  about: 'two-step DAGs against one call and node:http A -> B',
  chart(r) {
    const panels: Spec[] = [
      latencyPanel({
        title: 'One host, sequential',
        unit: 'µs',
        cases: [
          { name: 'node:http floor: a loopback round trip (baseline)', side: 'baseline', ...summary(r, 'oneHost.floor') },
          { name: 'math.square, one call (baseline)', side: 'baseline', ...summary(r, 'oneHost.square') },
          { name: 'square(increment(x)) as a DAG', side: 'ours', ...summary(r, 'oneHost.dag') },
          { name: 'the DAG, every step its own call (fusion off)', side: 'ours', ...summary(r, 'oneHost.unfused') },
          { name: 'node:http A -> B, two processes (baseline)', side: 'baseline', ...summary(r, 'oneHost.nodeAtoB') },
        ],
      }),
      valuePanel({
        title: `Throughput at ${num(r, 'throughput.concurrency')} connections`,
        axis: 'requests per second (req/s)',
        cases: [
          { name: 'the DAG', side: 'ours', value: num(r, 'throughput.dag') },
          { name: 'the DAG, fusion off', side: 'ours', value: num(r, 'throughput.unfused') },
          { name: 'node:http A -> B (baseline)', side: 'baseline', value: num(r, 'throughput.ab') },
          { name: 'math.square, one call (baseline)', side: 'baseline', value: num(r, 'throughput.square') },
          { name: 'workerd A -> B (issue 14, not measured here)', side: 'reference', value: num(r, 'throughput.workerdAtoB') },
        ],
      }),
    ];
    if (has(r, 'twoHosts')) {
      panels.push(valuePanel({
        title: 'Across two hosts, p50 (goal: at most one call + 2 loopback round trips)',
        axis: 'p50 latency (µs)',
        cases: [
          { name: 'loopback round trip (baseline)', side: 'baseline', value: num(r, 'twoHosts.roundTrip.p50') },
          { name: 'math.square on host A (baseline)', side: 'baseline', value: num(r, 'twoHosts.square.p50') },
          { name: 'the DAG, both steps on host A', side: 'ours', value: num(r, 'twoHosts.oneHost.p50') },
          { name: 'the DAG, increment on host B', side: 'ours', value: num(r, 'twoHosts.acrossHosts.p50') },
        ],
        rules: [{ value: num(r, 'twoHosts.goalUs'), label: 'goal' }],
      }));
    }
    return stack('dag: square(increment(x)) as a DAG', runLine(r), panels);
  },
  headline(r) {
    const rows = [
      compare('DAG 1 host seq p50 vs math.square single call', 'µs', num(r, 'oneHost.dag.p50'), num(r, 'oneHost.square.p50'), { op: '<=', ratio: 1.3 }),
      compare('DAG fusion off seq p50 vs math.square single call', 'µs', num(r, 'oneHost.unfused.p50'), num(r, 'oneHost.square.p50')),
      compare('DAG 1 host seq p50 vs node:http A -> B', 'µs', num(r, 'oneHost.dag.p50'), num(r, 'oneHost.nodeAtoB.p50')),
      compare(`DAG thr@8 vs A -> B (goal: workerd's ${(WORKERD_CHAIN_SHARE * 100).toFixed(0)}%)`, 'req/s', num(r, 'throughput.dag'), num(r, 'throughput.ab'), { op: '>', ratio: WORKERD_CHAIN_SHARE }),
    ];
    if (has(r, 'twoHosts')) {
      rows.push(
        compare('DAG 2 hosts p50 vs single call + 2 loopback RTT', 'µs', num(r, 'twoHosts.acrossHosts.p50'), num(r, 'twoHosts.goalUs'), { op: '<=', ratio: 1 }),
        compare('DAG 2 hosts p50 vs both steps forced on 1 host', 'µs', num(r, 'twoHosts.acrossHosts.p50'), num(r, 'twoHosts.oneHost.p50')),
      );
    }
    return rows;
  },
};
