import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KvClient } from '../../../kvs/index.ts';
import { Launcher, waitFor, type ProcNode } from './launcher.ts';
import { covers, op, type Op } from './workload.ts';

let cluster: Launcher;
let nodes: ProcNode[];
let kv: KvClient;

beforeAll(async () => {
  cluster = await Launcher.create('pause');
  nodes = await cluster.startMany(3, { replication: 3, writeQuorum: 2 });
  kv = new KvClient({ seeds: nodes.map((n) => n.url), timeoutMs: 3000, clusterSecret: cluster.secret });
});

afterAll(async () => {
  await kv?.close();
  await cluster?.close();
});

describe('KV cluster: a paused node', () => {
  it('KV cluster: a node stopped for seconds (SIGSTOP) while writes go on misses nothing once continued', async () => {
    const paused = nodes[1]!;
    const acked: Op[] = [];
    let failed = 0;
    let writing = true;
    let round = 0;
    // 8 writers over 1,000 keys, for as long as the scenario runs.
    const writers = Array.from({ length: 8 }, async (_, w) => {
      for (let n = 0; writing; n++) {
        const o = op('pause', (w * 7919 + n * 31) % 1000, round++);
        try {
          await kv.merge(o.key, o.value);
          acked.push(o);
        } catch {
          failed++;
        }
      }
    });
    await new Promise((r) => setTimeout(r, 500));
    paused.stop();
    const stoppedAt = acked.length;
    await new Promise((r) => setTimeout(r, 4000));
    const duringPause = acked.length - stoppedAt;
    paused.cont();
    const continued = Date.now();
    await new Promise((r) => setTimeout(r, 500));
    writing = false;
    await Promise.all(writers);
    const stoppedWriting = Date.now();
    console.log(`SIGSTOP: ${acked.length} writes acknowledged (${duringPause} during the 4 s pause), ${failed} failed`);
    expect(duringPause).toBeGreaterThan(100);

    const keys = [...new Set(acked.map((o) => o.key))];
    let divergent: string[] = keys;
    await waitFor(async () => (divergent = await cluster.divergent(keys, nodes[0]!)).length === 0, 20_000, `replicas to converge (${divergent.length} keys differ)`);
    console.log(`SIGSTOP: every replica identical ${Date.now() - stoppedWriting} ms after writes stopped, ${Date.now() - continued} ms after SIGCONT`);

    const values = new Map((await kv.getBatch(keys)).map((v, i) => [keys[i]!, v]));
    expect(acked.filter((o) => !covers(values.get(o.key), o.value)).map((o) => o.key)).toEqual([]);
    // And the paused node itself holds every acknowledged write.
    const own = await cluster.read(paused, keys);
    const { decode } = await import('../../../kvs/index.ts');
    expect(acked.filter((o) => !covers(own.get(o.key) && decode(own.get(o.key)!), o.value))).toHaveLength(0);
  });
});
