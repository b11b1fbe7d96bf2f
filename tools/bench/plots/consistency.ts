// The consistency suite (consistency.ts, the paper's Table 2 / Figure 8): random chains of 2-5
// functions over 3 hosts under lww (the baseline), rr and causal: latency per DAG step and by
// chain length, what each mode costs (CPU, host HTTP requests), the anomalies each let
// through, and the metadata each leaves on a key. Goals: rr and causal requests show no
// repeatable-read violation, causal ones no causal-order violation.
import { absolute, compare, reference } from './headline.ts';
import { latencyPanel, runLine, stack, valuePanel, type Side, type Spec } from './panels.ts';
import { has, num, record, summary } from './read.ts';
import type { SuitePlot } from './suite.ts';

const side = (mode: string): Side => (mode === 'lww' ? 'baseline' : 'ours');
const modeName = (mode: string): string => (mode === 'lww' ? 'lww (baseline)' : mode);
const MODE_COLORS = { domain: ['lww (baseline)', 'rr', 'causal'], range: ['#d9730d', '#1f5fa8', '#6a3d9a'] };

/** Request latency by chain length: p50 solid, p99 dashed, one color per mode. */
function byLengthPanel(latency: Record<string, unknown>): Spec {
  const values = Object.keys(latency).flatMap((mode) => [2, 3, 4, 5].flatMap((len) => {
    if (!has(latency[mode], `byLength.chain${len}`)) return [];
    const s = summary(latency[mode], `byLength.chain${len}`);
    return [{ mode: modeName(mode), len, percentile: 'p50', ms: s.p50 / 1000 }, { mode: modeName(mode), len, percentile: 'p99', ms: s.p99 / 1000 }];
  })).filter((v) => Number.isFinite(v.ms) && v.ms > 0);
  return {
    title: 'Request latency by chain length (p50 solid, p99 dashed)',
    width: 520,
    height: 200,
    data: { values },
    mark: { type: 'line', point: true },
    encoding: {
      x: { field: 'len', type: 'ordinal', title: 'functions in the chain' },
      y: { field: 'ms', type: 'quantitative', title: 'latency (ms, log scale)', scale: { type: 'log' }, axis: { format: ',~g' } },
      color: { field: 'mode', type: 'nominal', scale: MODE_COLORS, legend: { title: 'mode' } },
      strokeDash: { field: 'percentile', type: 'nominal', scale: { domain: ['p50', 'p99'], range: [[1, 0], [5, 4]] }, legend: { title: null } },
      detail: { field: 'percentile' },
    },
  };
}

/** Share of recorded requests that violated repeatable read / causal order, per mode. */
function anomaliesPanel(anomalies: Record<string, unknown>): Spec {
  const kinds: [string, string][] = [['rrViolating', 'repeatable read'], ['causalViolating', "causal order (own mode's history)"], ['causalViolatingAllModes', "causal order (all modes' history)"]];
  const values = Object.keys(anomalies).flatMap((mode) => kinds.map(([k, kind]) => {
    const n = num(anomalies[mode], k);
    const requests = num(anomalies[mode], 'requests');
    return { mode: modeName(mode), kind, pct: (100 * n) / Math.max(1, requests), text: `${n} of ${requests}` };
  }));
  const y = { field: 'mode', type: 'nominal', sort: MODE_COLORS.domain, title: null };
  const yOffset = { field: 'kind', sort: kinds.map((k) => k[1]) };
  const x = { field: 'pct', type: 'quantitative', title: 'requests that violated it (%)', scale: { domain: [0, Math.max(10, ...values.map((v) => v.pct * 1.3))], nice: false } };
  return {
    title: 'Anomalies in the recorded histories (goal: none under rr and causal)',
    width: 520,
    height: { step: 16 },
    data: { values },
    layer: [
      { mark: 'bar', encoding: { y, yOffset, x, color: { field: 'kind', type: 'nominal', scale: { domain: kinds.map((k) => k[1]), range: ['#e6550d', '#756bb1', '#bcbddc'] }, legend: { title: null } } } },
      { mark: { type: 'text', align: 'left', dx: 3, fontSize: 9 }, encoding: { y, yOffset, x, text: { field: 'text' } } },
    ],
  };
}

