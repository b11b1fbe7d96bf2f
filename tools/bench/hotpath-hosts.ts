// The hotpath suite's two-host figure: DAG `square(increment(x))` with its steps forced onto
// different hosts of one cluster (`placement` in the DAG call, host/README.md), against a
// single `math.square` call on the receiving host and a loopback round trip (the bare
// node:http floor), measured in the same interleaved rounds. The goal (issue 14): the DAG at
// most the single call plus 2 loopback round trips (there and back to the other host).
import { join } from 'node:path';
import { Pool } from 'undici';
import { HOST_HEADERS } from '../../host/index.ts';
import { startLocalCluster } from '../cli/cluster.ts';
import { httpCall, sequentialRounds, type Side } from './hotpath-measure.ts';
import type { Summary } from './stats.ts';
import { withToken } from './util.ts';

export const PIPELINE = JSON.stringify({ functions: ['math.increment', 'math.square'], edges: [['math.increment', 'math.square']] });

/** The DAG's body: x into `math.increment`, with `placement` forcing each step's host. */
export const dagBody = (x: number, placement?: Record<string, string>): string => JSON.stringify({ args: { 'math.increment': [x] }, ...(placement ? { placement } : {}) });

export interface TwoHostFigures {
  /** increment on host B, square on host A (the receiver). */
  across: Summary;
  /** Both steps forced on A: the same DAG without the hop (reference). */
  local: Summary;
  /** One math.square call sent to A. */
  single: Summary;
  /** A loopback round trip: the bare node:http floor. */
  floor: Summary;
  /** Single calls that placement sent on to B (the baseline means "run on A": should be 0). */
  singleForwarded: number;
  pids: number[];
}

/**
 * Starts `cloudburst`'s local cluster (1 KV node, 2 hosts, authentication on, `--explore 0`
 * so that placement is not random), deploys math and the DAG through host A, and measures.
 */
export async function twoHostFigures(dataDir: string, mathWasm: Uint8Array, floor: Side, n: number, rounds: number, warm: number): Promise<TwoHostFigures> {
  const c = await startLocalCluster({ dataDir, kvsNodes: 1, hosts: 2, hostPort: 0, supervise: false, hostArgs: ['--explore', '0'], log: () => undefined });
  try {
    const auth = { authorization: `Bearer ${c.token}` };
    const [urlA, urlB] = c.file.processes.filter((p) => p.role === 'host').map((p) => p.url);
    const idOf = async (url: string): Promise<string> => ((await (await fetch(`${url}/v1/cluster`, { headers: auth })).json()) as { host: { id: string } }).host.id;
    const [idA, idB] = [await idOf(urlA!), await idOf(urlB!)];
    for (const deadline = Date.now() + 15_000; ;) {
      const peers = ((await (await fetch(`${urlA}/v1/cluster`, { headers: auth })).json()) as { peers: { id: string }[] }).peers;
      if (peers.some((p) => p.id === idB)) break;
      if (Date.now() > deadline) throw new Error('host A never saw host B');
      await new Promise((r) => setTimeout(r, 100));
    }
    const a = withToken(new Pool(urlA!, { connections: 8 }), c.token!);
    const put = async (path: string, body: string | Uint8Array, json = false): Promise<void> => {
      const r = await a.request({ method: 'PUT', path, body, headers: json ? { 'content-type': 'application/json' } : {} });
      const text = await r.body.text();
      if (r.statusCode >= 300) throw new Error(`PUT ${path}: ${r.statusCode} ${text}`);
    };
    await put('/v1/modules/math', mathWasm);
    await put('/v1/dags/pipeline', PIPELINE, true);
    const pids = c.file.processes.map((p) => p.pid);
    const squared = (i: number): number => ((i % 1000) + 1) ** 2;
    const dag = (placement: Record<string, string>): Side => ({ call: httpCall(a, '/v1/dags/pipeline/call', (i) => dagBody(i % 1000, placement), squared), pids });
    let singleForwarded = 0;
    const ranOn = (headers: Record<string, unknown>): void => {
      if (headers[HOST_HEADERS.host] !== idA) singleForwarded++;
    };
    const s = await sequentialRounds({
      across: dag({ 'math.increment': idB!, 'math.square': idA! }),
      local: dag({ 'math.increment': idA!, 'math.square': idA! }),
      single: { call: httpCall(a, '/v1/functions/math.square/call', (i) => JSON.stringify({ args: [(i % 1000) + 1] }), squared, ranOn), pids },
      floor,
    }, n, rounds, warm);
    await a.close();
    return { across: s.across!, local: s.local!, single: s.single!, floor: s.floor!, singleForwarded, pids };
  } finally {
    await c.stop();
  }
}

/** Where the cluster's files go under the bench's temp folder. */
export const twoHostDir = (dir: string): string => join(dir, 'two-hosts');
