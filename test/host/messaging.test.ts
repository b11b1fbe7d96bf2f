import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHost, type Host } from '../../host/index.ts';
import { startKvNode, type KvNode } from '../../kvs/index.ts';
import { HostClient } from '../../tools/cli/client.ts';
import { guestBytes, metric, type Platform, startPlatform, tempDir, clusterAuth, adminToken } from '../helpers/platform.ts';

interface Future { status: string; result?: unknown; error?: { code: string; message: string } }

/** Starts an async call and returns a function that waits for its result. */
async function start(client: HostClient, fn: string, args: unknown[]): Promise<() => Promise<unknown>> {
  const { future } = await client.json<{ future: string }>('POST', `/v1/functions/${fn}/call`, { args, async: true });
  return async () => {
    const r = await client.json<Future>('GET', `/v1/futures/${future}?wait=20000`);
    if (r.status !== 'done') throw new Error(`future ${future}: ${JSON.stringify(r)}`);
    return r.result;
  };
}

describe('messaging on one host (real HTTP)', () => {
  let p: Platform;

  beforeAll(async () => {
    p = await startPlatform({ workers: 4 });
    await p.deploy('kitchen');
  });
  afterAll(() => p.stop());

  it('every call has its own id, naming this host', async () => {
    const a = (await p.call('kitchen.selfId', [])) as string;
    const b = (await p.call('kitchen.selfId', [])) as string;
    expect(a).toMatch(new RegExp(`^${p.host.id}\\.[0-9a-z]+\\.\\d+$`));
    expect(b).not.toBe(a);
  });

  it('two functions exchange messages, in the order sent (in-process delivery)', async () => {
    const receiver = await start(p.client, 'kitchen.announce', ['one-host', 3, 5000]);
    const to = await p.call('kitchen.sendTo', ['one-host', 'm', 3, 5000]);
    const got = (await receiver()) as string;
    expect(got).toBe(`${to}|m0,m1,m2`);
    expect(await metric(p.client, 'cloudburst_messages_local_total')).toBeGreaterThanOrEqual(3);
  });

  it('many messages arrive in order', async () => {
    const n = 500;
    const receiver = await start(p.client, 'kitchen.announce', ['many', n, 5000]);
    await p.call('kitchen.sendTo', ['many', 'x', n, 5000]);
    const [, list] = ((await receiver()) as string).split('|');
    expect(list!.split(',')).toEqual(Array.from({ length: n }, (_, i) => `x${i}`));
  });

  it('recv with a timeout returns none once the timeout passed', async () => {
    const t = Date.now();
    expect(await p.call('kitchen.recvOne', [150])).toBe('<none>');
    expect(Date.now() - t).toBeGreaterThanOrEqual(140);
    expect(await p.call('kitchen.recvOne', [0])).toBe('<none>');
  });

  it('a recv longer than the call\'s deadline ends at the deadline, and the call still returns', async () => {
    // A recv that waited its own 60 s would outlive the call: the call would fail with
    // CALL_TIMEOUT (after the minute), not return. It returns "<none>", after waiting up to its
    // deadline (300 ms less the 5 ms margin), not at once: a lower bound, which no slowness
    // of the machine can break.
    const t = Date.now();
    expect(await p.call('kitchen.recvOne', [60_000], { timeoutMs: 300 })).toBe('<none>');
    expect(Date.now() - t).toBeGreaterThanOrEqual(290);
    // The pool's deadline still stops a guest that does not wait in recv.
    await expect(p.call('kitchen.sleepMs', [5000], { timeoutMs: 200 })).rejects.toMatchObject({ code: 'CALL_TIMEOUT' });
  });

  it('unread messages are not lost: parked in the KV inbox and counted', async () => {
    const before = await metric(p.client, 'cloudburst_messages_unread_total');
    // Reads 1 message of 4.
    const receiver = await start(p.client, 'kitchen.announce', ['unread', 1, 5000]);
    // The receiver may finish before the last messages arrive: those are parked on arrival.
    const to = (await p.call('kitchen.sendTo', ['unread', 'u', 4, 5000])) as string;
    expect(await receiver()).toBe(`${to}|u0`);
    await expect.poll(async () => {
      const inbox = p.kv.store.get(`default/msg/${to}`);
      return inbox?.type === 'set' ? inbox.members.map((m) => JSON.parse(Buffer.from(m).toString()).seq as number).sort() : [];
    }).toEqual([2, 3, 4]);
    expect(await metric(p.client, 'cloudburst_messages_unread_total')).toBe(before + 3);
  });

  it('a message for a function that has not started yet is kept until it runs', async () => {
    // Ids are handed out in order on a host: the call after next gets `seq + 2`.
    const id = (await p.call('kitchen.selfId', [])) as string;
    const [host, boot, seq] = id.split('.');
    const next = `${host}.${boot}.${Number(seq) + 2}`;
    await p.client.json('PUT', '/v1/kv/not-yet', Buffer.from(next), true);
    expect(await p.call('kitchen.sendTo', ['not-yet', 'early', 3, 1000])).toBe(next);
    expect(await p.call('kitchen.announce', ['not-yet-receiver', 3, 1000])).toBe(`${next}|early0,early1,early2`);
  });

  it('sending to something that is not an id fails the call with INVALID_ARGUMENTS', async () => {
    await p.client.json('PUT', '/v1/kv/bad-id', Buffer.from('not an id'), true);
    await expect(p.call('kitchen.sendTo', ['bad-id', 'z', 1, 1000])).rejects.toMatchObject({ code: 'INVALID_ARGUMENTS' });
  });
});

