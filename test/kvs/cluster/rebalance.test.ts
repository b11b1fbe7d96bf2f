import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KvClient, KV_PATHS, type Lattice } from '../../../kvs/index.ts';
import { Launcher, upCount, waitFor, type ProcNode } from './launcher.ts';
import { covers, op, runOps, type Op } from './workload.ts';

let cluster: Launcher;
let nodes: ProcNode[];
let kv: KvClient;

beforeAll(async () => {
  cluster = await Launcher.create('rebalance');
  nodes = await cluster.startMany(3, { replication: 3, writeQuorum: 2 });
  kv = new KvClient({ seeds: [nodes[0]!.url], timeoutMs: 3000, clusterSecret: cluster.secret });
});

afterAll(async () => {
  await kv?.close();
  await cluster?.close();
});

async function stats(node: ProcNode): Promise<{ keys: number; cluster: { shedKeys: number } }> {
  const reply = await cluster.transport.request(node.url, { method: 'GET', path: KV_PATHS.stats });
  return JSON.parse(reply.body.toString()) as { keys: number; cluster: { shedKeys: number } };
}

describe('KV cluster: rebalancing', () => {
  it('KV cluster: a node joins under load, another leaves gracefully; no key is lost or unreadable at any moment', async () => {
    const KEYS = 1000;
    const acked: Op[] = [];
    await runOps(Array.from({ length: KEYS }, (_, i) => op('rb', i, 0)), 32, (o) => kv.merge(o.key, o.value), (o) => acked.push(o));
    expect(acked).toHaveLength(KEYS);

    let running = true;
    let round = 1;
    let writes = 0;
    let reads = 0;
    let freshReads = 0;
    const violations: string[] = [];
    const writer = (async () => {
      for (let n = 0; running; n++) {
        const o = op('rb', (n * 37) % KEYS, round++);
        try {
          await kv.merge(o.key, o.value);
          acked.push(o);
          writes++;
        } catch (err) {
          violations.push(`write ${o.key}: ${(err as Error).message}`);
        }
      }
    })();
    // Every acknowledged key must stay readable through the client, and a read-all must
    // include every write acknowledged before it started.
    const reader = (async () => {
      for (let pass = 0; running; pass++) {
        const snapshot = acked.slice();
        const sample = snapshot.filter((_, i) => i % 7 === pass % 7);
        const keys = [...new Set(sample.map((o) => o.key))];
        try {
          const values = new Map<string, Lattice | undefined>((await kv.getBatch(keys)).map((v, i) => [keys[i]!, v]));
          for (const k of keys) if (values.get(k) === undefined) violations.push(`unreadable ${k}`);
          reads += keys.length;
          const fresh = sample.slice(0, 40);
          for (const o of fresh) {
            const v = await kv.getFresh(o.key);
            if (!covers(v, o.value)) violations.push(`read-all of ${o.key} misses an acknowledged write`);
          }
          freshReads += fresh.length;
        } catch (err) {
          violations.push(`read failed: ${(err as Error).message}`);
        }
      }
    })();

    const joinStart = Date.now();
    const n4 = await cluster.start('n4', { replication: 3, writeQuorum: 2, seeds: [nodes[0]!.url] });
    await waitFor(async () => (await Promise.all([...nodes, n4].map((n) => cluster.ring(n)))).every((r) => upCount(r) === 4), 10_000, 'the join to be known');
    console.log(`rebalance: n4 joined in ${Date.now() - joinStart} ms`);
    // The old replicas shed what n4 took over, once they handed it over.
    await waitFor(async () => (await Promise.all(nodes.map(stats))).some((s) => s.cluster.shedKeys > 0), 10_000, 'old replicas to shed keys');
    const counts = await Promise.all([...nodes, n4].map(stats));
    console.log(`rebalance: keys per node with 4 nodes: ${counts.map((s) => s.keys).join(', ')}`);
    expect(counts[3]!.keys).toBeGreaterThan(KEYS * 0.4);

    const leaveStart = Date.now();
    await nodes[1]!.leave();
    console.log(`rebalance: n2 left gracefully in ${Date.now() - leaveStart} ms`);
    await new Promise((r) => setTimeout(r, 1000));
    running = false;
    await Promise.all([writer, reader]);
    console.log(`rebalance: ${writes} writes, ${reads} reads and ${freshReads} read-alls during the join and the leave`);
    expect(violations.slice(0, 10)).toEqual([]);

    const remaining = [nodes[0]!, nodes[2]!, n4];
    const keys = Array.from({ length: KEYS }, (_, i) => `rb/${i}`);
    await waitFor(async () => (await cluster.divergent(keys, remaining[0]!)).length === 0, 20_000, 'replicas to converge on the new ring');
    const values = new Map((await kv.getBatch(keys)).map((v, i) => [keys[i]!, v]));
    expect(acked.filter((o) => !covers(values.get(o.key), o.value)).map((o) => o.key)).toEqual([]);
    const ring = await cluster.ring(remaining[0]!);
    expect(ring.members.find((m) => m.id === 'n2')?.state).toBe('left');
    expect(kv.ringVersion).toBe(ring.version);
  });
});
