// The host suite (host-bench.ts): warm calls against a bare node:http floor, the token's
// cost, throughput, CPU per request and the tail at 32 connections, in-guest state costs, and
// the first call after deploy. Goals are issue 14's on the same figures (hotpath-rows.ts).
import { absolute, compare, reference } from './headline.ts';
import { latencyPanel, runLine, stack, valuePanel, type Spec } from './panels.ts';
import { has, num, record, summary } from './read.ts';
import type { SuitePlot } from './suite.ts';

const FLOOR = 'node:http floor (baseline)';

export const hostPlot: SuitePlot = {
  about: 'warm calls on one host against a bare node:http server',
  chart(r) {
    const panels: Spec[] = [
      latencyPanel({
        title: 'Sequential calls, one at a time',
        unit: 'µs',
        cases: [
          { name: FLOOR, side: 'baseline', ...summary(r, 'sequential.floor') },
          { name: 'math.square', side: 'ours', ...summary(r, 'sequential.square') },
          { name: 'math.square, authentication off', side: 'ours', ...summary(r, 'sequential.insecure') },
          { name: 'counter.incr', side: 'ours', ...summary(r, 'counterIncr') },
          { name: 'math.square async (202 + future id)', side: 'ours', ...summary(r, 'asyncCall') },
        ],
      }),
      valuePanel({
        title: `Throughput at ${num(r, 'throughput.concurrency')} connections`,
        axis: 'requests per second (req/s)',
        cases: [{ name: FLOOR, side: 'baseline', value: num(r, 'throughput.floorRps') }, { name: 'math.square', side: 'ours', value: num(r, 'throughput.squareRps') }],
      }),
    ];
    if (has(r, 'cpuPerRequest')) {
      panels.push(valuePanel({
        title: `Server CPU per request at ${num(r, 'cpuPerRequest.concurrency')} connections`,
        axis: 'CPU time per request (µs)',
        cases: [{ name: FLOOR, side: 'baseline', value: num(r, 'cpuPerRequest.floorUs') }, { name: 'math.square', side: 'ours', value: num(r, 'cpuPerRequest.squareUs') }],
      }));
    }
    if (has(r, 'tail')) {
      panels.push(valuePanel({
        title: `p99 latency at ${num(r, 'tail.concurrency')} connections`,
        axis: 'p99 latency (µs)',
        cases: [{ name: FLOOR, side: 'baseline', value: num(r, 'tail.floorP99Us') }, { name: 'math.square', side: 'ours', value: num(r, 'tail.squareP99Us') }],
      }));
    }
    panels.push(valuePanel({
      title: 'In-guest state, 1 KiB values (goals: get < 1 µs, put < 5 µs)',
      axis: 'µs per operation (log scale)',
      log: true,
      cases: [
        { name: 'get, same key again', side: 'ours', value: num(r, 'inGuest.getSameKeyUs') },
        { name: 'get, distinct cached keys', side: 'ours', value: num(r, 'inGuest.getDistinctUs') },
        { name: 'put, amortized with the commit', side: 'ours', value: num(r, 'inGuest.putUs') },
      ],
      rules: [{ value: 1, label: 'get goal 1 µs' }, { value: 5, label: 'put goal 5 µs' }],
    }));
    const first = record(r, 'firstCall');
    panels.push(valuePanel({
      title: 'First call after deploy',
      axis: 'milliseconds (ms)',
      cases: Object.keys(first).flatMap((m) => [
        { name: `${m}: deploy (validate, compile, store)`, side: 'ours' as const, value: num(first, `${m}.deployMs`) },
        { name: `${m}: first call`, side: 'ours' as const, value: num(first, `${m}.firstCallMs`) },
      ]),
    }));
    return stack('host: calls on one host against node:http', runLine(r), panels);
  },
  headline(r) {
    const rows = [
      compare('math.square seq p50 vs node:http floor', 'µs', num(r, 'sequential.square.p50'), num(r, 'sequential.floor.p50'), { op: '<=', ratio: 1.5 }),
      compare('math.square seq p99 vs node:http floor', 'µs', num(r, 'sequential.square.p99'), num(r, 'sequential.floor.p99')),
      compare('math.square p50, token vs authentication off', 'µs', num(r, 'sequential.square.p50'), num(r, 'sequential.insecure.p50')),
      compare('math.square throughput@8 vs floor', 'req/s', num(r, 'throughput.squareRps'), num(r, 'throughput.floorRps'), { op: '>=', ratio: 0.6 }),
    ];
    if (has(r, 'cpuPerRequest')) rows.push(compare('math.square server CPU/req vs floor', 'µs', num(r, 'cpuPerRequest.squareUs'), num(r, 'cpuPerRequest.floorUs'), { op: '<=', ratio: 2 }));
    if (has(r, 'tail')) rows.push(compare('math.square p99@32 vs floor', 'µs', num(r, 'tail.squareP99Us'), num(r, 'tail.floorP99Us'), { op: '<=', ratio: 1.5 }));
    rows.push(
      reference('counter.incr seq p50', 'µs', num(r, 'counterIncr.p50')),
      absolute('in-guest get 1 KiB, distinct cached keys', 'µs', num(r, 'inGuest.getDistinctUs'), '<', 1),
      absolute('in-guest put 1 KiB, amortized', 'µs', num(r, 'inGuest.putUs'), '<', 5),
    );
    return rows;
  },
};
