import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CloudburstError } from '../../common/index.ts';
import { ExecutorPool } from '../../host/executor/pool.ts';
import type { Job, ModuleSpec } from '../../host/executor/protocol.ts';
import { readModuleTypes } from '../../host/index.ts';
import { HostClient } from '../../tools/cli/client.ts';
import { guestBytes, metric, startPlatform, tenantHeaders, type Platform } from '../helpers/platform.ts';
import { memoryMinimum } from '../helpers/wasm-rewrite.ts';

// Fair queuing between tenants in the executor's queue, shown by order, not by time: one FIFO
// per tenant, served in turn, so a tenant's flood delays another tenant's call by at most one
// call per worker; and a bound per tenant besides the total, so one tenant cannot fill it.

function spec(name: string): ModuleSpec {
  const bytes = new Uint8Array(guestBytes(name));
  const module = new WebAssembly.Module(bytes);
  return { id: `default/${name}`, module, types: readModuleTypes(module), memoryInitialPages: memoryMinimum(bytes), memoryMaxPages: 256 };
}

describe('executor pool: one queue per tenant, served in turn', () => {
  let dir: string;
  let pool: ExecutorPool;
  let math: ModuleSpec;
  let hostile: ModuleSpec;
  let seq = 0;
  const square = (x: number): Job => ({ kind: 'call', tenant: 'default', module: math, exportName: 'square', args: [{ kind: 'value', value: BigInt(x) }], callId: `test.0.${++seq}` });

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cb-fair-'));
    math = spec('math');
    hostile = spec('hostile');
    // One worker; a queue of 8 in all, so 2 per tenant.
    pool = new ExecutorPool({ size: 1, maxQueue: 8, cachePath: dir, writerPrefix: 'h-test', bridge: async () => undefined });
    // The orders below are of jobs given to ready workers (a starting worker gets none).
    await pool.ready();
  });
  afterAll(async () => {
    await pool.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('jobs queued while the worker is busy run one per tenant in turn, each tenant\'s in its order', async () => {
    const done: string[] = [];
    const tagged = (tenant: string, i: number) => pool.run({ ...square(i), tenant }, 10_000).then((r) => {
      expect(r).toMatchObject({ ok: true, result: i * i });
      done.push(`${tenant}${i}`);
    });
    // The first job takes the worker at once; the others queue behind it in this order.
    const all = [tagged('a', 0), tagged('a', 1), tagged('a', 2), tagged('b', 1), tagged('b', 2), tagged('c', 1)];
    await Promise.all(all);
    // FIFO would be a0 a1 a2 b1 b2 c1.
    expect(done).toEqual(['a0', 'a1', 'b1', 'c1', 'a2', 'b2']);
  });

  it('a tenant may queue only its share: past it OVERLOADED for that tenant, while others still queue, up to the total', async () => {
    // The worker is held by a guest that never returns (until the pool is closed).
    const blocker = pool.run({ ...{ kind: 'call', tenant: 'default', module: hostile, exportName: 'spin', args: [], callId: 'test.0.100' }, tenant: 'z' }, 600_000);
    const queued: Promise<unknown>[] = [];
    const settle = (p: Promise<unknown>) => queued.push(p.catch((err: unknown) => err));
    for (const t of ['a', 'a']) settle(pool.run({ ...square(1), tenant: t }, 10_000));
    const refused = await pool.run({ ...square(1), tenant: 'a' }, 10_000).catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(CloudburstError);
    expect((refused as CloudburstError).code).toBe('OVERLOADED');
    expect((refused as CloudburstError).message).toMatch(/tenant a/);
    for (const t of ['b', 'b', 'c', 'c', 'd', 'd']) settle(pool.run({ ...square(1), tenant: t }, 10_000));
    expect(pool.stats().queued).toBe(8);
    // The total is full: a tenant with nothing queued is refused too.
    const full = await pool.run({ ...square(1), tenant: 'e' }, 10_000).catch((err: unknown) => err);
    expect((full as CloudburstError).code).toBe('OVERLOADED');
    await pool.close();
    const outcomes = await Promise.all(queued);
    expect(outcomes.every((e) => e instanceof CloudburstError && e.code === 'SHUTTING_DOWN')).toBe(true);
    await blocker.catch(() => undefined);
  });
});

