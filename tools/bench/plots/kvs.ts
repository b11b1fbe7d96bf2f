// The KV tier suite (kvs.ts): put/get latency and put throughput of 1 KiB values on one node
// and on three (N=3, W=1 and W=2) against Redis and a bare HTTP server, the push to a
// subscriber, and throughput through a kill -9 of one node. Goals: issue 14's on these figures.
import { compare, reference } from './headline.ts';
import { latencyPanel, runLine, stack, valuePanel, type LatencyCase, type Side, type Spec } from './panels.ts';
import { has, list, num, summary } from './read.ts';
import type { SuitePlot } from './suite.ts';

/** The suite's configurations: result key, label, side. */
const CONFIGS: [string, string, Side][] = [
  ['redis', 'Redis (baseline)', 'baseline'],
  ['httpFloor', 'bare HTTP server (baseline)', 'baseline'],
  ['oneNodeFsyncbatch', '1 node, fsync batch', 'ours'],
  ['oneNodeFsyncoff', '1 node, fsync off', 'ours'],
  ['threeNodesW1', '3 nodes N=3 W=1', 'ours'],
  ['threeNodesW2', '3 nodes N=3 W=2', 'ours'],
];

const present = (r: Record<string, unknown>): [string, string, Side][] => CONFIGS.filter(([k]) => has(r, k));

/** Requests per second per 0.5 s window while one of three nodes is killed at t = 2 s. */
function failurePanel(r: Record<string, unknown>): Spec {
  const rps = list(r, 'failure.rpsPerHalfSecond').map((v, i) => ({ t: i * 0.5, rps: typeof v === 'number' ? v : Number.NaN }));
  return {
    title: `Put throughput through a kill -9 of one of 3 nodes at t = 2 s (W=2, 16 connections; ${num(r, 'failure.errors')} errors)`,
    width: 520,
    height: 160,
    layer: [
      { data: { values: rps }, mark: { type: 'line', point: true, color: '#1f5fa8', interpolate: 'step-after' }, encoding: { x: { field: 't', type: 'quantitative', title: 'time (s)' }, y: { field: 'rps', type: 'quantitative', title: 'puts per second (req/s)' } } },
      { data: { values: [{ t: 2, text: 'kill -9' }] }, mark: { type: 'rule', color: '#c0392b', strokeDash: [6, 3], strokeWidth: 2 }, encoding: { x: { field: 't', type: 'quantitative' } } },
      { data: { values: [{ t: 2, text: 'kill -9' }] }, mark: { type: 'text', color: '#c0392b', align: 'left', dx: 4, y: 0, baseline: 'top' }, encoding: { x: { field: 't', type: 'quantitative' }, text: { field: 'text' } } },
    ],
  };
}

export const kvsPlot: SuitePlot = {
  about: 'the KV tier (1 KiB values) against Redis',
  chart(r) {
    const configs = present(r);
    const lat = (op: 'put' | 'get'): LatencyCase[] => configs.map(([k, name, side]) => ({ name, side, ...summary(r, `${k}.${op}`) }));
    const panels: Spec[] = [
      latencyPanel({ title: 'put latency, sequential (Redis SET)', unit: 'µs', cases: lat('put') }),
      latencyPanel({ title: 'get latency, sequential (Redis GET)', unit: 'µs', cases: lat('get') }),
      valuePanel({ title: 'put throughput at 16 connections', axis: 'puts per second (req/s)', cases: configs.map(([k, name, side]) => ({ name, side, value: num(r, `${k}.putRps`) })) }),
    ];
    const push: LatencyCase[] = [];
    if (has(r, 'stalenessUs')) push.push({ name: 'subscribed on every replica', side: 'ours', ...summary(r, 'stalenessUs') });
    if (has(r, 'relayedStalenessUs')) push.push({ name: 'subscribed on one node, written through another', side: 'ours', ...summary(r, 'relayedStalenessUs') });
    if (push.length) panels.push(latencyPanel({ title: 'Cache staleness: write -> push received by a subscriber', unit: 'µs', cases: push }));
    if (has(r, 'failure')) panels.push(failurePanel(r));
    const conv = has(r, 'convergenceMs') ? `; replicas converged ${num(r, 'convergenceMs').toFixed(0)} ms after 2,000 W=1 writes` : '';
    return stack('kvs: the KV tier against Redis', runLine(r, `1 KiB values${conv}`), panels);
  },
  headline(r) {
    const rows = [];
    if (has(r, 'oneNodeFsyncoff')) {
      rows.push(
        compare('KV 1 node fsync off: put p50 vs Redis SET', 'µs', num(r, 'oneNodeFsyncoff.put.p50'), num(r, 'redis.put.p50'), { op: '<=', ratio: 3 }),
        compare('KV 1 node fsync off: get p50 vs Redis GET', 'µs', num(r, 'oneNodeFsyncoff.get.p50'), num(r, 'redis.get.p50'), { op: '<=', ratio: 3 }),
      );
    }
    if (has(r, 'threeNodesW2')) {
      rows.push(
        compare('KV 3 nodes N=3 W=2: get p50 vs Redis GET', 'µs', num(r, 'threeNodesW2.get.p50'), num(r, 'redis.get.p50'), { op: '<=', ratio: 2 }),
        compare('KV 3 nodes N=3 W=2: put p50 vs Redis SET', 'µs', num(r, 'threeNodesW2.put.p50'), num(r, 'redis.put.p50')),
        compare('KV 3 nodes W=2: put thr@16 vs Redis SET', 'req/s', num(r, 'threeNodesW2.putRps'), num(r, 'redis.putRps'), { op: '>=', ratio: 0.5 }),
      );
    }
    if (has(r, 'convergenceMs')) rows.push(reference('replica convergence after 2,000 W=1 writes', 'ms', num(r, 'convergenceMs')));
    if (has(r, 'stalenessUs')) rows.push(reference('write -> subscriber push, p50', 'µs', num(r, 'stalenessUs.p50')));
    if (has(r, 'failure')) rows.push(reference('errors through a kill -9 of 1 of 3 nodes (W=2)', '', num(r, 'failure.errors')));
    return rows;
  },
};
