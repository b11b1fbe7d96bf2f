import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHost, type Host } from '../../host/index.ts';
import { KV_PATHS, startKvNode, type KvNode } from '../../kvs/index.ts';
import { HostClient } from '../../tools/cli/client.ts';
import { guestBytes, startPlatform, tempDir, type Platform, hostFetch, clusterAuth, adminToken } from '../helpers/platform.ts';
import { signedFetch } from '../helpers/cluster-secret.ts';

interface Record {
  future: string;
  status: string;
  result?: unknown;
  error?: { code: string; message: string };
}

describe('futures', () => {
  let p: Platform;

  beforeAll(async () => {
    p = await startPlatform();
    await p.deploy('math');
    await p.deploy('hostile');
    await p.deploy('kitchen');
  });
  afterAll(() => p.stop());

  const start = async (fn: string, args: unknown[]): Promise<string> => {
    const res = await p.client.request('POST', `/v1/functions/${fn}/call`, JSON.stringify({ args, async: true }), { 'content-type': 'application/json' });
    expect(res.status).toBe(202);
    return (JSON.parse(res.body.toString()) as { future: string }).future;
  };
  /** The futures the KV tier holds (a pending record is there before an id is handed out). */
  const futureKeys = (): string[] => [...p.kv.store.scan()].map(([k]) => k).filter((k) => k.startsWith('default/fut/')).sort();

  it('an async call answers 202 with a future id at once; waiting on it gives the result', async () => {
    const id = await start('math.square', [7]);
    expect(id).toMatch(/^[0-9a-f]{32}$/);
    const record = await p.client.json<Record>('GET', `/v1/futures/${id}?wait=5000`);
    expect(record).toMatchObject({ future: id, status: 'done', result: 49 });
  });

  it('a future still running answers 202 pending when the wait runs out', async () => {
    const id = await start('kitchen.sleepMs', [400]);
    const res = await p.client.request('GET', `/v1/futures/${id}?wait=50`);
    expect(res.status).toBe(202);
    expect(JSON.parse(res.body.toString())).toMatchObject({ status: 'pending' });
    const done = await p.client.json<Record>('GET', `/v1/futures/${id}?wait=5000`);
    expect(done.status).toBe('done');
    expect(done.result as number).toBeGreaterThanOrEqual(400);
  });

  it('a future can be passed as an argument: the call waits for it', async () => {
    const first = await start('kitchen.sleepMs', [100]);
    const squared = await start('math.increment', [{ future: await start('math.square', [5]) }]);
    expect((await p.client.json<Record>('GET', `/v1/futures/${squared}?wait=5000`)).result).toBe(26);
    // Synchronous calls take futures too.
    expect(await p.call('math.square', [{ future: await start('math.increment', [2]) }])).toBe(9);
    await p.client.json('GET', `/v1/futures/${first}?wait=5000`);
  });

  it('a future for a failing call carries the error; a call depending on it fails with FUTURE_FAILED', async () => {
    const id = await start('hostile.trap', []);
    const record = await p.client.json<Record>('GET', `/v1/futures/${id}?wait=5000`);
    expect(record).toMatchObject({ status: 'failed', error: { code: 'GUEST_TRAP' } });
    await expect(p.call('math.square', [{ future: id }])).rejects.toMatchObject({ code: 'FUTURE_FAILED' });
  });

  it('bad input to an async call is refused at once, not stored as a failed future', async () => {
    await expect(p.client.json('POST', '/v1/functions/math.square/call', { args: ['x'], async: true })).rejects.toMatchObject({ code: 'INVALID_ARGUMENTS' });
    await expect(p.client.json('POST', '/v1/functions/nope.nope/call', { args: [], async: true })).rejects.toMatchObject({ code: 'UNKNOWN_FUNCTION' });
    await expect(p.client.json('POST', '/v1/functions/math.square/call', { args: [1], async: 'yes' })).rejects.toMatchObject({ code: 'INVALID_REQUEST' });
    await expect(p.call('math.square', [{ future: 'nope' }])).rejects.toMatchObject({ code: 'INVALID_ARGUMENTS' });
  });

  it('an async call whose arguments name a key that holds nothing (or a value its parameter does not take) or a future that never existed is refused at once (4xx), no future made', async () => {
    const refused = async (args: unknown[], fn = 'math.square') => {
      const res = await p.client.request('POST', `/v1/functions/${fn}/call`, JSON.stringify({ args, async: true }), { 'content-type': 'application/json' });
      return { status: res.status, code: (JSON.parse(res.body.toString()) as { error?: { code: string } }).error?.code };
    };
    const before = await futureKeys();
    expect(await refused([{ ref: 'never-written' }])).toEqual({ status: 400, code: 'REF_NOT_FOUND' });
    expect(await refused([{ future: 'f'.repeat(32) }])).toEqual({ status: 404, code: 'FUTURE_NOT_FOUND' });
    await p.client.json('PUT', '/v1/kv/a-counter?type=counter', '{"add": 2}', true);
    expect(await refused([{ ref: 'a-counter' }, 'b'], 'kitchen.concat')).toEqual({ status: 400, code: 'INVALID_ARGUMENTS' });
    await p.client.json('PUT', '/v1/kv/gone', 'x', true);
    await p.client.json('DELETE', '/v1/kv/gone');
    expect(await refused([{ ref: 'gone' }, 'b'], 'kitchen.concat')).toEqual({ status: 400, code: 'REF_NOT_FOUND' });
    expect(await futureKeys()).toEqual(before);
    // One that exists, still pending, is waited for when the call runs.
    const pending = await start('kitchen.delayI64', [300, 6]);
    const id = await start('math.square', [{ future: pending }]);
    expect(await p.client.json<Record>('GET', `/v1/futures/${id}?wait=10000`)).toMatchObject({ status: 'done', result: 36 });
  });

  it('unknown futures are FUTURE_NOT_FOUND', async () => {
    await expect(p.client.json('GET', `/v1/futures/${'0'.repeat(32)}?wait=100`)).rejects.toMatchObject({ code: 'FUTURE_NOT_FOUND' });
    await expect(p.client.json('GET', '/v1/futures/not-an-id')).rejects.toMatchObject({ code: 'FUTURE_NOT_FOUND' });
  });

  it('wait is an integer from 0 to 60000: anything else is INVALID_REQUEST naming the range', async () => {
    const id = await start('math.square', [3]);
    for (const wait of ['1e9', '-1', '1.5', 'abc', '', '0x10', '60001', '1000000', ' 5', '+5']) {
      const res = await p.client.request('GET', `/v1/futures/${id}?wait=${encodeURIComponent(wait)}`);
      expect(res.status, `wait=${JSON.stringify(wait)}`).toBe(400);
      const { error } = JSON.parse(res.body.toString()) as { error: { code: string; message: string } };
      expect(error.code).toBe('INVALID_REQUEST');
      expect(error.message).toContain('0 to 60000');
    }
    for (const wait of ['0', '5000', '60000']) {
      expect((await p.client.json<Record>('GET', `/v1/futures/${id}?wait=${wait}`)).status).not.toBe('failed');
    }
    expect((await p.client.json<Record>('GET', `/v1/futures/${id}?wait=60000`)).result).toBe(9);
  });

  it('a future that never existed is FUTURE_NOT_FOUND at once, not after its wait, on GET and as an argument', async () => {
    const never = 'a'.repeat(32);
    // Whatever the wait or the deadline, nothing can make such a future exist: no waiting.
    // A 404 after the wait looks the same as one at once, so elapsed time is the only witness:
    // the wait (60 s) and the deadline (120 s) are long, and each bound is a fraction of
    // them that no load of the machine comes near.
    let started = Date.now();
    const res = await p.client.request('GET', `/v1/futures/${never}?wait=60000`);
    expect(res.status).toBe(404);
    expect(JSON.parse(res.body.toString())).toMatchObject({ error: { code: 'FUTURE_NOT_FOUND' } });
    expect(Date.now() - started).toBeLessThan(30_000);
    started = Date.now();
    await expect(p.call('math.square', [{ future: never }], { timeoutMs: 120_000 })).rejects.toMatchObject({ code: 'FUTURE_NOT_FOUND' });
    expect(Date.now() - started).toBeLessThan(30_000);
    // An asynchronous call with such an argument is refused as it arrives (the test above).
  }, 90_000);

  it('the pending record is in the KV tier before the future id is handed out', async () => {
    const id = await start('kitchen.sleepMs', [300]);
    const v = p.kv.store.get(`default/fut/${id}`);
    expect(v?.type === 'lww' ? JSON.parse(Buffer.from(v.value).toString()) : undefined).toMatchObject({ future: id, status: 'pending' });
    await p.client.json('GET', `/v1/futures/${id}?wait=10000`);
  });

  it('the result lives in the KV tier, where every host can find it', async () => {
    const id = await start('math.square', [12]);
    await p.client.json('GET', `/v1/futures/${id}?wait=5000`);
    await expect.poll(() => {
      const v = p.kv.store.get(`default/fut/${id}`);
      return v?.type === 'lww' ? (JSON.parse(Buffer.from(v.value).toString()) as Record).result : undefined;
    }).toBe(144);
  });
});

