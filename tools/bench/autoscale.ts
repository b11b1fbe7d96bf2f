// The paper's Fig. 6 on this machine: closed-loop clients of a function that mostly waits (5 ms in
// `recv` with no message: it holds a worker, not a core) step from 1 to 32 and back to 1, through
// the first host of `cloudburst up --kvs-nodes 1 --hosts 1 --max-hosts 4 --autoscale --workers 1
// --max-workers 4`. Per 0.5 s window: throughput, p50/p99, workers, hosts, failed requests. The
// baseline, in the same run: the same platform at fixed capacity (one host, one worker).
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'undici';
import { ADMIN_TOKEN_FILE, hostPath } from '../../host/index.ts';
import { buildGuest, PACKAGE_ROOT } from '../build/build.ts';
import { steppedLoad, throughputBetween, windows, type LoadWindow, type Request, type Step } from './autoscale-load.ts';
import { autoscaleDecisions, PlatformSampler, type PlatformSample } from './autoscale-sample.ts';
import { CLI, startChild } from './util.ts';

const WAIT_MS = 5;
const WINDOW_MS = 500;
/** The plateaus compared: the first and the last this long of the high step. */
const PLATEAU_MS = 2000;
const MOST_CLIENTS = 32;
/**
 * The elastic platform: one host of one worker to start with, up to four of four. Workers idle
 * for 5 s are shrunk (default 30 s: longer than the low step), so the figure shows scale-in too.
 */
const ELASTIC = ['--autoscale', '--max-hosts', '4', '--workers', '1', '--max-workers', '4', '--idle-timeout', '5s'];
const steps = (quick: boolean): Step[] => quick
  ? [{ clients: 1, ms: 2000 }, { clients: MOST_CLIENTS, ms: 10_000 }, { clients: 1, ms: 8000 }]
  : [{ clients: 1, ms: 5000 }, { clients: MOST_CLIENTS, ms: 20_000 }, { clients: 1, ms: 15_000 }];

interface Run {
  windows: (LoadWindow & { workers: number; hosts: number })[];
  requests: number;
  failed: { total: number; beforeStep: number; scaleOut: number; scaleIn: number; codes: Record<string, number> };
  /** Seconds from the step up to the first sample with more workers / more ready hosts than at the step; null: none came. */
  firstWorkerAddedS: number | null;
  firstHostReadyS: number | null;
  plateau: { firstPerSecond: number; lastPerSecond: number; ratio: number };
  most: { workers: number; hosts: number };
  atEnd: { workers: number; hosts: number };
  /** The autoscaler's events (`<data>/autoscale.jsonl`), `t` in seconds since the load started. */
  decisions: { t: number; action: string; host?: string; reason: string }[];
  /** This machine's load average (1 min) when the run started and ended: it is shared. */
  loadAverage: { start: number; end: number };
  /** The platform as sampled, every window. */
  samples: PlatformSample[];
}

/** Seconds from `at` to the first sample after it whose `key` is above its value at `at`. */
function firstRise(samples: readonly PlatformSample[], at: number, key: 'workers' | 'hosts'): number | null {
  const before = [...samples].reverse().find((s) => s.t <= at)?.[key] ?? samples[0]?.[key] ?? 0;
  const s = samples.find((x) => x.t > at && x[key] > before);
  return s ? (s.t - at) / 1000 : null;
}

function analyse(requests: Request[], stepsAt: number[], plan: Step[], samples: PlatformSample[], decisions: Run['decisions'], loadAverage: Run['loadAverage']): Run {
  const [up, down] = [stepsAt[1]!, stepsAt[2]!];
  let last = samples[0];
  const table = windows(requests, plan, stepsAt, WINDOW_MS).map((w) => {
    // The last sample taken in the window (or the one before, carried over).
    for (const s of samples) if (s.t < (w.t * 1000) + WINDOW_MS) last = s;
    return { ...w, workers: last?.workers ?? 0, hosts: last?.hosts ?? 0 };
  });
  const failed = requests.filter((r) => r.status !== 200);
  const codes: Record<string, number> = {};
  for (const r of failed) codes[r.code ?? String(r.status)] = (codes[r.code ?? String(r.status)] ?? 0) + 1;
  const first = throughputBetween(requests, up, up + PLATEAU_MS);
  const lastP = throughputBetween(requests, down - PLATEAU_MS, down);
  const end = samples[samples.length - 1];
  return {
    windows: table,
    requests: requests.length,
    failed: {
      total: failed.length,
      beforeStep: failed.filter((r) => r.end < up).length,
      scaleOut: failed.filter((r) => r.end >= up && r.end < down).length,
      scaleIn: failed.filter((r) => r.end >= down).length,
      codes,
    },
    firstWorkerAddedS: firstRise(samples, up, 'workers'),
    firstHostReadyS: firstRise(samples, up, 'hosts'),
    plateau: { firstPerSecond: first, lastPerSecond: lastP, ratio: lastP / first },
    most: { workers: Math.max(0, ...samples.map((s) => s.workers)), hosts: Math.max(0, ...samples.map((s) => s.hosts)) },
    atEnd: { workers: end?.workers ?? 0, hosts: end?.hosts ?? 0 },
    decisions,
    loadAverage,
    samples,
  };
}

