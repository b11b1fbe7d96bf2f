/**
 * Cluster behaviour of KV nodes run in this process (fast): ring discovery and 409 retries,
 * hinted handoff across a restart, subscription leases, joins that fail, the last node.
 */
import { Buffer } from 'node:buffer';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CloudburstError } from '../../../common/index.ts';
import { equals, KvClient, KV_HEADERS, KV_PATHS, lww, max, startKvNode, type KvNode, type KvNodeOptions } from '../../../kvs/index.ts';
import { Membership, parseMembers } from '../../../kvs/cluster/membership.ts';
import { Transport } from '../../../kvs/transport.ts';
import { testSecret } from '../../helpers/cluster-secret.ts';

const te = new TextEncoder();
const FAST = { heartbeatMs: 50, downAfterMs: 400, antiEntropyMs: 300, joinTimeoutMs: 1000 } as const;
// The cluster's secret: every node, client and transport of this file uses it.
const clusterSecret = testSecret();
let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const fn of cleanup.reverse()) await fn();
  cleanup = [];
});

async function dir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'cloudburst-kvs-node-'));
  cleanup.push(() => rm(d, { recursive: true, force: true }));
  return d;
}

const logs: string[] = [];
async function node(dataDir: string, opts: Partial<KvNodeOptions> = {}): Promise<KvNode> {
  const n = await startKvNode({ dataDir, ...FAST, fsync: 'off', clusterSecret, log: (m) => logs.push(m), ...opts });
  cleanup.push(() => n.close());
  return n;
}

function client(opts: ConstructorParameters<typeof KvClient>[0]): KvClient {
  const kv = new KvClient({ clusterSecret, ...opts });
  cleanup.push(() => kv.close());
  return kv;
}

