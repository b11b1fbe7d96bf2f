/**
 * The platform the HTTP cases run against, with something in it for them to aim at, and a
 * snapshot of everything a user or the cluster can see, taken before and after the cases.
 */
import { bearer, metric, startPlatform, waitFor, type Platform } from '../helpers/platform.ts';
import { EMBEDDED_ADMIN_NAME } from '../../host/auth/provision.ts';
import type { World } from './host-routes.ts';

/** Keys the cases write to if a refusal fails (host-routes.ts, kv-routes.ts): the snapshot reads them. */
const PROBE_KEYS = ['zz-push', 'zz-push-0', 'zz-push-1', 'zz-push-2', 'zz-push-3', 'zz-frame', 'zz-merge'];

/** Every scope but admin: a tenant's user's full token. */
const USER_SCOPES = ['deploy', 'invoke', 'state', 'read'];

/**
 * The tokens of the world (world.ts), for the credential plan (credentials.ts): the admin token
 * of `default` is the platform's (`p.token`).
 */
export interface WorldTokens {
  /** Tenant `other`: every scope but admin. */
  readonly other: string;
  /** Tenant `other`: one scope each, to meet routes that need another. */
  readonly stateOnly: string;
  readonly readOnly: string;
  /** Of tenant `other`, revoked; one that expired; one of the deleted tenant `gone`. */
  readonly revoked: string;
  readonly expired: string;
  readonly ofDeletedTenant: string;
}

/**
 * A KV node and a host in this process, with small body limits (so that bodies just over them
 * are cheap), four modules, a DAG, three keys of three types and a finished future in tenant
 * `default`; a second tenant `other` with tokens of a few scopes, a revoked and an expired one;
 * a deleted tenant `gone`.
 */
export async function startWorld(): Promise<{ p: Platform; w: World; tokens: WorldTokens }> {
  const p = await startPlatform({ maxBodyBytes: 256 * 1024, maxModuleBytes: 1024 * 1024, guestMemoryMiB: 16 });
  const token = async (tenant: string, name: string, scopes: string[], extra: Record<string, unknown> = {}) =>
    (await p.client.json<{ token: string }>('POST', '/v1/tokens', { tenant, name, scopes, ...extra })).token;
  await p.client.json('POST', '/v1/tenants', { name: 'other' });
  // First, so that its second runs out while the rest is set up.
  const expired = await token('other', 'hostile-expired', USER_SCOPES, { expiresInSeconds: 1 });
  const other = await token('other', 'hostile-other', USER_SCOPES);
  const stateOnly = await token('other', 'hostile-state', ['state']);
  const readOnly = await token('other', 'hostile-read', ['read']);
  const revoked = await token('other', 'hostile-revoked', USER_SCOPES);
  await p.client.json('DELETE', '/v1/tokens/hostile-revoked');
  await p.client.json('POST', '/v1/tenants', { name: 'gone' });
  const ofDeletedTenant = await token('gone', 'hostile-gone', USER_SCOPES);
  await p.client.json('DELETE', '/v1/tenants/gone');

  const modules = ['counter', 'arrays', 'math', 'kitchen'];
  for (const m of modules) await p.deploy(m);
  await p.client.json('PUT', '/v1/dags/pipe', { functions: ['math.square', 'math.increment'], edges: [['math.square', 'math.increment']] });
  await p.call('counter.incr', ['guarded', 3]);
  await p.client.json('PUT', '/v1/kv/text', 'hello', true);
  await p.client.json('PUT', '/v1/kv/members?type=set', '["a", "b"]', true);
  const { future } = await p.client.json<{ future: string }>('POST', '/v1/functions/math.square/call', { args: [4], async: true });
  await p.client.json(`GET`, `/v1/futures/${future}?wait=30000`);
  await waitFor(async () => (await fetch(`${p.host.url}/v1/modules`, { headers: bearer(expired) })).status, (s) => s === 401, 30_000, 'the 1 s token to expire');
  const w: World = {
    modules, dag: 'pipe', keys: { counter: 'guarded', lww: 'text', set: 'members' }, future, hostId: p.host.id,
    tenants: { other: 'other', gone: 'gone' },
    tokenNames: { active: [EMBEDDED_ADMIN_NAME, 'hostile-other', 'hostile-state', 'hostile-read'], revoked: 'hostile-revoked' },
  };
  return { p, w, tokens: { other, stateOnly, readOnly, revoked, expired, ofDeletedTenant } };
}

/**
 * What the cases must not change: modules, functions and DAGs as a user lists them; the
 * tenants and every token's record as the admin API lists them; every key and value of the KV
 * node's store (the `_system` tenant's token and tenant records included; but the host's own
 * heartbeat record, `default/sys/host/`, which it rewrites every 500 ms); the host's outbox
 * (drained first) and refused writes; what its cache holds of the world's keys and the probe
 * keys (read as a peer host does, signed); the keys its cache indexes; the world's keys and
 * future as a user reads them; the KV node's ring.
 */
export async function snapshot(p: Platform, w: World): Promise<unknown> {
  await waitFor(() => metric(p.client, 'cloudburst_outbox_keys'), (n) => n === 0, 30_000, 'the outbox to drain');
  const get = (path: string) => p.client.request('GET', path).then((r) => ({ status: r.status, body: JSON.parse(r.body.toString()) as unknown }));
  // A view the snapshot cannot read would compare equal before and after whatever happened.
  const got = async (path: string) => {
    const r = await get(path);
    if (r.status !== 200) throw new Error(`the snapshot cannot read ${path}: ${r.status} ${JSON.stringify(r.body)}`);
    return r;
  };
  const store: [string, string][] = [];
  for (const [key, bytes] of p.kv.store.scan()) if (!key.startsWith('default/sys/host/')) store.push([key, Buffer.from(bytes).toString('hex')]);
  const userKeys = [w.keys.counter, w.keys.lww, w.keys.set, ...PROBE_KEYS];
  const cache = await p.internal.request('POST', '/v1/internal/cache/read', JSON.stringify({ keys: userKeys.map((k) => `default/k/${k}`) }));
  if (cache.status !== 200) throw new Error(`the snapshot cannot read the host's cache: ${cache.status} ${cache.body.toString()}`);
  if (!store.some(([k]) => k.startsWith('_system/tok/'))) throw new Error('the store holds no token record: the snapshot would not see one change');
  const { members: _m, ...ring } = p.kv.ring() as unknown as Record<string, unknown>;
  return {
    modules: await got('/v1/modules'),
    functions: await got('/v1/functions'),
    dags: await got('/v1/dags'),
    dag: await got(`/v1/dags/${w.dag}`),
    tenants: await got('/v1/tenants'),
    tokens: await got('/v1/tokens'),
    store,
    rejected: await got('/v1/outbox/rejected'),
    outbox: await metric(p.client, 'cloudburst_outbox_keys'),
    cacheKeys: await metric(p.client, 'cloudburst_cache_indexed_keys'),
    cache: { status: cache.status, body: JSON.parse(cache.body.toString()) as unknown },
    values: await Promise.all(userKeys.map((k) => get(`/v1/kv/${encodeURIComponent(k)}`))),
    future: await got(`/v1/futures/${w.future}`),
    ring: { ...ring, members: (p.kv.ring().members as { id: string; url: string; state: string }[]).map(({ id, url, state }) => ({ id, url, state })) },
  };
}
