// Fair queuing between tenants: tenant b's sequential math.square alone, then while tenant a
// floods the same host (64 connections of calls that each hold a worker ~5 ms), on a host with
// fair shares of the workers (the default, `--queue share`) and, as the baselines in the same
// run, on one with the tenants' queues in turn but no shares (`--queue fair`) and on one with a
// single FIFO queue (`--queue fifo`). Each host has its own KV node, so none forwards to another.
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'undici';
import { TENANT_HEADER } from '../../common/index.ts';
import { buildGuest, PACKAGE_ROOT } from '../build/build.ts';
import { summarize, type Summary } from './stats.ts';
import { secretEnv } from '../cli/cluster-secret.ts';
import { benchClusterSecret, CLI, startChild } from './util.ts';

const SECRET = benchClusterSecret();

const FLOOD_CONNECTIONS = 64;
const FLOOD_CALL_MS = 5;

async function call(pool: Pool, tenant: string, fn: string, args: unknown[]): Promise<void> {
  const res = await pool.request({
    method: 'POST', path: `/v1/functions/${fn}/call`, body: JSON.stringify({ args }),
    headers: { 'content-type': 'application/json', [TENANT_HEADER]: tenant },
  });
  const text = await res.body.text();
  if (res.statusCode !== 200) throw new Error(`${fn} for ${tenant}: ${res.statusCode} ${text}`);
}

async function sequential(pool: Pool, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = process.hrtime.bigint();
    await call(pool, 'b', 'math.square', [7]);
    out.push(Number(process.hrtime.bigint() - t) / 1000);
  }
  return out;
}

interface Mode {
  alone: Summary;
  flooded: Summary;
  p50Ratio: number;
  p99Ratio: number;
  floodCalls: number;
  /** Tenant a's calls per second while b's were measured: what the share costs the flooding tenant. */
  floodPerSecond: number;
}

async function measure(queue: 'share' | 'fair' | 'fifo', dir: string, children: ChildProcess[], n: number): Promise<Mode> {
  const kv = await startChild([CLI, 'kvs', '--port', '0', '--data', join(dir, `kv-${queue}`)], /listening on (http:\/\/[\d.:]+)/, secretEnv(SECRET));
  children.push(kv.child);
  // Insecure (the tenant is the header's): what is measured is the queue, not the tokens.
  const host = await startChild(
    [CLI, 'host', '--port', '0', '--data', join(dir, `host-${queue}`), '--kvs', kv.match[1]!.replace('http://', ''), '--explore', '0', '--queue', queue, '--insecure'],
    /listening on (http:\/\/[\d.:]+)/,
    secretEnv(SECRET),
  );
  children.push(host.child);
  const url = host.match[1]!;
  const b = new Pool(url, { connections: 1 });
  const a = new Pool(url, { connections: FLOOD_CONNECTIONS });
  try {
    for (const [name, entry] of [['math', join(PACKAGE_ROOT, 'guest', 'examples', 'math.ts')], ['busy', join(PACKAGE_ROOT, 'tools', 'bench', 'guests', 'busy.ts')]] as const) {
      const { wasm } = await buildGuest({ entry });
      // Modules are per tenant: each deploys its own.
      for (const tenant of ['a', 'b']) {
        const res = await b.request({ method: 'PUT', path: `/v1/modules/${name}`, body: wasm, headers: { [TENANT_HEADER]: tenant } });
        if (res.statusCode !== 200) throw new Error(`deploy ${name} for ${tenant}: ${res.statusCode} ${await res.body.text()}`);
        await res.body.text();
      }
    }
    await sequential(b, 300);
    await call(a, 'a', 'busy.busy', [FLOOD_CALL_MS]);
    const alone = summarize(await sequential(b, n));
    let flooding = true;
    let floodCalls = 0;
    const flood = Array.from({ length: FLOOD_CONNECTIONS }, async () => {
      while (flooding) {
        await call(a, 'a', 'busy.busy', [FLOOD_CALL_MS]);
        floodCalls++;
      }
    });
    // Let the flood fill the queue before b's calls.
    await new Promise((r) => setTimeout(r, 500));
    const [calls0, t0] = [floodCalls, performance.now()];
    const flooded = summarize(await sequential(b, n));
    const floodPerSecond = ((floodCalls - calls0) * 1000) / (performance.now() - t0);
    flooding = false;
    await Promise.all(flood);
    return { alone, flooded, p50Ratio: flooded.p50 / alone.p50, p99Ratio: flooded.p99 / alone.p99, floodCalls, floodPerSecond };
  } finally {
    await a.close();
    await b.close();
  }
}

function line(name: string, s: Summary): string {
  return `${name.padEnd(52)} p50 ${s.p50.toFixed(0).padStart(8)} us   p99 ${s.p99.toFixed(0).padStart(8)} us   (n=${s.n})`;
}

export async function tenantsBench(quick: boolean): Promise<Record<string, unknown>> {
  const n = quick ? 200 : 1000;
  const dir = mkdtempSync(join(tmpdir(), 'cb-bench-tenants-'));
  const children: ChildProcess[] = [];
  const report: Record<string, unknown> = { floodConnections: FLOOD_CONNECTIONS, floodCallMs: FLOOD_CALL_MS };
  try {
    for (const queue of ['share', 'fair', 'fifo'] as const) {
      const m = await measure(queue, dir, children, n);
      console.log(line(`${queue}: tenant b math.square alone`, m.alone));
      console.log(line(`${queue}: tenant b math.square, tenant a flooding`, m.flooded));
      console.log(`${queue}: with the flood / alone: p50 ${m.p50Ratio.toFixed(1)}x, p99 ${m.p99Ratio.toFixed(1)}x (goal <= 2x); tenant a's calls meanwhile: ${m.floodPerSecond.toFixed(0)}/s`);
      report[queue] = m;
    }
  } finally {
    for (const c of children) c.kill('SIGTERM');
    await Promise.all(children.map((c) => (c.exitCode !== null ? undefined : new Promise((r) => c.once('exit', r)))));
    rmSync(dir, { recursive: true, force: true });
  }
  return report;
}
