import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CloudburstError } from '../../common/index.ts';
import { decode, encode, Hlc, gset, LatticeStore, lww, max, type FsyncPolicy, type GSet, type Lattice } from '../../kvs/index.ts';
import { rejection, storeContract, storeFixtures } from '../helpers/store-contract.ts';

const te = new TextEncoder();
const members = (l: Lattice | undefined) => (l as GSet).members.map((m) => Buffer.from(m).toString());

// A small limit, so that the contract's value-limit test runs on small values (the default,
// KV_LIMITS.maxValueBytes, is the KV node's: kvs/client.test.ts runs the contract at it).
const MAX_VALUE_BYTES = 4096;

// Each policy has its own commit path (see kvs/store.ts), so each runs the whole contract.
for (const fsync of ['batch', 'always', 'off'] as const satisfies readonly FsyncPolicy[]) {
  storeContract({
    name: `LatticeStore (fsync ${fsync})`,
    maxValueBytes: MAX_VALUE_BYTES,
    open: async (path) => {
      const store = LatticeStore.open({ path, fsync, maxValueBytes: MAX_VALUE_BYTES });
      return {
        merge: (key, value) => store.merge(key, value),
        get: async (key) => store.get(key),
        getEncoded: async (key) => store.getEncoded(key),
        close: () => store.close(),
      };
    },
  });
}

// What LatticeStore adds to the contract: key rules, batches, key counts, its closed state.
describe('LatticeStore', () => {
  const { tempDir, track } = storeFixtures<LatticeStore>();
  const fresh = async (): Promise<LatticeStore> => track(LatticeStore.open({ path: await tempDir() }));

  it('LatticeStore: invalid keys are INVALID_KEY', async () => {
    const store = await fresh();
    for (const key of ['', 'x'.repeat(1025), 'é'.repeat(513), '\ud800']) {
      expect((await rejection(store.merge(key, max.put(undefined, 1n)))).code).toBe('INVALID_KEY');
      expect(() => store.get(key)).toThrow(expect.objectContaining({ code: 'INVALID_KEY' }));
    }
    await store.merge('x'.repeat(1024), max.put(undefined, 1n));
    expect(store.keyCount()).toBe(1);
  });

  it('LatticeStore: mergeMany merges the valid entries and reports the others in place', async () => {
    const store = await fresh();
    await store.merge('typed', max.put(undefined, 1n));
    const results = await store.mergeMany([
      { key: 'a', value: gset.add(undefined, te.encode('1')) },
      { key: 'typed', value: gset.add(undefined, te.encode('x')) },
      { key: '', value: max.put(undefined, 1n) },
      { key: 'a', value: gset.add(undefined, te.encode('2')) },
    ]);
    expect(results.map((r) => (r instanceof CloudburstError ? r.code : r.type))).toEqual(['set', 'KV_TYPE_MISMATCH', 'INVALID_KEY', 'set']);
    expect(members(store.get('a'))).toEqual(['1', '2']);
    expect(store.get('typed')).toMatchObject({ type: 'max', value: 1n });
    expect(store.keyCount()).toBe(2);
  });

  it('LatticeStore: keyCount counts each key once, across close and reopen', async () => {
    const dir = await tempDir();
    const first = track(LatticeStore.open({ path: dir }));
    await first.merge('k', lww.write(te.encode('a'), { ms: 1, c: 0, writer: 'w' }));
    await first.merge('k', lww.write(te.encode('b'), { ms: 2, c: 0, writer: 'w' }));
    await first.close();
    expect(track(LatticeStore.open({ path: dir })).keyCount()).toBe(1);
  });

  it('LatticeStore: a closed store refuses work and close is idempotent', async () => {
    const store = await fresh();
    await store.close();
    await store.close();
    expect(() => store.get('k')).toThrow(expect.objectContaining({ code: 'SHUTTING_DOWN' }));
    expect((await rejection(store.merge('k', max.put(undefined, 1n)))).code).toBe('SHUTTING_DOWN');
  });

  it('LatticeStore: one store per folder per process', async () => {
    const dir = await tempDir();
    const store = track(LatticeStore.open({ path: dir }));
    expect(() => LatticeStore.open({ path: join(dir, '.') })).toThrow(expect.objectContaining({ code: 'INTERNAL' }));
    await store.close();
    await LatticeStore.open({ path: dir }).close();
  });

  for (const fsync of ['batch', 'off'] as const) {
    it(`LatticeStore (fsync ${fsync}): holds(key, bytes) is true only for the committed bytes, never while a write of the key is in flight`, async () => {
      const store = track(LatticeStore.open({ path: await tempDir(), fsync }));
      const hlc = new Hlc('w');
      const v1 = encode(lww.write(te.encode('one'), hlc.now()));
      const v2 = encode(lww.write(te.encode('two'), hlc.now()));
      expect(store.holds('k', v1)).toBe(false);
      const writing = store.mergeEncoded('k', decode(v1), undefined, v1);
      // batch: in flight until lmdb has flushed it; off: committed before mergeEncoded returned.
      expect(store.holds('k', v1)).toBe(fsync === 'off');
      await writing;
      expect(store.holds('k', v1)).toBe(true);
      expect(store.holds('k', v2)).toBe(false);
      expect(store.holds('k', v1.subarray(0, v1.length - 1))).toBe(false);
      await store.merge('k', decode(v2));
      expect(store.holds('k', v1)).toBe(false);
      expect(store.holds('k', v2)).toBe(true);
    });
  }

  it('LatticeStore: a merge that keeps the incoming value stores its given bytes; one that changes it stores the merged encoding', async () => {
    const store = await fresh();
    const hlc = new Hlc('w');
    const older = lww.write(te.encode('old'), hlc.now());
    const newer = lww.write(te.encode('new'), hlc.now());
    const newerBytes = encode(newer);
    const first = await store.mergeEncoded('k', newer, undefined, newerBytes);
    expect(first.bytes).toBe(newerBytes);
    expect(Buffer.from(store.getEncoded('k')!).equals(Buffer.from(newerBytes))).toBe(true);
    // The older write loses: nothing is written and the stored bytes are answered.
    const stale = await store.mergeEncoded('k', older, undefined, encode(older));
    expect(Buffer.from(stale.bytes).equals(Buffer.from(newerBytes))).toBe(true);
    // A set merge makes a new value: it is encoded, not taken from either side.
    const a = gset.add(undefined, te.encode('a'));
    await store.merge('s', a);
    const bBytes = encode(gset.add(undefined, te.encode('b')));
    const merged = await store.mergeEncoded('s', decode(bBytes), undefined, bBytes);
    expect(merged.bytes).not.toBe(bBytes);
    expect(members(decode(merged.bytes))).toEqual(['a', 'b']);
  });
});