/** Starts `cloudburst up` with `flags`, loads it with the steps, stops it. */
async function measure(name: string, dir: string, flags: string[], plan: Step[], children: ChildProcess[]): Promise<Run> {
  const data = join(dir, name);
  const args = [CLI, 'up', '--data', data, '--port', '0', '--no-examples', '--kvs-nodes', '1', '--hosts', '1', ...flags];
  console.log(`${name}: cloudburst ${args.slice(1).join(' ')}`);
  const up = await startChild(args, /host API (https?:\/\/[\d.:]+)/);
  children.push(up.child);
  const url = up.match[1]!;
  const token = readFileSync(join(data, ADMIN_TOKEN_FILE), 'utf8').trim();
  const headers = { authorization: `Bearer ${token}` };
  const pool = new Pool(url, { connections: MOST_CLIENTS });
  try {
    const { wasm } = await buildGuest({ entry: join(PACKAGE_ROOT, 'tools', 'bench', 'guests', 'waiter.ts') });
    const put = await pool.request({ method: 'PUT', path: hostPath.module('waiter'), body: wasm, headers });
    if (put.statusCode !== 200) throw new Error(`deploy waiter: ${put.statusCode} ${await put.body.text()}`);
    await put.body.text();
    const path = hostPath.call('waiter.wait');
    const body = JSON.stringify({ args: [WAIT_MS] });
    // Warm: the module loaded in the worker, the connection open.
    await steppedLoad(pool, path, body, headers, [{ clients: 1, ms: 500 }]);
    const sampler = new PlatformSampler(url, data, token);
    let [t0, epoch0] = [0, 0];
    const t = (): number => performance.now() - t0;
    let sampling: ReturnType<PlatformSampler['every']> | undefined;
    const loadStart = loadavg()[0]!;
    const { requests, stepsAt } = await steppedLoad(pool, path, body, headers, plan, (i, at) => {
      if (i === 0) {
        // The sampler's clock is the load's.
        [t0, epoch0] = [performance.now() - at, Date.now() - at];
        sampling = sampler.every(WINDOW_MS, t);
      }
    });
    const samples = await sampling!.stop();
    const decisions = autoscaleDecisions(data).map((e) => ({
      t: (Date.parse(String(e.time)) - epoch0) / 1000, action: String(e.action), ...(e.host ? { host: String(e.host) } : {}), reason: String(e.reason),
    }));
    return analyse(requests, stepsAt, plan, samples, decisions, { start: loadStart, end: loadavg()[0]! });
  } finally {
    await pool.close();
    await stop(up.child);
  }
}

/** SIGINT to the `up` (it stops its processes, hosts draining), SIGKILL after a minute. */
async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGINT');
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  await exited;
  clearTimeout(timer);
}

const f = (x: number, d = 1): string => (Number.isNaN(x) ? '-' : x.toFixed(d));
const s = (x: number | null): string => (x === null ? 'none' : `${x.toFixed(1)} s`);

function print(name: string, r: Run): void {
  console.log(`${name}:   t(s) clients   calls/s   p50 ms   p99 ms  workers  hosts  failed`);
  for (const w of r.windows) {
    console.log(`${name}: ${f(w.t).padStart(6)} ${String(w.clients).padStart(7)} ${f(w.throughput, 0).padStart(9)} ${f(w.p50).padStart(8)} ${f(w.p99).padStart(8)} ${String(w.workers).padStart(8)} ${String(w.hosts).padStart(6)} ${String(w.failed).padStart(7)}`);
  }
  console.log(`${name}: first worker added ${s(r.firstWorkerAddedS)} after the step (goal <= 2 s); first host added and ready ${s(r.firstHostReadyS)} (goal <= 5 s)`);
  console.log(`${name}: at ${MOST_CLIENTS} clients, first ${PLATEAU_MS / 1000} s ${f(r.plateau.firstPerSecond, 0)} calls/s, last ${PLATEAU_MS / 1000} s ${f(r.plateau.lastPerSecond, 0)} calls/s: ratio ${f(r.plateau.ratio, 2)}x`);
  console.log(`${name}: most workers ${r.most.workers}, most hosts ${r.most.hosts}; at the end ${r.atEnd.workers} workers, ${r.atEnd.hosts} hosts; machine load average ${f(r.loadAverage.start)} -> ${f(r.loadAverage.end)}`);
  for (const d of r.decisions) console.log(`${name}: autoscaler at ${f(d.t)} s: ${d.action}${d.host ? ` ${d.host}` : ''} (${d.reason})`);
  console.log(`${name}: failed requests ${r.failed.total} of ${r.requests} (before the step ${r.failed.beforeStep}, scale-out ${r.failed.scaleOut}, scale-in ${r.failed.scaleIn}; goal 0)${r.failed.total ? ` ${JSON.stringify(r.failed.codes)}` : ''}`);
}

export async function autoscaleBench(quick: boolean): Promise<Record<string, unknown>> {
  const plan = steps(quick);
  const dir = mkdtempSync(join(tmpdir(), 'cb-bench-autoscale-'));
  const children: ChildProcess[] = [];
  const report: Record<string, unknown> = { waitMs: WAIT_MS, windowMs: WINDOW_MS, steps: plan };
  try {
    // The baseline: the capacity the elastic run starts with, kept.
    const fixed = await measure('fixed', dir, ['--workers', '1', '--max-workers', '1'], plan, children);
    print('fixed', fixed);
    report.fixed = fixed;
    const scaled = await measure('autoscale', dir, ELASTIC, plan, children);
    print('autoscale', scaled);
    report.autoscale = scaled;
    const gain = scaled.plateau.lastPerSecond / fixed.plateau.lastPerSecond;
    console.log(`autoscale / fixed, last ${PLATEAU_MS / 1000} s at ${MOST_CLIENTS} clients: ${f(gain, 2)}x the calls/s`);
    report.gainOverFixed = gain;
    return report;
  } finally {
    await Promise.all(children.map(stop));
    rmSync(dir, { recursive: true, force: true });
  }
}
