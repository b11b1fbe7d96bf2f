// What the KV-tier benches share (the kvs suite and the hotpath suite's KV figures): starting
// `cloudburst kvs` nodes as their own processes, the signed put of a 1 KiB value, and the
// latency and throughput loops both sides (the nodes and Redis) are measured with.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { type Hlc, type KvClient, lww } from '../../kvs/index.ts';
import { secretEnv } from '../cli/cluster-secret.ts';
import { summarize, type Summary } from './stats.ts';
import { CLI, startChild } from './util.ts';
import { redisServer } from './locality.ts';
// @ts-expect-error plain JS module without types (it also runs as a server for the locality bench)
import { Resp } from './redis-fn.mjs';

/** The value every KV bench writes: 1 KiB. */
export const KV_VALUE = Buffer.alloc(1024, 7);

/** What the benches need of a Redis connection (redis-fn.mjs's `Resp`, untyped JS). */
export interface RespClient {
  send(...commands: (string | Buffer)[][]): Promise<unknown[]>;
  close(): void;
}

/**
 * Starts `count` KV nodes (`cloudburst kvs`, N = min(3, count), each seeding from the ones
 * before it) in `dir`, with the cluster `secret` and any `extra` flags; their processes go
 * into `children` for the caller to stop.
 */
export async function startKvNodes(dir: string, count: number, children: ChildProcess[], secret: Buffer, extra: string[] = []): Promise<{ urls: string[]; pids: number[] }> {
  const urls: string[] = [];
  const pids: number[] = [];
  for (let i = 0; i < count; i++) {
    const args = [CLI, 'kvs', '--port', '0', '--data', join(dir, `kv${i}`), '--replication', String(Math.min(3, count)), ...extra];
    if (urls.length > 0) args.push('--seeds', urls.join(','));
    const { child, match } = await startChild(args, /listening on (http:\/\/[\d.:]+)/, secretEnv(secret));
    children.push(child);
    urls.push(match[1]!);
    pids.push(child.pid!);
  }
  return { urls, pids };
}

/** A put of the 1 KiB value as the lww lattice, stamped now. */
export const kvPut = (kv: KvClient, hlc: Hlc, key: string): Promise<unknown> => kv.merge(key, lww.write(KV_VALUE, hlc.now()));

/** `n` sequential operations: their latencies in microseconds. */
export async function latencyUs(n: number, op: (i: number) => Promise<unknown>): Promise<number[]> {
  const t: number[] = [];
  for (let i = 0; i < n; i++) {
    const s = process.hrtime.bigint();
    await op(i);
    t.push(Number(process.hrtime.bigint() - s) / 1000);
  }
  return t;
}

export async function latency(n: number, op: (i: number) => Promise<unknown>): Promise<Summary> {
  return summarize(await latencyUs(n, op));
}

/** Operations per second with `concurrency` in flight for `ms`; worker w passes i = w * 1e6 + its count. */
export async function throughput(ms: number, concurrency: number, op: (i: number) => Promise<unknown>): Promise<number> {
  let done = 0;
  const end = performance.now() + ms;
  await Promise.all(Array.from({ length: concurrency }, async (_, w) => {
    for (let i = 0; performance.now() < end; i++) {
      await op(w * 1_000_000 + i);
      done++;
    }
  }));
  return done / (ms / 1000);
}

/**
 * Debian's redis-server on a free-ish port, without persistence (as a cache runs it, the
 * issue's baseline), resolved once it answers PING; its process goes into `children`.
 */
export async function startRedis(children: ChildProcess[]): Promise<{ port: number; pid: number }> {
  const port = 20000 + Math.floor(Math.random() * 20000);
  const child = spawn(redisServer(), ['--port', String(port), '--save', '', '--appendonly', 'no', '--bind', '127.0.0.1'], { stdio: 'ignore' });
  children.push(child);
  for (const deadline = Date.now() + 10_000; ;) {
    try {
      const r = (await Resp.open(port)) as RespClient;
      await r.send(['PING']);
      r.close();
      return { port, pid: child.pid! };
    } catch (err) {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`redis-server on port ${port} did not start: ${String(err)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}
