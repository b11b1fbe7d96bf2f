/**
 * The platform the HTTP cases run against, with something in it for them to aim at, and a
 * snapshot of everything a user or the cluster can see, taken before and after the cases.
 */
import { metric, startPlatform, waitFor, type Platform } from '../helpers/platform.ts';
import type { World } from './host-routes.ts';

/** Keys the cases write to if a refusal fails (host-routes.ts, kv-routes.ts): the snapshot reads them. */
const PROBE_KEYS = ['zz-push', 'zz-push-0', 'zz-push-1', 'zz-push-2', 'zz-push-3', 'zz-frame', 'zz-merge'];

/**
 * A KV node and a host in this process, with small body limits (so that bodies just over them
 * are cheap), four modules, a DAG, three keys of three types and a finished future.
 */
export async function startWorld(): Promise<{ p: Platform; w: World }> {
  const p = await startPlatform({ maxBodyBytes: 256 * 1024, maxModuleBytes: 1024 * 1024, guestMemoryMiB: 16 });
  const modules = ['counter', 'arrays', 'math', 'kitchen'];
  for (const m of modules) await p.deploy(m);
  await p.client.json('PUT', '/v1/dags/pipe', { functions: ['math.square', 'math.increment'], edges: [['math.square', 'math.increment']] });
  await p.call('counter.incr', ['guarded', 3]);
  await p.client.json('PUT', '/v1/kv/text', 'hello', true);
  await p.client.json('PUT', '/v1/kv/members?type=set', '["a", "b"]', true);
  const { future } = await p.client.json<{ future: string }>('POST', '/v1/functions/math.square/call', { args: [4], async: true });
  await p.client.json(`GET`, `/v1/futures/${future}?wait=30000`);
  return { p, w: { modules, dag: 'pipe', keys: { counter: 'guarded', lww: 'text', set: 'members' }, future, hostId: p.host.id } };
}

/**
 * What the cases must not change: modules, functions and DAGs as a user lists them; every key
 * and value of the KV node's store (but the host's own heartbeat record, `default/sys/host/`,
 * which it rewrites every 500 ms); the host's outbox (drained first) and refused writes; what
 * its cache holds of the world's keys and the probe keys; the keys its cache indexes; the
 * world's keys and future as a user reads them; the KV node's ring.
 */
export async function snapshot(p: Platform, w: World): Promise<unknown> {
  await waitFor(() => metric(p.client, 'cloudburst_outbox_keys'), (n) => n === 0, 30_000, 'the outbox to drain');
  const get = (path: string) => p.client.request('GET', path).then((r) => ({ status: r.status, body: JSON.parse(r.body.toString()) as unknown }));
  const store: [string, string][] = [];
  for (const [key, bytes] of p.kv.store.scan()) if (!key.startsWith('default/sys/host/')) store.push([key, Buffer.from(bytes).toString('hex')]);
  const userKeys = [w.keys.counter, w.keys.lww, w.keys.set, ...PROBE_KEYS];
  const cache = await p.client.request('POST', '/v1/internal/cache/read', JSON.stringify({ keys: userKeys.map((k) => `default/k/${k}`) }));
  const { members: _m, ...ring } = p.kv.ring() as unknown as Record<string, unknown>;
  return {
    modules: await get('/v1/modules'),
    functions: await get('/v1/functions'),
    dags: await get('/v1/dags'),
    dag: await get(`/v1/dags/${w.dag}`),
    store,
    rejected: await get('/v1/outbox/rejected'),
    outbox: await metric(p.client, 'cloudburst_outbox_keys'),
    cacheKeys: await metric(p.client, 'cloudburst_cache_indexed_keys'),
    cache: { status: cache.status, body: JSON.parse(cache.body.toString()) as unknown },
    values: await Promise.all(userKeys.map((k) => get(`/v1/kv/${encodeURIComponent(k)}`))),
    future: await get(`/v1/futures/${w.future}`),
    ring: { ...ring, members: (p.kv.ring().members as { id: string; url: string; state: string }[]).map(({ id, url, state }) => ({ id, url, state })) },
  };
}
