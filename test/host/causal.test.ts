// Causal consistency on real hosts: writes carry their dependencies, each host's cache is a
// causal cut, and DAG steps import what their request depends on. The cross-host workload
// and its history check are in test/cluster/consistency-workload.test.ts.
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHost, type Host } from '../../host/index.ts';
import { causalMeta, KvClient, lww, versionsOf, type Lww } from '../../kvs/index.ts';
import { HostClient } from '../../tools/cli/client.ts';
import { startPlatform, waitFor, type Platform } from '../helpers/platform.ts';

interface CallReply {
  result: unknown;
  history?: { op: string; key: string; ver?: { id: string; vc: Record<string, string>; f: string }[] }[];
}

const K = (name: string): string => `default/k/${name}`;
const metrics = async (c: HostClient): Promise<string> => (await c.request('GET', '/metrics')).body.toString();

describe('causal consistency (two in-process hosts, one KV node)', () => {
  let p: Platform;
  let b: Host;
  let bClient: HostClient;
  let kv: KvClient;

  beforeAll(async () => {
    p = await startPlatform({ workers: 2, explore: 0, publishIntervalMs: 100 });
    b = await startHost({ ...p.auth, workers: 2, explore: 0, publishIntervalMs: 100, dataDir: join(p.dataDir, 'host-b'), kvsUrl: p.kv.url, port: 0, onGuestLog: () => undefined });
    bClient = new HostClient(b.url, { token: p.token });
    kv = new KvClient({ url: p.kv.url, clusterSecret: p.clusterSecret });
    await p.deploy('chain');
    await p.deploy('kitchen');
    await waitFor(() => p.client.json<{ peers: { id: string }[] }>('GET', '/v1/cluster'), (v) => v.peers.length === 1, 10_000, 'host B in A\'s view');
  });
  afterAll(async () => {
    await kv.close();
    await bClient.close();
    await b.close();
    await p.stop();
    await rm(p.dataDir, { recursive: true, force: true });
  });

  /** The register as the KV tier holds it, once the host's flush of it arrived. */
  async function tierValue(name: string, ok: (l: Lww) => boolean): Promise<Lww> {
    return (await waitFor(async () => (await kv.get(K(name))) as Lww | undefined, (l) => l !== undefined && ok(l), 5000, `${name} in the tier`))!;
  }

  it('a causal write depends on what its request read; an lww write does not', async () => {
    await p.client.request('PUT', '/v1/kv/c-src', 'a');
    await p.client.json('POST', '/v1/functions/chain.readWrite/call', { args: ['c-src', 'c-dst', 'x'], consistency: 'causal' });
    const src = (await kv.get(K('c-src'))) as Lww;
    const dst = await tierValue('c-dst', (l) => l.causal !== undefined);
    expect(dst.causal!.deps).toEqual([{ key: K('c-src'), at: src.stamp, plain: true }]);
    expect(dst.siblings).toBeUndefined();

    await p.client.json('POST', '/v1/functions/chain.readWrite/call', { args: ['c-src', 'c-plain', 'y'] });
    const plain = await tierValue('c-plain', () => true);
    expect(plain.causal).toBeUndefined();
  });

  it('a version written over another depends on what that one depended on, even when its request did not read it', async () => {
    await p.client.request('PUT', '/v1/kv/c-parent', 'p1');
    const parent = (await kv.get(K('c-parent'))) as Lww;
    // r1 depends on c-parent; r2 (a blind causal write) and r3 (an lww write) are written over it.
    await p.client.json('POST', '/v1/functions/chain.readWrite/call', { args: ['c-parent', 'c-reply', 'r1'], consistency: 'causal' });
    const onParent = [{ key: K('c-parent'), at: parent.stamp, plain: true }];
    expect((await tierValue('c-reply', (l) => Buffer.from(l.value).toString() === 'r1')).causal!.deps).toEqual(onParent);
    await p.client.json('POST', '/v1/functions/chain.write/call', { args: ['c-reply', 'r2'], consistency: 'causal' });
    expect((await tierValue('c-reply', (l) => Buffer.from(l.value).toString() === 'r2')).causal!.deps).toEqual(onParent);
    await p.client.json('POST', '/v1/functions/chain.write/call', { args: ['c-reply', 'r3'] });
    expect((await tierValue('c-reply', (l) => Buffer.from(l.value).toString() === 'r3')).causal!.deps).toEqual(onParent);
  });

  it('a later write, causal or lww, supersedes the causal version its host held (no siblings)', async () => {
    await p.client.json('POST', '/v1/functions/chain.write/call', { args: ['c-over', 'one'], consistency: 'causal' });
    await p.client.json('POST', '/v1/functions/chain.write/call', { args: ['c-over', 'two'], consistency: 'causal' });
    const two = await tierValue('c-over', (l) => Buffer.from(l.value).toString() === 'two');
    expect(versionsOf(two)).toHaveLength(1);
    // An lww request writing a key that holds causal versions keeps it causal, and newer.
    await p.client.json('POST', '/v1/functions/chain.write/call', { args: ['c-over', 'three'] });
    const three = await tierValue('c-over', (l) => Buffer.from(l.value).toString() === 'three');
    expect(versionsOf(three)).toHaveLength(1);
    expect(three.causal).toBeDefined();
  });

  it('concurrent causal writes on two hosts are both kept; the read returns the greatest stamp', async () => {
    // Both hosts write the key without having seen the other's write: concurrent versions.
    const one = Buffer.from('from-a');
    const two = Buffer.from('from-b');
    const ta = { ms: Date.now(), c: 0, writer: 'test/a' };
    const tb = { ms: Date.now(), c: 1, writer: 'test/b' };
    await kv.merge(K('c-conc'), lww.write(one, ta, causalMeta(ta, [], { ms: 0, c: 0, writer: '' }, [])));
    await kv.merge(K('c-conc'), lww.write(two, tb, causalMeta(tb, [], { ms: 0, c: 0, writer: '' }, [])));
    const both = (await kv.get(K('c-conc'))) as Lww;
    expect(versionsOf(both).map((v) => Buffer.from(v.value).toString())).toEqual(['from-b', 'from-a']);
    const out = await p.client.json<CallReply>('POST', '/v1/functions/chain.s1/call?history=1', { args: ['c-conc', 'c-none'], consistency: 'causal' });
    expect(out.result).toBe('|from-b,-');
    expect(out.history![0]!.ver!.map((v) => v.id)).toEqual([`${tb.ms}.1.test/b`, `${ta.ms}.0.test/a`]);
    // GET /v1/kv shows them all; the SDK returns every one on request, the primary first.
    const shown = await p.client.json<{ value: string; versions: { value: string }[] }>('GET', '/v1/kv/c-conc?fresh=1');
    expect(shown.value).toBe('from-b');
    expect(shown.versions.map((x) => x.value)).toEqual(['from-b', 'from-a']);
    expect((await p.client.json<CallReply>('POST', '/v1/functions/kitchen.getAllJoined/call', { args: ['c-conc'] })).result).toBe('from-b,from-a');
    // A causal write after reading both supersedes both.
    await p.client.json('POST', '/v1/functions/chain.readWrite/call', { args: ['c-conc', 'c-conc', 'merged'], consistency: 'causal' });
    const merged = await tierValue('c-conc', (l) => Buffer.from(l.value).toString() === 'merged');
    expect(versionsOf(merged)).toHaveLength(1);
  });

  it('the cut: a pushed version stays invisible until its dependency is visible, then appears', async () => {
    await p.client.request('PUT', '/v1/kv/c-x', 'x1');
    // Host B reads c-x, so it caches and subscribes to it.
    expect((await bClient.json<{ result: string }>('POST', '/v1/functions/chain.s1/call', { args: ['c-x', 'c-y'], consistency: 'causal' })).result).toBe('|x1,-');
    await waitFor(() => metrics(bClient), (m) => /cloudburst_subscribed_keys [1-9]/.test(m), 5000, 'B subscribed');
    // x2 depends on a version of c-y that does not exist yet anywhere.
    const ys = { ms: Date.now() + 1, c: 0, writer: 'test/y' };
    const xs = { ms: Date.now() + 2, c: 0, writer: 'test/x' };
    await kv.merge(K('c-x'), lww.write(Buffer.from('x2'), xs, causalMeta(xs, [], { ms: 0, c: 0, writer: '' }, [{ key: K('c-y'), at: ys, plain: false }])));
    await waitFor(() => metrics(bClient), (m) => /cloudburst_causal_versions_held 1\b/.test(m), 5000, 'x2 held on B');
    for (const consistency of ['lww', 'causal']) {
      const seen = await bClient.json<{ result: string }>('POST', '/v1/functions/chain.s1/call', { args: ['c-x', 'c-y'], consistency });
      expect(seen.result).toBe('|x1,-');
    }
    // The dependency arrives: B fetches it and admits x2.
    await kv.merge(K('c-y'), lww.write(Buffer.from('y1'), ys, causalMeta(ys, [], { ms: 0, c: 0, writer: '' }, [])));
    const after = await waitFor(() => bClient.json<{ result: string }>('POST', '/v1/functions/chain.s1/call', { args: ['c-x', 'c-y'] }), (r) => r.result === '|x2,y1', 5000, 'x2 visible with y1');
    expect(after.result).toBe('|x2,y1');
    expect(await metrics(bClient)).toMatch(/cloudburst_causal_versions_held 0\b/);
  });

  it('the cut admits versions that depend on each other together (neither could go in alone)', async () => {
    await p.client.request('PUT', '/v1/kv/c-ga', 'a0');
    await p.client.request('PUT', '/v1/kv/c-gb', 'b0');
    expect((await bClient.json<{ result: string }>('POST', '/v1/functions/chain.s1/call', { args: ['c-ga', 'c-gb'] })).result).toBe('|a0,b0');
    await waitFor(() => metrics(bClient), (m) => /cloudburst_subscribed_keys ([3-9]|\d\d)/.test(m), 5000, 'B subscribed to both');
    // w (of c-gb) read an earlier causal version x0 of c-ga; x (of c-ga, after x0 by the same
    // writer) read w. B holds c-ga at a0 and c-gb at b0: x waits for w, w waits for x0 (x has it).
    const now = Date.now() + 5;
    const x0 = { ms: now, c: 0, writer: 'test/x' };
    const tw = { ms: now + 1, c: 0, writer: 'test/w' };
    const tx = { ms: now + 2, c: 0, writer: 'test/x' };
    const zero = { ms: 0, c: 0, writer: '' };
    const w = lww.write(Buffer.from('b1'), tw, causalMeta(tw, [], zero, [{ key: K('c-ga'), at: x0, plain: false }]));
    const x = lww.write(Buffer.from('a1'), tx, causalMeta(tx, [], zero, [{ key: K('c-gb'), at: tw, plain: false }]));
    await kv.merge(K('c-gb'), w);
    await kv.merge(K('c-ga'), x);
    const seen = await waitFor(() => bClient.json<{ result: string }>('POST', '/v1/functions/chain.s1/call', { args: ['c-ga', 'c-gb'] }), (r) => r.result === '|a1,b1', 5000, 'both admitted on B');
    expect(seen.result).toBe('|a1,b1');
    await waitFor(() => metrics(bClient), (m) => /cloudburst_causal_versions_held 0\b/.test(m), 5000, 'nothing held');
  });

  it('a later step on another host imports, from the upstream host\'s cache, a version the tier does not have yet', async () => {
    // Host S holds its writes 20 s before flushing them: what it writes exists only in its cache.
    const slow = await startHost({ ...p.auth, workers: 1, explore: 0, publishIntervalMs: 100, flushDelayMs: 20_000, dataDir: join(p.dataDir, 'host-s'), kvsUrl: p.kv.url, port: 0, onGuestLog: () => undefined });
    const sClient = new HostClient(slow.url, { token: p.token });
    try {
      await p.client.json('PUT', '/v1/dags/c-import', { functions: ['chain.s1', 'chain.sink'], edges: [['chain.s1', 'chain.sink']] });
      await waitFor(() => sClient.json<{ peers: { id: string }[] }>('GET', '/v1/cluster'), (v) => v.peers.length === 2, 10_000, 'S sees A and B');
      await waitFor(() => p.client.json<{ peers: { id: string }[] }>('GET', '/v1/cluster'), (v) => v.peers.length === 2, 10_000, 'A sees S');
      for (const consistency of ['lww', 'causal']) {
        const key = `c-import-${consistency}`;
        // Pinned to S (as a forwarded call is): S's scheduler would move it elsewhere while S is busy.
        const wrote = await sClient.request('POST', '/v1/functions/chain.write/call', JSON.stringify({ args: [key, 'only-on-s'], consistency }), { 'x-cloudburst-forwarded': 'test' });
        expect(wrote.status).toBe(200);
        const out = await p.client.json<{ result: string }>('POST', '/v1/dags/c-import/call', {
          args: { 'chain.s1': [key, 'c-none'], 'chain.sink': [key, 'c-none', `${key}-out`, 'o'] },
          placement: { 'chain.s1': slow.id, 'chain.sink': b.id },
          consistency,
        });
        // lww: B reads what it can (nothing); causal: B first brings the version from S's cache.
        expect(out.result).toBe(consistency === 'lww' ? '|only-on-s,-|-,-' : '|only-on-s,-|only-on-s,-');
        expect(await kv.get(K(key))).toBeUndefined(); // the tier still does not have it
      }
    } finally {
      await sClient.close();
      await slow.close();
    }
  });

  it('internal causal surfaces refuse malformed input with a stable code', async () => {
    await p.client.request('PUT', '/v1/kv/c-peer', 'here');
    const read = await p.internal.json<{ values: Record<string, string | null> }>('POST', '/v1/internal/cache/read', { keys: [K('c-peer'), K('c-nowhere')] });
    expect(read.values[K('c-nowhere')]).toBeNull();
    expect(Buffer.from(read.values[K('c-peer')]!, 'base64')[1]).toBe(1); // an encoded register
    for (const body of [{}, { keys: 'x' }, { keys: [1] }, { keys: Array.from({ length: 1001 }, (_, i) => `k${i}`) }]) {
      await expect(p.internal.json('POST', '/v1/internal/cache/read', body)).rejects.toMatchObject({ code: 'INVALID_REQUEST' });
    }
    await expect(p.internal.json('POST', '/v1/internal/cache/read', '{nope', true)).rejects.toMatchObject({ code: 'MALFORMED_JSON' });
    // A trigger whose causal session is malformed is refused before anything is applied.
    const trigger = { rid: 'r-bad', from: 'chain.s1', to: 'chain.sink', slot: 0, value: 'x', remainingMs: 1000 };
    for (const session of [
      { reads: {}, history: [], need: { [K('a')]: { d: ['garbage'] } } },
      { reads: {}, history: [], need: { [K('a')]: { d: 'c1.0.w' } } },
      { reads: {}, history: [], seen: { [K('a')]: ['p-1.0.w'] } },
      { reads: {}, history: [], need: { [K('a')]: { d: ['c1.0.w'], u: 7 } } },
    ]) {
      await expect(p.internal.json('POST', '/v1/internal/dag/trigger', { ...trigger, session })).rejects.toMatchObject({ code: 'INVALID_REQUEST' });
    }
    expect(await p.internal.json<{ steps: Record<string, string> }>('GET', '/v1/internal/dag/requests/r-bad')).toEqual({ steps: {} });
  });

  it('a causal DAG across both hosts: the second step reads nothing older than the first step depended on', async () => {
    await p.client.json('PUT', '/v1/dags/c-chain', { functions: ['chain.s1', 'chain.sink'], edges: [['chain.s1', 'chain.sink']] });
    await p.client.request('PUT', '/v1/kv/c-l', 'l1');
    await p.client.json('POST', '/v1/functions/chain.readWrite/call', { args: ['c-l', 'c-k', 'k1'], consistency: 'causal' });
    const out = await p.client.json<{ result: string; history: CallReply['history'] }>('POST', '/v1/dags/c-chain/call?history=1', {
      args: { 'chain.s1': ['c-k', 'c-l'], 'chain.sink': ['c-l', 'c-k', 'c-out', 'o'] },
      placement: { 'chain.s1': p.host.id, 'chain.sink': b.id },
      consistency: 'causal',
    });
    expect(out.result).toBe('|k1,l1|l1,k1');
    const out2 = await tierValue('c-out', (l) => l.causal !== undefined);
    // The sink read c-k (k1, which depends on l1) and c-l (l1): k1 stands for both.
    expect(out2.causal!.deps.map((d) => d.key)).toEqual([K('c-k')]);
    expect(out.history!.filter((e) => e.op === 'r').every((e) => Array.isArray(e.ver))).toBe(true);
  });
});
