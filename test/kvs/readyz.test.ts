// GET /kv/v1/readyz (kvs/README.md, "Leaving or restarting"): 503 NOT_READY until the node has
// joined its ring, 200 then, 503 SHUTTING_DOWN while it stops; /kv/v1/healthz is liveness.
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Pool } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { KV_PATHS, startKvNode, type KvNode } from '../../kvs/index.ts';
import { testSecret } from '../helpers/cluster-secret.ts';
import { freePort, tempDir } from '../helpers/platform.ts';

async function readyz(url: string): Promise<{ status: number; code: string | undefined }> {
  const res = await fetch(`${url}${KV_PATHS.readyz}`);
  const body = (await res.json()) as { error?: { code: string } };
  return { status: res.status, code: body.error?.code };
}

describe('KV node readiness: GET /kv/v1/readyz', () => {
  const cleanup: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });

  it('is 503 NOT_READY while a new node has not joined (its seed is not there yet), 200 once it joined; healthz is 200 throughout', async () => {
    const dir = await tempDir('cb-kv-readyz-');
    cleanup.push(() => rm(dir, { recursive: true, force: true }));
    const clusterSecret = testSecret();
    const [seedPort, port] = [await freePort(), await freePort()];
    const url = `http://127.0.0.1:${port}`;
    const joining = startKvNode({ dataDir: join(dir, 'b'), port, seeds: [`http://127.0.0.1:${seedPort}`], clusterSecret, joinTimeoutMs: 30_000 });
    const joined: Promise<KvNode | undefined> = joining.catch(() => undefined);
    cleanup.push(async () => (await joined)?.close());
    await expect.poll(async () => (await readyz(url).catch(() => undefined))?.code, { timeout: 10_000, interval: 50 }).toBe('NOT_READY');
    expect((await fetch(`${url}${KV_PATHS.healthz}`)).status).toBe(200);

    const seed = await startKvNode({ dataDir: join(dir, 'a'), port: seedPort, clusterSecret });
    cleanup.push(() => seed.close());
    await joining;
    expect(await readyz(url)).toEqual({ status: 200, code: undefined });
    expect(await readyz(seed.url)).toEqual({ status: 200, code: undefined });
  });

  it('is 503 SHUTTING_DOWN to a probe on an open connection while the node closes', async () => {
    const dir = await tempDir('cb-kv-readyz-close-');
    cleanup.push(() => rm(dir, { recursive: true, force: true }));
    const node = await startKvNode({ dataDir: dir, port: 0, clusterSecret: testSecret() });
    const pool = new Pool(node.url, { connections: 1 });
    cleanup.push(() => pool.close());
    const first = await pool.request({ method: 'GET', path: KV_PATHS.readyz });
    expect(first.statusCode).toBe(200);
    await first.body.dump();
    const closing = node.close();
    // The connection is kept open through the drain's grace: the probe on it is answered.
    const during = await pool.request({ method: 'GET', path: KV_PATHS.readyz });
    expect({ status: during.statusCode, code: ((await during.body.json()) as { error?: { code: string } }).error?.code }).toEqual({ status: 503, code: 'SHUTTING_DOWN' });
    await closing;
  });
});
