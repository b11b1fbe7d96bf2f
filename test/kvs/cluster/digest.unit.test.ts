import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DigestIndex, differingBuckets, digestFromWire, digestToWire } from '../../../kvs/cluster/digest.ts';
import { Ring } from '../../../kvs/cluster/ring.ts';
import { LatticeStore, max } from '../../../kvs/index.ts';

let dir: string;
let store: LatticeStore;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cloudburst-kvs-digest-'));
  store = LatticeStore.open({ path: dir, fsync: 'off' });
});
afterAll(async () => {
  await store?.close();
  await rm(dir, { recursive: true, force: true });
});

const ring = new Ring(['a', 'b', 'c', 'd'].map((id) => ({ id, url: `http://${id}:1` })), { replication: 3 });

describe('anti-entropy digests', () => {
  it('digest: the incrementally maintained digest equals one built from scratch', async () => {
    const index = new DigestIndex(store);
    for (let i = 0; i < 500; i++) await store.merge(`d/${i}`, max.put(undefined, BigInt(i)));
    const before = index.digest('a', 'b', ring);
    for (let i = 0; i < 500; i += 3) await store.merge(`d/${i}`, max.put(undefined, BigInt(i + 1000)));
    for (let i = 1; i < 500; i += 7) await store.drop(`d/${i}`, store.getEncoded(`d/${i}`)!);
    for (let i = 500; i < 600; i++) await store.merge(`d/${i}`, max.put(undefined, 1n));
    const fresh = new DigestIndex(store);
    for (const peer of ['b', 'c', 'd']) expect(index.digest('a', peer, ring)).toEqual(fresh.digest('a', peer, ring));
    expect(differingBuckets(before, index.digest('a', 'b', ring)).length).toBeGreaterThan(0);
    // A new ring object rebuilds the cache, with the same result.
    const again = new Ring([...ring.members], { replication: 3 });
    expect(index.digest('a', 'c', again)).toEqual(fresh.digest('a', 'c', ring));
  });

  it('digest: a single changed key shows up in exactly its bucket, and keysIn lists it', async () => {
    const index = new DigestIndex(store);
    const shared = [...Array(600).keys()].map((i) => `d/${i}`).find((k) => {
      const ids = ring.replicasFor(k).map((m) => m.id);
      return ids.includes('a') && ids.includes('b') && store.get(k) !== undefined;
    })!;
    const before = index.digest('a', 'b', ring);
    await store.merge(shared, max.put(undefined, 99_999n));
    const after = index.digest('a', 'b', ring);
    const differ = differingBuckets(before, after);
    expect(differ).toHaveLength(1);
    expect(index.keysIn('a', 'b', ring, new Set(differ))).toContain(shared);
    expect(digestFromWire(digestToWire(after))).toEqual(after);
    expect(digestFromWire('short')).toBeUndefined();
  });
});
