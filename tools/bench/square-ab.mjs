// A/B of a stateless call (math.square) against the bare node:http floor, in one run:
//   node tools/bench/square-ab.mjs [ROUNDS] DIST_A [DIST_B ...]
// Each DIST is a repository checkout whose dist/ is built (its node_modules resolvable). Every
// round measures every server in turn (the order rotates): sequential p50, throughput at 8
// connections with the server's CPU per request (utime+stime of the process and its children
// from /proc, over a fixed count of requests), and p99 at 32 connections. Prints medians of the
// rounds' figures and their ratios to the floor's.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'undici';

const args = process.argv.slice(2);
const ROUNDS = /^\d+$/.test(args[0] ?? '') ? Number(args.shift()) : 5;
const dists = args;
const SEQ = 600;
const TPUT = 6000;
const TAIL = 6000;
const TICK_US = 1e6 / 100; // USER_HZ

const FLOOR = `
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
server.listen(0, '127.0.0.1', () => console.log('listening http://127.0.0.1:' + server.address().port));
`;

function start(argv, ready) {
  const child = spawn(process.execPath, argv, { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      const m = ready.exec(out);
      if (m) resolve({ child, url: m[1] });
    });
    child.once('exit', (code) => reject(new Error(`${argv.join(' ')} exited ${code}: ${out}`)));
  });
}

/** utime+stime (clock ticks) of a process and its descendants. */
function cpuTicks(pid) {
  let total = 0;
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  total += Number(f[11]) + Number(f[12]);
  for (const t of readdirSync(`/proc/${pid}/task`)) {
    let kids = '';
    try { kids = readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').trim(); } catch { /* gone */ }
    for (const k of kids.split(/\s+/).filter(Boolean)) total += cpuTicks(Number(k));
  }
  return total;
}

async function post(pool, path, headers) {
  const r = await pool.request({ method: 'POST', path, body: '{"args":[7]}', headers });
  const text = await r.body.text();
  if (r.statusCode !== 200) throw new Error(`${r.statusCode} ${text}`);
}

/** `count` requests with `conc` in flight; returns latencies (us), seconds, CPU us per request. */
async function load(s, pool, conc, count) {
  const lat = [];
  let left = count;
  const c0 = cpuTicks(s.child.pid);
  const t0 = performance.now();
  await Promise.all(Array.from({ length: conc }, async () => {
    while (left-- > 0) {
      const t = performance.now();
      await post(pool, s.path, s.headers);
      lat.push((performance.now() - t) * 1000);
    }
  }));
  const secs = (performance.now() - t0) / 1000;
  const cpu = ((cpuTicks(s.child.pid) - c0) * TICK_US) / count;
  lat.sort((a, b) => a - b);
  return { lat, rps: count / secs, cpu };
}

const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

const dir = mkdtempSync(join(tmpdir(), 'square-ab-'));
const servers = [];
try {
  const floor = await start(['-e', FLOOR], /listening (http:\/\/[\d.:]+)/);
  servers.push({ name: 'floor', ...floor, path: '/', headers: { 'content-type': 'application/json' } });
  for (const [i, d] of dists.entries()) {
    const data = join(dir, `d${i}`);
    const up = await start([join(d, 'dist', 'cli.js'), 'up', '--data', data, '--port', '0', '--no-examples'], /host API (http:\/\/[\d.:]+)/);
    const token = readFileSync(join(data, 'admin-token'), 'utf8').trim();
    const headers = { 'content-type': 'application/json', authorization: `Bearer ${token}` };
    const wasmPath = join(dir, `math${i}.wasm`);
    await new Promise((res, rej) => spawn(process.execPath, [join(d, 'dist', 'cli.js'), 'build', join(d, 'guest', 'examples', 'math.ts'), '-o', wasmPath], { stdio: 'inherit' }).on('exit', (c) => (c === 0 ? res() : rej(new Error('build')))));
    const p = new Pool(up.url, { connections: 1 });
    const r = await p.request({ method: 'PUT', path: '/v1/modules/math', body: readFileSync(wasmPath), headers: { authorization: headers.authorization } });
    if (r.statusCode !== 200) throw new Error(await r.body.text());
    await r.body.text();
    await p.close();
    servers.push({ name: `${String.fromCharCode(65 + i)} ${d}`, ...up, path: '/v1/functions/math.square/call', headers });
  }
  for (const s of servers) {
    s.seqPool = new Pool(s.url, { connections: 1 });
    s.pool8 = new Pool(s.url, { connections: 8 });
    s.pool32 = new Pool(s.url, { connections: 32 });
    s.fig = { p50: [], rps: [], cpu: [], p99at32: [] };
    await load(s, s.seqPool, 1, 500);
    await load(s, s.pool8, 8, 2000);
    await load(s, s.pool32, 32, 2000);
  }
  for (let round = 0; round < ROUNDS; round++) {
    const order = servers.map((_, i) => servers[(i + round) % servers.length]);
    for (const s of order) s.fig.p50.push(pct((await load(s, s.seqPool, 1, SEQ)).lat, 50));
    for (const s of order) {
      const r = await load(s, s.pool8, 8, TPUT);
      s.fig.rps.push(r.rps);
      s.fig.cpu.push(r.cpu);
    }
    for (const s of order) s.fig.p99at32.push(pct((await load(s, s.pool32, 32, TAIL)).lat, 99));
    console.error(`round ${round + 1}/${ROUNDS}: ` + servers.map((s) => `${s.name.split(' ')[0]} p50 ${s.fig.p50.at(-1).toFixed(0)} rps ${s.fig.rps.at(-1).toFixed(0)} cpu ${s.fig.cpu.at(-1).toFixed(0)} p99@32 ${s.fig.p99at32.at(-1).toFixed(0)}`).join(' | '));
  }
  const f = servers[0].fig;
  const m = (s, k) => median(s.fig[k]);
  console.log(`medians of ${ROUNDS} rounds (sequential ${SEQ}, 8 conns ${TPUT} requests, 32 conns ${TAIL} requests)`);
  console.log('server'.padEnd(36) + 'p50 us  (x floor)   req/s@8 (% floor)   CPU us/req (x floor)   p99@32 us (x floor)');
  for (const s of servers) {
    console.log(s.name.padEnd(36)
      + `${m(s, 'p50').toFixed(0).padStart(6)} (${(m(s, 'p50') / median(f.p50)).toFixed(2)}x)`.padEnd(20)
      + `${m(s, 'rps').toFixed(0).padStart(7)} (${((m(s, 'rps') / median(f.rps)) * 100).toFixed(0)}%)`.padEnd(20)
      + `${m(s, 'cpu').toFixed(1).padStart(7)} (${(m(s, 'cpu') / median(f.cpu)).toFixed(2)}x)`.padEnd(23)
      + `${m(s, 'p99at32').toFixed(0).padStart(7)} (${(m(s, 'p99at32') / median(f.p99at32)).toFixed(2)}x)`);
  }
  for (const s of servers) for (const p of [s.seqPool, s.pool8, s.pool32]) await p.close();
} finally {
  for (const s of servers) s.child.kill('SIGINT');
  await new Promise((r) => setTimeout(r, 1500));
  rmSync(dir, { recursive: true, force: true });
}
