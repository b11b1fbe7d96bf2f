import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { CloudburstError, gset, LatticeStore, lww, max, type FsyncPolicy, type GSet, type Lattice } from '../../kvs/index.ts';
import { rejection, storeContract } from '../helpers/store-contract.ts';

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
  const dirs: string[] = [];
  const open: LatticeStore[] = [];
  const fresh = async (): Promise<LatticeStore> => {
    const dir = await mkdtemp(join(tmpdir(), 'cloudburst-kvs-'));
    dirs.push(dir);
    const store = LatticeStore.open({ path: dir });
    open.push(store);
    return store;
  };
  afterEach(async () => {
    await Promise.all(open.splice(0).map((st) => st.close()));
  });
  afterAll(async () => {
    await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
  });

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
    const first = await fresh();
    const dir = dirs.at(-1)!;
    await first.merge('k', lww.write(te.encode('a'), { ms: 1, c: 0, writer: 'w' }));
    await first.merge('k', lww.write(te.encode('b'), { ms: 2, c: 0, writer: 'w' }));
    await first.close();
    const second = LatticeStore.open({ path: dir });
    open.push(second);
    expect(second.keyCount()).toBe(1);
  });

  it('LatticeStore: a closed store refuses work and close is idempotent', async () => {
    const store = await fresh();
    await store.close();
    await store.close();
    expect(() => store.get('k')).toThrow(expect.objectContaining({ code: 'SHUTTING_DOWN' }));
    expect((await rejection(store.merge('k', max.put(undefined, 1n)))).code).toBe('SHUTTING_DOWN');
  });

  it('LatticeStore: one store per folder per process', async () => {
    const store = await fresh();
    const dir = dirs.at(-1)!;
    expect(() => LatticeStore.open({ path: join(dir, '.') })).toThrow(expect.objectContaining({ code: 'INTERNAL' }));
    await store.close();
    await LatticeStore.open({ path: dir }).close();
  });
});
