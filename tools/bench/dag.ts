// DAG figures: `square(increment(x))` as a two-step DAG against `math.square` as one call on
// the same host (sequential calls, alternating call by call so that noise hits both alike), then the
// same DAG across two host processes (forced placement) against both steps on one of them.
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'undici';
import { buildGuest, PACKAGE_ROOT } from '../build/build.ts';
import { startLocalCluster } from '../cli/cluster.ts';
import { summarize, type Summary } from './stats.ts';
import { CLI, post, startChild } from './util.ts';

const PIPELINE = JSON.stringify({ functions: ['math.increment', 'math.square'], edges: [['math.increment', 'math.square']] });

/** One call: its latency in microseconds. Checks the answer. */
async function timed(pool: Pool, path: string, body: string, expected: unknown): Promise<number> {
  const t = process.hrtime.bigint();
  const r = await post(pool, path, body);
  const us = Number(process.hrtime.bigint() - t) / 1000;
  if (r.status !== 200 || (JSON.parse(r.text) as { result: unknown }).result !== expected) throw new Error(`${path}: ${r.status} ${r.text}`);
  return us;
}

type Call = (i: number) => Promise<number>;

/**
 * `n` sequential calls of each kind, alternating call by call (this machine is shared: noise
 * then hits every kind alike), after `warm` calls of each.
 */
async function alternating(n: number, warm: number, kinds: Record<string, Call>): Promise<Record<string, number[]>> {
  const samples: Record<string, number[]> = Object.fromEntries(Object.keys(kinds).map((k) => [k, []]));
  for (let i = 0; i < warm + n; i++) {
    for (const [k, call] of Object.entries(kinds)) {
      const us = await call(i % 1000);
      if (i >= warm) samples[k]!.push(us);
    }
  }
  return samples;
}

function line(name: string, s: Summary, extra = ''): string {
  return `${name.padEnd(52)} p50 ${s.p50.toFixed(1).padStart(8)} us   p99 ${s.p99.toFixed(1).padStart(8)} us   (n=${s.n})${extra}`;
}

const dagBody = (x: number, placement?: Record<string, string>): string => JSON.stringify({ args: { 'math.increment': [x] }, ...(placement ? { placement } : {}) });

export async function dagBench(quick: boolean): Promise<Record<string, unknown>> {
  const N = 1000;
  const warm = quick ? 200 : 1000;
  const dir = mkdtempSync(join(tmpdir(), 'cb-bench-dag-'));
  const children: ChildProcess[] = [];
  let cluster: { stop(): Promise<void> } | undefined;
  const report: Record<string, unknown> = {};
  try {
    const { wasm } = await buildGuest({ entry: join(PACKAGE_ROOT, 'guest', 'examples', 'math.ts') });

    // --- One host: the DAG against one call ---------------------------------------------
    console.log('starting the platform (cloudburst up)...');
    const up = await startChild([CLI, 'up', '--data', join(dir, 'one'), '--port', '0', '--no-examples', '--insecure'], /host API (http:\/\/[\d.:]+)/);
    children.push(up.child);
    const host = new Pool(up.match[1]!, { connections: 4 });
    await (await host.request({ method: 'PUT', path: '/v1/modules/math', body: wasm })).body.text();
    await (await host.request({ method: 'PUT', path: '/v1/dags/pipeline', body: PIPELINE, headers: { 'content-type': 'application/json' } })).body.text();
    const one = await alternating(N, warm, {
      dag: (i) => timed(host, '/v1/dags/pipeline/call', dagBody(i), (i + 1) ** 2),
      square: (i) => timed(host, '/v1/functions/math.square/call', JSON.stringify({ args: [i + 1] }), (i + 1) ** 2),
    });
    const dagS = summarize(one.dag!);
    const squareS = summarize(one.square!);
    console.log(line('math.square, one call, sequential', squareS));
    console.log(line('square(increment(x)) as a DAG, one host', dagS, `   p50 ratio ${(dagS.p50 / squareS.p50).toFixed(2)}x, p99 ratio ${(dagS.p99 / squareS.p99).toFixed(2)}x`));
    report.oneHost = { square: squareS, dag: dagS, ratioP50: dagS.p50 / squareS.p50, ratioP99: dagS.p99 / squareS.p99 };
    await host.close();

    // --- Two host processes: forced placement --------------------------------------------
    console.log('starting a cluster of 1 KV node and 2 hosts...');
    const c = await startLocalCluster({ dataDir: join(dir, 'two'), kvsNodes: 1, hosts: 2, hostPort: 0, supervise: false, hostArgs: ['--explore', '0'], log: () => undefined, insecure: true });
    cluster = c;
    const [urlA, urlB] = c.file.processes.filter((p) => p.role === 'host').map((p) => p.url);
    const a = new Pool(urlA!, { connections: 4 });
    const idOf = async (url: string): Promise<string> => ((await (await fetch(`${url}/v1/cluster`)).json()) as { host: { id: string } }).host.id;
    const [idA, idB] = [await idOf(urlA!), await idOf(urlB!)];
    for (const deadline = Date.now() + 10_000; ;) {
      const peers = ((await (await fetch(`${urlA}/v1/cluster`)).json()) as { peers: { id: string }[] }).peers;
      if (peers.some((p) => p.id === idB)) break;
      if (Date.now() > deadline) throw new Error('host A never saw host B');
      await new Promise((r) => setTimeout(r, 100));
    }
    await (await a.request({ method: 'PUT', path: '/v1/modules/math', body: wasm })).body.text();
    await (await a.request({ method: 'PUT', path: '/v1/dags/pipeline', body: PIPELINE, headers: { 'content-type': 'application/json' } })).body.text();
    const across = { 'math.increment': idB, 'math.square': idA };
    const local = { 'math.increment': idA, 'math.square': idA };
    const two = await alternating(N, warm, {
      across: (i) => timed(a, '/v1/dags/pipeline/call', dagBody(i, across), (i + 1) ** 2),
      local: (i) => timed(a, '/v1/dags/pipeline/call', dagBody(i, local), (i + 1) ** 2),
    });
    const acrossS = summarize(two.across!);
    const localS = summarize(two.local!);
    console.log(line('DAG, both steps on the receiving host (forced)', localS));
    console.log(line('DAG, increment on the other host (forced)', acrossS, `   p50 ratio ${(acrossS.p50 / localS.p50).toFixed(2)}x, +${(acrossS.p50 - localS.p50).toFixed(0)} us`));
    report.twoHosts = { oneHost: localS, acrossHosts: acrossS, ratioP50: acrossS.p50 / localS.p50, ratioP99: acrossS.p99 / localS.p99 };
    await a.close();
    return report;
  } finally {
    for (const child of children) child.kill('SIGINT');
    await cluster?.stop();
    await new Promise((r) => setTimeout(r, 500));
    rmSync(dir, { recursive: true, force: true });
  }
}
