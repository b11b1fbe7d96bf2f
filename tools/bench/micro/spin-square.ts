// Two calls spinning to their deadline, and meanwhile 200 sequential `math.square` calls on the
// same `cloudburst up` (issue 13's acceptance for executor scaling, as a measurement):
//   npx esbuild tools/bench/micro/spin-square.ts --bundle --platform=node --format=esm --packages=external --outfile=dist/micro-spin-square.js \
//     && node dist/micro-spin-square.js [more flags of cloudburst up, e.g. --max-workers 2]
// Prints p50, p99 and the worst of the square calls, and the host's workers after them.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildGuest } from '../../build/index.ts';

const ROOT = join(import.meta.dirname, '..');
const CALLS = 200;
const SPIN_MS = 30_000;
const dir = mkdtempSync(join(tmpdir(), 'cb-spin-square-'));
const extra = process.argv.slice(2);

const { wasm } = await buildGuest({ entry: join(ROOT, 'test', 'fixtures', 'guests', 'hostile.ts') });
const child = spawn(process.execPath, [join(ROOT, 'tools', 'bin', 'cloudburst.js'), 'up', '--data', dir, '--port', '0', '--kvs-port', '0', '--workers', '2', ...extra], { stdio: ['ignore', 'pipe', 'pipe'] });
let output = '';
child.stdout.on('data', (d: Buffer) => (output += d.toString()));
child.stderr.on('data', (d: Buffer) => (output += d.toString()));
try {
  const started = performance.now();
  while (!output.includes('stop: Ctrl-C')) {
    if (child.exitCode !== null || performance.now() - started > 90_000) throw new Error(`cloudburst up did not start:\n${output}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const url = /host API (http:\/\/[\d.:]+)/.exec(output)![1]!;
  const headers = { authorization: `Bearer ${readFileSync(join(dir, 'admin-token'), 'utf8').trim()}`, 'content-type': 'application/json' };
  const metric = async (name: string): Promise<number> => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(await (await fetch(`${url}/metrics`, { headers })).text())![1]);
  const put = await fetch(`${url}/v1/modules/hostile`, { method: 'PUT', headers: { authorization: headers.authorization }, body: wasm });
  if (put.status !== 200) throw new Error(`deploy: ${put.status} ${await put.text()}`);
  const square = async (x: number): Promise<number> => {
    const t0 = performance.now();
    const res = await fetch(`${url}/v1/functions/math.square/call`, { method: 'POST', headers, body: JSON.stringify({ args: [x] }) });
    const body = (await res.json()) as { result?: number };
    if (res.status !== 200 || body.result !== x * x) throw new Error(`square(${x}): ${res.status} ${JSON.stringify(body)}`);
    return performance.now() - t0;
  };
  await square(1);
  const spinning = [0, 1].map(() => fetch(`${url}/v1/functions/hostile.spin/call`, { method: 'POST', headers, body: JSON.stringify({ args: [], timeoutMs: SPIN_MS }) }).then((r) => r.status));
  while ((await metric('cloudburst_workers_busy')) < 2) await new Promise((r) => setTimeout(r, 10));
  const times: number[] = [];
  const t0 = performance.now();
  for (let i = 0; i < CALLS && performance.now() - t0 < SPIN_MS - 2000; i++) times.push(await square(i));
  const workers = await metric('cloudburst_workers');
  const sorted = [...times].sort((a, b) => a - b);
  const at = (q: number): string => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!.toFixed(1);
  console.log(`flags: --workers 2 ${extra.join(' ')}`);
  console.log(`${times.length} squares beside 2 spinning calls: p50 ${at(0.5)} ms, p99 ${at(0.99)} ms, max ${at(1)} ms, first ${times[0]!.toFixed(1)} ms; workers after: ${workers}`);
  console.log(`spinning calls answered: ${(await Promise.all(spinning)).join(', ')}`);
} finally {
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  rmSync(dir, { recursive: true, force: true });
}
