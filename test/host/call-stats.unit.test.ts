// The per-call metrics kept in plain numbers (host/call-stats.ts, host/metrics.ts) must read
// exactly as prom-client's own Counter and Histogram read for the same calls: same names,
// labels, values and text.
import { Counter, Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { Metrics } from '../../host/metrics.ts';

const BUCKETS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** What host/metrics.ts recorded with prom-client counting each call (before call-stats.ts). */
function promClientReference() {
  const registry = new Registry();
  const calls = new Counter({ name: 'cloudburst_calls_total', help: 'Function calls run on this host, by function and outcome (ok or error).', labelNames: ['function', 'outcome'], registers: [registry] });
  const errors = new Counter({ name: 'cloudburst_call_errors_total', help: 'Failed function calls, by function and error code.', labelNames: ['function', 'code'], registers: [registry] });
  const duration = new Histogram({ name: 'cloudburst_call_duration_seconds', help: 'Function call latency on this host, by function.', labelNames: ['function'], buckets: BUCKETS, registers: [registry] });
  const http = new Counter({ name: 'cloudburst_http_requests_total', help: 'HTTP requests answered, by method and status.', labelNames: ['method', 'status'], registers: [registry] });
  const seen = new Set<string>();
  return {
    registry,
    observeCall(fn: string, seconds: number, code: string | undefined) {
      if (!seen.has(fn)) {
        seen.add(fn);
        calls.inc({ function: fn, outcome: 'ok' }, 0);
        calls.inc({ function: fn, outcome: 'error' }, 0);
      }
      calls.inc({ function: fn, outcome: code === undefined ? 'ok' : 'error' });
      if (code !== undefined) errors.inc({ function: fn, code });
      duration.observe({ function: fn }, seconds);
    },
    observeRequest(method: string, status: number) {
      http.inc({ method, status: String(status) });
    },
  };
}

describe('per-call metrics in plain numbers', () => {
  it('render the same Prometheus text as prom-client counting each call', async () => {
    const ours = new Metrics();
    const ref = promClientReference();
    // Every bucket edge, values between them, one above the last bound, and zero.
    const values = [0, ...BUCKETS, ...BUCKETS.map((b) => b * 0.7), 11, 42.5];
    for (const [i, v] of values.entries()) {
      const fn = i % 3 === 0 ? 'math.square' : 'counter.incr';
      const code = i % 5 === 0 ? 'CALL_TIMEOUT' : undefined;
      ours.observeCall(fn, v, code);
      ref.observeCall(fn, v, code);
      ours.observeRequest('POST', 200);
      ref.observeRequest('POST', 200);
    }
    ours.observeRequest('GET', 404);
    ref.observeRequest('GET', 404);

    const text = await ours.registry.metrics();
    expect(text).toBe(await ref.registry.metrics());
    expect(text).toContain('cloudburst_call_duration_seconds_bucket{le="0.00005",function="math.square"}');
    // Scraping twice shows the same numbers (collect replaces, never adds).
    expect(await ours.registry.metrics()).toBe(text);
    // And the JSON form carries every label on each value, as prom-client's does.
    expect(await ours.registry.getMetricsAsJSON()).toEqual(await ref.registry.getMetricsAsJSON());
  });

  it('forget() removes a deleted module’s series and keeps the others', async () => {
    const ours = new Metrics();
    ours.observeCall('math.square', 0.001, undefined);
    ours.observeCall('counter.incr', 0.001, 'QUOTA_EXCEEDED');
    ours.forget('counter.');
    const text = await ours.registry.metrics();
    expect(text).toContain('cloudburst_calls_total{function="math.square",outcome="ok"} 1');
    expect(text).not.toContain('counter.incr');
  });
});