describe('messaging: fallback to the KV inbox when direct delivery fails', () => {
  let dir: string;
  let kv: KvNode;
  let a: Host;
  let b: Host;
  let ca: HostClient;
  let cb: HostClient;

  beforeAll(async () => {
    dir = await tempDir('cb-msg-');
    const auth = clusterAuth(dir);
    kv = await startKvNode({ dataDir: join(dir, 'kv'), port: 0, ...auth });
    const token = await adminToken(kv.url, auth.clusterSecret, dir);
    // A publishes and reads the directory once, before B exists, and not again for a minute:
    // B's functions are on a host A does not know, so A cannot deliver to them directly.
    const opts = { ...auth, kvsUrl: kv.url, port: 0, workers: 2, publishIntervalMs: 60_000, explore: 0, onGuestLog: () => undefined };
    a = await startHost({ ...opts, dataDir: join(dir, 'a') });
    // A's first directory beat (its only one during the test) ends before B exists.
    await new Promise((r) => setTimeout(r, 500));
    b = await startHost({ ...opts, dataDir: join(dir, 'b') });
    ca = new HostClient(a.url, { token });
    cb = new HostClient(b.url, { token });
    await ca.json('PUT', '/v1/modules/kitchen', guestBytes('kitchen'), true);
  });
  afterAll(async () => {
    await ca.close();
    await cb.close();
    await a.close();
    await b.close();
    await kv.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('messages from A to a function on B go through the KV inbox, in order', async () => {
    const receiver = await start(cb, 'kitchen.announce', ['fallback', 5, 5000]);
    const to = (await ca.json<{ result: string }>('POST', '/v1/functions/kitchen.sendTo/call', { args: ['fallback', 'f', 5, 5000] })).result;
    expect(to.startsWith(`${b.id}.`)).toBe(true);
    expect(await receiver()).toBe(`${to}|f0,f1,f2,f3,f4`);
    expect(await metric(ca, 'cloudburst_messages_fallback_total')).toBe(5);
    expect(await metric(ca, 'cloudburst_messages_direct_total')).toBe(0);
    expect(await metric(cb, 'cloudburst_messages_received_total')).toBe(5);
  });
});