describe('futures: a host that stops', () => {
  it('ends its long-polls with 503 SHUTTING_DOWN instead of holding its stop up for their whole wait', { timeout: 40_000 }, async () => {
    const p = await startPlatform();
    try {
      await p.deploy('kitchen');
      const res = await p.client.request('POST', '/v1/functions/kitchen.sleepMs/call', JSON.stringify({ args: [5_000], async: true, timeoutMs: 30_000 }), { 'content-type': 'application/json' });
      const { future } = JSON.parse(res.body.toString()) as { future: string };
      const poll = p.client.request('GET', `/v1/futures/${future}?wait=60000`);
      await new Promise((r) => setTimeout(r, 200)); // the long-poll is waiting
      const stopped = p.host.close();
      const answer = await poll;
      expect({ status: answer.status, code: (JSON.parse(answer.body.toString()) as { error?: { code: string } }).error?.code }).toEqual({ status: 503, code: 'SHUTTING_DOWN' });
      await stopped;
    } finally {
      await p.stop();
    }
  });
});

describe('futures across hosts: a long-poll is woken by the tier, not by polling it', () => {
  let dir: string;
  let kv: KvNode;
  let a: Host;
  let b: Host;
  let clientA: HostClient;
  let clientB: HostClient;

  /** Reads the KV node has served (single keys and batches). */
  const reads = async (): Promise<number> => {
    const stats = (await (await signedFetch(clusterAuth(dir).clusterSecret, kv.url, KV_PATHS.stats)).json()) as { requests: { getKey: number; batchGet: number } };
    return stats.requests.getKey + stats.requests.batchGet;
  };

  beforeAll(async () => {
    dir = await tempDir('cb-futures-');
    const auth = clusterAuth(dir);
    kv = await startKvNode({ dataDir: join(dir, 'kv'), port: 0, ...auth });
    const token = await adminToken(kv.url, auth.clusterSecret, dir);
    // The directory reads the tier every publish interval: keep it quiet, so that the reads
    // counted below are the futures'. B re-reads a pending future only after 60 s, longer than
    // any wait below: only the tier's push of the future's key can wake B's waiters in time.
    const common = { ...auth, workers: 1, kvsUrl: kv.url, port: 0, publishIntervalMs: 60_000, onGuestLog: () => undefined };
    a = await startHost({ ...common, dataDir: join(dir, 'a') });
    b = await startHost({ ...common, dataDir: join(dir, 'b'), futureRereadMs: 60_000 });
    clientA = new HostClient(a.url, { token });
    clientB = new HostClient(b.url, { token });
    await clientA.json('PUT', '/v1/modules/kitchen', guestBytes('kitchen'), true);
  });
  afterAll(async () => {
    await clientA?.close();
    await clientB?.close();
    await b?.close();
    await a?.close();
    await kv?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('a future created and completed on host A, awaited on host B: B answers once it is done, after a handful of reads', async () => {
    const { future } = await clientA.json<{ future: string }>('POST', '/v1/functions/kitchen.sleepMs/call', { args: [3000], async: true });
    // B reads the admin token's record and its tenant's from the tier (kept 1 s): read now, so
    // that the reads counted below are the future's.
    await clientB.json('GET', '/v1/functions');
    const before = await reads();
    const record = await clientB.json<Record>('GET', `/v1/futures/${future}?wait=30000`);
    const after = await reads();
    // Done, not pending: B was woken before its wait ran out, and not by a re-read of its own.
    // (A completes the future wherever the call ran.)
    expect(record).toMatchObject({ future, status: 'done' });
    expect(record.result as number).toBeGreaterThanOrEqual(3000);
    // Polling every 25 ms would be about 40 reads a second of waiting: ~120 here. B reads the
    // future once (and once more after subscribing to it); the stats requests are not reads.
    expect(after - before).toBeLessThanOrEqual(6);
  });

  it('a future B never heard of, created on A, is found on B (the tier knows it), and a future nobody created is not', async () => {
    const { future } = await clientA.json<{ future: string }>('POST', '/v1/functions/kitchen.sleepMs/call', { args: [200], async: true });
    expect((await clientB.json<Record>('GET', `/v1/futures/${future}?wait=20000`)).status).toBe('done');
    await expect(clientB.json('GET', `/v1/futures/${'b'.repeat(32)}?wait=60000`)).rejects.toMatchObject({ code: 'FUTURE_NOT_FOUND' });
    // A call on B taking A's future as an argument.
    const next = await clientA.json<{ future: string }>('POST', '/v1/functions/kitchen.delayI64/call', { args: [500, 41], async: true });
    expect((await clientB.json<{ result: unknown }>('POST', '/v1/functions/kitchen.echoI64/call', { args: [{ future: next.future }] })).result).toBe(41);
  });
});
