import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KvClient } from '../../../kvs/index.ts';
import { Launcher, waitFor, type ProcNode } from './launcher.ts';
import { covers, op, runOps, type Op } from './workload.ts';

let cluster: Launcher;
let nodes: ProcNode[];
let kv: KvClient;

beforeAll(async () => {
  cluster = await Launcher.create('kill');
  nodes = await cluster.startMany(3, { replication: 3, writeQuorum: 2 });
  kv = new KvClient({ seeds: nodes.map((n) => n.url), timeoutMs: 3000, clusterSecret: cluster.secret });
});

afterAll(async () => {
  await kv?.close();
  await cluster?.close();
});

describe('KV cluster: kill -9', () => {
  it('KV cluster: kill -9 of a replica during writes loses no acknowledged write, and it catches up after restart', async () => {
    const [, , victim] = nodes as [ProcNode, ProcNode, ProcNode];
    const ops: Op[] = [];
    for (let r = 0; r < 2; r++) for (let i = 0; i < 2000; i++) ops.push(op('kill', i, r));
    const acked: Op[] = [];
    let killed: Promise<void> | undefined;
    const started = Date.now();
    const { failed } = await runOps(ops, 32, (o) => kv.merge(o.key, o.value), (o) => {
      acked.push(o);
      if (acked.length === 1000) killed = victim.kill();
    });
    await killed;
    console.log(`kill -9: ${acked.length} writes acknowledged, ${failed} failed, in ${Date.now() - started} ms`);
    expect(acked.length).toBeGreaterThan(ops.length * 0.95);

    const keys = [...new Set(ops.map((o) => o.key))];
    const values = new Map((await kv.getBatch(keys)).map((v, i) => [keys[i]!, v]));
    const lost = acked.filter((o) => !covers(values.get(o.key), o.value));
    expect(lost.map((o) => o.key)).toEqual([]);

    const restarted = Date.now();
    await victim.start();
    let divergent: string[] = keys;
    await waitFor(async () => (divergent = await cluster.divergent(keys, nodes[0]!)).length === 0, 20_000, `replicas to converge (${divergent.length} keys differ)`);
    console.log(`kill -9: the restarted node caught up in ${Date.now() - restarted} ms (every replica identical for ${keys.length} keys)`);
  });
});
