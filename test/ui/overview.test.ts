/**
 * `GET /v1/overview` (the dashboard's data) over a real cluster in this process: three KV nodes
 * and two hosts. Every host is listed, every KV node with its share of the ring (the shares
 * add up to the ring, the replicas to N) and its health as its readiness probe finds it, also
 * once a node is stopped; functions and DAGs are the caller's tenant's.
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHost, type Host } from '../../host/index.ts';
import type { Overview } from '../../host/ui/overview.ts';
import { startKvNode, type KvNode } from '../../kvs/index.ts';
import { adminToken, bearer, clusterAuth, guestBytes, tempDir, waitFor } from '../helpers/platform.ts';

describe('GET /v1/overview over three KV nodes and two hosts', () => {
  let dir: string;
  const kvs: KvNode[] = [];
  const hosts: Host[] = [];
  let admin: string;
  let stopped: KvNode | undefined;

  const overview = async (host: Host, token = admin): Promise<Overview> => {
    const res = await fetch(`${host.url}/v1/overview`, { headers: bearer(token) });
    expect(res.status).toBe(200);
    return (await res.json()) as Overview;
  };

  beforeAll(async () => {
    dir = await tempDir('cb-overview-');
    const { clusterSecret } = clusterAuth(dir);
    kvs.push(await startKvNode({ dataDir: join(dir, 'kv0'), port: 0, clusterSecret }));
    for (const i of [1, 2]) kvs.push(await startKvNode({ dataDir: join(dir, `kv${i}`), port: 0, clusterSecret, seeds: [kvs[0]!.url] }));
    await waitFor(() => kvs[0]!.ring().members.filter((m) => m.state === 'up').length, (n) => n === 3, 30_000, 'three KV nodes up');
    admin = await adminToken(kvs[0]!.url, clusterSecret, dir);
    for (const i of [0, 1]) {
      hosts.push(await startHost({ dataDir: join(dir, `host${i}`), kvsUrl: kvs[i]!.url, port: 0, workers: 1, clusterSecret, onGuestLog: () => undefined }));
    }
  });

  afterAll(async () => {
    for (const h of hosts) await h.close();
    for (const k of kvs) if (k !== stopped) await k.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('lists both hosts and every KV node, ready, with shares that add up to the ring', async () => {
    const o = await waitFor(() => overview(hosts[0]!), (v) => v.hosts.length === 2 && 'nodes' in v.kv && v.kv.nodes.length === 3 && v.kv.nodes.every((n) => n.ready === 'ready'), 30_000, 'both hosts and three ready KV nodes');
    expect(o.host.id).toBe(hosts[0]!.id);
    expect(o.hosts.map((h) => h.id).sort()).toEqual(hosts.map((h) => h.id).sort());
    expect(o.hosts.filter((h) => h.self).map((h) => h.id)).toEqual([hosts[0]!.id]);
    if (!('nodes' in o.kv)) throw new Error(o.kv.error);
    expect(o.kv.replication).toBe(3);
    expect(o.kv.nodes.map((n) => n.id).sort()).toEqual(kvs.map((k) => k.nodeId).sort());
    const sum = (k: 'primary' | 'replica'): number => (o.kv as { nodes: { primary: number; replica: number }[] }).nodes.reduce((a, n) => a + n[k], 0);
    expect(sum('primary')).toBeCloseTo(1, 6);
    expect(sum('replica')).toBeCloseTo(3, 6);
    for (const n of o.kv.nodes) {
      expect(n.state).toBe('up');
      expect(n.primary).toBeGreaterThan(0);
    }
  });

  it("shows the caller's tenant's functions and DAGs only", async () => {
    const client = (method: string, path: string, body?: BodyInit, token = admin): Promise<Response> =>
      fetch(`${hosts[1]!.url}${path}`, { method, headers: bearer(token), ...(body === undefined ? {} : { body }) });
    expect((await client('PUT', '/v1/modules/dash', new Uint8Array(guestBytes('dashboard')))).status).toBe(200);
    expect((await client('PUT', '/v1/dags/pipe', JSON.stringify({ functions: ['dash.greet', 'dash.bump'], edges: [['dash.greet', 'dash.bump']] }))).status).toBe(200);
    expect((await client('POST', '/v1/tenants', JSON.stringify({ name: 'acme' }))).status).toBe(201);
    const res = await client('POST', '/v1/tokens', JSON.stringify({ tenant: 'acme', scopes: ['read'], name: 'acme-reader' }));
    const reader = ((await res.json()) as { token: string }).token;
    const mine = await overview(hosts[1]!);
    expect(mine.tenant).toBe('default');
    expect(mine.functions.map((f) => f.name)).toEqual(['dash.bump', 'dash.explode', 'dash.greet']);
    expect(mine.functions.every((f) => f.calls === 0 && f.p50 === null)).toBe(true);
    expect(mine.dags).toEqual([{ name: 'pipe', functions: ['dash.greet', 'dash.bump'], edges: [['dash.greet', 'dash.bump']] }]);
    const theirs = await overview(hosts[1]!, reader);
    expect(theirs.tenant).toBe('acme');
    expect(theirs.functions).toEqual([]);
    expect(theirs.dags).toEqual([]);
    // A token without the read scope may not read it.
    const writer = ((await (await client('POST', '/v1/tokens', JSON.stringify({ tenant: 'acme', scopes: ['state'], name: 'acme-writer' }))).json()) as { token: string }).token;
    expect((await fetch(`${hosts[1]!.url}/v1/overview`, { headers: bearer(writer) })).status).toBe(403);
  });

  it('the cache\'s push lag: a change written through one host reaches the other by a push, and how late is measured', async () => {
    const [a, b] = hosts as [Host, Host];
    const send = (host: Host, method: string, path: string, body?: string): Promise<Response> =>
      fetch(`${host.url}${path}`, { method, headers: bearer(admin), ...(body === undefined ? {} : { body }) });
    expect((await overview(b)).cache.pushLag).toMatchObject({ count: 0, p50: null, p99: null });
    // b caches the counter (and subscribes to it) by a call that uses it; writes through a then
    // reach b's cache by the tier's pushes (a direct write is not forwarded: it is a's).
    expect((await send(a, 'PUT', '/v1/kv/lagged?type=counter', '1')).status).toBe(200);
    const bumped = await send(b, 'POST', '/v1/functions/dash.bump/call', JSON.stringify({ args: ['lagged'] }));
    expect(bumped.status).toBe(200);
    for (let i = 0; i < 3; i++) expect((await send(a, 'PUT', '/v1/kv/lagged?type=counter', '1')).status).toBe(200);
    const o = await waitFor(() => overview(b), (v) => v.cache.pushLag.count >= 1, 30_000, 'a push to b measured');
    expect(o.cache.pushed).toBeGreaterThanOrEqual(o.cache.pushLag.count);
    expect(o.cache.pushLag.p50).toBeGreaterThanOrEqual(0);
    expect(o.cache.pushLag.p99).toBeGreaterThanOrEqual(o.cache.pushLag.p50!);
    // The same histogram as /metrics (which may have counted a push more since).
    const text = await (await send(b, 'GET', '/metrics')).text();
    expect(Number(/^cloudburst_push_lag_seconds_count (\d+)/m.exec(text)?.[1])).toBeGreaterThanOrEqual(o.cache.pushLag.count);
  });

  it('a KV node that stopped shows as unreachable', async () => {
    stopped = kvs[2]!;
    await stopped.close();
    const o = await waitFor(() => overview(hosts[0]!), (v) => 'nodes' in v.kv && v.kv.nodes.some((n) => n.id === stopped!.nodeId && n.ready === 'UNREACHABLE'), 30_000, 'the stopped node unreachable');
    if (!('nodes' in o.kv)) throw new Error(o.kv.error);
    expect(o.kv.nodes.filter((n) => n.ready === 'ready').map((n) => n.id).sort()).toEqual([kvs[0]!.nodeId, kvs[1]!.nodeId].sort());
  });
});
