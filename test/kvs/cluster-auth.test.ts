/**
 * A KV node's port is not a public API: every route but healthz and readyz wants the cluster credential
 * (kvs/README.md, "Authentication"). For every route of KV_ROUTES, requests without a good
 * signature are 401 UNAUTHENTICATED and change nothing; a node of another cluster cannot join;
 * a node does not start without a secret unless insecure; subscription pushes are signed.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLUSTER_AUTH_HEADER, signRequest, verifyRequest } from '../../common/index.ts';
import {
  encode,
  encodeFrame,
  KV_HEADERS,
  KV_PATHS,
  KV_ROUTES,
  keyPath,
  KvClient,
  lww,
  max,
  startKvNode,
  type KvNode,
  type KvRoute,
} from '../../kvs/index.ts';
import { testSecret } from '../helpers/cluster-secret.ts';
import { waitFor } from '../helpers/platform.ts';
import { rawRequest } from '../helpers/raw-http.ts';

const secret = testSecret();
const other = testSecret();
const FAST = { heartbeatMs: 50, downAfterMs: 2000, antiEntropyMs: 300, fsync: 'off' } as const;

let root: string;
let a: KvNode;
let b: KvNode;
let pool: Pool;
let kv: KvClient;
let receiver: Server;
let receiverUrl: string;
/** The pushes the receiver got: each request's method, target and headers. */
const pushes: IncomingMessage[] = [];

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'cloudburst-kvs-auth-'));
  a = await startKvNode({ dataDir: join(root, 'a'), nodeId: 'a', clusterSecret: secret, ...FAST });
  b = await startKvNode({ dataDir: join(root, 'b'), nodeId: 'b', seeds: [a.url], clusterSecret: secret, ...FAST });
  await waitFor(() => a.ring().members.filter((m) => m.state === 'up').length, (n) => n === 2, 15_000, 'both nodes up');
  kv = new KvClient({ url: a.url, clusterSecret: secret });
  await kv.merge('auth/k', lww.write(Buffer.from('secret data'), { ms: 1, c: 0, writer: 't' }));
  pool = new Pool(a.url, { connections: 2 });
  receiver = createServer((req, res) => {
    pushes.push(req);
    req.resume();
    req.on('end', () => res.writeHead(204).end());
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await kv?.close();
  await pool?.close();
  await b?.close();
  await a?.close();
  if (receiver) {
    receiver.closeAllConnections();
    await new Promise((r) => receiver.close(r));
  }
  await rm(root, { recursive: true, force: true });
});

/** For each route, a request that, accepted, would read or change something. */
function attempt(route: KvRoute): { path: string; body?: Buffer; headers?: Record<string, string> } {
  const value = Buffer.from(encode(max.put(undefined, 9n)));
  const json = (x: unknown) => Buffer.from(JSON.stringify(x));
  const frame = (key: string) => Buffer.from(encodeFrame([{ key, value }]));
  switch (route.name) {
    case 'getKey': return { path: keyPath('auth/k') };
    case 'mergeKey': return { path: keyPath('auth/new'), body: value };
    case 'batchMerge': return { path: route.path, body: frame('auth/batch') };
    case 'batchGet': return { path: route.path, body: json({ keys: ['auth/k'] }) };
    case 'healthz': return { path: route.path };
    case 'readyz': return { path: route.path };
    case 'stats': return { path: route.path };
    case 'ring': return { path: route.path };
    case 'ringRemove': return { path: route.path, body: json({ id: 'b', force: true }) };
    case 'subscriptions': return { path: route.path, body: json({ subscriber: receiverUrl, keys: ['auth/k'], ttlMs: 60_000 }) };
    case 'gossip': return { path: route.path, body: json({ from: 'evil', members: [{ id: 'evil', url: 'http://127.0.0.1:1', state: 'up', incarnation: 1 }] }) };
    case 'push': return { path: route.path, body: frame('auth/pushed'), headers: { [KV_HEADERS.from]: 'b' } };
    case 'digest': return { path: route.path, body: json({ from: 'b', ring: a.ring().version, digest: Buffer.alloc(2048).toString('base64') }) };
    case 'repair': return { path: route.path, body: frame('auth/repaired'), headers: { [KV_HEADERS.from]: 'b', [KV_HEADERS.ringVersion]: a.ring().version, [KV_HEADERS.buckets]: Array.from({ length: 256 }, (_, i) => i).join(',') } };
    case 'sync': return { path: route.path, body: json({ from: 'b', members: a.ring().members }) };
  }
}

