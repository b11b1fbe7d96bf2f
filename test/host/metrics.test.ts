import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import parsePrometheusTextFormat, { type Family } from 'parse-prometheus-text-format';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HostClient } from '../../tools/cli/client.ts';
import { ROOT, startPlatform, type Platform } from '../helpers/platform.ts';

const TYPES = { counter: 'COUNTER', gauge: 'GAUGE', histogram: 'HISTOGRAM' } as const;

/** The "Metrics" table of host/README.md: metric name -> type, as the parser spells it. */
function documented(): Map<string, string> {
  const readme = readFileSync(join(ROOT, 'host', 'README.md'), 'utf8');
  const rows = new Map<string, string>();
  for (const m of readme.matchAll(/^\| `(cloudburst_[a-z_]+)(?:\{[a-z,]+\})?` \| (counter|gauge|histogram) \|/gm)) {
    rows.set(m[1]!, TYPES[m[2] as keyof typeof TYPES]);
  }
  return rows;
}

async function scrape(client: HostClient): Promise<{ contentType: string | undefined; families: Family[] }> {
  const res = await client.request('GET', '/metrics');
  expect(res.status).toBe(200);
  return { contentType: res.headers['content-type']?.toString(), families: parsePrometheusTextFormat(res.body.toString()) };
}

/** The value of one series (a counter or gauge), or undefined when the host does not show it. */
function valueOf(families: Family[], name: string, labels: Record<string, string> = {}): number | undefined {
  const series = families.find((f) => f.name === name)?.metrics.find((s) => {
    const have = s.labels ?? {};
    return Object.keys(have).length === Object.keys(labels).length && Object.entries(labels).every(([k, v]) => have[k] === v);
  });
  return series?.value === undefined ? undefined : Number(series.value);
}

describe('host: /metrics in the Prometheus text format', () => {
  let a: Platform;
  let b: Platform;

  beforeAll(async () => {
    // Two hosts in one process: each has its own registry.
    [a, b] = await Promise.all([startPlatform(), startPlatform()]);
    await Promise.all([a.deploy('math'), a.deploy('hostile'), b.deploy('math')]);
  });
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
  });

  it('every metric has HELP and a TYPE; a cloudburst_ one is a counter if it ends in _total, a histogram if in _seconds, else a gauge', async () => {
    await a.call('math.square', [3]);
    await expect(a.call('hostile.divide', [1, 0])).rejects.toMatchObject({ code: 'GUEST_TRAP' });
    const { contentType, families } = await scrape(a.client);
    expect(contentType).toBe('text/plain; version=0.0.4; charset=utf-8');
    const names = families.map((f) => f.name);
    expect(new Set(names).size).toBe(names.length);
    for (const f of families) {
      expect(f.help, `HELP of ${f.name}`).not.toBe('');
      expect(f.type, `TYPE of ${f.name}`).not.toBe('UNTYPED');
    }
    const ours = families.filter((f) => f.name.startsWith('cloudburst_'));
    for (const f of ours) {
      const expected = f.name.endsWith('_total') ? 'COUNTER' : f.name.endsWith('_seconds') ? 'HISTOGRAM' : 'GAUGE';
      expect(f.type, f.name).toBe(expected);
    }
    // Some that go down, to be sure they are not mistaken for counters.
    for (const g of ['cloudburst_outbox_keys', 'cloudburst_workers_busy', 'cloudburst_calls_queued', 'cloudburst_dag_runs_active', 'cloudburst_causal_versions_held']) {
      expect(ours.find((f) => f.name === g)?.type, g).toBe('GAUGE');
    }
    expect(ours.find((f) => f.name === 'cloudburst_call_duration_seconds')?.type).toBe('HISTOGRAM');
    // The process's own metrics come along.
    for (const name of ['process_cpu_user_seconds_total', 'process_resident_memory_bytes', 'nodejs_eventloop_lag_seconds', 'nodejs_heap_size_used_bytes']) {
      expect(names, name).toContain(name);
    }
  });

  it('host/README.md documents exactly the metrics a host serves, with their types', async () => {
    const { families } = await scrape(a.client);
    const served = new Map(families.filter((f) => f.name.startsWith('cloudburst_')).map((f) => [f.name, f.type as string]));
    expect(documented()).toEqual(served);
  });

  it('values move: a call counts by outcome and error code, and its HTTP request counts', async () => {
    const before = (await scrape(a.client)).families;
    const ok = valueOf(before, 'cloudburst_calls_total', { function: 'math.square', outcome: 'ok' }) ?? 0;
    const failed = valueOf(before, 'cloudburst_calls_total', { function: 'hostile.divide', outcome: 'error' }) ?? 0;
    const traps = valueOf(before, 'cloudburst_call_errors_total', { function: 'hostile.divide', code: 'GUEST_TRAP' }) ?? 0;
    const posts = valueOf(before, 'cloudburst_http_requests_total', { method: 'POST', status: '200' }) ?? 0;

    expect(await a.call('math.square', [4])).toBe(16);
    await expect(a.call('hostile.divide', [1, 0])).rejects.toMatchObject({ code: 'GUEST_TRAP' });

    const after = (await scrape(a.client)).families;
    expect(valueOf(after, 'cloudburst_calls_total', { function: 'math.square', outcome: 'ok' })).toBe(ok + 1);
    expect(valueOf(after, 'cloudburst_calls_total', { function: 'math.square', outcome: 'error' })).toBe(0);
    expect(valueOf(after, 'cloudburst_calls_total', { function: 'hostile.divide', outcome: 'error' })).toBe(failed + 1);
    expect(valueOf(after, 'cloudburst_call_errors_total', { function: 'hostile.divide', code: 'GUEST_TRAP' })).toBe(traps + 1);
    // A request is counted once its response is done, which the client may see first.
    await expect.poll(async () => valueOf((await scrape(a.client)).families, 'cloudburst_http_requests_total', { method: 'POST', status: '200' }), { timeout: 10_000 })
      .toBeGreaterThanOrEqual(posts + 1);
  });

  it('two hosts in one process keep their own counts and both serve the process metrics', async () => {
    await a.call('math.square', [5]);
    const aOk = valueOf((await scrape(a.client)).families, 'cloudburst_calls_total', { function: 'math.square', outcome: 'ok' });
    expect(valueOf((await scrape(b.client)).families, 'cloudburst_calls_total', { function: 'math.square', outcome: 'ok' })).toBeUndefined();
    await b.call('math.square', [6]);
    const bFamilies = (await scrape(b.client)).families;
    expect(valueOf(bFamilies, 'cloudburst_calls_total', { function: 'math.square', outcome: 'ok' })).toBe(1);
    expect(valueOf((await scrape(a.client)).families, 'cloudburst_calls_total', { function: 'math.square', outcome: 'ok' })).toBe(aOk);
    expect(bFamilies.map((f) => f.name)).toContain('process_cpu_user_seconds_total');
  });

  it('deleting a module forgets the series of its functions', async () => {
    await a.deploy('scratch', 'math');
    await a.call('scratch.square', [2]);
    expect(valueOf((await scrape(a.client)).families, 'cloudburst_calls_total', { function: 'scratch.square', outcome: 'ok' })).toBe(1);
    await a.client.json('DELETE', '/v1/modules/scratch');
    const text = (await a.client.request('GET', '/metrics')).body.toString();
    expect(text).not.toContain('scratch.');
    expect(text).toMatch(/cloudburst_calls_total\{function="math.square",outcome="ok"\} [1-9]/);
  });
});
