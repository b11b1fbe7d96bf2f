import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHost, type Host } from '../../host/index.ts';
import { PeerLink } from '../../host/cluster/peer-link.ts';
import { parseConsistency } from '../../host/consistency/mode.ts';
import { Snapshots } from '../../host/consistency/snapshots.ts';
import { HostClient } from '../../tools/cli/client.ts';
import { checkRepeatableRead, violatingRequests, type HistoryEvent } from '../../tools/workload/history.ts';
import { ClusterClient, startPlatform, waitFor, type Platform } from '../helpers/platform.ts';

interface DagReply {
  result: unknown;
  hosts: Record<string, string>;
  history?: HistoryEvent[];
}

const READER = 'kitchen.slowSuffix'; // (ms, suffix = {"ref": key}, s): reads the key, then waits ms
const REREADER = 'kitchen.slowPrefix'; // (ms, prefix = {"ref": key}, s): reads the key again on its host

const ev = (rid: string, step: string, op: 'r' | 'w', key: string, v: string, i = 0): HistoryEvent => ({ rid, step, host: 'h', i, op, key, v });

describe('the history checker', () => {
  it('finds two reads of one key in one request that saw different versions', () => {
    expect(checkRepeatableRead([ev('a', 'f', 'r', 'k', '1'), ev('a', 'g', 'r', 'k', '1'), ev('b', 'f', 'r', 'k', '2')])).toEqual([]);
    const bad = checkRepeatableRead([ev('a', 'f', 'r', 'k', '1'), ev('a', 'g', 'r', 'k', '2')]);
    expect(bad).toHaveLength(1);
    expect(bad[0]).toMatchObject({ rid: 'a', key: 'k', first: { v: '1' }, later: { v: '2', step: 'g' } });
  });

  it('lets a request read its own write', () => {
    expect(checkRepeatableRead([ev('a', 'f', 'r', 'k', '1'), ev('a', 'f', 'w', 'k', '2'), ev('a', 'g', 'r', 'k', '2')])).toEqual([]);
    expect(violatingRequests([ev('a', 'f', 'r', 'k', '1'), ev('a', 'g', 'r', 'k', '3'), ev('b', 'f', 'r', 'k', '1')])).toEqual({ requests: 2, violating: 1 });
  });
});

describe('rr snapshots', () => {
  it('are held per request, released on demand, and expire with their request', async () => {
    const link = new PeerLink();
    const s = new Snapshots('h1', link);
    s.store('r1', [{ key: 'k', version: 'a', bytes: new Uint8Array([1, 2]) }, { key: 'gone', version: '-', bytes: null }], 60_000);
    s.store('r2', [{ key: 'k', version: 'b', bytes: new Uint8Array([3]) }], 50);
    expect(s.stats()).toEqual({ requests: 2, entries: 3, bytes: 3 });
    expect(await s.fetch('r1', 'k', { version: 'a', host: 'h1', url: '' })).toEqual(new Uint8Array([1, 2]));
    expect(await s.fetch('r1', 'gone', { version: '-', host: 'h1', url: '' })).toBeNull();
    await expect(s.fetch('r1', 'k', { version: 'zz', host: 'h1', url: '' })).rejects.toMatchObject({ code: 'INTERNAL' });
    s.release('r1');
    await new Promise((r) => setTimeout(r, 120));
    expect(s.stats()).toEqual({ requests: 0, entries: 0, bytes: 0 });
    await link.close();
  });

  it('the mode: lww by default, rr, causal, nothing else', () => {
    expect(parseConsistency(undefined)).toBe('lww');
    expect(parseConsistency('rr')).toBe('rr');
    expect(parseConsistency('causal')).toBe('causal');
    expect(() => parseConsistency('RR')).toThrow(/"lww", "rr" or "causal"/);
  });
});

