// DAG figures: `square(increment(x))` as a two-step DAG against `math.square` as one call on
// the same host (sequential calls, alternating call by call so that noise hits both alike), the
// same DAG on a host that runs each step as its own call (CLOUDBURST_DAG_FUSION=off), and two
// node:http processes A -> B doing the same (A increments, B squares: the baseline);
// throughput at 8 connections of each, in interleaved rounds; then the DAG across two host
// processes (forced placement) against the single call plus two loopback round trips (a bare
// node:http POST, measured in the same rounds).
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'undici';
import { buildGuest, PACKAGE_ROOT } from '../build/build.ts';
import { startLocalCluster } from '../cli/cluster.ts';
import { FLOOR_SERVER } from './host-bench.ts';
import { summarize, type Summary } from './stats.ts';
import { CLI, post, startChild } from './util.ts';

/** The node:http A -> B chain's two processes (`square`, then `chain B_PORT`). */
const CHAIN_FN = join(PACKAGE_ROOT, 'tools', 'bench', 'hotpath-fn.mjs');

/** workerd's A -> B binding at 8 connections, as issue 14 measured it on this machine (req/s). */
const WORKERD_A_TO_B_RPS = 4696;

/** Requests per second with `concurrency` requests always in flight for `ms`, each answer checked. */
async function throughput(pool: Pool, path: string, body: (i: number) => string, expected: (i: number) => unknown, concurrency: number, ms: number): Promise<number> {
  let done = 0;
  const end = performance.now() + ms;
  await Promise.all(Array.from({ length: concurrency }, async (_, c) => {
    for (let i = c; performance.now() < end; i += concurrency) {
      const r = await post(pool, path, body(i % 1000));
      if (r.status !== 200 || (JSON.parse(r.text) as { result: unknown }).result !== expected(i % 1000)) throw new Error(`${path}: ${r.status} ${r.text}`);
      done++;
    }
  }));
  return done / (ms / 1000);
}

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

    // --- One host: the DAG against one call, unfused steps, and node:http A -> B ----------
    console.log('starting the platform (cloudburst up, twice: steps fused and not), a node:http floor and A -> B...');
    const upArgs = (d: string): string[] => [CLI, 'up', '--data', join(dir, d), '--port', '0', '--no-examples', '--insecure'];
    const up = await startChild(upArgs('one'), /host API (http:\/\/[\d.:]+)/);
    children.push(up.child);
    const upOff = await startChild(upArgs('off'), /host API (http:\/\/[\d.:]+)/, { ...process.env, CLOUDBURST_DAG_FUSION: 'off' });
    children.push(upOff.child);
    const floor = await startChild(['-e', FLOOR_SERVER], /listening (\d+)/);
    children.push(floor.child);
    // node:http A -> B (the hotpath suite's baseline too): A increments, B squares, over keep-alive.
    const chainB = await startChild([CHAIN_FN, 'square'], /listening (\d+)/);
    children.push(chainB.child);
    const chainA = await startChild([CHAIN_FN, 'chain', chainB.match[1]!], /listening (\d+)/);
    children.push(chainA.child);
    const host = new Pool(up.match[1]!, { connections: 8 });
    const hostOff = new Pool(upOff.match[1]!, { connections: 8 });
    const floorPool = new Pool(`http://127.0.0.1:${floor.match[1]}`, { connections: 8 });
    const ab = new Pool(`http://127.0.0.1:${chainA.match[1]}`, { connections: 8 });
    for (const h of [host, hostOff]) {
      await (await h.request({ method: 'PUT', path: '/v1/modules/math', body: wasm })).body.text();
      await (await h.request({ method: 'PUT', path: '/v1/dags/pipeline', body: PIPELINE, headers: { 'content-type': 'application/json' } })).body.text();
    }
    const squared = (i: number): number => (i + 1) ** 2;
    const squareBody = (i: number): string => JSON.stringify({ args: [i + 1] });
    const abBody = (i: number): string => JSON.stringify({ args: [i] });
    const one = await alternating(N, warm, {
      dag: (i) => timed(host, '/v1/dags/pipeline/call', dagBody(i), squared(i)),
      square: (i) => timed(host, '/v1/functions/math.square/call', squareBody(i), squared(i)),
      unfused: (i) => timed(hostOff, '/v1/dags/pipeline/call', dagBody(i), squared(i)),
      ab: (i) => timed(ab, '/', abBody(i), squared(i)),
      floor: (i) => timed(floorPool, '/', squareBody(i), 49),
    });
    const s1 = Object.fromEntries(Object.entries(one).map(([k, v]) => [k, summarize(v)])) as Record<keyof typeof one, Summary>;
    const ratio = (a: Summary, b: Summary): string => `   p50 ratio ${(a.p50 / b.p50).toFixed(2)}x, p99 ratio ${(a.p99 / b.p99).toFixed(2)}x`;
    console.log(line('floor: bare node:http POST (a loopback round trip)', s1.floor!));
    console.log(line('math.square, one call, sequential', s1.square!));
    console.log(line('square(increment(x)) as a DAG, one host', s1.dag!, `${ratio(s1.dag!, s1.square!)} to the call (goal <= 1.3x)`));
    console.log(line('the DAG, every step its own call (fusion off)', s1.unfused!, ratio(s1.unfused!, s1.square!)));
    console.log(line('node:http A -> B (two processes)', s1.ab!, ratio(s1.ab!, s1.square!)));
    const dagS = s1.dag!;
    const squareS = s1.square!;
    report.oneHost = { square: squareS, dag: dagS, unfused: s1.unfused, nodeAtoB: s1.ab, floor: s1.floor, ratioP50: dagS.p50 / squareS.p50, ratioP99: dagS.p99 / squareS.p99, unfusedRatioP50: s1.unfused!.p50 / squareS.p50 };

    // Throughput at 8 connections, in interleaved rounds (medians of the rounds).
    const rounds = quick ? 3 : 5;
    const ms = quick ? 1500 : 3000;
    const rps: Record<string, number[]> = { dag: [], unfused: [], ab: [], square: [] };
    for (let r = 0; r < rounds; r++) {
      rps.dag!.push(await throughput(host, '/v1/dags/pipeline/call', dagBody, squared, 8, ms));
      rps.ab!.push(await throughput(ab, '/', abBody, squared, 8, ms));
      rps.unfused!.push(await throughput(hostOff, '/v1/dags/pipeline/call', dagBody, squared, 8, ms));
      rps.square!.push(await throughput(host, '/v1/functions/math.square/call', squareBody, squared, 8, ms));
    }
    const med = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
    const t = Object.fromEntries(Object.entries(rps).map(([k, v]) => [k, med(v)])) as Record<string, number>;
    console.log(`throughput at 8 connections (median of ${rounds} rounds of ${ms} ms): DAG ${t.dag!.toFixed(0)} req/s, fusion off ${t.unfused!.toFixed(0)}, node:http A -> B ${t.ab!.toFixed(0)} (DAG ${((t.dag! / t.ab!) * 100).toFixed(0)}% of it), math.square ${t.square!.toFixed(0)}; workerd A -> B ${WORKERD_A_TO_B_RPS} (issue 14)`);
    report.throughput = { concurrency: 8, ...t, workerdAtoB: WORKERD_A_TO_B_RPS, dagToNodeAtoB: t.dag! / t.ab!, dagToUnfused: t.dag! / t.unfused! };
    for (const pl of [host, hostOff, ab]) await pl.close();

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
      square: (i) => timed(a, '/v1/functions/math.square/call', JSON.stringify({ args: [i + 1] }), (i + 1) ** 2),
      floor: (i) => timed(floorPool, '/', JSON.stringify({ args: [i] }), 49),
    });
    const acrossS = summarize(two.across!);
    const localS = summarize(two.local!);
    const square2 = summarize(two.square!);
    const rtt = summarize(two.floor!);
    const bound = square2.p50 + 2 * rtt.p50;
    console.log(line('math.square on host A, one call', square2));
    console.log(line('floor: bare node:http POST (a loopback round trip)', rtt));
    console.log(line('DAG, both steps on the receiving host (forced)', localS));
    console.log(line('DAG, increment on the other host (forced)', acrossS, `   p50 ratio ${(acrossS.p50 / localS.p50).toFixed(2)}x, +${(acrossS.p50 - localS.p50).toFixed(0)} us; goal <= call + 2 round trips = ${bound.toFixed(0)} us (${(acrossS.p50 / bound).toFixed(2)}x of it)`));
    report.twoHosts = { oneHost: localS, acrossHosts: acrossS, square: square2, roundTrip: rtt, goalUs: bound, toGoal: acrossS.p50 / bound, ratioP50: acrossS.p50 / localS.p50, ratioP99: acrossS.p99 / localS.p99 };
    await a.close();
    await floorPool.close();
    return report;
  } finally {
    for (const child of children) child.kill('SIGINT');
    await cluster?.stop();
    await new Promise((r) => setTimeout(r, 500));
    rmSync(dir, { recursive: true, force: true });
  }
}