describe('executor pool: each active tenant holds at most its share of the workers', () => {
  let dir: string;
  let kitchen: ModuleSpec;
  let math: ModuleSpec;
  let hostile: ModuleSpec;
  let seq = 0;
  const job = (module: ModuleSpec, exportName: string, args: (number | bigint)[] = []): Job => ({
    kind: 'call', tenant: 'default', module, exportName, args: args.map((value) => ({ kind: 'value', value })), callId: `test.1.${++seq}`,
  });
  const pools: ExecutorPool[] = [];
  const pool = async (size: number, shareWindowMs?: number): Promise<ExecutorPool> => {
    const p = new ExecutorPool({
      size, cachePath: dir, writerPrefix: 'h-test', bridge: async () => undefined, ...(shareWindowMs === undefined ? {} : { shareWindowMs }),
    });
    pools.push(p);
    // The counts below are of jobs given to ready workers (a starting worker gets none).
    await p.ready();
    return p;
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cb-share-'));
    kitchen = spec('kitchen');
    math = spec('math');
    hostile = spec('hostile');
  });
  afterAll(async () => {
    await Promise.all(pools.map((p) => p.close()));
    await rm(dir, { recursive: true, force: true });
  });

  it('alone, a tenant uses every worker; with another tenant active, at most its share while the other has calls queued or may call again', async () => {
    // The window is long enough for b to stay active through the whole test, however slow the machine.
    const p = await pool(4, 600_000);
    const sleep = (tenant: string, ms: number) => p.run({ ...job(kitchen, 'sleepMs', [ms]), tenant }, 60_000).then((r) => {
      expect(r).toMatchObject({ ok: true });
      seen.push(p.holding());
    });
    const seen: Record<string, number>[] = [];
    // a alone: every worker.
    const first = Array.from({ length: 6 }, () => sleep('a', 50));
    expect(p.stats()).toMatchObject({ busy: 4, queued: 2 });
    expect(p.holding()).toEqual({ a: 4 });
    await Promise.all(first);

    // b calls once, then a floods: a gets its share (2 of 4) and the rest stays free for b.
    expect(await p.run({ ...job(math, 'square', [3n]), tenant: 'b' }, 60_000)).toMatchObject({ ok: true, result: 9 });
    const as = Array.from({ length: 12 }, () => sleep('a', 50));
    expect(p.stats()).toMatchObject({ busy: 2, queued: 10 });
    expect(p.holding()).toEqual({ a: 2 });
    // b's calls find those workers free at once, and queue behind them.
    const bs = Array.from({ length: 6 }, () => sleep('b', 50));
    expect(p.stats()).toMatchObject({ busy: 4, queued: 14 });
    expect(p.holding()).toEqual({ a: 2, b: 2 });
    await Promise.all([...as, ...bs]);
    // At every job's end, neither held more than its share.
    expect(seen.length).toBe(6 + 18);
    for (const h of seen.slice(6)) {
      expect(h.a ?? 0).toBeLessThanOrEqual(2);
      expect(h.b ?? 0).toBeLessThanOrEqual(2);
    }
  });

  it('a pool that may grow past its base size: shares are of the base (the cores), and calls held back by their share do not make it grow', async () => {
    const p = new ExecutorPool({ size: 2, maxSize: 8, scaleUpWaitMs: 5, cachePath: dir, writerPrefix: 'h-test', bridge: async () => undefined, shareWindowMs: 600_000 });
    pools.push(p);
    await p.ready();
    const seen: { holding: Record<string, number>; workers: number }[] = [];
    const sleep = (tenant: string, ms: number) => p.run({ ...job(kitchen, 'sleepMs', [ms]), tenant }, 60_000).then((r) => {
      expect(r).toMatchObject({ ok: true });
      seen.push({ holding: p.holding(), workers: p.stats().workers });
    });
    // b is active (its window outlasts the test); a floods: its share is 1 of the base 2, and
    // the other worker stays b's; a's waiting calls wait for their turn, not for a worker.
    expect(await p.run({ ...job(math, 'square', [3n]), tenant: 'b' }, 60_000)).toMatchObject({ ok: true, result: 9 });
    const as = Array.from({ length: 10 }, () => sleep('a', 40));
    expect(p.holding()).toEqual({ a: 1 });
    const bs = Array.from({ length: 3 }, () => sleep('b', 40));
    expect(p.holding()).toEqual({ a: 1, b: 1 });
    await Promise.all([...as, ...bs]);
    expect(seen).toHaveLength(13);
    for (const { holding } of seen) {
      expect(holding.a ?? 0).toBeLessThanOrEqual(1);
      expect(holding.b ?? 0).toBeLessThanOrEqual(1);
    }
    // Dozens of scale-up windows passed with a's calls queued: no worker was added for them.
    expect(Math.max(...seen.map((x) => x.workers))).toBe(2);
  });

  it('once the other tenant\'s window has passed, the waiting tenant gets every worker again', async () => {
    const p = await pool(2);
    expect(await p.run({ ...job(math, 'square', [3n]), tenant: 'b' }, 60_000)).toMatchObject({ ok: true });
    // Guests that never return (until the pool is closed): a's second waits while b is active.
    const spinning = [0, 1].map(() => p.run({ ...job(hostile, 'spin'), tenant: 'a' }, 600_000).catch(() => undefined));
    expect(p.stats()).toMatchObject({ busy: 1, queued: 1 });
    // b calls no more: when its window ends, a's second call gets the free worker.
    await expect.poll(() => p.holding().a, { timeout: 60_000 }).toBe(2);
    expect(p.stats()).toMatchObject({ busy: 2, queued: 0 });
    await p.close();
    await Promise.all(spinning);
  });
});

