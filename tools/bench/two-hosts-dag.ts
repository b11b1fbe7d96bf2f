// The hotpath suite's two-host DAG figure alone (tools/bench/hotpath-hosts.ts), for profiling
// and A/B runs of two builds (~15-60 s). Not a suite of `npm run bench`; build and run it with
//   npx esbuild tools/bench/two-hosts-dag.ts --bundle --platform=node --format=esm \
//     --packages=external --outfile=dist/two-hosts-dag.js && node dist/two-hosts-dag.js [N] [ROUNDS]
// (after `npm run build`: the cluster's processes run dist/). Prints one JSON line: the DAG
// across two hosts, the same DAG on one host, one math.square call and the node:http floor (a
// loopback round trip), each { p50, p99 } in microseconds, and the goal (single + 2 floors).
// CLOUDBURST_PROF_DIR=DIR with CLOUDBURST_PROF_NODE=a wrapper that runs node --cpu-prof: every
// cluster process is started through the wrapper (node refuses --cpu-prof in NODE_OPTIONS).
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'undici';
import { buildGuest, PACKAGE_ROOT } from '../build/build.ts';
import { FLOOR_SERVER } from './host-bench.ts';
import { twoHostFigures } from './hotpath-hosts.ts';
import { httpCall } from './hotpath-measure.ts';
import { startChild } from './util.ts';

const n = Number(process.argv[2] ?? 600);
const rounds = Number(process.argv[3] ?? 6);
const dir = mkdtempSync(join(tmpdir(), 'cb-two-hosts-'));
const children: ChildProcess[] = [];
try {
  const wasm = (await buildGuest({ entry: join(PACKAGE_ROOT, 'guest/examples/math.ts') })).wasm;
  const floor = await startChild(['-e', FLOOR_SERVER], /listening (\d+)/);
  children.push(floor.child);
  const pool = new Pool(`http://127.0.0.1:${floor.match[1]}`, { connections: 8 });
  const floorSide = { call: httpCall(pool, '/', () => JSON.stringify({ args: [7] })), pids: [floor.child.pid!] };
  if (process.env.CLOUDBURST_PROF_NODE) process.execPath = process.env.CLOUDBURST_PROF_NODE;
  const f = await twoHostFigures(join(dir, 'two-hosts'), wasm, floorSide, n, rounds, 50);
  const pick = (s: { p50: number; p99: number }) => ({ p50: Math.round(s.p50), p99: Math.round(s.p99) });
  console.log(JSON.stringify({ across: pick(f.across), local: pick(f.local), single: pick(f.single), floor: pick(f.floor), goal: Math.round(f.single.p50 + 2 * f.floor.p50) }));
  await pool.close();
} finally {
  for (const c of children) c.kill();
  rmSync(dir, { recursive: true, force: true });
}
