// What a host publishes about itself (host/cluster/presence.ts), over a real LMDB cache and a
// real executor pool. The test plays the pool's main thread (its bridge) so that a worker
// stays busy for as long as the test wants: the guest waits in `recv` until it is released.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Hlc, lww } from '../../kvs/index.ts';
import { HostCache } from '../../host/cache/cache.ts';
import { Bloom } from '../../host/cluster/bloom.ts';
import type { PeerView } from '../../host/cluster/directory.ts';
import { Presence } from '../../host/cluster/presence.ts';
import { ExecutorPool } from '../../host/executor/pool.ts';
import type { ModuleSpec } from '../../host/executor/protocol.ts';
import { readModuleTypes } from '../../host/index.ts';
import { SPACES, storageKey, userKey } from '../../host/keys.ts';
import { SelfAddress } from '../../host/self-address.ts';
import { guestBytes, waitFor } from '../helpers/platform.ts';
import { memoryMinimum } from '../helpers/wasm-rewrite.ts';

describe('presence: what a host publishes about itself', () => {
  let dir: string;
  let cache: HostCache;
  let pool: ExecutorPool;
  let presence: Presence;
  let release: () => void = () => undefined;
  const self = new SelfAddress('a1b2c3d4');
  // User keys of two tenants: placement looks for every tenant's references.
  const cached = [userKey('default', 'users/ada'), userKey('acme', 'users/alan')];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cb-presence-'));
    const cachePath = join(dir, 'cache');
    cache = HostCache.open({ path: cachePath });
    const hlc = new Hlc('h-test/main');
    cache.commit(new Map([...cached, storageKey('default', SPACES.system, 'dags'), storageKey('acme', SPACES.future, 'f1')].map((k) => [k, lww.write(Buffer.from('v'), hlc.now())])));
    // One worker: a second call waits in the queue.
    const held = new Promise<void>((resolve) => (release = resolve));
    pool = new ExecutorPool({
      size: 1, cachePath, writerPrefix: 'h-test',
      bridge: async (req) => (req.op === 'recv' ? held.then(() => null) : undefined),
    });
    self.listening('http://127.0.0.1:7070');
    presence = new Presence({ self, cache, pool, sampleMs: 10 });
  });
  afterAll(async () => {
    release();
    presence.close();
    await pool.close();
    await cache.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('publishes its id, URL and a Bloom summary of the user keys it caches', () => {
    const r = presence.record(true);
    expect(r).toMatchObject({ id: 'a1b2c3d4', url: 'http://127.0.0.1:7070', keys: 2, queued: 0 });
    const summary = Bloom.fromBase64(r.summary);
    expect(cached.every((k) => summary.has(k))).toBe(true);
  });

  it('scans the cache while a peer is live to read the summary, and for the first record only when none is', () => {
    const fresh = new Presence({ self, cache, pool });
    try {
      const empty = Bloom.forCount(0).toBase64();
      expect(fresh.record(false)).toMatchObject({ keys: 2 });
      expect(fresh.record(false)).toMatchObject({ keys: 0, summary: empty });
      expect(fresh.record(true)).toMatchObject({ keys: 2 });
      expect(fresh.record(false)).toMatchObject({ keys: 0, summary: empty });
    } finally {
      fresh.close();
    }
  });

  it('estimates a peer\'s load from its record (the calls of other hosts when it was made) and the calls it sent there since', () => {
    const load = presence.load;
    const record = (fields: Partial<PeerView>): PeerView => ({ id: 'p1', url: 'http://p1', utilization: 0.25, queued: 0, keys: 0, summary: '', updatedAt: 1, bloom: Bloom.forCount(0), ...fields });
    // 3 calls on 2 workers, 2 of them this host's (a1b2c3d4): 1 is another's.
    const p = record({ active: 3, maxWorkers: 2, forwardedIn: { a1b2c3d4: 2, other: 1 } });
    expect(load.peer(p)).toBe(0.5);
    const first = load.sent('p1');
    const second = load.sent('p1');
    expect(load.peer(p)).toBe(1.5);
    first();
    first(); // answered once, counted once
    expect(load.peer(p)).toBe(1);
    second();
    expect(load.peer(p)).toBe(0.5);
    // A record of an older host, without the counts: its published utilization.
    expect(load.peer(record({}))).toBe(0.25);
    // Calls other hosts forward here are in this host's record, by forwarder, while they run.
    const running = load.received('h9');
    expect(presence.record(true).forwardedIn).toEqual({ h9: 1 });
    running();
    expect(presence.record(true).forwardedIn).toEqual({});
  });

  it('reports its load: busy and waiting calls per worker, smoothed, at most 1.5, back to 0 when idle', async () => {
    expect(presence.utilization).toBe(0);
    const bytes = new Uint8Array(guestBytes('kitchen'));
    const module = new WebAssembly.Module(bytes);
    const spec: ModuleSpec = { id: 'default/kitchen', module, types: readModuleTypes(module), memoryInitialPages: memoryMinimum(bytes), memoryMaxPages: 256 };
    const recv = (n: number) => pool.run({ kind: 'call', tenant: 'default', module: spec, exportName: 'recvOne', args: [{ kind: 'value', value: 60_000 }], callId: `a1b2c3d4.0.${n}` }, 60_000);
    // Two calls on one worker: one runs (waiting in recv), one waits for the worker.
    const calls = [recv(1), recv(2)];
    // Once the worker is ready (a starting worker gets no job): one runs, one waits.
    await waitFor(() => pool.stats(), (st) => st.busy === 1 && st.queued === 1, 30_000, 'one call running and one waiting');
    await waitFor(() => presence.utilization, (u) => u > 1.4, 30_000, 'utilization near 2 calls per worker, capped at 1.5');
    expect(presence.utilization).toBeLessThanOrEqual(1.5);
    const busy = presence.record(false);
    expect(busy.queued).toBe(1);
    expect(busy.utilization).toBeGreaterThan(1.4);
    // The counts placement reads, taken now (not smoothed, not capped): 2 calls on 1 worker.
    expect(busy).toMatchObject({ active: 2, maxWorkers: 1, forwardedIn: {} });
    expect(presence.view([])).toEqual({ host: { id: 'a1b2c3d4', url: 'http://127.0.0.1:7070', utilization: presence.utilization, load: 2 }, peers: [] });

    release();
    for (const r of await Promise.all(calls)) expect(r).toMatchObject({ ok: true, result: '<none>' });
    await waitFor(() => presence.utilization, (u) => u < 0.01, 30_000, 'utilization back near 0');
    expect(presence.record(true)).toMatchObject({ queued: 0, active: 0 });
  });
});
