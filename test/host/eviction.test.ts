import { join } from 'node:path';
import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHost, type Host } from '../../host/index.ts';
import { startKvNode, type KvNode } from '../../kvs/index.ts';
import { HostClient } from '../../tools/cli/client.ts';
import { guestBytes, tempDir, clusterAuth, adminToken } from '../helpers/platform.ts';

const BUDGET = 96 * 1024;

function gauge(text: string, name: string): number {
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : Number.NaN;
}

describe('host cache: a budget much smaller than the data', () => {
  let dir: string;
  let kv: KvNode;
  let host: Host;
  let client: HostClient;

  beforeAll(async () => {
    dir = await tempDir('cb-evict-');
    const auth = clusterAuth(dir);
    kv = await startKvNode({ dataDir: join(dir, 'kv'), port: 0, ...auth });
    const token = await adminToken(kv.url, auth.clusterSecret, dir);
    host = await startHost({ ...auth, dataDir: join(dir, 'host'), kvsUrl: kv.url, port: 0, workers: 2, cacheMiB: BUDGET / (1024 * 1024), onGuestLog: () => undefined });
    client = new HostClient(host.url, { token });
    await client.json('PUT', '/v1/modules/kitchen', guestBytes('kitchen'), true);
  });
  afterAll(async () => {
    await client.close();
    await host.close();
    await kv.close();
    await rm(dir, { recursive: true, force: true });
  });

  const value = (i: number) => `value-${i}-`.padEnd(1000, '#');
  const put = (key: string, v: string) => client.json('POST', '/v1/functions/kitchen.putOnly/call', { args: [key, v] });
  const get = async (key: string) => (await client.json<{ result: string }>('POST', '/v1/functions/kitchen.getOr/call', { args: [key, '<absent>'] })).result;
  const metrics = async () => (await client.request('GET', '/metrics')).body.toString();

  it('evicts clean keys to stay within budget, and still answers every read correctly', async () => {
    for (let i = 0; i < 400; i++) await put(`k${i}`, value(i));
    await expect.poll(async () => gauge(await metrics(), 'cloudburst_cache_bytes'), { timeout: 10_000 }).toBeLessThanOrEqual(BUDGET);
    expect(gauge(await metrics(), 'cloudburst_cache_evicted_total')).toBeGreaterThan(200);
    // Every value, evicted or not, reads back right (misses go to the KV tier).
    for (let i = 0; i < 400; i += 7) expect(await get(`k${i}`)).toBe(value(i));
  });

  it('never evicts a write the KV tier has not acknowledged', async () => {
    const port = Number(new URL(kv.url).port);
    await expect.poll(async () => gauge(await metrics(), 'cloudburst_outbox_keys'), { timeout: 10_000 }).toBe(0);
    await kv.close();
    // The tier is down: these writes stay dirty, and the cache goes over its budget rather than lose them.
    for (let i = 0; i < 200; i++) await put(`dirty${i}`, value(i));
    await new Promise((r) => setTimeout(r, 500));
    const text = await metrics();
    // The 200 keys, and the tenant's state-bytes count they added to (host/quotas/state-ledger.ts).
    expect(gauge(text, 'cloudburst_outbox_keys')).toBe(201);
    expect(gauge(text, 'cloudburst_cache_bytes')).toBeGreaterThan(BUDGET);
    for (let i = 0; i < 200; i += 5) expect(await get(`dirty${i}`)).toBe(value(i));
    // The tier comes back: the outbox drains, then the cache shrinks back.
    kv = await startKvNode({ dataDir: join(dir, 'kv'), port, ...clusterAuth(dir) });
    await expect.poll(async () => gauge(await metrics(), 'cloudburst_outbox_keys'), { timeout: 15_000 }).toBe(0);
    await expect.poll(async () => gauge(await metrics(), 'cloudburst_cache_bytes'), { timeout: 10_000 }).toBeLessThanOrEqual(BUDGET);
    for (let i = 0; i < 200; i++) {
      const v = kv.store.get(`default/k/dirty${i}`);
      expect(v?.type === 'lww' && Buffer.from(v.value).toString()).toBe(value(i));
    }
  });
});
