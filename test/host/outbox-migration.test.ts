// A host restarted on a data folder of the old outbox layout (outbox-v1: one 8-byte mark per
// dirty key, as hosts before one-record-per-commit wrote it) loses nothing: the cache is
// migrated at open, and every key the old host had marked reaches the KV tier.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { open } from 'lmdb';
import { afterEach, describe, expect, it } from 'vitest';
import { counter, encode, Hlc, lww, type Lattice } from '../../kvs/index.ts';
import { metric, startPlatform, tempDir, type Platform } from '../helpers/platform.ts';

describe('a host on a cache folder of the old outbox layout', () => {
  let p: Platform | undefined;
  afterEach(async () => {
    await p?.stop();
    p = undefined;
  });

  it('flushes every key the old outbox marked, and only those', async () => {
    const dataDir = await tempDir('cb-outbox-v1-');
    const cachePath = join(dataDir, 'host', 'cache');
    await mkdir(cachePath, { recursive: true });
    const hlc = new Hlc('old-host/w0');
    const dirty = new Map<string, Lattice>([
      ['default/k/old-a', lww.write(new TextEncoder().encode('a from the old host'), hlc.now())],
      ['default/k/old-n', counter.add(undefined, 'old-host/w0', 41n)],
    ]);
    const clean = lww.write(new TextEncoder().encode('already in the tier'), hlc.now());
    // The folder exactly as the old HostCache left it after a kill -9 with two dirty keys.
    const env = open({ path: cachePath, encoding: 'binary', maxDbs: 8 });
    const values = env.openDB<Uint8Array, string>('values-v1', { encoding: 'binary' });
    const outboxV1 = env.openDB<Uint8Array, string>('outbox-v1', { encoding: 'binary' });
    for (const [k, v] of dirty) {
      await values.put(k, encode(v));
      await outboxV1.put(k, Buffer.alloc(8, 9));
    }
    await values.put('default/k/old-clean', encode(clean));
    await env.close();

    p = await startPlatform({ dataDir });
    const platform = p;
    await expect.poll(() => platform.kv.store.get('default/k/old-a'), { timeout: 30_000 }).toMatchObject({ type: 'lww' });
    await expect.poll(() => platform.kv.store.get('default/k/old-n'), { timeout: 30_000 }).toMatchObject({ type: 'counter' });
    expect(await platform.client.json('GET', '/v1/kv/old-a')).toMatchObject({ type: 'lww', value: 'a from the old host' });
    await expect.poll(() => metric(platform.client, 'cloudburst_outbox_keys'), { timeout: 30_000 }).toBe(0);
    // A key the old outbox did not mark was clean: it is not sent.
    expect(platform.kv.store.get('default/k/old-clean')).toBeUndefined();
  });
});
