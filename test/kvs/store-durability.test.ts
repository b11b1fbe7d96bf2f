// Acknowledged writes survive kill -9: a LatticeStore in a child process, and a KV node.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CloudburstError } from '../../common/index.ts';
import { counter, gset, KvClient, LatticeStore, type Counter, type GSet, type Lattice } from '../../kvs/index.ts';
import { secretEnv } from '../../tools/cli/cluster-secret.ts';
import { testSecret } from '../helpers/cluster-secret.ts';
import { bundleChild, spawnChild } from './child.ts';

const te = new TextEncoder();
const members = (l: Lattice | undefined) => (l as GSet).members.map((m) => Buffer.from(m).toString());

const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'cloudburst-kvs-'));
  dirs.push(dir);
  return dir;
}
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

describe('durability after kill -9', () => {
  let script: string;
  beforeAll(async () => {
    script = await bundleChild(await tempDir());
  });

  for (const fsync of ['batch', 'off'] as const) {
    it(`LatticeStore: every acknowledged merge survives SIGKILL (fsync ${fsync})`, async () => {
      const dir = await tempDir();
      const child = spawnChild(script, ['store', dir, fsync]);
      try {
        await child.waitFor((l) => l === 'ack 150');
      } finally {
        await child.kill();
      }
      const acked = child.lines.filter((l) => l.startsWith('ack ')).map((l) => Number(l.slice(4)));
      const store = LatticeStore.open({ path: dir });
      try {
        const sets = Array.from({ length: 16 }, (_, i) => new Set(members(store.get(`set/${i}`))));
        for (const n of acked) expect(sets[n % 16]!.has(`m${n}`), `m${n}`).toBe(true);
        expect(counter.total(store.get('counter') as Counter)).toBeGreaterThanOrEqual(BigInt(acked.length));
      } finally {
        await store.close();
      }
    });
  }

  it('KV node: every acknowledged PUT survives SIGKILL of the node', async () => {
    const dir = await tempDir();
    const secret = testSecret();
    const child = spawnChild(script, ['server', dir, 'batch'], secretEnv(secret));
    const acked: number[] = [];
    let client: KvClient | undefined;
    try {
      const url = (await child.waitFor((l) => l.startsWith('url '))).slice(4);
      client = new KvClient({ url, timeoutMs: 2000, clusterSecret: secret });
      const kv = client;
      let stop = false;
      // 8 writers keep requests in flight, so the kill lands mid-write.
      const writers = Array.from({ length: 8 }, async (_, w) => {
        for (let i = 0; !stop; i++) {
          const n = i * 8 + w;
          try {
            await kv.merge(`k/${n % 32}`, gset.add(undefined, te.encode(`m${n}`)));
            acked.push(n);
          } catch (err) {
            expect((err as CloudburstError).code).toBe('KV_UNAVAILABLE');
            return;
          }
        }
      });
      while (acked.length < 300) await new Promise((r) => setTimeout(r, 5));
      await child.kill();
      stop = true;
      await Promise.all(writers);
    } finally {
      await child.kill();
      await client?.close();
    }
    const store = LatticeStore.open({ path: join(dir, 'store') });
    try {
      for (const n of acked) expect(members(store.get(`k/${n % 32}`)), `m${n}`).toContain(`m${n}`);
    } finally {
      await store.close();
    }
  });
});