/** What must not change: every node's store, ring and subscriptions, and no push. */
async function snapshot() {
  const stats = async (n: KvNode) => {
    const path = KV_PATHS.stats;
    const res = await fetch(`${n.url}${path}`, { headers: signRequest(secret, 'GET', path) });
    const body = (await res.json()) as { cluster: { subscriptions: number; hints: unknown } };
    return { subscriptions: body.cluster.subscriptions, hints: body.cluster.hints };
  };
  return {
    stores: [a, b].map((n) => [...n.store.scan()].map(([k, v]) => `${k}=${Buffer.from(v).toString('hex')}`)),
    rings: [a, b].map((n) => n.ring().members.map((m) => `${m.id}:${m.state}:${m.incarnation}`)),
    stats: [await stats(a), await stats(b)],
    pushes: pushes.length,
  };
}

// Every route but the probes, whatever the table says (the first test checks the table agrees).
const guarded = KV_ROUTES.filter((r) => r.path !== KV_PATHS.healthz && r.path !== KV_PATHS.readyz);
const otherMethod = (m: string) => (m === 'GET' ? 'POST' : 'GET');
const otherPath = (p: string) => (p === KV_PATHS.ring ? KV_PATHS.stats : KV_PATHS.ring);

/** The ways a request can come without a good signature, given its method and path. */
const BAD_CREDENTIALS: [string, (method: string, path: string) => Record<string, string>][] = [
  ['unsigned', () => ({})],
  ['signed with another secret', (m, p) => signRequest(other, m, p)],
  ['signed 10 minutes ago', (m, p) => signRequest(secret, m, p, undefined, Date.now() - 10 * 60_000)],
  ['signed 10 minutes ahead', (m, p) => signRequest(secret, m, p, undefined, Date.now() + 10 * 60_000)],
  ['a signature replayed from another path', (m, p) => signRequest(secret, m, otherPath(p))],
  ['a signature replayed from another method', (m, p) => signRequest(secret, otherMethod(m), p)],
  ['a signature replayed with a query added', (m, p) => signRequest(secret, m, `${p}?x=1`)],
  ['a bearer token', () => ({ authorization: 'Bearer cb_0123456789abcdef0123456789abcdef' })],
  ['a bearer token and a bad signature', (m, p) => ({ authorization: 'Bearer cb_0123456789abcdef', ...signRequest(other, m, p) })],
];

