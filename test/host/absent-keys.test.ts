// Negative caching (host/cache/absent-keys.ts): a key a guest reads that the KV tier has no
// value for is not asked of the tier again on every call; a write of it anywhere still reaches
// the guest (the host subscribes to the key while it remembers it absent).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KvClient, lww } from '../../kvs/index.ts';
import { metric, startPlatform, waitFor, type Platform } from '../helpers/platform.ts';

const read = (p: Platform, key: string): Promise<unknown> => p.call('kitchen.getOr', [key, 'none']);

/**
 * Deploys the guest and writes once: the tenant's state ledger is then in the cache, so the
 * only reads of the tier that follow are the guests' (quotas read a ledger the cache lacks).
 */
async function ready(p: Platform): Promise<void> {
  await p.deploy('kitchen');
  expect(await p.call('kitchen.putGet', ['warm', 'w'])).toBe('w');
}

describe('a key the tier has no value for, read by guests', () => {
  let p: Platform;
  let kv: KvClient;
  beforeAll(async () => {
    p = await startPlatform({ absentTtlMs: 60_000 });
    await ready(p);
    kv = new KvClient({ url: p.kv.url, clusterSecret: p.clusterSecret });
  });
  afterAll(async () => {
    await kv.close();
    await p.stop();
  });

  it('is asked of the tier once, not on every call', async () => {
    const before = await metric(p.client, 'cloudburst_tier_reads_total');
    for (let i = 0; i < 10; i++) expect(await read(p, 'never-written')).toBe('none');
    expect((await metric(p.client, 'cloudburst_tier_reads_total')) - before).toBe(1);
    expect(await metric(p.client, 'cloudburst_absent_hits_total')).toBeGreaterThanOrEqual(9);
    expect(await metric(p.client, 'cloudburst_absent_keys')).toBeGreaterThanOrEqual(1);
  });

  it("another writer's first write reaches the guest (pushed), without waiting for the absence to expire", async () => {
    expect(await read(p, 'written-elsewhere')).toBe('none');
    // The subscription is made in the background: wait for it, as a cached key's would be.
    await waitFor(() => metric(p.client, 'cloudburst_subscribed_keys'), (n) => n >= 2, 10_000, 'the absent keys subscribed');
    // A write straight to the tier, as another host's flush would be (the 60 s absence is not waited out).
    await kv.merge('default/k/written-elsewhere', lww.write(Buffer.from('there'), { ms: Date.now(), c: 0, writer: 'another-host' }));
    await waitFor(() => read(p, 'written-elsewhere'), (v) => v === 'there', 10_000, 'the write to reach the guest');
  });

  it("this host's own write is read back at once", async () => {
    expect(await read(p, 'written-here')).toBe('none');
    expect(await p.call('kitchen.putGet', ['written-here', 'mine'])).toBe('mine');
    expect(await read(p, 'written-here')).toBe('mine');
  });

  it('a host read of the key (GET /v1/kv) still asks the tier: only guests\' reads are answered from the absences', async () => {
    expect(await read(p, 'host-read')).toBe('none');
    await kv.merge('default/k/host-read', lww.write(Buffer.from('x'), { ms: Date.now(), c: 0, writer: 'another-host' }));
    expect((await p.client.request('GET', '/v1/kv/host-read')).status).toBe(200);
  });
});

describe('absences expire, or are not kept at all', () => {
  it('after absentTtlMs the tier is asked again; with 0 it is asked every time', async () => {
    for (const [ttl, calls, reads] of [[300, 2, 1], [0, 5, 5]] as const) {
      const p = await startPlatform({ absentTtlMs: ttl });
      try {
        await ready(p);
        const before = await metric(p.client, 'cloudburst_tier_reads_total');
        for (let i = 0; i < calls; i++) expect(await read(p, 'nothing')).toBe('none');
        expect((await metric(p.client, 'cloudburst_tier_reads_total')) - before, `absentTtlMs ${ttl}`).toBe(reads);
        if (ttl > 0) {
          await new Promise((r) => setTimeout(r, ttl + 50));
          expect(await read(p, 'nothing')).toBe('none');
          expect((await metric(p.client, 'cloudburst_tier_reads_total')) - before).toBe(reads + 1);
        }
      } finally {
        await p.stop();
      }
    }
  });
});
