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
  });
  afterAll(async () => {
    await pool.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('jobs queued while the worker is busy run one per tenant in turn, each tenant\'s in its order', async () => {
    const done: string[] = [];
    const tagged = (tenant: string, i: number) => pool.run(square(i), 10_000, tenant).then((r) => {
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
    const blocker = pool.run({ kind: 'call', tenant: 'default', module: hostile, exportName: 'spin', args: [], callId: 'test.0.100' }, 600_000, 'z');
    const queued: Promise<unknown>[] = [];
    const settle = (p: Promise<unknown>) => queued.push(p.catch((err: unknown) => err));
    for (const t of ['a', 'a']) settle(pool.run(square(1), 10_000, t));
    const refused = await pool.run(square(1), 10_000, 'a').catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(CloudburstError);
    expect((refused as CloudburstError).code).toBe('OVERLOADED');
    expect((refused as CloudburstError).message).toMatch(/tenant a/);
    for (const t of ['b', 'b', 'c', 'c', 'd', 'd']) settle(pool.run(square(1), 10_000, t));
    expect(pool.stats().queued).toBe(8);
    // The total is full: a tenant with nothing queued is refused too.
    const full = await pool.run(square(1), 10_000, 'e').catch((err: unknown) => err);
    expect((full as CloudburstError).code).toBe('OVERLOADED');
    await pool.close();
    const outcomes = await Promise.all(queued);
    expect(outcomes.every((e) => e instanceof CloudburstError && e.code === 'SHUTTING_DOWN')).toBe(true);
    await blocker.catch(() => undefined);
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
    p = await startPlatform({ workers: WORKERS });
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
});