async function until(cond: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

const up = (n: KvNode): number => n.ring().members.filter((m) => m.state === 'up').length;

describe('KV node in a cluster', () => {
  it('KV node: alone, it is a one-node ring with N = 1 and every response names the ring version', async () => {
    const n = await node(await dir(), { nodeId: 'solo' });
    const t = new Transport({ clusterSecret });
    cleanup.push(() => t.close());
    const reply = await t.request(n.url, { method: 'GET', path: KV_PATHS.ring });
    const ring = JSON.parse(reply.body.toString()) as { members: { id: string; state: string }[]; replication: number; writeQuorum: number; version: string };
    expect(ring.members.map((m) => [m.id, m.state])).toEqual([['solo', 'up']]);
    expect([ring.replication, ring.writeQuorum]).toEqual([1, 1]);
    expect(reply.headers[KV_HEADERS.ringVersion]).toBe(ring.version);
    const missing = await t.request(n.url, { method: 'GET', path: '/kv/v1/keys/nope' });
    expect(missing.headers[KV_HEADERS.ringVersion]).toBe(ring.version);
  });

  it('KvClient: a client with a stale ring is refused with KV_RING_VERSION, takes the new ring and retries', async () => {
    const a = await node(await dir(), { nodeId: 'a', replication: 2, writeQuorum: 2 });
    const b = await node(await dir(), { nodeId: 'b', replication: 2, writeQuorum: 2, seeds: [a.url] });
    const changes: string[] = [];
    const kv = client({ url: a.url, onRingChange: (v) => changes.push(v) });
    await kv.merge('warm', max.put(undefined, 1n));
    const before = kv.ringVersion;
    // Two more nodes join; the client has not heard of them.
    const c = await node(await dir(), { nodeId: 'c', replication: 2, writeQuorum: 2, seeds: [a.url] });
    const d = await node(await dir(), { nodeId: 'd', replication: 2, writeQuorum: 2, seeds: [b.url] });
    await until(() => [a, b, c, d].every((n) => up(n) === 4));
    const keys = Array.from({ length: 40 }, (_, i) => `stale/${i}`);
    for (const k of keys) await kv.merge(k, max.put(undefined, 7n));
    expect(kv.ringVersion).not.toBe(before);
    // W = N = 2: a write to a replica that lost the key cannot complete without the 409 retry.
    const t = new Transport({ clusterSecret });
    cleanup.push(() => t.close());
    const refusals = await Promise.all([a, b].map(async (n) => (JSON.parse((await t.request(n.url, { method: 'GET', path: KV_PATHS.stats })).body.toString()) as { requests: { errors: number } }).requests.errors));
    expect(refusals.reduce((x, y) => x + y, 0)).toBeGreaterThan(0);
    expect(changes.length).toBeGreaterThan(0);
    // Each key is on its two replicas under the new ring (shed or not elsewhere).
    const view = Membership.of(parseMembers(a.ring().members));
    const byId = new Map([a, b, c, d].map((n) => [n.nodeId, n]));
    await until(() => keys.every((k) => view.placement.replicasFor(k).every((m) => byId.get(m.id)!.store.get(k) !== undefined)));
    const results = await kv.mergeBatch(keys.map((k) => ({ key: k, value: max.put(undefined, 9n) })));
    expect(results.every((r) => r === null)).toBe(true);
  });

  it('KV node: hints for a replica that is down survive a restart of the node keeping them and are delivered', async () => {
    const slow = { antiEntropyMs: 60_000 }; // no anti-entropy: only hints can repair
    const dirs = [await dir(), await dir(), await dir()];
    const a = await node(dirs[0]!, { nodeId: 'a', ...slow });
    const b = await node(dirs[1]!, { nodeId: 'b', ...slow, seeds: [a.url] });
    let c = await node(dirs[2]!, { nodeId: 'c', ...slow, seeds: [a.url] });
    await until(() => up(a) === 3 && up(b) === 3 && up(c) === 3);
    const cPort = c.port;
    await c.close();
    await until(() => a.ring().down.includes('c'));
    const kv = client({ seeds: [a.url, b.url], timeoutMs: 2000 });
    for (let i = 0; i < 20; i++) await kv.merge(`hint/${i}`, lww.write(te.encode(`v${i}`), { ms: 1, c: 0, writer: 'w' }));
    const hintsOf = async (n: KvNode): Promise<number> => {
      const t = new Transport({ clusterSecret });
      try {
        const s = JSON.parse((await t.request(n.url, { method: 'GET', path: KV_PATHS.stats })).body.toString()) as { cluster: { hints: Record<string, number> } };
        return s.cluster.hints['c'] ?? 0;
      } finally {
        await t.close();
      }
    };
    await until(async () => (await hintsOf(a)) === 20);
    // Restart a: its hints are in LMDB.
    await a.close();
    const a2 = await node(dirs[0]!, { nodeId: 'a', ...slow, port: a.port });
    expect(await hintsOf(a2)).toBe(20);
    c = await node(dirs[2]!, { nodeId: 'c', ...slow, port: cPort });
    await until(async () => (await hintsOf(a2)) === 0 && (await hintsOf(b)) === 0);
    for (let i = 0; i < 20; i++) expect(equals(c.store.get(`hint/${i}`)!, lww.write(te.encode(`v${i}`), { ms: 1, c: 0, writer: 'w' }))).toBe(true);
  });

  it('KV node: an operator removes a dead node; writes go on; the node rejoins when it comes back', async () => {
    const dirs = [await dir(), await dir(), await dir()];
    const a = await node(dirs[0]!, { nodeId: 'a' });
    const b = await node(dirs[1]!, { nodeId: 'b', seeds: [a.url] });
    let c = await node(dirs[2]!, { nodeId: 'c', seeds: [a.url] });
    await until(() => up(a) === 3 && up(b) === 3);
    const kv = client({ seeds: [a.url], timeoutMs: 2000 });
    await kv.merge('rm/1', max.put(undefined, 1n));
    const t = new Transport({ clusterSecret });
    cleanup.push(() => t.close());
    const remove = async (body: unknown): Promise<{ status: number; code?: string }> => {
      const r = await t.request(a.url, { method: 'POST', path: KV_PATHS.ringRemove, body: Buffer.from(JSON.stringify(body)), contentType: 'application/json' });
      return { status: r.status, ...(r.status === 200 ? {} : { code: (JSON.parse(r.body.toString()) as { error: { code: string } }).error.code }) };
    };
    expect(await remove({ id: 'c' })).toEqual({ status: 400, code: 'INVALID_REQUEST' }); // alive
    expect(await remove({ id: 'a' })).toEqual({ status: 400, code: 'INVALID_REQUEST' }); // itself
    const cPort = c.port;
    await c.close();
    await until(() => a.ring().down.includes('c'));
    await kv.merge('rm/2', max.put(undefined, 2n));
    expect((await remove({ id: 'c' })).status).toBe(200);
    await until(() => b.ring().members.find((m) => m.id === 'c')?.state === 'left');
    expect(a.ring().replication).toBe(2);
    await kv.merge('rm/3', max.put(undefined, 3n));
    await until(() => a.ring().version === b.ring().version);
    c = await node(dirs[2]!, { nodeId: 'c', port: cPort, seeds: [a.url] });
    expect(c.ring().members.find((m) => m.id === 'c')?.state).toBe('up');
    await until(() => up(a) === 3);
    for (const k of ['rm/1', 'rm/2', 'rm/3']) await until(() => c.store.get(k) !== undefined);
  });

  it('KvClient: with a node down, getSome and subscribeSome serve the keys of the nodes that answer and name the others', async () => {
    const a = await node(await dir(), { nodeId: 'a', replication: 1 });
    const b = await node(await dir(), { nodeId: 'b', replication: 1, seeds: [a.url] });
    await until(() => up(a) === 2 && up(b) === 2);
    const kv = client({ seeds: [a.url], timeoutMs: 1500 });
    const placement = Membership.of(parseMembers(a.ring().members)).placement;
    const keys = Array.from({ length: 16 }, (_, i) => `some/${i}`);
    const onB = keys.filter((k) => placement.replicasFor(k)[0]!.id === 'b');
    expect(onB.length).toBeGreaterThan(0);
    expect(onB.length).toBeLessThan(keys.length);
    for (const [i, k] of keys.entries()) await kv.merge(k, max.put(undefined, BigInt(i)));
    await b.close();

    // A key a does not have is absent, not unreadable.
    const absent = Array.from({ length: 64 }, (_, i) => `none/${i}`).find((k) => placement.replicasFor(k)[0]!.id === 'a')!;
    const { values, unreadable } = await kv.getSome([...keys, absent]);
    expect(unreadable).toEqual(onB);
    expect(values[keys.length]).toBeUndefined();
    keys.forEach((k, i) => {
      if (onB.includes(k)) expect(values[i]).toBeUndefined();
      else expect(equals(values[i]!, max.put(undefined, BigInt(i)))).toBe(true);
    });
    await expect(kv.getBatch(keys)).rejects.toMatchObject({ code: 'KV_UNAVAILABLE' });

    const subscriber = 'http://127.0.0.1:9/sub';
    expect(await kv.subscribeSome(subscriber, keys, 10_000)).toEqual(onB);
    await expect(kv.subscribe(subscriber, keys, 10_000)).rejects.toMatchObject({ code: 'KV_UNAVAILABLE' });
  });

  it('KV node: a key read far above the mean gets extra replicas that share its reads, and loses them when it cools', async () => {
    const hotKeys = { windowMs: 300, factor: 10, minReads: 50 };
    const a = await node(await dir(), { nodeId: 'a', replication: 1, hotKeys });
    const b = await node(await dir(), { nodeId: 'b', replication: 1, hotKeys, seeds: [a.url] });
    const c = await node(await dir(), { nodeId: 'c', replication: 1, hotKeys, seeds: [a.url] });
    const all = [a, b, c];
    await until(() => all.every((n) => up(n) === 3));
    const kv = client({ url: a.url });
    await kv.merge('hot/k', max.put(undefined, 42n));
    const cold = Array.from({ length: 60 }, (_, i) => `cold/${i}`);
    for (const k of cold) await kv.merge(k, max.put(undefined, 1n));
    const holders = (): number => all.filter((n) => n.store.get('hot/k') !== undefined).length;
    expect(holders()).toBe(1);
    const isHot = (n: KvNode): boolean => n.ring().members.some((m) => m.hot?.includes('hot/k'));
    // 100 reads of one key for every read of each of 60 others (about 20 per node).
    let reading = true;
    const reader = (async () => {
      while (reading) {
        for (let i = 0; i < 100; i++) await kv.get('hot/k');
        for (const k of cold) await kv.get(k);
      }
    })();
    try {
      await until(() => all.every(isHot) && holders() === 3, 5000);
      const t = new Transport({ clusterSecret });
      cleanup.push(() => t.close());
      const served = async (): Promise<number[]> =>
        Promise.all(all.map(async (n) => (JSON.parse((await t.request(n.url, { method: 'GET', path: KV_PATHS.stats })).body.toString()) as { requests: { getKey: number } }).requests.getKey));
      const before = await served();
      await new Promise((r) => setTimeout(r, 300));
      const after = await served();
      // Reads are now balanced: with the hot key on its home node alone, the other two would
      // serve about 20 reads for every 120 of the home node.
      const d = after.map((x, i) => x - before[i]!);
      expect(Math.min(...d) / Math.max(...d)).toBeGreaterThan(0.5);
    } finally {
      reading = false;
      await reader;
    }
    // Cooled: no node counts it hot any more, and the extra replicas shed it.
    await until(() => all.every((n) => !isHot(n)) && holders() === 1, 8000);
    expect(equals((await kv.get('hot/k'))!, max.put(undefined, 42n))).toBe(true);
  });

  it('KV node: a subscriber whose pushes keep failing is dropped; an expired lease pushes nothing', async () => {
    const n = await node(await dir(), { nodeId: 'solo' });
    let hits = 0;
    const failing = createServer((_req, res) => {
      hits++;
      res.writeHead(500).end();
    });
    await new Promise<void>((r) => failing.listen(0, '127.0.0.1', r));
    cleanup.push(() => new Promise((r) => (failing.closeAllConnections(), failing.close(() => r()))));
    const url = `http://127.0.0.1:${(failing.address() as AddressInfo).port}`;
    const kv = client({ url: n.url });
    await kv.subscribe(url, ['s/a'], 60_000);
    await kv.subscribe(`${url}/other`, ['s/b'], 1000);
    await kv.merge('s/a', max.put(undefined, 1n));
    const subs = async (): Promise<number> => {
      const t = new Transport({ clusterSecret });
      try {
        return (JSON.parse((await t.request(n.url, { method: 'GET', path: KV_PATHS.stats })).body.toString()) as { cluster: { subscriptions: number } }).cluster.subscriptions;
      } finally {
        await t.close();
      }
    };
    await until(async () => (await subs()) === 1, 4000);
    expect(hits).toBe(4);
    expect(logs.some((l) => l.includes('dropping subscriber'))).toBe(true);
    await new Promise((r) => setTimeout(r, 1100));
    await kv.merge('s/b', max.put(undefined, 1n));
    await new Promise((r) => setTimeout(r, 100));
    expect(hits).toBe(4);
  });

  it('KV node: a new node whose seeds do not answer fails to start with KV_UNAVAILABLE', async () => {
    const err = await startKvNode({ dataDir: await dir(), seeds: ['http://127.0.0.1:1'], ...FAST, clusterSecret }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(CloudburstError);
    expect((err as CloudburstError).code).toBe('KV_UNAVAILABLE');
  });

  it('KV node: the last node cannot leave (nobody to hand its keys to); a node with peers can', async () => {
    const a = await node(await dir(), { nodeId: 'a' });
    await expect(a.leave()).rejects.toMatchObject({ code: 'KV_UNAVAILABLE' });
    const b = await node(await dir(), { nodeId: 'b', seeds: [a.url] });
    await until(() => up(a) === 2);
    await new KvClient({ url: a.url, clusterSecret }).merge('x', max.put(undefined, 3n));
    await a.leave();
    expect(b.ring().members.find((m) => m.id === 'a')?.state).toBe('left');
    expect(b.store.get('x')).toEqual(max.put(undefined, 3n));
  });
});
