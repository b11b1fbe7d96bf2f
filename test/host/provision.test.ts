import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Hlc, KvClient, startKvNode, type KvNode } from '../../kvs/index.ts';
import { AuthStore } from '../../host/auth/auth-store.ts';
import { provisionAdminToken } from '../../host/auth/provision.ts';
import { tokenHash } from '../../host/auth/records.ts';
import { testSecret } from '../helpers/cluster-secret.ts';
import { tempDir } from '../helpers/platform.ts';

// The admin token of `cloudburst up` lives in the data folder; the tier behind it may change
// (the embedded node, then `up --kvs-nodes 3` on the same folder, or a tier started afresh).
describe('the embedded admin token across tiers', () => {
  const clusterSecret = testSecret();
  let dir: string;
  let tiers: { node: KvNode; kv: KvClient; store: AuthStore }[];
  beforeAll(async () => {
    dir = await tempDir('cb-provision-');
    tiers = await Promise.all(['a', 'b'].map(async (name) => {
      const node = await startKvNode({ dataDir: join(dir, name), port: 0, clusterSecret });
      const kv = new KvClient({ url: node.url, clusterSecret });
      return { node, kv, store: new AuthStore(kv, new Hlc(`test/${name}`)) };
    }));
  });
  afterAll(async () => {
    for (const t of tiers) {
      await t.kv.close();
      await t.node.close();
    }
    await rm(dir, { recursive: true, force: true });
  });

  it('a tier that never saw the file\'s token gets its record, so the token the CLI holds keeps working; a revoked one is replaced', async () => {
    const [a, b] = tiers as [(typeof tiers)[0], (typeof tiers)[0]];
    const file = join(dir, 'admin-token');
    const token = await provisionAdminToken(a.kv, file);
    expect((await readFile(file, 'utf8')).trim()).toBe(token);
    const hash = tokenHash(token).toString('hex');
    expect(await b.store.token(hash)).toBeUndefined();
    // Tier b is new to this data folder: the same token, now known there too.
    expect(await provisionAdminToken(b.kv, file)).toBe(token);
    expect(await b.store.token(hash)).toMatchObject({ name: 'admin', tenant: 'default', scopes: ['admin'] });
    expect((await b.store.tokens()).filter((t) => t.name === 'admin')).toHaveLength(1);
    // Once more changes nothing.
    expect(await provisionAdminToken(b.kv, file)).toBe(token);
    expect((await b.store.tokens()).filter((t) => t.name === 'admin')).toHaveLength(1);
    // Revoked in the tier: the file's token is dead, a new one replaces it.
    await b.store.revokeToken('admin');
    const fresh = await provisionAdminToken(b.kv, file);
    expect(fresh).not.toBe(token);
    expect((await readFile(file, 'utf8')).trim()).toBe(fresh);
    expect(await b.store.token(tokenHash(fresh).toString('hex'))).toMatchObject({ name: 'admin' });
  });
});
