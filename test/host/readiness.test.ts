// GET /readyz of a host (host/README.md, "Readiness and draining") and a host's identity,
// which is one incarnation's: a restart on the same data folder is a new member whose cache
// and outbox are the previous incarnation's.
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startHost, type Host } from '../../host/index.ts';
import { counter, KvClient, startKvNode, type KvNode } from '../../kvs/index.ts';
import { dataDirClusterSecret } from '../../tools/cli/cluster-secret.ts';
import { freePort, metric, startPlatform, tempDir, type Platform } from '../helpers/platform.ts';

const readyz = async (url: string): Promise<{ status: number; code: string | undefined; message: string | undefined; ready: unknown }> => {
  const res = await fetch(`${url}/readyz`);
  const body = (await res.json()) as { ready?: unknown; error?: { code: string; message: string } };
  return { status: res.status, code: body.error?.code, message: body.error?.message, ready: body.ready };
};

describe('host readiness: GET /readyz', () => {
  const cleanup: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });

  it('is 503 NOT_READY until the KV tier is reachable and the host published its record; /healthz is 200 throughout', async () => {
    const dir = await tempDir('cb-readyz-tier-');
    cleanup.push(() => rm(dir, { recursive: true, force: true }));
    const clusterSecret = dataDirClusterSecret(dir);
    // The tier's port is taken only later: until then the host cannot reach it.
    const kvPort = await freePort();
    const host: Host = await startHost({ dataDir: join(dir, 'host'), kvsUrl: `http://127.0.0.1:${kvPort}`, port: 0, workers: 1, clusterSecret, publishIntervalMs: 100 });
    cleanup.push(() => host.close());
    const before = await readyz(host.url);
    expect(before).toMatchObject({ status: 503, code: 'NOT_READY' });
    expect(before.message).toMatch(/KV tier/);
    expect(host.ready).toBe(false);
    expect((await fetch(`${host.url}/healthz`)).status).toBe(200);

    const kv: KvNode = await startKvNode({ dataDir: join(dir, 'kv'), port: kvPort, clusterSecret });
    cleanup.push(() => kv.close());
    await expect.poll(async () => (await readyz(host.url)).status, { timeout: 20_000, interval: 50 }).toBe(200);
    expect(await readyz(host.url)).toMatchObject({ status: 200, ready: true });
    expect(host.ready).toBe(true);
  });

  it('a starter\'s hold keeps it NOT_READY (its reason in the message) until setReady; cloudburst_ready follows', async () => {
    const p: Platform = await startPlatform({ holdReady: 'the examples are being deployed', publishIntervalMs: 100 });
    cleanup.push(() => p.stop());
    // The tier is there: only the hold is left, once the first record is written.
    await expect.poll(async () => (await readyz(p.host.url)).message, { timeout: 10_000, interval: 50 }).toBe('this host is not ready: the examples are being deployed');
    expect(await metric(p.client, 'cloudburst_ready')).toBe(0);
    p.host.setReady();
    expect(await readyz(p.host.url)).toMatchObject({ status: 200, ready: true });
    expect(await metric(p.client, 'cloudburst_ready')).toBe(1);
  });

  it('is 503 SHUTTING_DOWN from the moment the host drains (still accepting connections while its peers learn it leaves), and the drain ends', async () => {
    const p: Platform = await startPlatform({ publishIntervalMs: 250 });
    cleanup.push(() => p.stop());
    await expect.poll(async () => (await readyz(p.host.url)).status, { timeout: 10_000, interval: 50 }).toBe(200);
    const draining = p.host.drain({ timeoutMs: 10_000 });
    // Two publish periods pass before the listener closes: a probe on a new connection is answered.
    const during = await readyz(p.host.url);
    expect(during).toMatchObject({ status: 503, code: 'SHUTTING_DOWN' });
    expect((await fetch(`${p.host.url}/healthz`)).status).toBe(200);
    expect(p.host.ready).toBe(false);
    await draining;
    await expect(fetch(`${p.host.url}/readyz`)).rejects.toThrow();
  });
});

describe('host identity: one per incarnation', () => {
  it('a host restarted on the same data folder has a new id and flushes the outbox its previous incarnation left', async () => {
    const dir = await tempDir('cb-identity-');
    const clusterSecret = dataDirClusterSecret(dir);
    let kv: KvNode | undefined;
    let host: Host | undefined;
    let p: Platform | undefined;
    try {
      p = await startPlatform({ dataDir: dir });
      await p.deploy('kitchen');
      const firstId = p.host.id;
      expect(await p.call('kitchen.counterAdd', ['id-hits', 1])).toBe(1);
      // The tier goes away; a write on a cached key is acknowledged (it is in the outbox)...
      await p.kv.close();
      expect(await p.call('kitchen.counterAdd', ['id-hits', 2])).toBe(3);
      expect(await metric(p.client, 'cloudburst_outbox_keys')).toBeGreaterThanOrEqual(1);
      // ...and the host stops without reaching the tier: the write stays in its outbox.
      await p.client.close();
      await p.internal.close();
      await p.host.close();
      p = undefined;

      kv = await startKvNode({ dataDir: join(dir, 'kv'), port: 0, clusterSecret });
      host = await startHost({ dataDir: join(dir, 'host'), kvsUrl: kv.url, port: 0, workers: 1, clusterSecret, onGuestLog: () => undefined });
      expect(host.id).not.toBe(firstId);
      expect(host.id).toMatch(/^[0-9a-f]{12}$/);
      // The new incarnation flushed the old one's write: the tier has both increments.
      const client = new KvClient({ url: kv.url, clusterSecret });
      try {
        await expect.poll(async () => {
          const v = await client.getFresh('default/k/id-hits');
          return v?.type === 'counter' ? counter.total(v) : undefined;
        }, { timeout: 10_000, interval: 100 }).toBe(3n);
      } finally {
        await client.close();
      }
    } finally {
      await p?.stop(true);
      await host?.close();
      await kv?.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
