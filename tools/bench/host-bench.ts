// The host's figures: warm call latency and throughput against a bare node:http floor
// measured in the same run, counter.incr, in-guest state costs, first call after deploy.
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'undici';
import { buildGuest, PACKAGE_ROOT } from '../build/build.ts';
import { inGuestFigures } from './in-guest.ts';
import { cpuMicros } from './proc-cpu.ts';
import { percentile, summarize, type Summary } from './stats.ts';
import { CLI, post, startChild, withToken } from './util.ts';

/** The floor: a bare node:http server that parses the JSON body and answers a constant (`node -e`). */
export const FLOOR_SERVER = `
const http = require('node:http');
const body = JSON.stringify({ result: 49 });
const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    JSON.parse(Buffer.concat(chunks).toString() || '{}');
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
});
server.keepAliveTimeout = 65000;
server.listen(0, '127.0.0.1', () => console.log('listening ' + server.address().port));
`;

/** Sequential round trips; returns per-request microseconds. */
async function sequential(pool: Pool, path: string, body: () => string, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = process.hrtime.bigint();
    const r = await post(pool, path, body());
    out.push(Number(process.hrtime.bigint() - t) / 1000);
    if (r.status !== 200) throw new Error(`${path}: ${r.status} ${r.text}`);
  }
  return out;
}

/**
 * `count` requests with `concurrency` always in flight: the server's CPU per request (us, its
 * process and children, threads included) and the latencies (us).
 */
async function measuredLoad(pool: Pool, pid: number, path: string, body: string, concurrency: number, count: number): Promise<{ cpuUs: number; latencies: number[] }> {
  let left = count;
  const latencies: number[] = [];
  const before = cpuMicros([pid]);
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (left-- > 0) {
      const t = process.hrtime.bigint();
      const r = await post(pool, path, body);
      latencies.push(Number(process.hrtime.bigint() - t) / 1000);
      if (r.status !== 200) throw new Error(`${path}: ${r.status} ${r.text}`);
    }
  }));
  return { cpuUs: (cpuMicros([pid]) - before) / count, latencies };
}

/** Requests per second with `concurrency` requests always in flight for `ms`. */
async function throughput(pool: Pool, path: string, body: string, concurrency: number, ms: number): Promise<number> {
  let done = 0;
  const end = performance.now() + ms;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (performance.now() < end) {
      const r = await post(pool, path, body);
      if (r.status !== 200) throw new Error(`${path}: ${r.status} ${r.text}`);
      done++;
    }
  }));
  return done / (ms / 1000);
}

function line(name: string, s: Summary, extra = ''): string {
  return `${name.padEnd(44)} p50 ${s.p50.toFixed(1).padStart(8)} us   p99 ${s.p99.toFixed(1).padStart(8)} us   (n=${s.n})${extra}`;
}

