import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Buffer } from 'node:buffer';
import {
  counter,
  decode,
  decodeFrame,
  encode,
  gset,
  KvClient,
  KV_CONTENT_TYPES,
  KV_HEADERS,
  KV_PATHS,
  keyPath,
  lww,
  max,
  merge,
  type Lattice,
} from '../../../kvs/index.ts';
import { Membership, parseMembers } from '../../../kvs/cluster/membership.ts';
import { Launcher, waitFor, type ProcNode } from './launcher.ts';

const te = new TextEncoder();
let cluster: Launcher;
let nodes: ProcNode[];
let kv: KvClient;
let view: Membership;

beforeAll(async () => {
  cluster = await Launcher.create('converge');
  nodes = await cluster.startMany(4, { replication: 3, writeQuorum: 2 });
  kv = new KvClient({ seeds: [nodes[0]!.url], timeoutMs: 3000, clusterSecret: cluster.secret });
  view = Membership.of(parseMembers((await cluster.ring(nodes[0]!)).members));
});

afterAll(async () => {
  await kv?.close();
  await cluster?.close();
});

const byName = (id: string): ProcNode => nodes.find((n) => n.name === id)!;
const replicasOf = (key: string): ProcNode[] => view.placement.replicasFor(key).map((m) => byName(m.id));

async function put(node: ProcNode, key: string, value: Lattice | Uint8Array): Promise<{ status: number; json: () => { error: { code: string; ring?: { members: unknown[] } } } }> {
  const body = value instanceof Uint8Array ? value : encode(value);
  const reply = await cluster.transport.request(node.url, { method: 'PUT', path: keyPath(key), body });
  return { status: reply.status, json: () => JSON.parse(reply.body.toString()) };
}

async function post(node: ProcNode, path: string, body: Uint8Array | string, headers: Record<string, string> = {}) {
  const reply = await cluster.transport.request(node.url, {
    method: 'POST',
    path,
    body: typeof body === 'string' ? Buffer.from(body) : body,
    contentType: typeof body === 'string' ? KV_CONTENT_TYPES.json : KV_CONTENT_TYPES.frame,
    headers,
  });
  return { status: reply.status, code: reply.status === 200 ? undefined : (JSON.parse(reply.body.toString()) as { error: { code: string } }).error.code };
}

