// `npm run bench -- hotpath [--quick]`: every figure of issue 14's "Goals" (the hot path of
// state) against its baseline, measured in the same run in interleaved rounds, as one table:
// figure, ours, baseline, ratio, goal, met / NOT met. Each baseline is its own process:
//  - a bare node:http floor (host-bench.ts's FLOOR_SERVER), also the loopback round trip;
//  - node:http functions over Debian's redis-server (hotpath-fn.mjs): counter GET + SET, and
//    a read-modify-write reading 3 keys and writing 1;
//  - two node:http processes A -> B (keep-alive) as the DAG's baseline;
//  - Redis itself (GET/SET of 1 KiB) for the KV tier (hotpath-kv.ts).
// Ours: `cloudburst up` with authentication on (as users run it), a 2-host local cluster for
// the DAG across hosts (hotpath-hosts.ts), `cloudburst kvs` nodes for the KV tier. No
// baseline: how late a write reaches the KV tier under the host's group commit
// (hotpath-visibility.ts), the price of its fewer flushes.
// Server CPU per request is utime + stime of the serving processes (proc-cpu.ts): for the
// Redis functions Redis's CPU counts too, for ours the `up` process (all its threads).
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'undici';
import { buildGuest, PACKAGE_ROOT } from '../build/build.ts';
import { FLOOR_SERVER } from './host-bench.ts';
import { formatTable, judge } from './hotpath-goals.ts';
import { dagBody, PIPELINE, twoHostDir, twoHostFigures } from './hotpath-hosts.ts';
import { kvFigures } from './hotpath-kv.ts';
import { httpCall, idleCpuPerSecond, loadRounds, sequentialRounds, type Side } from './hotpath-measure.ts';
import { goalRows, WORKERD_REFERENCE, type OneHostFigures } from './hotpath-rows.ts';
import { visibilityFigures } from './hotpath-visibility.ts';
import { inGuestFigures } from './in-guest.ts';
import { dataDirClusterSecret } from '../cli/cluster-secret.ts';
import { type RespClient, startRedis } from './kv-nodes.ts';
// @ts-expect-error plain JS module without types (it also runs as a server for the locality bench)
import { Resp } from './redis-fn.mjs';
import { CLI, startChild, withToken } from './util.ts';

const FN = join(PACKAGE_ROOT, 'tools', 'bench', 'hotpath-fn.mjs');
/** Keys the stateful functions spread over (the counter's and the read-modify-write's groups). */
const GROUPS = 100;

/** Sizes of the quick and the full run (requests per side). */
const SIZES = {
  quick: { visibility: 300, seq: 600, rounds: 6, warm: 50, load8: 1500, load32: 2000, twoHosts: 400, kvSeq: 400, kvLoad: { redis: 4000, ours: 400 } },
  full: { visibility: 1000, seq: 2000, rounds: 12, warm: 200, load8: 4000, load32: 8000, twoHosts: 1500, kvSeq: 1500, kvLoad: { redis: 20_000, ours: 1500 } },
};

async function put(pool: Pool, path: string, body: string | Uint8Array, json = false): Promise<void> {
  const r = await pool.request({ method: 'PUT', path, body, headers: json ? { 'content-type': 'application/json' } : {} });
  const text = await r.body.text();
  if (r.statusCode >= 300) throw new Error(`PUT ${path}: ${r.statusCode} ${text}`);
}

const wasmOf = async (entry: string): Promise<Uint8Array> => (await buildGuest({ entry: join(PACKAGE_ROOT, entry) })).wasm;

