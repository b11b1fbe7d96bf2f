import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gset, Hlc, KvClient, lww } from '../../kvs/index.ts';
import { startPlatform, type Platform } from '../helpers/platform.ts';

/**
 * Failure paths of DAG calls that real processes cannot produce on demand: a peer that takes
 * schedules and never reports (a lost message), and a peer that cannot be reached. Each is a
 * real HTTP endpoint announced to the host through the directory in the KV tier, as a host
 * announces itself.
 */
describe('DAG failures: lost steps are re-run, and no request hangs', () => {
  let p: Platform;
  let kv: KvClient;
  let hole: Server;
  let holeUrl: string;
  const seen: string[] = [];
  const hlc = new Hlc('test/dag-failures');

  // A host record as cluster/directory.ts publishes it, fresh for an hour unless `record` says otherwise.
  const publish = async (id: string, url: string, record: { updatedAt?: number; stopped?: boolean } = {}): Promise<void> => {
    const full = { id, url, utilization: 0, queued: 0, keys: 0, summary: Buffer.alloc(128).toString('base64'), updatedAt: Date.now() + 3_600_000, ...record };
    await kv.mergeBatch([
      { key: `default/sys/host/${id}`, value: lww.write(Buffer.from(JSON.stringify(full)), hlc.now()) },
      { key: 'default/sys/hosts', value: gset.add(undefined, Buffer.from(id)) },
    ]);
  };
  const announce = async (id: string, url: string): Promise<void> => {
    await publish(id, url);
    await expect.poll(async () => (await p.client.json<{ peers: { id: string }[] }>('GET', '/v1/cluster')).peers.map((x) => x.id)).toContain(id);
  };

  const callDag = (body: unknown) => p.client.json<{ result: unknown; hosts: Record<string, string>; runs: number }>('POST', '/v1/dags/pipeline/call', body);

  beforeAll(async () => {
    p = await startPlatform({ workers: 2, publishIntervalMs: 100 });
    kv = new KvClient({ url: p.kv.url, clusterSecret: p.clusterSecret });
    // A black hole: acknowledges everything, runs nothing, reports nothing.
    hole = createServer((req, res) => {
      seen.push(`${req.method} ${req.url}`);
      req.resume();
      req.on('end', () => res.writeHead(204).end());
    });
    await new Promise<void>((resolve) => hole.listen(0, '127.0.0.1', resolve));
    holeUrl = `http://127.0.0.1:${(hole.address() as AddressInfo).port}`;
    await p.deploy('math');
    await p.client.json('PUT', '/v1/dags/pipeline', { functions: ['math.increment', 'math.square'], edges: [['math.increment', 'math.square']] });
  });
  afterAll(async () => {
    await kv.close();
    await new Promise((resolve) => hole.close(resolve));
    await p.stop();
  });

  it('a step on a host that cannot be reached is re-run elsewhere at once', async () => {
    // A port nobody listens on: connections are refused.
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const deadUrl = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`;
    await new Promise((resolve) => closed.close(resolve));
    await announce('dead0001', deadUrl);
    // A run that waited for the unreachable step would also end in a re-run, at its deadline:
    // make the deadline a minute, so that "at once" (the refused connection ends the first
    // run) is a bound far below it, whatever the machine's load.
    const t0 = Date.now();
    const out = await callDag({ args: { 'math.increment': [2] }, placement: { 'math.increment': p.host.id, 'math.square': 'dead0001' }, timeoutMs: 60_000 });
    expect(out).toMatchObject({ result: 9, runs: 2, hosts: { 'math.square': p.host.id } });
    expect(Date.now() - t0).toBeLessThan(15_000);
    // The host dropped out of placement.
    expect((await p.client.json<{ peers: { id: string }[] }>('GET', '/v1/cluster')).peers.map((x) => x.id)).not.toContain('dead0001');
  }, 90_000);

  it('a step that never reports: re-run twice, each run waiting out its deadline, then DAG_STEP_TIMEOUT naming the step', async () => {
    await announce('hole0001', holeUrl);
    seen.length = 0;
    const t0 = Date.now();
    const res = await p.client.request('POST', '/v1/dags/pipeline/call', JSON.stringify({ args: { 'math.increment': [2] }, placement: { 'math.increment': p.host.id, 'math.square': 'hole0001' }, timeoutMs: 300 }), { 'content-type': 'application/json' });
    const elapsed = Date.now() - t0;
    expect(res.status).toBe(504);
    const { error } = JSON.parse(res.body.toString()) as { error: { code: string; message: string; step: string; host: string } };
    expect(error).toMatchObject({ code: 'DAG_STEP_TIMEOUT', step: 'math.square', host: 'hole0001' });
    expect(error.message).toMatch(/step math\.square on host hole0001 did not report within 300 ms .*ran 3 times/);
    // Three runs of 300 ms plus 500 ms of grace each, and a status probe after each: no run
    // gave up before its deadline. That the request ends at all, after exactly three runs,
    // is the answer above and the three schedules below.
    expect(elapsed).toBeGreaterThanOrEqual(3 * 800);
    // Each run had its own request id; each was asked about, then abandoned.
    const rids = (method: string): string[] => seen.filter((s) => s.startsWith(`${method} /v1/internal/dag/requests/`)).map((s) => s.slice(method.length + 1)).sort();
    expect(seen.filter((s) => s === 'POST /v1/internal/dag/schedule')).toHaveLength(3);
    expect(new Set(rids('GET')).size).toBe(3);
    await expect.poll(() => rids('DELETE')).toEqual(rids('GET'));
  });

  it('an async call of a DAG that never finishes still ends: its future fails', async () => {
    const { future } = await p.client.json<{ future: string }>('POST', '/v1/dags/pipeline/call', { args: { 'math.increment': [2] }, placement: { 'math.increment': p.host.id, 'math.square': 'hole0001' }, timeoutMs: 100, async: true });
    const record = await p.client.json<{ status: string; error: { code: string } }>('GET', `/v1/futures/${future}?wait=10000`);
    expect(record).toMatchObject({ status: 'failed', error: { code: 'DAG_STEP_TIMEOUT' } });
  });

  it('a forced placement on a host of the cluster that is not live now is 503 HOST_UNAVAILABLE (a retry may find it back); on an id no host has, 400', async () => {
    const forced = async (host: string): Promise<{ status: number; error: { code: string; message: string } }> => {
      const res = await p.client.request('POST', '/v1/dags/pipeline/call', JSON.stringify({ args: { 'math.increment': [2] }, placement: { 'math.increment': p.host.id, 'math.square': host } }), { 'content-type': 'application/json' });
      return { status: res.status, ...(JSON.parse(res.body.toString()) as { error: { code: string; message: string } }) };
    };
    expect(await forced('nobody01')).toMatchObject({ status: 400, error: { code: 'INVALID_REQUEST', message: expect.stringContaining('"nobody01" is not a host of this cluster') } });

    // Hosts the directory has records of: one that stopped publishing a minute ago (dead, or
    // busy restarting), one that said it stopped. Until the host reads a record, the id is
    // unknown to it (400); the black hole stands behind both, so a schedule sent would show.
    await publish('stale001', holeUrl, { updatedAt: Date.now() - 60_000 });
    await publish('gone0001', holeUrl, { stopped: true });
    seen.length = 0;
    await expect.poll(async () => (await forced('stale001')).status).toBe(503);
    expect(await forced('stale001')).toMatchObject({ error: { code: 'HOST_UNAVAILABLE', message: expect.stringMatching(/host "stale001" is not live \(its last record is \d+ ms old/) } });
    await expect.poll(async () => (await forced('gone0001')).status).toBe(503);
    expect(await forced('gone0001')).toMatchObject({ error: { code: 'HOST_UNAVAILABLE', message: expect.stringContaining('host "gone0001" is not live (it stopped)') } });
    expect(seen.filter((s) => s.endsWith('/schedule'))).toEqual([]);

    // The caller's mistakes come first: a bad entry next to an unavailable host is a 400.
    const res = await p.client.request('POST', '/v1/dags/pipeline/call', JSON.stringify({ args: { 'math.increment': [2] }, placement: { 'math.square': 'stale001', 'math.nope': p.host.id } }), { 'content-type': 'application/json' });
    expect(res.status).toBe(400);
    // Once it publishes again, a placement on it runs there. It publishes this host's own URL,
    // so both steps go to it: a share of the schedule for "stale001" and one for this host's
    // own id would be two schedules of one request at one process, which no real cluster has
    // (a host has one id per incarnation), and the second would be taken for a repeated delivery.
    await announce('stale001', p.host.url);
    expect(await callDag({ args: { 'math.increment': [2] }, placement: { 'math.increment': 'stale001', 'math.square': 'stale001' } })).toMatchObject({ result: 9, hosts: { 'math.increment': 'stale001', 'math.square': 'stale001' } });
  });

  it('afterwards no per-request state is left on the host', async () => {
    const gauges = async (): Promise<number[]> => {
      const text = (await p.client.request('GET', '/metrics')).body.toString();
      return ['cloudburst_dag_runs_active', 'cloudburst_dag_requests_held'].map((g) => Number(new RegExp(`^${g} (\\S+)$`, 'm').exec(text)?.[1]));
    };
    await expect.poll(gauges).toEqual([0, 0]);
  });
});
