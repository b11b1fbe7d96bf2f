// The executor pool growing and shrinking (host/executor/pool.ts with pool-scaler.ts), with real
// worker threads and real guests; shown by counts and orders, not by time. The policy alone, on
// a hand-turned clock, is in pool-scaler.unit.test.ts; a whole host, in executor-scaling.test.ts.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExecutorPool, type PoolOptions } from '../../host/executor/pool.ts';
import type { Job, ModuleSpec } from '../../host/executor/protocol.ts';
import { readModuleTypes } from '../../host/index.ts';
import { guestBytes } from '../helpers/platform.ts';
import { memoryMinimum } from '../helpers/wasm-rewrite.ts';

function spec(name: string): ModuleSpec {
  const bytes = new Uint8Array(guestBytes(name));
  const module = new WebAssembly.Module(bytes);
  return { id: `default/${name}`, module, types: readModuleTypes(module), memoryInitialPages: memoryMinimum(bytes), memoryMaxPages: 256 };
}

const FIXTURES = new URL('../fixtures/workers/', import.meta.url);

describe('executor pool: grows when calls wait, up to maxSize, and shrinks back after the idle timeout', () => {
  let dir: string;
  let math: ModuleSpec;
  let kitchen: ModuleSpec;
  let hostile: ModuleSpec;
  let seq = 0;
  const pools: ExecutorPool[] = [];
  const job = (module: ModuleSpec, exportName: string, args: (number | bigint)[] = []): Job => ({
    kind: 'call', tenant: 'default', module, exportName, args: args.map((value) => ({ kind: 'value', value })), callId: `test.2.${++seq}`,
  });
  const pool = (opts: Partial<PoolOptions> & { size: number }): ExecutorPool => {
    const p = new ExecutorPool({ cachePath: dir, writerPrefix: 'h-test', bridge: async () => undefined, ...opts });
    pools.push(p);
    return p;
  };
  /** The value of an unlabelled metric of `registry`. */
  const metric = async (registry: Registry, name: string): Promise<number> => {
    const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(await registry.metrics());
    if (!m) throw new Error(`no metric ${name}`);
    return Number(m[1]);
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cb-scaling-'));
    math = spec('math');
    kitchen = spec('kitchen');
    hostile = spec('hostile');
  });
  afterAll(async () => {
    await Promise.all(pools.map((p) => p.close()));
    await rm(dir, { recursive: true, force: true });
  });

  it('with both workers spinning, a short call gets a new worker and answers while they still spin', async () => {
    const p = pool({ size: 2, maxSize: 4, scaleUpWaitMs: 20 });
    const registry = new Registry();
    p.registerMetrics(registry);
    let spun = 0;
    const spinning = [0, 1].map(() => p.run(job(hostile, 'spin'), 600_000).finally(() => spun++));
    await expect.poll(() => p.stats().busy).toBe(2);
    for (let i = 0; i < 20; i++) expect(await p.run(job(math, 'square', [BigInt(i)]), 60_000)).toMatchObject({ ok: true, result: i * i });
    expect(spun).toBe(0);
    // One worker more for the waiting square (a second only if a slow machine kept all three
    // busy for a whole second: the utilization rule).
    expect(p.stats()).toMatchObject({ maxWorkers: 4, busy: 2, queued: 0 });
    expect(p.stats().workers).toBeGreaterThanOrEqual(3);
    expect(await metric(registry, 'cloudburst_workers_added_total')).toBeGreaterThanOrEqual(1);
    expect(await metric(registry, 'cloudburst_workers_max')).toBe(4);
    // The first square waited for the new worker: the histogram saw it.
    expect(await metric(registry, 'cloudburst_queue_wait_seconds_count')).toBeGreaterThanOrEqual(1);
    await p.close();
    await Promise.all(spinning.map((s) => s.catch(() => undefined)));
  });

  it('maxSize is a cap: five calls spinning on a pool of at most 3 hold 3 workers, the others wait', async () => {
    const p = pool({ size: 1, maxSize: 3, scaleUpWaitMs: 5 });
    const spinning = Array.from({ length: 5 }, () => p.run(job(hostile, 'spin'), 600_000).catch(() => undefined));
    await expect.poll(() => p.stats()).toMatchObject({ workers: 3, busy: 3, queued: 2 });
    // Many scale-up waits later, still 3.
    await new Promise((r) => setTimeout(r, 300));
    expect(p.stats()).toMatchObject({ workers: 3, starting: 0, busy: 3, queued: 2 });
    await p.close();
    await Promise.all(spinning);
  });

  it('workers idle past the idle timeout stop, down to size; a lone tenant\'s flood grows the pool', async () => {
    const p = pool({ size: 1, maxSize: 4, scaleUpWaitMs: 5, idleTimeoutMs: 500 });
    const registry = new Registry();
    p.registerMetrics(registry);
    const sleeps = Array.from({ length: 8 }, () => p.run(job(kitchen, 'sleepMs', [300]), 60_000));
    await expect.poll(() => p.stats().workers).toBeGreaterThan(1);
    for (const r of await Promise.all(sleeps)) expect(r).toMatchObject({ ok: true });
    const grown = p.stats().workers;
    expect(grown).toBeLessThanOrEqual(4);
    await expect.poll(() => p.stats().workers).toBe(1);
    expect(await metric(registry, 'cloudburst_workers_idle_stopped_total')).toBe(grown - 1);
    // The one left serves.
    expect(await p.run(job(math, 'square', [9n]), 60_000)).toMatchObject({ ok: true, result: 81 });
  });

  it('past its base size, at most `size` calls of short work run at once, however many workers it grew to', async () => {
    // A call counts as short work for its first scaleUpWaitMs: long enough here that a slow
    // machine does not make the squares below stall before the last of them is handed out.
    const p = pool({ size: 2, maxSize: 6, scaleUpWaitMs: 250 });
    // Calls that run long (stall past scaleUpWaitMs) grow it.
    const sleeps = Array.from({ length: 6 }, () => p.run(job(kitchen, 'sleepMs', [1000]), 60_000));
    await expect.poll(() => p.stats().workers).toBeGreaterThan(2);
    for (const r of await Promise.all(sleeps)) expect(r).toMatchObject({ ok: true });
    const grown = p.stats().workers;
    expect(grown).toBeGreaterThan(2);
    // Short calls all at once: two run, the rest wait for them rather than take the idle workers.
    const squares = Array.from({ length: 20 }, (_, i) => p.run(job(math, 'square', [BigInt(i)]), 60_000));
    expect(p.stats()).toMatchObject({ workers: grown, busy: 2, queued: 18 });
    const results = await Promise.all(squares);
    results.forEach((r, i) => expect(r).toMatchObject({ ok: true, result: i * i }));
    // A call that stalls frees its place: with two long calls running, a short one still runs.
    const long = [0, 1].map(() => p.run(job(kitchen, 'sleepMs', [1500]), 60_000));
    let longDone = 0;
    for (const l of long) void l.then(() => longDone++);
    expect(await p.run(job(math, 'square', [7n]), 60_000)).toMatchObject({ ok: true, result: 49 });
    expect(longDone).toBe(0);
    await Promise.all(long);
  });

  it('a worker that fails to start is retried with backoff, and the calls are served by the workers there are', async () => {
    const p = pool({ size: 1, maxSize: 3, scaleUpWaitMs: 5, workerUrl: new URL('start-fails-beyond-first.mjs', FIXTURES) });
    const registry = new Registry();
    p.registerMetrics(registry);
    const calls = [p.run(job(kitchen, 'sleepMs', [300]), 60_000), p.run(job(math, 'square', [3n]), 60_000), p.run(job(math, 'square', [4n]), 60_000)];
    await expect.poll(() => metric(registry, 'cloudburst_worker_start_failures_total')).toBeGreaterThanOrEqual(2);
    expect(await Promise.all(calls)).toMatchObject([{ ok: true }, { ok: true, result: 9 }, { ok: true, result: 16 }]);
    // Starts under way when the calls ended fail too, and are not tried again: nothing waits.
    await expect.poll(() => p.stats()).toMatchObject({ workers: 1, starting: 0, queued: 0 });
  });

  it('when no worker can start at all, calls fail with INTERNAL instead of waiting for good', async () => {
    const p = pool({ size: 2, maxSize: 2, workerUrl: new URL('start-fails.mjs', FIXTURES) });
    const queued = p.run(job(math, 'square', [3n]), 60_000);
    await expect(queued).rejects.toMatchObject({ code: 'INTERNAL' });
    await expect(p.run(job(math, 'square', [3n]), 60_000)).rejects.toMatchObject({ code: 'INTERNAL' });
    expect(p.stats()).toMatchObject({ queued: 0 });
  });
});
