// The paper's data-locality experiment (Cloudburst section 6.1.2), scaled to this machine:
// `arrays.sum10` sums 10 Float64Arrays passed as references, with 80 KB to 80 MB of input,
//  - hot: the arrays are cached on the executing host (the same keys every call);
//  - cold: new keys every call, written straight to the KV node, so the host fetches them;
//  - redis: the same sum in a plain Node server that GETs the arrays from Redis every call
//    (the paper's "Lambda + Redis"), with Debian's redis-server started here.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'undici';
import { KvClient, lww, Hlc } from '../../kvs/index.ts';
import { existingDataDirSecret } from '../cli/cluster-secret.ts';
import { buildGuest, PACKAGE_ROOT } from '../build/build.ts';
// @ts-expect-error plain JS module without types (it also runs as the baseline's server)
import { Resp } from './redis-fn.mjs';
import { summarize, type Summary } from './stats.ts';
import { CLI, post, startChild } from './util.ts';

interface RespClient {
  send(...commands: (string | Buffer)[][]): Promise<unknown[]>;
  close(): void;
}

const SIZES = [80e3, 800e3, 8e6, 80e6];

/** Debian's redis-server, installed on the spot when missing (the bench runs as root here). */
export function redisServer(): string {
  const which = (): string => execFileSync('which', ['redis-server']).toString().trim();
  try {
    return which();
  } catch {
    console.log('installing redis-server (Debian package)...');
    try {
      execFileSync('apt-get', ['update', '-qq'], { stdio: 'ignore' });
      execFileSync('apt-get', ['install', '-y', '-qq', 'redis-server'], { stdio: 'ignore' });
      return which();
    } catch {
      throw new Error('redis-server is not installed and could not be: apt-get install -y redis-server');
    }
  }
}

function arrays(total: number, seed: number): { buffers: Buffer[]; sum: number } {
  const n = Math.round(total / 10 / 8);
  const buffers: Buffer[] = [];
  let sum = 0;
  for (let a = 0; a < 10; a++) {
    const f = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      f[i] = ((i * 7 + a + seed) % 1000) / 8;
      sum += f[i]!;
    }
    buffers.push(Buffer.from(f.buffer));
  }
  return { buffers, sum };
}

const label = (total: number): string => (total >= 1e6 ? `${total / 1e6} MB` : `${total / 1e3} KB`);

export async function localityBench(quick: boolean): Promise<Record<string, unknown>> {
  const iterations = quick ? [20, 12, 6, 3] : [200, 100, 40, 12];
  const dir = mkdtempSync(join(tmpdir(), 'cb-locality-'));
  const children: ChildProcess[] = [];
  const results: Record<string, Record<string, Summary | number>> = {};
  try {
    const redisPort = 20000 + Math.floor(Math.random() * 20000);
    const redis = spawn(redisServer(), ['--port', String(redisPort), '--save', '', '--appendonly', 'no', '--bind', '127.0.0.1', '--proto-max-bulk-len', '256mb'], { stdio: 'ignore' });
    children.push(redis);
    const up = await startChild([CLI, 'up', '--data', join(dir, 'data'), '--port', '0', '--no-examples', '--insecure'], /host API (http:\/\/[\d.:]+), KV node (http:\/\/[\d.:]+)/);
    children.push(up.child);
    await new Promise((r) => setTimeout(r, 300));
    const baseline = await startChild([join(PACKAGE_ROOT, 'tools', 'bench', 'redis-fn.mjs'), String(redisPort)], /listening (\d+)/);
    children.push(baseline.child);

    const host = new Pool(up.match[1]!, { connections: 4 });
    // `cloudburst up` keeps the cluster secret in its data folder; the KV node wants it.
    const kv = new KvClient({ url: up.match[2]!, timeoutMs: 120_000, clusterSecret: existingDataDirSecret(join(dir, 'data')) });
    const fn = new Pool(`http://127.0.0.1:${baseline.match[1]}`, { connections: 4 });
    const resp = (await Resp.open(redisPort)) as RespClient;
    const hlc = new Hlc('bench');
    const { wasm } = await buildGuest({ entry: join(PACKAGE_ROOT, 'guest', 'examples', 'arrays.ts') });
    await (await host.request({ method: 'PUT', path: '/v1/modules/arrays', body: wasm })).body.text();

    const callHost = async (keys: string[], expected: number): Promise<number> => {
      const t = process.hrtime.bigint();
      const r = await post(host, '/v1/functions/arrays.sum10/call', JSON.stringify({ args: keys.map((ref) => ({ ref })) }));
      const us = Number(process.hrtime.bigint() - t) / 1000;
      if (r.status !== 200 || Math.abs((JSON.parse(r.text) as { result: number }).result - expected) > 1e-6 * expected) throw new Error(`sum10: ${r.status} ${r.text.slice(0, 200)}`);
      return us;
    };
    const storeInKv = (keys: string[], buffers: Buffer[]) => kv.mergeBatch(keys.map((k, i) => ({ key: `default/k/${k}`, value: lww.write(buffers[i]!, hlc.now()) })));

    for (const [s, total] of SIZES.entries()) {
      const n = iterations[s]!;
      const { buffers, sum } = arrays(total, s);
      // hot: one set of keys, cached on the host after the first call
      const hotKeys = buffers.map((_, i) => `hot-${s}-${i}`);
      await storeInKv(hotKeys, buffers);
      await callHost(hotKeys, sum);
      const hot: number[] = [];
      for (let i = 0; i < n; i++) hot.push(await callHost(hotKeys, sum));
      // cold: fresh keys every call (written to the KV node, unseen by the host)
      const cold: number[] = [];
      for (let i = 0; i < n; i++) {
        const keys = buffers.map((_, j) => `cold-${s}-${i}-${j}`);
        await storeInKv(keys, buffers);
        cold.push(await callHost(keys, sum));
      }
      // redis: the stateless function fetches everything every call
      const redisKeys = buffers.map((_, i) => `r-${s}-${i}`);
      await resp.send(...redisKeys.map((k, i) => ['SET', k, buffers[i]!]));
      const viaRedis: number[] = [];
      for (let i = 0; i < n + 1; i++) {
        const t = process.hrtime.bigint();
        const r = await post(fn, '/', JSON.stringify({ keys: redisKeys }));
        if (i > 0) viaRedis.push(Number(process.hrtime.bigint() - t) / 1000);
        if (Math.abs((JSON.parse(r.text) as { result: number }).result - sum) > 1e-6 * sum) throw new Error('redis baseline: wrong sum');
      }
      const h = summarize(hot);
      const c = summarize(cold);
      const r = summarize(viaRedis);
      results[label(total)] = { hot: h, cold: c, redis: r, coldOverHotP50: c.p50 / h.p50, redisOverHotP50: r.p50 / h.p50 };
      const ms = (x: number): string => (x / 1000).toFixed(2).padStart(8);
      console.log(`${label(total).padEnd(7)} hot p50 ${ms(h.p50)} ms p99 ${ms(h.p99)} | cold p50 ${ms(c.p50)} p99 ${ms(c.p99)} | redis p50 ${ms(r.p50)} p99 ${ms(r.p99)} | cold/hot ${(c.p50 / h.p50).toFixed(1)}x redis/hot ${(r.p50 / h.p50).toFixed(1)}x (n=${n})`);
    }
    resp.close();
    await host.close();
    await fn.close();
    await kv.close();
    return { sizes: results };
  } finally {
    for (const c of children) c.kill('SIGINT');
    await new Promise((r) => setTimeout(r, 500));
    rmSync(dir, { recursive: true, force: true });
  }
}