export async function hotpathBench(quick: boolean): Promise<Record<string, unknown>> {
  const size = quick ? SIZES.quick : SIZES.full;
  const dir = mkdtempSync(join(tmpdir(), 'cb-hotpath-'));
  const children: ChildProcess[] = [];
  const pools: Pool[] = [];
  const started = performance.now();
  const step = (what: string): void => console.log(`[${((performance.now() - started) / 1000).toFixed(0).padStart(3)} s] ${what}`);
  try {
    const [mathWasm, counterWasm, stateWasm] = await Promise.all([wasmOf('guest/examples/math.ts'), wasmOf('guest/examples/counter.ts'), wasmOf('tools/bench/guests/state-bench.ts')]);
    step('starting Redis, the node:http baselines and cloudburst up (authentication on)...');
    const redis = await startRedis(children);
    const start = async (args: string[], ready: RegExp) => {
      const s = await startChild(args, ready);
      children.push(s.child);
      return s;
    };
    const floor = await start(['-e', FLOOR_SERVER], /listening (\d+)/);
    const redisFn = await start([FN, 'redis', String(redis.port)], /listening (\d+)/);
    const chainB = await start([FN, 'square'], /listening (\d+)/);
    const chainA = await start([FN, 'chain', chainB.match[1]!], /listening (\d+)/);
    const up = await start([CLI, 'up', '--data', join(dir, 'up'), '--port', '0', '--no-examples'], /host API (http:\/\/[\d.:]+), KV node (http:\/\/[\d.:]+)/);
    const token = readFileSync(join(dir, 'up', 'admin-token'), 'utf8').trim();
    const local = (port: string): Pool => {
      const p = new Pool(`http://127.0.0.1:${port}`, { connections: 32 });
      pools.push(p);
      return p;
    };
    const floorPool = local(floor.match[1]!);
    const fnPool = local(redisFn.match[1]!);
    const chainPool = local(chainA.match[1]!);
    const rawHost = new Pool(up.match[1]!, { connections: 32 });
    pools.push(rawHost);
    const host = withToken(rawHost, token);
    await put(host, '/v1/modules/math', mathWasm);
    await put(host, '/v1/modules/counter', counterWasm);
    await put(host, '/v1/modules/statebench', stateWasm);
    await put(host, '/v1/dags/pipeline', PIPELINE, true);
    // The read-modify-write's inputs, on both sides: a = 1, b = 2, c = 3 in every group.
    const resp = (await Resp.open(redis.port)) as RespClient;
    for (let g = 0; g < GROUPS; g++) {
      await resp.send(['SET', `r${g}-a`, '1'], ['SET', `r${g}-b`, '2'], ['SET', `r${g}-c`, '3']);
      await httpCall(host, '/v1/functions/statebench.seed3/call', () => JSON.stringify({ args: [`r${g}-`] }))(g);
    }
    resp.close();

    const upPids = [up.child.pid!];
    const fnPids = [redisFn.child.pid!, redis.pid];
    const square = JSON.stringify({ args: [7] });
    const incr = (i: number): string => JSON.stringify({ args: [`c${i % GROUPS}`, 1] });
    const rmw = (i: number): string => JSON.stringify({ args: [`r${i % GROUPS}-`, 1] });
    const squared = (i: number): number => ((i % 1000) + 1) ** 2;
    const floorSide: Side = { call: httpCall(floorPool, '/', () => square), pids: [floor.child.pid!] };
    const sides = {
      floor: floorSide,
      square: { call: httpCall(host, '/v1/functions/math.square/call', () => square, () => 49), pids: upPids },
      incr: { call: httpCall(host, '/v1/functions/counter.incr/call', incr), pids: upPids },
      redisIncr: { call: httpCall(fnPool, '/incr', incr), pids: fnPids },
      rmw: { call: httpCall(host, '/v1/functions/statebench.rmw/call', rmw, () => 7), pids: upPids },
      redisRmw: { call: httpCall(fnPool, '/rmw', rmw, () => 7), pids: fnPids },
      dag: { call: httpCall(host, '/v1/dags/pipeline/call', (i) => dagBody(i % 1000), squared), pids: upPids },
      chain: { call: httpCall(chainPool, '/', (i) => JSON.stringify({ args: [i % 1000] }), squared), pids: [chainA.child.pid!, chainB.child.pid!] },
    } satisfies Record<keyof OneHostFigures['seq'], Side>;

    const idle = { up: await idleCpuPerSecond(upPids, 1000), floor: await idleCpuPerSecond(floorSide.pids, 1000) };
    step(`sequential: ${size.seq} requests per side in ${size.rounds} interleaved rounds...`);
    const seq = (await sequentialRounds(sides, size.seq, size.rounds, size.warm)) as OneHostFigures['seq'];
    step(`throughput and server CPU at 8 connections: ${size.load8} requests per side...`);
    const load8 = (await loadRounds(sides, 8, size.load8, size.rounds)) as OneHostFigures['load8'];
    step(`tail at 32 connections: ${size.load32} requests per side...`);
    const load32 = (await loadRounds({ square: sides.square, floor: floorSide }, 32, size.load32, size.rounds)) as OneHostFigures['load32'];
    step('in-guest get and put (statebench)...');
    const inGuest = await inGuestFigures(host, quick);
    step(`visibility: counter.incr acknowledged -> readable at the KV tier, ${size.visibility} increments at 1 and 8 connections...`);
    const visibility = await visibilityFigures(host, up.match[2]!, dataDirClusterSecret(join(dir, 'up')), [1, 8], size.visibility, (i) => `c${i % GROUPS}`);
    const one: OneHostFigures = { seq, load8, load32, inGuest, visibility: { c1: visibility[1]!, c8: visibility[8]! } };
    // The KV tier and the second cluster get the machine to themselves.
    up.child.kill('SIGTERM');
    await new Promise((r) => up.child.once('exit', r));

    step('DAG across two hosts (cloudburst local cluster: 1 KV node, 2 hosts, authentication on)...');
    const two = await twoHostFigures(twoHostDir(dir), mathWasm, floorSide, size.twoHosts, size.rounds, size.warm);
    step('KV tier: 1 node --fsync off, then 3 nodes N=3 W=2, against Redis...');
    const kv = await kvFigures(dir, redis, { n: size.kvSeq, rounds: size.rounds, count: size.kvLoad });

    const rows = goalRows(one, two, kv).map(judge);
    step('done');
    console.log(`\nthe hot path, ${quick ? 'quick' : 'full'} run: ours against the baseline measured in the same run (ratio = ours / baseline)\n`);
    console.log(formatTable(rows));
    console.log();
    console.log(`idle CPU (no requests; part of every CPU/req above): cloudburst up ${(idle.up / 1000).toFixed(1)} ms/s, node:http floor ${(idle.floor / 1000).toFixed(1)} ms/s`);
    if (two.singleForwarded > 0) console.log(`note: ${two.singleForwarded} of the two-host single calls ran on host B (placement), not A`);
    for (const l of WORKERD_REFERENCE) console.log(l);
    return { quick, sizes: size, rows, oneHost: one, idleCpuUsPerSecond: idle, twoHosts: two, kv };
  } finally {
    for (const p of pools) await p.close().catch(() => undefined);
    for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 500));
    rmSync(dir, { recursive: true, force: true });
  }
}