describe('repeatable read across hosts (two in-process hosts, one KV node)', () => {
  let p: Platform;
  let b: Host;
  let c: Host;
  let bClient: HostClient;
  let cClient: HostClient;
  let bInternal: HostClient;
  let cInternal: HostClient;

  beforeAll(async () => {
    p = await startPlatform({ workers: 2, explore: 0, publishIntervalMs: 100 });
    b = await startHost({ ...p.auth, workers: 2, explore: 0, publishIntervalMs: 100, dataDir: join(p.dataDir, 'host-b'), kvsUrl: p.kv.url, port: 0, onGuestLog: () => undefined });
    c = await startHost({ ...p.auth, workers: 2, explore: 0, publishIntervalMs: 100, dataDir: join(p.dataDir, 'host-c'), kvsUrl: p.kv.url, port: 0, onGuestLog: () => undefined });
    bClient = new HostClient(b.url, { token: p.token });
    cClient = new HostClient(c.url, { token: p.token });
    bInternal = new ClusterClient(b.url, p.clusterSecret!);
    cInternal = new ClusterClient(c.url, p.clusterSecret!);
    await p.deploy('kitchen');
    await p.deploy('chain');
    await waitFor(() => p.client.json<{ peers: { id: string }[] }>('GET', '/v1/cluster'), (v) => v.peers.length === 2, 10_000, 'hosts B and C in A\'s view');
    await p.client.json('PUT', '/v1/dags/rr3', { functions: [READER, REREADER, 'kitchen.concat'], edges: [[READER, REREADER], [REREADER, 'kitchen.concat']] });
    await p.client.json('PUT', '/v1/dags/rr2', { functions: [READER, REREADER], edges: [[READER, REREADER]] });
  });
  afterAll(async () => {
    await bClient.close();
    await cClient.close();
    await bInternal.close();
    await cInternal.close();
    await b.close();
    await c.close();
    await p.stop();
    await rm(p.dataDir, { recursive: true, force: true });
  });

  /**
   * Step 1 on host A reads `key`, then waits; meanwhile a writer changes the key through host B;
   * step 2 on host B reads the key again. Answers "{B's read}{A's read}" and the history.
   */
  async function race(key: string, consistency?: string): Promise<DagReply> {
    await p.client.request('PUT', `/v1/kv/${key}`, 'old');
    const body = {
      args: { [READER]: [600, { ref: key }, ''], [REREADER]: [0, { ref: key }] },
      placement: { [READER]: p.host.id, [REREADER]: b.id },
      ...(consistency ? { consistency } : {}),
    };
    const call = p.client.json<DagReply>('POST', '/v1/dags/rr2/call?history=1', body);
    await new Promise((r) => setTimeout(r, 200));
    await bClient.request('PUT', `/v1/kv/${key}`, 'new');
    return call;
  }

  it('under lww, a later step on another host sees the concurrent write: the checker finds it', async () => {
    const out = await race('rr-lww');
    expect(out.result).toBe('newold');
    expect(out.hosts).toEqual({ [READER]: p.host.id, [REREADER]: b.id });
    const reads = out.history!.filter((e) => e.op === 'r');
    expect(reads.map((e) => e.step)).toEqual([READER, REREADER]);
    const bad = checkRepeatableRead(out.history!);
    expect(bad).toHaveLength(1);
    expect(bad[0]).toMatchObject({ key: 'default/k/rr-lww', first: { host: p.host.id }, later: { host: b.id } });
  });

  it('under rr, the later step reads the version the request read first, fetched from the upstream host', async () => {
    for (let i = 0; i < 3; i++) {
      const out = await race(`rr-rr-${i}`, 'rr');
      expect(out.result).toBe('oldold');
      expect(out.history!.filter((e) => e.op === 'r')).toHaveLength(2);
      expect(checkRepeatableRead(out.history!)).toEqual([]);
      // Host B itself holds the new version: the request did not change the cache.
      expect((await bClient.json<{ value: string }>('GET', `/v1/kv/rr-rr-${i}`)).value).toBe('new');
    }
  });

  /** Three steps on three hosts, a writer changing the key every 15 ms through B and C meanwhile. */
  async function load(key: string, consistency: string, n: number): Promise<HistoryEvent[]> {
    await p.client.request('PUT', `/v1/kv/${key}`, 'v0');
    let writing = true;
    const writer = (async () => {
      for (let i = 1; writing; i++) {
        await (i % 2 === 0 ? bClient : cClient).request('PUT', `/v1/kv/${key}`, `v${i}`);
        await new Promise((r) => setTimeout(r, 15));
      }
    })();
    const outs = await Promise.all(Array.from({ length: n }, (_, i) => p.client.json<DagReply>('POST', '/v1/dags/rr3/call?history=1', {
      args: { [READER]: [100 + 20 * (i % 5), { ref: key }, ''], [REREADER]: [50, { ref: key }], 'kitchen.concat': [{ ref: key }] },
      placement: { [READER]: p.host.id, [REREADER]: b.id, 'kitchen.concat': c.id },
      consistency,
    })));
    writing = false;
    await writer;
    return outs.flatMap((o) => o.history!);
  }

  it('three steps on three hosts under a concurrent writer: rr has no violation, lww has some', async () => {
    const rr = await load('rr-load', 'rr', 12);
    expect(violatingRequests(rr)).toEqual({ requests: 12, violating: 0 });
    expect(rr.filter((e) => e.op === 'r')).toHaveLength(36);
    const lww = await load('rr-load', 'lww', 12);
    const counted = violatingRequests(lww);
    expect(counted.requests).toBe(12);
    expect(counted.violating).toBeGreaterThan(0);
    console.log(`3 steps on 3 hosts, a writer every 15 ms: ${counted.violating} of 12 lww requests violated repeatable read, 0 of 12 rr requests`);
  });

  it('snapshots are released on every host when the request ends', async () => {
    await race('rr-gc', 'rr');
    for (const client of [p.internal, bInternal, cInternal]) {
      await waitFor(() => client.json<{ requests: number; entries: number }>('GET', '/v1/internal/dag/snapshots'), (s) => s.requests === 0 && s.entries === 0, 5000, 'snapshots released');
    }
    await expect(bInternal.json('POST', '/v1/internal/dag/snapshot', { rid: 'nope', key: 'default/k/rr-gc', v: 'x' })).rejects.toMatchObject({ code: 'INTERNAL' });
    const metrics = (await p.client.request('GET', '/metrics')).body.toString();
    expect(metrics).toMatch(/^cloudburst_rr_snapshots_held 0$/m);
  });

  it('lww requests record nothing and hold no snapshots', async () => {
    const out = await p.client.json<DagReply>('POST', '/v1/dags/rr2/call', {
      args: { [READER]: [0, { ref: 'rr-lww' }, ''], [REREADER]: [0, { ref: 'rr-lww' }] },
      placement: { [READER]: p.host.id, [REREADER]: b.id },
    });
    expect(out.history).toBeUndefined();
    expect(await bInternal.json('GET', '/v1/internal/dag/snapshots')).toMatchObject({ requests: 0 });
  });

  it('a single call: rr accepted, history recorded with versions', async () => {
    await p.client.request('PUT', '/v1/kv/rr-one', 'v1');
    const out = await p.client.json<{ result: string; history: HistoryEvent[] }>('POST', '/v1/functions/kitchen.putGet/call?history=1', { args: ['rr-one', 'v2'], consistency: 'rr' });
    expect(out.result).toBe('v2');
    const ops = out.history.map((e) => e.op);
    expect(ops[ops.length - 1]).toBe('w');
    expect(checkRepeatableRead(out.history)).toEqual([]);
    expect(out.history.every((e) => e.step === 'kitchen.putGet' && e.host === p.host.id && e.key === 'default/k/rr-one')).toBe(true);
  });

  it('a single call under rr reads one version of a key throughout, even after its view moved on', async () => {
    const once = async (key: string, consistency: string): Promise<{ result: string; history: HistoryEvent[] }> => {
      await p.client.request('PUT', `/v1/kv/${key}`, 'old');
      const call = p.client.json<{ result: string; history: HistoryEvent[] }>('POST', '/v1/functions/kitchen.readTwice/call?history=1', { args: [key, 500], consistency });
      await new Promise((r) => setTimeout(r, 150));
      await p.client.request('PUT', `/v1/kv/${key}`, 'new');
      return call;
    };
    const lww = await once('rr-twice-lww', 'lww');
    expect(lww.result).toBe('old|new');
    expect(checkRepeatableRead(lww.history)).toHaveLength(1);
    const rr = await once('rr-twice-rr', 'rr');
    expect(rr.result).toBe('old|old');
    expect(rr.history.filter((e) => e.op === 'r')).toHaveLength(2);
    expect(checkRepeatableRead(rr.history)).toEqual([]);
  });

  it('under rr, a later step reads the request\'s own write, not the version it read first', async () => {
    await p.client.json('PUT', '/v1/dags/rr-ryw', { functions: ['kitchen.putGet', REREADER], edges: [['kitchen.putGet', REREADER]] });
    await p.client.request('PUT', '/v1/kv/rr-ryw', 'old');
    const out = await p.client.json<DagReply>('POST', '/v1/dags/rr-ryw/call?history=1', {
      args: { 'kitchen.putGet': ['rr-ryw', 'mine'], [REREADER]: [0, { ref: 'rr-ryw' }] },
      placement: { 'kitchen.putGet': p.host.id, [REREADER]: b.id },
      consistency: 'rr',
    });
    expect(out.result).toBe('minemine');
    expect(checkRepeatableRead(out.history!)).toEqual([]);
  });

  /**
   * A diamond: after s1, branch L (s2, on A) reads `key` at once; branch R waits 600 ms on B
   * (slowSuffix), then s3 (on B) reads `key`; a writer changes it through B meanwhile.
   */
  async function diamond(key: string, consistency: string): Promise<DagReply> {
    await p.client.json('PUT', '/v1/dags/rr-diamond', {
      functions: ['chain.s1', 'chain.s2', 'kitchen.slowSuffix', 'chain.s3', 'kitchen.concat'],
      edges: [['chain.s1', 'chain.s2'], ['chain.s1', 'kitchen.slowSuffix'], ['kitchen.slowSuffix', 'chain.s3'], ['chain.s2', 'kitchen.concat'], ['chain.s3', 'kitchen.concat']],
    });
    await p.client.request('PUT', `/v1/kv/${key}`, 'old');
    await bClient.json('GET', `/v1/kv/${key}`); // B caches it: the write through B updates B's cache at once
    const call = p.client.json<DagReply>('POST', '/v1/dags/rr-diamond/call?history=1', {
      args: { 'chain.s1': ['d-x', 'd-y'], 'chain.s2': [key, 'd-y'], 'kitchen.slowSuffix': [600, '/'], 'chain.s3': [key, 'd-y'], 'kitchen.concat': [] },
      placement: { 'chain.s1': p.host.id, 'chain.s2': p.host.id, 'kitchen.slowSuffix': b.id, 'chain.s3': b.id, 'kitchen.concat': c.id },
      consistency,
    });
    await new Promise((r) => setTimeout(r, 200));
    await bClient.request('PUT', `/v1/kv/${key}`, 'new');
    return call;
  }

  it('rr across parallel branches: both branches read the version the first one read (agreed with the coordinator)', async () => {
    const lww = await diamond('rr-diamond-lww', 'lww');
    expect(lww.result).toBe('|-,-|old,-|-,-/|new,-');
    expect(checkRepeatableRead(lww.history!)).toHaveLength(1);
    const rr = await diamond('rr-diamond-rr', 'rr');
    expect(rr.result).toBe('|-,-|old,-|-,-/|old,-');
    expect(checkRepeatableRead(rr.history!)).toEqual([]);
    for (const client of [p.internal, bInternal, cInternal]) {
      await waitFor(() => client.json<{ requests: number }>('GET', '/v1/internal/dag/snapshots'), (s) => s.requests === 0, 5000, 'snapshots released');
    }
  });

  it('a pin with a malformed body is INVALID_REQUEST; one for a run that is not running is INTERNAL', async () => {
    for (const body of [{}, { rid: 'r', key: 'k' }, { rid: 'r', key: 'k', v: 1, host: 'h', url: 'u' }]) {
      await expect(p.internal.json('POST', '/v1/internal/dag/pin', body)).rejects.toMatchObject({ code: 'INVALID_REQUEST' });
    }
    await expect(p.internal.json('POST', '/v1/internal/dag/pin', { rid: 'no-such-run', key: 'default/k/x', v: '-', host: 'h', url: 'http://x' }))
      .rejects.toMatchObject({ code: 'INTERNAL', message: expect.stringContaining('not running here') });
  });

  it('invalid consistency values are refused', async () => {
    for (const [path, base] of [
      ['/v1/functions/kitchen.echoString/call', { args: ['x'] }],
      ['/v1/dags/rr2/call', { args: { [READER]: [0, 'x', ''], [REREADER]: [0, 'y'] } }],
    ] as const) {
      await expect(p.client.json('POST', path, { ...base, consistency: 'causal' })).resolves.toBeDefined();
      await expect(p.client.json('POST', path, { ...base, consistency: 'strong' })).rejects.toMatchObject({ code: 'INVALID_REQUEST' });
      await expect(p.client.json('POST', path, { ...base, consistency: 3 })).rejects.toMatchObject({ code: 'INVALID_REQUEST' });
      await expect(p.client.json('POST', path, { ...base, consistency: 'lww' })).resolves.toBeDefined();
    }
  });
});
