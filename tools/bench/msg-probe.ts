// Round trips of one internal host message against the node:http floor, in interleaved rounds,
// to find what one message between hosts costs (host/README "DAGs": a trigger's pre-wake was
// ~300 us of it). Not a suite of `npm run bench`; after `npm run build`:
//   npx esbuild tools/bench/msg-probe.ts --bundle --platform=node --format=esm \
//     --packages=external --outfile=dist/msg-probe.js && node dist/msg-probe.js [N]
// Prints one JSON line, { p50, p99 } in us per side: floor (POST to bare node:http), healthz
// (GET, unsigned), status (signed GET of a DAG request), trigger (signed POST of a trigger for
// an unknown request: read, checked, dropped, 204), cancel204 (signed DELETE), done (signed
// POST of a report nobody waits for), bad400 (a malformed trigger).
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'undici';
import { FLOOR_SERVER } from './host-bench.ts';
import { httpCall, sequentialRounds } from './hotpath-measure.ts';
import { startChild } from './util.ts';
import { startLocalCluster } from '../cli/cluster.ts';
import { PeerLink } from '../../host/cluster/peer-link.ts';

const n = Number(process.argv[2] ?? 2000);
const dir = mkdtempSync(join(tmpdir(), 'cb-probe-'));
const children: ChildProcess[] = [];
try {
  const floor = await startChild(['-e', FLOOR_SERVER], /listening (\d+)/);
  children.push(floor.child);
  const pool = new Pool(`http://127.0.0.1:${floor.match[1]}`, { connections: 8 });
  const c = await startLocalCluster({ dataDir: dir, kvsNodes: 1, hosts: 2, hostPort: 0, supervise: false, hostArgs: ['--explore', '0'], log: () => undefined });
  try {
    const [, urlB] = c.file.processes.filter((p) => p.role === 'host').map((p) => p.url);
    const link = new PeerLink({ secret: c.clusterSecret });
    const hp = new Pool(urlB!, { connections: 8 });
    const pids = c.file.processes.map((p) => p.pid);
    let k = 0;
    const s = await sequentialRounds({
      floor: { call: httpCall(pool, '/', () => JSON.stringify({ args: [7] })), pids },
      healthz: { call: async () => { const r = await hp.request({ method: 'GET', path: '/healthz' }); await r.body.text(); }, pids },
      status: { call: async () => { await link.send(urlB!, 'GET', '/v1/internal/dag/requests/x', undefined, 1000); }, pids },
      trigger: { call: async () => { await link.send(urlB!, 'POST', '/v1/internal/dag/trigger', { rid: `r${k++}`, tenant: 'default', from: 'a', to: 'b', slot: 0, value: 5, remainingMs: 0 }, 1000, 'default'); }, pids },
      cancel204: { call: async () => { await link.send(urlB!, 'DELETE', '/v1/internal/dag/requests/x', undefined, 1000); }, pids },
      done: { call: async () => { await link.send(urlB!, 'POST', '/v1/internal/dag/done', { rid: `r${k++}`, tenant: 'default', ok: true, step: 'b', host: 'h', result: 1 }, 1000, 'default'); }, pids },
      bad400: { call: async () => { await link.send(urlB!, 'POST', '/v1/internal/dag/trigger', { rid: 5 }, 1000, 'default').catch(() => undefined); }, pids },
    }, n, 6, 100);
    console.log(JSON.stringify(Object.fromEntries(Object.entries(s).map(([k2, v]) => [k2, { p50: Math.round(v.p50), p99: Math.round(v.p99) }]))));
    await link.close(); await hp.close();
  } finally { await c.stop(); }
  await pool.close();
} finally {
  for (const ch of children) ch.kill();
  rmSync(dir, { recursive: true, force: true });
}