describe('KV node: only the cluster gets in', () => {
  it('KV auth: every route but healthz and readyz is in the table as a cluster route', () => {
    expect(KV_ROUTES.filter((r) => r.access === 'open').map((r) => r.name)).toEqual(['healthz', 'readyz']);
    expect(guarded.every((r) => r.access === 'cluster')).toBe(true);
  });

  it.each(guarded.map((r) => [r.name, r] as const))('KV auth: %s refuses every request without a good signature with 401 UNAUTHENTICATED and changes nothing', async (_name, route) => {
    const before = await snapshot();
    const { path, body, headers = {} } = attempt(route);
    const outcomes: Record<string, unknown> = {};
    for (const [what, credential] of BAD_CREDENTIALS) {
      const res = await pool.request({
        method: route.method, path, headers: { ...headers, ...credential(route.method, path), ...(body ? { 'content-type': 'application/octet-stream' } : {}) },
        ...(body ? { body } : {}),
      });
      const text = await res.body.text();
      outcomes[what] = { status: res.statusCode, code: (JSON.parse(text) as { error?: { code?: string } }).error?.code };
    }
    expect(outcomes).toEqual(Object.fromEntries(BAD_CREDENTIALS.map(([what]) => [what, { status: 401, code: 'UNAUTHENTICATED' }])));
    // Give a push, a gossip or a removal that slipped through the time to show.
    await new Promise((r) => setTimeout(r, 200));
    expect(await snapshot()).toEqual(before);
  });

  it('KV auth: the same requests, signed, are served (the refusals above are the credential\'s)', async () => {
    for (const route of guarded.filter((r) => ['getKey', 'batchGet', 'stats', 'ring', 'digest'].includes(r.name))) {
      const { path, body, headers = {} } = attempt(route);
      const res = await pool.request({ method: route.method, path, headers: { ...headers, ...signRequest(secret, route.method, path) }, ...(body ? { body } : {}) });
      await res.body.dump();
      expect({ route: route.name, status: res.statusCode }).toEqual({ route: route.name, status: 200 });
    }
  });

  it('KV auth: healthz answers anyone', async () => {
    const res = await pool.request({ method: 'GET', path: KV_PATHS.healthz });
    expect({ status: res.statusCode, body: await res.body.json() }).toEqual({ status: 200, body: { ok: true, node: 'a' } });
  });

  it('KV auth: the refusal comes before the body: with Expect: 100-continue, no body is sent', async () => {
    const before = await snapshot();
    const r = await rawRequest(a.url, 'PUT', keyPath('auth/expect'), Buffer.alloc(4 << 20, 1), { expectContinue: true });
    expect({ status: r.status, code: JSON.parse(r.body.toString()).error?.code, continued: r.continued, bodySent: r.bodySent })
      .toEqual({ status: 401, code: 'UNAUTHENTICATED', continued: false, bodySent: 0 });
    expect(await snapshot()).toEqual(before);
  });

  it('KV auth: a node started with another secret cannot join the cluster, and the cluster does not change', async () => {
    const before = await snapshot();
    const err = await startKvNode({ dataDir: join(root, 'intruder'), nodeId: 'intruder', seeds: [a.url], clusterSecret: other, joinTimeoutMs: 1000, ...FAST }).then(
      (n) => n.close().then(() => undefined),
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: 'KV_UNAVAILABLE', message: expect.stringMatching(/401/) });
    expect(await snapshot()).toEqual(before);
    expect(a.ring().members.map((m) => m.id).sort()).toEqual(['a', 'b']);
  });

  it('KV auth: a node with neither a secret nor insecure: true does not start; nor does one with a short secret', async () => {
    await expect(startKvNode({ dataDir: join(root, 'none') })).rejects.toMatchObject({ code: 'INVALID_REQUEST', message: expect.stringMatching(/cluster secret.*insecure/) });
    await expect(startKvNode({ dataDir: join(root, 'short'), clusterSecret: Buffer.from('too short') })).rejects.toMatchObject({ code: 'INVALID_REQUEST', message: expect.stringMatching(/at least 32/) });
  });

  it('KV auth: a node started with insecure: true serves unsigned requests', async () => {
    const open = await startKvNode({ dataDir: join(root, 'insecure'), insecure: true });
    const p = new Pool(open.url);
    try {
      const put = await p.request({ method: 'PUT', path: keyPath('open/k'), body: Buffer.from(encode(max.put(undefined, 1n))) });
      await put.body.dump();
      const get = await p.request({ method: 'GET', path: keyPath('open/k') });
      await get.body.dump();
      expect([put.statusCode, get.statusCode]).toEqual([200, 200]);
    } finally {
      await p.close();
      await open.close();
    }
  });
});

describe('KV node: subscriptions', () => {
  it('KV auth: a subscriber URL that is not http(s) is refused, even from the cluster', async () => {
    const before = await snapshot();
    for (const subscriber of ['file:///etc/passwd', 'ftp://127.0.0.1/x', 'gopher://127.0.0.1:70', 'javascript:alert(1)', 'HTTP://127.0.0.1:1', '//127.0.0.1:1', 'http://']) {
      const path = KV_PATHS.subscriptions;
      const res = await pool.request({ method: 'POST', path, headers: signRequest(secret, 'POST', path), body: JSON.stringify({ subscriber, keys: ['auth/k'] }) });
      expect({ subscriber, status: res.statusCode, code: ((await res.body.json()) as { error: { code: string } }).error.code }).toEqual({ subscriber, status: 400, code: 'INVALID_REQUEST' });
    }
    expect(await snapshot()).toEqual(before);
  });

  it('KV auth: pushes to a subscriber are signed with the cluster secret, so it can check them', async () => {
    await kv.subscribe(receiverUrl, ['auth/sub'], 60_000);
    try {
      await kv.merge('auth/sub', max.put(undefined, 1n));
      await expect.poll(() => pushes.length).toBeGreaterThan(0);
      for (const push of pushes) {
        expect(push.headers[CLUSTER_AUTH_HEADER]).toBeDefined();
        expect(verifyRequest(secret, push.method, push.url, push.headers)).toBe(true);
        expect(verifyRequest(other, push.method, push.url, push.headers)).toBe(false);
      }
    } finally {
      await kv.unsubscribe(receiverUrl, ['auth/sub']);
      pushes.length = 0;
    }
  });
});
