// The paper's gossip experiment: 10 functions running at once on 3 host processes compute the
// average of their numbers by push-sum gossip over direct messages (guest/examples/gossip.ts),
// against the same average gathered through the KV tier. A run is timed from the first async
// call to the last result; gossip and gather alternate run by run so that noise hits both alike.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'undici';
import { buildGuest, PACKAGE_ROOT } from '../build/build.ts';
import { startLocalCluster } from '../cli/cluster.ts';
import { summarize, type Summary } from './stats.ts';
import { post } from './util.ts';

const N_FUNCTIONS = 10;
const HOSTS = 3;

/** One run of `fn` (gossip or gather): wall time in ms and the worst relative error of any function. */
async function runOnce(pools: Pool[], fn: string, run: string, values: number[]): Promise<{ ms: number; worst: number }> {
  const truth = values.reduce((a, b) => a + b, 0) / values.length;
  const t = performance.now();
  const futures = await Promise.all(values.map(async (v, i) => {
    const r = await post(pools[i % pools.length]!, `/v1/functions/gossip.${fn}/call`, JSON.stringify({ args: [run, i, values.length, v, 20_000], async: true }));
    if (r.status !== 202) throw new Error(`${fn}: ${r.status} ${r.text}`);
    return (JSON.parse(r.text) as { future: string }).future;
  }));
  const results = await Promise.all(futures.map(async (id, i) => {
    const res = await pools[i % pools.length]!.request({ method: 'GET', path: `/v1/futures/${id}?wait=30000` });
    const rec = JSON.parse(await res.body.text()) as { status: string; result?: number; error?: unknown };
    if (rec.status !== 'done') throw new Error(`${fn} ${run}/${i}: ${JSON.stringify(rec)}`);
    return rec.result!;
  }));
  const ms = performance.now() - t;
  return { ms, worst: Math.max(...results.map((r) => Math.abs(r - truth) / truth)) };
}

function line(name: string, s: Summary, extra = ''): string {
  return `${name.padEnd(44)} p50 ${s.p50.toFixed(1).padStart(7)} ms   p99 ${s.p99.toFixed(1).padStart(7)} ms   (n=${s.n})${extra}`;
}

export async function gossipBench(quick: boolean): Promise<Record<string, unknown>> {
  const runs = quick ? 20 : 100;
  const warm = quick ? 2 : 5;
  const dir = mkdtempSync(join(tmpdir(), 'cb-bench-gossip-'));
  let cluster: { stop(): Promise<void> } | undefined;
  try {
    const { wasm } = await buildGuest({ entry: join(PACKAGE_ROOT, 'guest', 'examples', 'gossip.ts') });
    console.log(`starting a cluster of 1 KV node and ${HOSTS} hosts (${N_FUNCTIONS} workers each)...`);
    const c = await startLocalCluster({
      dataDir: dir, kvsNodes: 1, hosts: HOSTS, hostPort: 0, supervise: false,
      hostArgs: ['--explore', '0', '--workers', String(N_FUNCTIONS)], log: () => undefined, insecure: true,
    });
    cluster = c;
    const urls = c.file.processes.filter((p) => p.role === 'host').map((p) => p.url);
    for (const url of urls) {
      for (const deadline = Date.now() + 15_000; ;) {
        const peers = ((await (await fetch(`${url}/v1/cluster`)).json()) as { peers: unknown[] }).peers;
        if (peers.length === HOSTS - 1) break;
        if (Date.now() > deadline) throw new Error(`host ${url} never saw the others`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    const pools = urls.map((u) => new Pool(u, { connections: 2 * N_FUNCTIONS }));
    await (await pools[0]!.request({ method: 'PUT', path: '/v1/modules/gossip', body: wasm })).body.text();

    const samples = { gossip: [] as number[], gather: [] as number[] };
    let worst = 0;
    for (let r = 0; r < warm + runs; r++) {
      const values = Array.from({ length: N_FUNCTIONS }, () => 1 + Math.random() * 99);
      const g = await runOnce(pools, 'gossip', `b${r}`, values);
      const k = await runOnce(pools, 'gather', `b${r}`, values);
      if (k.worst > 1e-9) throw new Error(`gather is not exact: ${k.worst}`);
      if (r < warm) continue;
      samples.gossip.push(g.ms);
      samples.gather.push(k.ms);
      worst = Math.max(worst, g.worst);
    }
    const gossipS = summarize(samples.gossip);
    const gatherS = summarize(samples.gather);
    console.log(line(`gossip (push-sum), ${N_FUNCTIONS} functions on ${HOSTS} hosts`, gossipS, `   worst error ${(worst * 100).toFixed(2)}%`));
    console.log(line('gather through the KV tier, same functions', gatherS, `   gossip/gather p50 ${(gossipS.p50 / gatherS.p50).toFixed(2)}x`));
    const metrics = await Promise.all(urls.map(async (u) => (await (await fetch(`${u}/metrics`)).text()).split('\n').filter((l) => l.startsWith('cloudburst_messages_'))));
    await Promise.all(pools.map((p) => p.close()));
    return { functions: N_FUNCTIONS, hosts: HOSTS, gossip: gossipS, gather: gatherS, gossipWorstRelativeError: worst, ratioP50: gossipS.p50 / gatherS.p50, messages: metrics };
  } finally {
    await cluster?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