describe('host: a tenant flooding a host does not hold up another tenant\'s call', () => {
  const WORKERS = 2;
  const FLOOD = 40;
  let p: Platform;
  let flood: HostClient;
  /** Each tenant's token. */
  const heads: Record<string, Record<string, string>> = {};
  beforeAll(async () => {
    // A fixed pool: the order below is of a queue behind WORKERS workers (growth is pool-scaling.test.ts's).
    p = await startPlatform({ workers: WORKERS, maxWorkers: WORKERS });
    flood = new HostClient(p.host.url, { connections: FLOOD + 4 });
    for (const t of ['a', 'b']) {
      heads[t] = await tenantHeaders(p, t);
      // Modules are per tenant: each deploys its own.
      const res = await p.client.request('PUT', '/v1/modules/kitchen', guestBytes('kitchen'), heads[t]);
      expect(res.status).toBe(200);
    }
  });
  afterAll(async () => {
    await flood.close();
    await p.stop();
  });

  const sleep = (tenant: string, ms: number) => flood.request(
    'POST', '/v1/functions/kitchen.sleepMs/call', JSON.stringify({ args: [ms] }), { 'content-type': 'application/json', ...heads[tenant] },
  );

  it('with tenant a\'s calls queued and every worker busy, b\'s call finishes before all but at most `workers` of a\'s queued calls', async () => {
    const order: string[] = [];
    const as = Array.from({ length: FLOOD }, () => sleep('a', 300).then((r) => {
      expect(r.status).toBe(200);
      order.push('a');
    }));
    // Most of the flood waits for a worker before b's call is sent.
    await expect.poll(() => metric(p.host.url, 'cloudburst_calls_queued'), { timeout: 60_000 }).toBeGreaterThanOrEqual(FLOOD - WORKERS - 6);
    const b = sleep('b', 1).then((r) => {
      expect(r.status).toBe(200);
      order.push('b');
    });
    await Promise.all([...as, b]);
    const aBeforeB = order.indexOf('b');
    // The calls of a running when b's arrived (at most one per worker), then at most one per
    // worker of those queued. In one FIFO, b's would have come after every queued call of a.
    expect(aBeforeB).toBeLessThanOrEqual(2 * WORKERS);
    expect(order.length).toBe(FLOOD + 1);
  });

  it('two functions of one tenant exchange messages while another tenant keeps calling: a job waiting in recv leaves its share to the sender', async () => {
    const call = async (tenant: string, fn: string, args: unknown[]): Promise<unknown> => {
      const r = await flood.request('POST', `/v1/functions/kitchen.${fn}/call`, JSON.stringify({ args, timeoutMs: 60_000 }), { 'content-type': 'application/json', ...heads[tenant] });
      expect(r.status).toBe(200);
      return JSON.parse(r.body.toString('utf8')).result;
    };
    // b calls without pause, so it stays active and a's share of the 2 workers is 1 throughout.
    let calling = true;
    let bCalls = 0;
    await call('b', 'noop', []);
    const b = (async () => {
      while (calling) {
        await call('b', 'noop', []);
        bCalls++;
      }
    })();
    // The receiver waits in recv for the sender's messages. Were that wait counted, a would hold
    // its share and the sender would queue while b takes every free worker: the receiver's recv
    // would time out (after 30 s) with nothing.
    try {
      const received = call('a', 'announce', ['share-exchange', 3, 30_000]);
      const to = await call('a', 'sendTo', ['share-exchange', 'm', 3, 30_000]);
      expect(await received).toBe(`${to}|m0,m1,m2`);
    } finally {
      calling = false;
      await b;
    }
    expect(bCalls).toBeGreaterThan(0);
  });
});