describe('KV cluster: convergence', () => {
  it('KV cluster: concurrent writers through different replicas converge on the merge of all writes', async () => {
    const KEYS = 200;
    const expected = new Map<string, Lattice>();
    const record = (key: string, v: Lattice): void => void expected.set(key, expected.has(key) ? merge(expected.get(key)!, v) : v);
    const write = (i: number, w: number): Lattice => {
      const s = { ms: 5_000_000 + ((i * 13 + w * 7) % 50), c: w, writer: `writer-${w}` };
      switch (i % 4) {
        case 0: return lww.write(te.encode(`from-${w}`), s);
        case 1: return counter.add(undefined, `writer-${w}`, BigInt(w + 1));
        case 2: return gset.add(undefined, te.encode(`member-${w}-${i % 5}`));
        default: return max.put(undefined, BigInt((i * 31 + w * 17) % 1000));
      }
    };
    // Writers 0..2 each PUT to one replica of the key only (the j-th); writer 3 uses the client.
    const ops: { w: number; key: string; v: Lattice }[] = [];
    for (let i = 0; i < KEYS; i++) for (let r = 0; r < 3; r++) for (let w = 0; w < 4; w++) ops.push({ w, key: `cw/${i}`, v: write(i, w * 3 + r) });
    let next = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < ops.length) {
          const { w, key, v } = ops[next++]!;
          if (w === 3) await kv.merge(key, v);
          else expect((await put(replicasOf(key)[w]!, key, v)).status).toBe(200);
          record(key, v);
        }
      }),
    );
    const done = Date.now();
    const keys = [...expected.keys()];
    await waitFor(async () => (await cluster.divergent(keys, nodes[0]!)).length === 0, 15_000, 'replicas to converge');
    console.log(`concurrent writers: ${keys.length} keys identical on every replica ${Date.now() - done} ms after the last write`);
    for (const n of nodes) {
      const held = await cluster.read(n, keys);
      for (const key of keys) {
        if (!replicasOf(key).includes(n)) continue;
        expect(Buffer.from(encode(expected.get(key)!)).equals(held.get(key)!), `${key} on ${n.name}`).toBe(true);
      }
    }
  });

  // How soon a push arrives is a figure of `npm run bench kvs`, not an assertion here.
  it('KV cluster: a subscriber gets every change pushed after a write through another node', async () => {
    const arrivals = new Set<string>();
    const waiting = new Map<string, () => void>();
    // Generous: a push that never comes fails here; one that comes late on a busy machine does not.
    const arrival = (tag: string): Promise<void> =>
      arrivals.has(tag) ? Promise.resolve() : new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no push of ${tag} within 30 s`)), 30_000);
        waiting.set(tag, () => (clearTimeout(timer), resolve()));
      });
    const subscriber: Server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        for (const e of decodeFrame(Buffer.concat(chunks))) {
          const v = decode(e.value!) as { type: string; value?: Uint8Array };
          const tag = `${e.key}=${Buffer.from(v.value ?? []).toString()}`;
          arrivals.add(tag);
          waiting.get(tag)?.();
        }
        res.writeHead(req.url === '/v1/internal/kv/push' ? 204 : 404).end();
      });
    });
    await new Promise<void>((r) => subscriber.listen(0, '127.0.0.1', r));
    const subscriberUrl = `http://127.0.0.1:${(subscriber.address() as AddressInfo).port}`;
    try {
      // Subscribe on n1 only, to keys n1 replicates; write each on another replica.
      const keys: string[] = [];
      for (let i = 0; keys.length < 200; i++) if (replicasOf(`sub/${i}`).includes(nodes[0]!)) keys.push(`sub/${i}`);
      const ok = await post(nodes[0]!, KV_PATHS.subscriptions, JSON.stringify({ subscriber: subscriberUrl, keys, ttlMs: 30_000 }));
      expect(ok.status).toBe(200);
      let stamp = 6_000_000;
      for (const key of keys) {
        const through = replicasOf(key).find((n) => n !== nodes[0])!;
        const tag = `${key}=v${stamp}`;
        const pushed = arrival(tag);
        expect((await put(through, key, lww.write(te.encode(`v${stamp}`), { ms: stamp++, c: 0, writer: 't' }))).status).toBe(200);
        await pushed;
      }

      // Through the client: subscribe on every replica, then unsubscribe stops the pushes.
      await kv.subscribe(subscriberUrl, ['sub/client'], 30_000);
      await kv.merge('sub/client', lww.write(te.encode('one'), { ms: 7_000_000, c: 0, writer: 't' }));
      await arrival('sub/client=one');
      await kv.unsubscribe(subscriberUrl, ['sub/client']);
      await post(nodes[0]!, KV_PATHS.subscriptions, JSON.stringify({ subscriber: subscriberUrl, keys, unsubscribe: true }));
      await kv.merge('sub/client', lww.write(te.encode('two'), { ms: 7_000_001, c: 0, writer: 't' }));
      await new Promise((r) => setTimeout(r, 200));
      expect(arrivals.has('sub/client=two')).toBe(false);
    } finally {
      subscriber.closeAllConnections();
      await new Promise((r) => subscriber.close(r));
    }
  });

  it('KV cluster: bad input gets a clear error and changes nothing', async () => {
    const n1 = nodes[0]!;
    const ringBefore = (await cluster.ring(n1)).version;
    const mine = Array.from({ length: 50 }, (_, i) => `bad/${i}`).find((k) => replicasOf(k).includes(n1))!;
    const notMine = Array.from({ length: 50 }, (_, i) => `bad/${i}`).find((k) => !replicasOf(k).includes(n1))!;
    const unknown = Array.from({ length: 50 }, (_, i) => `bad/u${i}`).find((k) => replicasOf(k).includes(n1))!;
    const batchOk = Array.from({ length: 50 }, (_, i) => `bad/b${i}`).find((k) => replicasOf(k).includes(n1))!;
    await kv.merge(mine, max.put(undefined, 1n));

    const valid = encode(gset.add(undefined, te.encode('x')));
    expect((await put(n1, unknown, Uint8Array.of(1, 99, 0))).json().error.code).toBe('KV_UNKNOWN_TYPE');
    expect((await put(n1, mine, valid)).json().error.code).toBe('KV_TYPE_MISMATCH');
    expect((await put(n1, mine, valid.subarray(0, valid.length - 1))).json().error.code).toBe('KV_BAD_VALUE');
    const moved = await put(n1, notMine, valid);
    expect(moved.status).toBe(409);
    expect(moved.json().error.code).toBe('KV_RING_VERSION');
    expect(moved.json().error.ring!.members).toHaveLength(4);

    const { encodeFrame } = await import('../../../kvs/index.ts');
    const frame = encodeFrame([{ key: batchOk, value: valid }, { key: notMine, value: valid }]);
    expect(await post(n1, KV_PATHS.batchMerge, frame)).toEqual({ status: 409, code: 'KV_RING_VERSION' });
    expect(await post(n1, KV_PATHS.push, frame.subarray(0, 5))).toEqual({ status: 400, code: 'INVALID_REQUEST' });
    expect(await post(n1, KV_PATHS.digest, JSON.stringify({ from: 'n2', ring: '1-deadbeef', digest: Buffer.alloc(2048).toString('base64') }))).toEqual({ status: 409, code: 'KV_RING_VERSION' });
    expect(await post(n1, KV_PATHS.repair, frame, { [KV_HEADERS.from]: 'n2', [KV_HEADERS.ringVersion]: '1-deadbeef', [KV_HEADERS.buckets]: '1,2' })).toEqual({ status: 409, code: 'KV_RING_VERSION' });
    expect(await post(n1, KV_PATHS.gossip, JSON.stringify({ from: 'x', members: [{ id: 'n9', url: 'not a url', state: 'up', incarnation: 1 }] }))).toEqual({ status: 400, code: 'INVALID_REQUEST' });
    expect(await post(n1, KV_PATHS.gossip, '{"from":')).toEqual({ status: 400, code: 'MALFORMED_JSON' });
    expect(await post(n1, KV_PATHS.subscriptions, JSON.stringify({ subscriber: 'ftp://x', keys: ['a'] }))).toEqual({ status: 400, code: 'INVALID_REQUEST' });
    expect(await post(n1, KV_PATHS.subscriptions, JSON.stringify({ subscriber: 'http://127.0.0.1:1', keys: [''] }))).toEqual({ status: 400, code: 'INVALID_KEY' });
    expect(await post(n1, KV_PATHS.sync, JSON.stringify({ members: [] }))).toEqual({ status: 400, code: 'INVALID_REQUEST' });

    for (const n of nodes) {
      const held = await cluster.read(n, [unknown, batchOk, notMine, mine]);
      expect([held.get(unknown), held.get(batchOk), held.get(notMine)]).toEqual([undefined, undefined, undefined]);
      if (replicasOf(mine).includes(n)) expect(decode(held.get(mine)!)).toEqual(max.put(undefined, 1n));
    }
    expect((await cluster.ring(n1)).version).toBe(ringBefore);
  });
});
