/**
 * The binary wire with real node processes (kvs/wire/): a 3-node cluster (N=3, W=2) answers
 * the same over the wire and over HTTP, with replica pushes on the wire between the nodes;
 * a node killed (-9) with requests in flight on its sockets fails them with KV_UNAVAILABLE,
 * loses none it acknowledged, and the next request after its restart opens a new socket.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CloudburstError } from '../../../common/index.ts';
import { counter, gset, KvClient, KV_PATHS, lww } from '../../../kvs/index.ts';
import { Launcher, waitFor, type ProcNode } from './launcher.ts';

const s = (ms: number, writer = 'w') => ({ ms, c: 0, writer });
let cluster: Launcher;

beforeAll(async () => {
  cluster = await Launcher.create('wire');
});

afterAll(async () => {
  await cluster?.close();
});

async function stats(node: ProcNode): Promise<{ wire: { sockets: number; upgrades: number }; requests: Record<string, number> }> {
  const reply = await cluster.transport.request(node.url, { method: 'GET', path: KV_PATHS.stats });
  return JSON.parse(reply.body.toString('utf8')) as never;
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (err) {
    return err instanceof CloudburstError ? err.code : String(err);
  }
}

describe('KV binary wire: a 3-node cluster', () => {
  it('N=3 W=2: writes and reads over the wire and over HTTP give the same answers, and every replica converges', async () => {
    const nodes = await cluster.startMany(3, { replication: 3, writeQuorum: 2 });
    const binary = new KvClient({ seeds: nodes.map((n) => n.url), writeQuorum: 2, clusterSecret: cluster.secret, wire: 'binary' });
    const http = new KvClient({ seeds: nodes.map((n) => n.url), writeQuorum: 2, clusterSecret: cluster.secret, wire: 'http' });
    try {
      const keys: string[] = [];
      for (let i = 0; i < 60; i++) {
        const key = `k${i}`;
        keys.push(key);
        const writer = i % 2 === 0 ? binary : http;
        const other = i % 2 === 0 ? http : binary;
        expect(await writer.merge(key, lww.write(Buffer.from(`v${i}`), s(10 + i)))).toEqual(lww.write(Buffer.from(`v${i}`), s(10 + i)));
        // The older write loses on both wires alike.
        expect(await other.merge(key, lww.write(Buffer.from('old'), s(1)))).toEqual(lww.write(Buffer.from(`v${i}`), s(10 + i)));
        expect(await other.get(key)).toEqual(await writer.get(key));
        expect(await other.getFresh(key)).toEqual(lww.write(Buffer.from(`v${i}`), s(10 + i)));
      }
      await binary.merge('c', counter.add(undefined, 'w', 3n));
      expect(await codeOf(binary.merge('c', gset.add(undefined, Buffer.from('x'))))).toBe('KV_TYPE_MISMATCH');
      expect(await codeOf(http.merge('c', gset.add(undefined, Buffer.from('x'))))).toBe('KV_TYPE_MISMATCH');
      expect(await binary.get('absent')).toBeUndefined();
      expect(await http.get('absent')).toBeUndefined();
      const batch = [...keys.slice(0, 10), 'absent', 'c'];
      expect(await binary.getBatch(batch)).toEqual(await http.getBatch(batch));
      const errors = await binary.mergeBatch(keys.slice(0, 20).map((key, i) => ({ key, value: i === 3 ? counter.add(undefined, 'w', 1n) : lww.write(Buffer.from('b'), s(1000)) })));
      expect(errors.map((e) => e?.code ?? null)).toEqual(keys.slice(0, 20).map((_, i) => (i === 3 ? 'KV_TYPE_MISMATCH' : null)));
      // The third replica of each key gets it by push (over the wire between the nodes).
      let divergent = keys;
      await waitFor(async () => (divergent = await cluster.divergent(keys, nodes[0]!)).length === 0, 20_000, `replicas to converge (${divergent.length} differ)`);
      const all = await Promise.all(nodes.map(stats));
      for (const st of all) expect(st.wire.upgrades).toBeGreaterThan(0);
      expect(all.reduce((n, st) => n + (st.requests['push'] ?? 0), 0)).toBeGreaterThan(0);
    } finally {
      await binary.close();
      await http.close();
      for (const n of nodes) await n.kill();
    }
  });
});

describe('KV binary wire: a node killed mid-request', () => {
  it('requests in flight fail with KV_UNAVAILABLE, none acknowledged is lost, and the next request after the restart reconnects', async () => {
    const node = await cluster.start('solo', { fsync: 'batch' });
    const kv = new KvClient({ url: node.url, clusterSecret: cluster.secret, wire: 'binary', timeoutMs: 3000 });
    try {
      expect(await kv.get('first')).toBeUndefined(); // the socket is open
      const acked: number[] = [];
      const codes = new Set<string>();
      let killed: Promise<void> | undefined;
      let next = 0;
      // 16 writers keep requests on the sockets until the kill fails one of theirs.
      await Promise.all(Array.from({ length: 16 }, async () => {
        for (;;) {
          const i = next++;
          try {
            await kv.merge(`w${i}`, lww.write(Buffer.from(`v${i}`), s(5)));
          } catch (err) {
            codes.add(err instanceof CloudburstError ? err.code : String(err));
            return;
          }
          acked.push(i);
          if (acked.length === 200) killed = node.kill();
        }
      }));
      await killed;
      expect(acked.length).toBeGreaterThanOrEqual(200);
      expect([...codes]).toEqual(['KV_UNAVAILABLE']);
      expect(await codeOf(kv.get('first'))).toBe('KV_UNAVAILABLE');

      await node.start();
      await waitFor(async () => (await codeOf(kv.get('w0'))) === 'ok', 10_000, 'the client to reach the restarted node');
      const values = await kv.getBatch(acked.map((i) => `w${i}`));
      expect(values).toEqual(acked.map((i) => lww.write(Buffer.from(`v${i}`), s(5))));
      expect((await stats(node)).wire.upgrades).toBeGreaterThan(0); // the restarted process took a new upgrade
    } finally {
      await kv.close();
      await node.kill();
    }
  });
});