export const consistencyPlot: SuitePlot = {
  about: 'random DAG chains under the lww, rr and causal modes',
  chart(r) {
    const latency = record(r, 'latency');
    const modes = Object.keys(latency);
    const setup = has(r, 'setup') ? `${num(r, 'setup.requestsPerMode')} requests per mode, ${num(r, 'setup.clients')} clients, ${num(r, 'setup.hosts')} hosts, Zipf ${num(r, 'setup.zipf')} over ${num(r, 'setup.keys')} keys` : '';
    const panels: Spec[] = [
      latencyPanel({ title: 'Latency per DAG step (request latency / chain length)', unit: 'ms', scale: 1000, cases: modes.map((m) => ({ name: modeName(m), side: side(m), ...summary(latency[m], 'perStep') })) }),
      byLengthPanel(latency),
      valuePanel({ title: "CPU per request (every platform process)", axis: 'CPU ms per request', cases: modes.map((m) => ({ name: modeName(m), side: side(m), value: num(latency[m], 'cpuMsPerRequest') })) }),
      valuePanel({ title: 'Host HTTP requests per request (the call, DAG steps, imports, pushes)', axis: 'HTTP requests per request', cases: modes.map((m) => ({ name: modeName(m), side: side(m), value: num(latency[m], 'hostHttpRequestsPerRequest') })) }),
    ];
    if (has(r, 'anomalies')) panels.push(anomaliesPanel(record(r, 'anomalies')));
    if (has(r, 'metadata')) {
      const meta = record(r, 'metadata');
      panels.push(latencyPanel({
        title: 'Metadata per key in the KV tier (encoded lattice minus its values), by the mode that wrote it',
        unit: 'bytes',
        axis: 'metadata per key (bytes, log scale)',
        cases: Object.keys(meta).map((g) => ({ name: `${g} (${num(meta[g], 'keys')} keys)`, side: g === 'preloaded only' || g.endsWith('lww') ? 'baseline' : 'ours', ...summary(meta[g], 'metaBytes') })),
      }));
    }
    return stack('consistency: lww, rr and causal on random chains', runLine(r, setup), panels);
  },
  headline(r) {
    const latency = record(r, 'latency');
    const rows = Object.keys(latency).filter((m) => m !== 'lww' && has(latency, 'lww')).flatMap((m) => [
      compare(`${m} per-step p50 vs lww`, 'µs', num(latency[m], 'perStep.p50'), num(latency, 'lww.perStep.p50')),
      compare(`${m} per-step p99 vs lww`, 'µs', num(latency[m], 'perStep.p99'), num(latency, 'lww.perStep.p99')),
      compare(`${m} CPU per request vs lww`, 'ms', num(latency[m], 'cpuMsPerRequest'), num(latency, 'lww.cpuMsPerRequest')),
    ]);
    if (has(r, 'anomalies')) {
      const a = record(r, 'anomalies');
      for (const m of Object.keys(a)) {
        const rr = num(a[m], 'rrViolating');
        rows.push(m === 'lww' ? reference('lww requests violating repeatable read', 'requests', rr) : absolute(`${m} requests violating repeatable read`, 'requests', rr, '=', 0));
        if (m === 'causal') {
          rows.push(
            absolute("causal requests violating causal order (own mode's history)", 'requests', num(a[m], 'causalViolating'), '=', 0),
            absolute("causal requests violating causal order (all modes' history)", 'requests', num(a[m], 'causalViolatingAllModes'), '=', 0),
          );
        }
        else rows.push(reference(`${m} requests violating causal order (own history)`, 'requests', num(a[m], 'causalViolating')));
      }
    }
    return rows;
  },
};