export async function hostBench(quick: boolean): Promise<Record<string, unknown>> {
  const N = quick ? 1000 : 5000;
  const dir = mkdtempSync(join(tmpdir(), 'cb-bench-'));
  const children: ChildProcess[] = [];
  const report: Record<string, unknown> = { date: new Date().toISOString(), node: process.version };
  try {
    console.log('starting the floor (bare node:http) and the platform (cloudburst up)...');
    const floor = await startChild(['-e', FLOOR_SERVER], /listening (\d+)/);
    children.push(floor.child);
    // As users run it: authentication on, every request with the admin token `up` wrote.
    const up = await startChild([CLI, 'up', '--data', join(dir, 'data'), '--port', '0', '--no-examples'], /host API (http:\/\/[\d.:]+)/);
    children.push(up.child);
    const hostUrl = up.match[1]!;
    const token = readFileSync(join(dir, 'data', 'admin-token'), 'utf8').trim();
    // The same platform with authentication off: what a token costs per call.
    const open = await startChild([CLI, 'up', '--data', join(dir, 'insecure'), '--port', '0', '--no-examples', '--insecure'], /host API (http:\/\/[\d.:]+)/);
    children.push(open.child);
    const floorPool = new Pool(`http://127.0.0.1:${floor.match[1]}`, { connections: 16 });
    const host = withToken(new Pool(hostUrl, { connections: 16 }), token);
    const openHost = new Pool(open.match[1]!, { connections: 16 });

    // First call after deploy (compile, validate, trial instantiate, store; then the first call).
    const firstCalls: Record<string, unknown> = {};
    const examples: [string, string, unknown[]][] = [['math', 'square', [7]], ['counter', 'incr', ['warm', 1]], ['arrays', 'sum', [[1, 2, 3]]]];
    for (const [name, fn, args] of examples) {
      const { wasm } = await buildGuest({ entry: join(PACKAGE_ROOT, 'guest', 'examples', `${name}.ts`) });
      const t0 = performance.now();
      const res = await host.request({ method: 'PUT', path: `/v1/modules/${name}`, body: wasm });
      await res.body.text();
      const t1 = performance.now();
      await post(host, `/v1/functions/${name}.${fn}/call`, JSON.stringify({ args }));
      const t2 = performance.now();
      firstCalls[name] = { deployMs: +(t1 - t0).toFixed(2), firstCallMs: +(t2 - t1).toFixed(2), wasmBytes: wasm.byteLength };
    }
    report.firstCall = firstCalls;
    const { wasm: stateWasm } = await buildGuest({ entry: join(PACKAGE_ROOT, 'tools', 'bench', 'guests', 'state-bench.ts') });
    await (await host.request({ method: 'PUT', path: '/v1/modules/statebench', body: stateWasm })).body.text();
    const { wasm: mathWasm } = await buildGuest({ entry: join(PACKAGE_ROOT, 'guest', 'examples', 'math.ts') });
    await (await openHost.request({ method: 'PUT', path: '/v1/modules/math', body: mathWasm })).body.text();

    // Warm-up, then interleaved rounds so that noise hits both sides alike.
    const squareBody = () => JSON.stringify({ args: [7] });
    await sequential(floorPool, '/', squareBody, 500);
    await sequential(host, '/v1/functions/math.square/call', squareBody, 500);
    await sequential(openHost, '/v1/functions/math.square/call', squareBody, 500);
    const floorUs: number[] = [];
    const squareUs: number[] = [];
    const openUs: number[] = [];
    for (let round = 0; round < 5; round++) {
      floorUs.push(...(await sequential(floorPool, '/', squareBody, N / 5)));
      squareUs.push(...(await sequential(host, '/v1/functions/math.square/call', squareBody, N / 5)));
      openUs.push(...(await sequential(openHost, '/v1/functions/math.square/call', squareBody, N / 5)));
    }
    const floorS = summarize(floorUs);
    const squareS = summarize(squareUs);
    const openS = summarize(openUs);
    console.log(line('floor: bare node:http POST, sequential', floorS));
    console.log(line('math.square warm call, sequential', squareS, `   p50 ratio to floor ${(squareS.p50 / floorS.p50).toFixed(2)}x`));
    console.log(line('math.square, authentication off (--insecure)', openS, `   the token costs ${(squareS.p50 - openS.p50).toFixed(1)} us at p50 (${(squareS.p50 / openS.p50).toFixed(2)}x)`));
    report.sequential = { floor: floorS, square: squareS, ratioP50: squareS.p50 / floorS.p50, insecure: openS, authRatioP50: squareS.p50 / openS.p50 };

    const seconds = quick ? 1000 : 3000;
    const floorRps = await throughput(floorPool, '/', squareBody(), 8, seconds);
    const squareRps = await throughput(host, '/v1/functions/math.square/call', squareBody(), 8, seconds);
    console.log(`throughput at concurrency 8: floor ${floorRps.toFixed(0)} req/s, math.square ${squareRps.toFixed(0)} req/s (${((squareRps / floorRps) * 100).toFixed(0)}% of the floor)`);
    report.throughput = { concurrency: 8, floorRps, squareRps, ratio: squareRps / floorRps };

    // Server CPU per request at 8 connections (both threads of a call: main and worker), and the
    // tail at 32 connections, interleaved rounds; medians of the rounds.
    if (process.platform === 'linux') {
      const floor32 = new Pool(`http://127.0.0.1:${floor.match[1]}`, { connections: 32 });
      const host32 = withToken(new Pool(hostUrl, { connections: 32 }), token);
      const count = quick ? 2000 : 6000;
      const cpu = { floor: [] as number[], square: [] as number[] };
      const tail = { floor: [] as number[], square: [] as number[] };
      const sq = '/v1/functions/math.square/call';
      for (let round = 0; round < 3; round++) {
        cpu.floor.push((await measuredLoad(floorPool, floor.child.pid!, '/', squareBody(), 8, count)).cpuUs);
        cpu.square.push((await measuredLoad(host, up.child.pid!, sq, squareBody(), 8, count)).cpuUs);
        tail.floor.push(percentile((await measuredLoad(floor32, floor.child.pid!, '/', squareBody(), 32, count)).latencies, 99));
        tail.square.push(percentile((await measuredLoad(host32, up.child.pid!, sq, squareBody(), 32, count)).latencies, 99));
      }
      const [floorCpu, squareCpu] = [percentile(cpu.floor, 50), percentile(cpu.square, 50)];
      const [floorP99, squareP99] = [percentile(tail.floor, 50), percentile(tail.square, 50)];
      console.log(`server CPU per request at 8 connections: floor ${floorCpu.toFixed(1)} us, math.square ${squareCpu.toFixed(1)} us (${(squareCpu / floorCpu).toFixed(2)}x)`);
      console.log(`p99 at 32 connections: floor ${floorP99.toFixed(0)} us, math.square ${squareP99.toFixed(0)} us (${(squareP99 / floorP99).toFixed(2)}x)`);
      report.cpuPerRequest = { concurrency: 8, floorUs: floorCpu, squareUs: squareCpu, ratio: squareCpu / floorCpu, rounds: cpu };
      report.tail = { concurrency: 32, floorP99Us: floorP99, squareP99Us: squareP99, ratio: squareP99 / floorP99, rounds: tail };
      await floor32.close();
      await host32.close();
    }

    // An asynchronous call: the answer (202 with the future's id) comes once the future's pending
    // record is in the KV tier, so that any host can tell it from a future that never existed.
    const asyncUs: number[] = [];
    for (let i = 0; i < (quick ? 200 : 1000); i++) {
      const t = process.hrtime.bigint();
      const r = await post(host, '/v1/functions/math.square/call', JSON.stringify({ args: [7], async: true }));
      asyncUs.push(Number(process.hrtime.bigint() - t) / 1000);
      if (r.status !== 202) throw new Error(`async call: ${r.status} ${r.text}`);
    }
    const asyncS = summarize(asyncUs);
    console.log(line('math.square async: 202 with the future id', asyncS));
    report.asyncCall = asyncS;

    let k = 0;
    const incrUs = await sequential(host, '/v1/functions/counter.incr/call', () => JSON.stringify({ args: [`c${k++ % 100}`, 1] }), N);
    const incrS = summarize(incrUs);
    console.log(line('counter.incr over HTTP, sequential', incrS));
    report.counterIncr = incrS;

    // In-guest state costs.
    const g = await inGuestFigures(host, quick);
    console.log(`in-guest get of 1 KiB, same key again (LMDB read in place): ${g.getSameKeyUs.toFixed(3)} us per get (median of 7 runs of ${g.loops})`);
    console.log(`in-guest get of 1 KiB, distinct cached keys (LMDB read in place): ${g.getDistinctUs.toFixed(3)} us per get (median of 7 runs of ${g.distinct})`);
    console.log(`in-guest put of 1 KiB, amortized with the commit: ${g.putUs.toFixed(3)} us per put (median of 7 calls of ${g.putCount} puts)`);
    report.inGuest = { getSameKeyUs: g.getSameKeyUs, getDistinctUs: g.getDistinctUs, putUs: g.putUs, getRuns: g.getRuns, distinctRuns: g.distinctRuns, putRuns: g.putRuns };

    console.log('first call after deploy (deploy = validate + compile + trial instantiate + durable store):');
    for (const [name, v] of Object.entries(firstCalls)) console.log(`  ${name.padEnd(10)} ${JSON.stringify(v)}`);

    await floorPool.close();
    await host.close();
    await openHost.close();
    return report;
  } finally {
    for (const c of children) c.kill('SIGINT');
    await new Promise((r) => setTimeout(r, 500));
    rmSync(dir, { recursive: true, force: true });
  }
}
