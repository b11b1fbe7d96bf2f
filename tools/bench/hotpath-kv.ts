// The hotpath suite's KV-tier figures (issue 14): 1 node `cloudburst kvs --fsync off`, put and
// get p50 against Redis SET/GET of the same 1 KiB value; 3 nodes N=3 (default fsync) with
// W=2, get p50 against Redis GET and put throughput at 16 connections against Redis SET at 16.
// Every figure is taken in the same interleaved rounds as its Redis counterpart.
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { Hlc, KvClient } from '../../kvs/index.ts';
// @ts-expect-error plain JS module without types (it also runs as a server for the locality bench)
import { Resp } from './redis-fn.mjs';
import { loadRounds, sequentialRounds, type LoadFigures, type Side } from './hotpath-measure.ts';
import { KV_VALUE, kvPut, type RespClient, startKvNodes } from './kv-nodes.ts';
import type { Summary } from './stats.ts';
import { benchClusterSecret } from './util.ts';

const KEYS = 1000;
const CONNECTIONS = 16;

export interface KvFigures {
  one: { redisSet: Summary; redisGet: Summary; put: Summary; get: Summary };
  three: { redisSet: Summary; redisGet: Summary; put: Summary; get: Summary; load: { redisSet: LoadFigures; put: LoadFigures } };
}

export async function kvFigures(dir: string, redis: { port: number; pid: number }, opts: { n: number; rounds: number; count: { redis: number; ours: number } }): Promise<KvFigures> {
  const secret = benchClusterSecret();
  const hlc = new Hlc('hotpath');
  const conns = (await Promise.all(Array.from({ length: CONNECTIONS }, () => Resp.open(redis.port)))) as RespClient[];
  const key = (i: number): string => `k${i % KEYS}`;
  const void_ = (p: Promise<unknown>): Promise<void> => p.then(() => undefined);
  const redisSet: Side = { call: (i) => void_(conns[i % CONNECTIONS]!.send(['SET', key(i), KV_VALUE])), pids: [redis.pid] };
  const redisGet: Side = {
    call: async (i) => {
      const [v] = await conns[i % CONNECTIONS]!.send(['GET', key(i)]);
      if (!Buffer.isBuffer(v) || v.length !== KV_VALUE.length) throw new Error(`redis GET ${key(i)}: no 1 KiB value`);
    },
    pids: [redis.pid],
  };
  const nodeSides = (kv: KvClient, pids: number[]): { put: Side; get: Side } => ({
    put: { call: (i) => void_(kvPut(kv, hlc, key(i))), pids },
    get: {
      call: async (i) => {
        if ((await kv.get(key(i))) === undefined) throw new Error(`kv get ${key(i)}: absent`);
      },
      pids,
    },
  });
  // Every key the gets read is written first, CONNECTIONS at a time.
  const fill = async (side: Side): Promise<void> => {
    for (let i = 0; i < KEYS; i += CONNECTIONS) await Promise.all(Array.from({ length: CONNECTIONS }, (_, j) => side.call(i + j)));
  };
  const children: ChildProcess[] = [];
  const stopAll = async (): Promise<void> => {
    for (const c of children.splice(0)) {
      if (c.exitCode === null) await new Promise<void>((done) => { c.once('exit', () => done()); c.kill('SIGTERM'); });
    }
  };
  try {
    await fill(redisSet);

    const one = await startKvNodes(join(dir, 'kv-one'), 1, children, secret, ['--fsync', 'off']);
    const c1 = new KvClient({ url: one.urls[0]!, connections: CONNECTIONS, clusterSecret: secret });
    const s1 = nodeSides(c1, one.pids);
    await fill(s1.put);
    const r1 = await sequentialRounds({ redisSet, put: s1.put, redisGet, get: s1.get }, opts.n, opts.rounds, 100);
    await c1.close();
    await stopAll();

    const three = await startKvNodes(join(dir, 'kv-three'), 3, children, secret);
    const c3 = new KvClient({ seeds: three.urls, connections: CONNECTIONS, writeQuorum: 2, clusterSecret: secret });
    const s3 = nodeSides(c3, three.pids);
    await fill(s3.put);
    const r3 = await sequentialRounds({ redisSet, put: s3.put, redisGet, get: s3.get }, opts.n, opts.rounds, 100);
    const l3 = await loadRounds({ redisSet, put: s3.put }, CONNECTIONS, { redisSet: opts.count.redis, put: opts.count.ours }, opts.rounds);
    await c3.close();
    return {
      one: { redisSet: r1.redisSet!, redisGet: r1.redisGet!, put: r1.put!, get: r1.get! },
      three: { redisSet: r3.redisSet!, redisGet: r3.redisGet!, put: r3.put!, get: r3.get!, load: { redisSet: l3.redisSet!, put: l3.put! } },
    };
  } finally {
    for (const r of conns) r.close();
    await stopAll();
  }
}
