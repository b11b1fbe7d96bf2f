// The workers' value memo (host/executor/value-memo.ts, host/cache/versions.ts), with real
// guests on two workers: a plain `get` of a key a worker read before is served from its memo,
// and yet every call that starts after a write is acknowledged reads that write, whoever made
// it (a call on the other worker, PUT/DELETE /v1/kv on the main thread, a push from the tier).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KvClient, lww } from '../../kvs/index.ts';
import { startPlatform, type Platform } from '../helpers/platform.ts';

/** How long each read holds its worker: two reads at once then run on the two workers. */
const HOLD_MS = 150;

describe('a value kept in the workers\' memos', () => {
  let p: Platform;
  let kv: KvClient;
  /** What both workers read of `key` in one go (two calls at once, each holding its worker). */
  const readOnBoth = async (key: string): Promise<unknown[]> =>
    Promise.all([0, 1].map(() => p.call('kitchen.getOrHold', [key, '<absent>', HOLD_MS])));
  /** Reads `key` on both workers three times: the first reads mark it, the second keep it, the third are served from the memos. */
  const warm = async (key: string, value: string): Promise<void> => {
    for (let i = 0; i < 3; i++) expect(await readOnBoth(key)).toEqual([value, value]);
  };

  beforeAll(async () => {
    p = await startPlatform({ workers: 2, maxWorkers: 2 });
    await p.deploy('kitchen');
    kv = new KvClient({ url: p.kv.url, clusterSecret: p.clusterSecret });
  });
  afterAll(async () => {
    await kv.close();
    await p.stop();
  });

  it('is replaced on every worker by a call\'s write on either worker', async () => {
    await p.call('kitchen.putOnly', ['shared', 'v1']);
    await warm('shared', 'v1');
    for (const v of ['v2', 'v3', 'v4']) {
      await p.call('kitchen.putOnly', ['shared', v]);
      expect(await readOnBoth('shared')).toEqual([v, v]);
    }
  });

  it('is replaced by PUT and DELETE /v1/kv (the main thread\'s writes)', async () => {
    expect((await p.client.request('PUT', '/v1/kv/rest', 'r1')).status).toBeLessThan(300);
    await warm('rest', 'r1');
    expect((await p.client.request('PUT', '/v1/kv/rest', 'r2')).status).toBeLessThan(300);
    expect(await readOnBoth('rest')).toEqual(['r2', 'r2']);
    expect((await p.client.request('DELETE', '/v1/kv/rest')).status).toBeLessThan(300);
    expect(await readOnBoth('rest')).toEqual(['<absent>', '<absent>']);
  });

  it('is replaced by a value the KV tier pushes into the cache (another host\'s write)', async () => {
    await p.call('kitchen.putOnly', ['pushed', 'mine']);
    await warm('pushed', 'mine');
    // A later write straight to the tier, as another host's flush would be: pushed to this host.
    await kv.merge('default/k/pushed', lww.write(Buffer.from('theirs'), { ms: Date.now() + 1000, c: 0, writer: 'another-host' }));
    await expect.poll(() => readOnBoth('pushed'), { timeout: 10_000, interval: 50 }).toEqual(['theirs', 'theirs']);
  });

  it('never hides a call\'s own write from itself', async () => {
    await p.call('kitchen.putOnly', ['own', 'before']);
    await warm('own', 'before');
    expect(await p.call('kitchen.putGet', ['own', 'after'])).toBe('after');
    expect(await readOnBoth('own')).toEqual(['after', 'after']);
  });
});
