// `npm run bench -- kv-wire [--quick]`: the hotpath suite's KV rows (hotpath-kv.ts) over HTTP and
// over the binary wire (kvs/wire/), in alternating runs, each against Redis in the same run:
// the before/after of the binary wire on one machine. CLOUDBURST_KV_WIRE picks the wire of the
// client and of the nodes it starts (they inherit the environment).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { WIRE_ENV } from '../../kvs/wire/mode.ts';
import { kvFigures, type KvFigures } from './hotpath-kv.ts';
import { startRedis } from './kv-nodes.ts';

const SIZES = { quick: { pairs: 2, n: 300, rounds: 4, count: { redis: 3000, ours: 600 } }, full: { pairs: 3, n: 600, rounds: 6, count: { redis: 6000, ours: 1500 } } };

type Row = { wire: string; onePut: number; onePutRedis: number; oneGet: number; oneGetRedis: number; threeGet: number; threeGetRedis: number; threePutP50: number; thr: number; thrRedis: number; cpu: number; cpuRedis: number };

function row(wire: string, f: KvFigures): Row {
  return {
    wire,
    onePut: f.one.put.p50, onePutRedis: f.one.redisSet.p50, oneGet: f.one.get.p50, oneGetRedis: f.one.redisGet.p50,
    threeGet: f.three.get.p50, threeGetRedis: f.three.redisGet.p50, threePutP50: f.three.put.p50,
    thr: f.three.load.put.rps, thrRedis: f.three.load.redisSet.rps,
    cpu: f.three.load.put.cpuUsPerRequest, cpuRedis: f.three.load.redisSet.cpuUsPerRequest,
  };
}

export async function kvWireBench(quick: boolean): Promise<Record<string, unknown>> {
  const size = quick ? SIZES.quick : SIZES.full;
  const children: ChildProcess[] = [];
  const redis = await startRedis(children);
  const rows: Row[] = [];
  const before = process.env[WIRE_ENV];
  try {
    for (let p = 0; p < size.pairs; p++) {
      for (const wire of p % 2 === 0 ? ['http', 'binary'] : ['binary', 'http']) {
        process.env[WIRE_ENV] = wire;
        const dir = mkdtempSync(join(tmpdir(), `cloudburst-kv-wire-${wire}-`));
        const r = row(wire, await kvFigures(dir, redis, { n: size.n, rounds: size.rounds, count: size.count }));
        rows.push(r);
        console.log(JSON.stringify(r));
      }
    }
  } finally {
    if (before === undefined) delete process.env[WIRE_ENV];
    else process.env[WIRE_ENV] = before;
    for (const c of children) c.kill('SIGTERM');
  }
  const med = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const summary: Record<string, Record<string, string>> = {};
  for (const wire of ['http', 'binary']) {
    const rs = rows.filter((r) => r.wire === wire);
    const ratio = (a: keyof Row, b: keyof Row): string => `${med(rs.map((r) => r[a] as number)).toFixed(0)} / ${med(rs.map((r) => r[b] as number)).toFixed(1)} (${med(rs.map((r) => (r[a] as number) / (r[b] as number))).toFixed(2)}x)`;
    summary[wire] = {
      'KV 1 node fsync off put p50 vs Redis SET (us)': ratio('onePut', 'onePutRedis'),
      'KV 1 node get p50 vs Redis GET (us)': ratio('oneGet', 'oneGetRedis'),
      'KV 3 nodes W=2 get p50 vs Redis GET (us)': ratio('threeGet', 'threeGetRedis'),
      'KV 3 nodes W=2 put p50 (us)': med(rs.map((r) => r.threePutP50)).toFixed(0),
      'KV 3 nodes W=2 put thr@16 vs Redis SET (req/s)': ratio('thr', 'thrRedis'),
      'KV 3 nodes W=2 server CPU/put vs Redis SET (us)': ratio('cpu', 'cpuRedis'),
    };
  }
  console.table(summary);
  return { quick, rows, summary };
}
