import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPlatform, type Platform } from '../helpers/platform.ts';

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

  it('unknown futures are FUTURE_NOT_FOUND', async () => {
    await expect(p.client.json('GET', `/v1/futures/${'0'.repeat(32)}?wait=100`)).rejects.toMatchObject({ code: 'FUTURE_NOT_FOUND' });
    await expect(p.client.json('GET', '/v1/futures/not-an-id')).rejects.toMatchObject({ code: 'FUTURE_NOT_FOUND' });
    await expect(p.client.json('GET', `/v1/futures/${'0'.repeat(32)}?wait=-1`)).rejects.toMatchObject({ code: 'INVALID_REQUEST' });
  });

  it('the result lives in the KV tier, where every host can find it', async () => {
    const id = await start('math.square', [12]);
    await p.client.json('GET', `/v1/futures/${id}?wait=5000`);
    await expect.poll(() => {
      const v = p.kv.store.get(`default/fut/${id}`);
      return v?.type === 'lww' ? (JSON.parse(Buffer.from(v.value).toString()) as Record).result : undefined;
    }, { timeout: 5000 }).toBe(144);
  });
});
