// The store contract, written once and run against every store of lattices (as undici runs
// its cache-store suite against each store): the KV tier's LatticeStore
// (kvs/store.unit.test.ts), the host's HostCache (host/cache.unit.test.ts) and KvClient
// against a real KV node (kvs/client.test.ts). What one store adds (batches, key rules, an
// outbox) stays in its own file.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { CloudburstError } from '../../common/index.ts';
import { counter, encode, equals, gset, lww, max, type Counter, type GSet, type Lattice } from '../../kvs/index.ts';

/** One open store, seen through the operations every store has (sync ones wrapped). */
export interface StoreHandle {
  /** Merges `value` into `key` and returns the merged value once it is durable. */
  merge(key: string, value: Lattice): Promise<Lattice>;
  get(key: string): Promise<Lattice | undefined>;
  getEncoded(key: string): Promise<Uint8Array | undefined>;
  close(): Promise<void>;
}

export interface StoreSubject {
  /** Prefixes every test's name. */
  name: string;
  /** Opens the store kept in `dir`: a fresh folder, or one a closed store of this subject used. */
  open(dir: string): Promise<StoreHandle>;
  /** The largest encoded value a merge may produce in the stores `open` returns. */
  maxValueBytes: number;
}

const te = new TextEncoder();
const s = (ms: number, writer = 'w') => ({ ms, c: 0, writer });
const members = (l: Lattice | undefined) => (l as GSet).members.map((m) => Buffer.from(m).toString());

/** The CloudburstError `p` rejects with (fails the test when it resolves or throws another). */
export async function rejection(p: Promise<unknown>): Promise<CloudburstError> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(CloudburstError);
  return err as CloudburstError;
}

/**
 * Temp folders and open stores for the tests of one describe (call it there): what `track`
 * gets is closed after each test, the folders are removed after the last.
 *
 * @example
 * const { tempDir, track } = storeFixtures<LatticeStore>();
 * const store = track(LatticeStore.open({ path: await tempDir() }));
 */
export function storeFixtures<S extends { close(): Promise<void> }>(): { tempDir: () => Promise<string>; track: (store: S) => S } {
  const dirs: string[] = [];
  const open: S[] = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((st) => st.close()));
  });
  afterAll(async () => {
    await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
  });
  return {
    tempDir: async () => {
      const dir = await mkdtemp(join(tmpdir(), 'cb-store-'));
      dirs.push(dir);
      return dir;
    },
    track: (store) => {
      open.push(store);
      return store;
    },
  };
}

export function storeContract(subject: StoreSubject): void {
  const { name } = subject;
  describe(`${name}: store contract`, () => {
    const { tempDir, track } = storeFixtures<StoreHandle>();
    const fresh = async (dir?: string): Promise<StoreHandle> => track(await subject.open(dir ?? (await tempDir())));

    it(`${name}: merge into an absent key stores the value`, async () => {
      const store = await fresh();
      const v = lww.write(te.encode('hello'), s(1));
      expect(equals(await store.merge('k', v), v)).toBe(true);
      expect(equals((await store.get('k'))!, v)).toBe(true);
      expect(Buffer.compare((await store.getEncoded('k'))!, encode(v))).toBe(0);
      expect(await store.get('absent')).toBeUndefined();
      expect(await store.getEncoded('absent')).toBeUndefined();
    });

    it(`${name}: merge joins with the stored value for every type`, async () => {
      const store = await fresh();
      await store.merge('lww', lww.write(te.encode('new'), s(2)));
      expect(equals(await store.merge('lww', lww.write(te.encode('old'), s(1))), lww.write(te.encode('new'), s(2)))).toBe(true);
      await store.merge('set', gset.add(undefined, te.encode('a')));
      expect(members(await store.merge('set', gset.add(undefined, te.encode('b'))))).toEqual(['a', 'b']);
      await store.merge('max', max.put(undefined, 3n));
      await store.merge('max', max.put(undefined, 1n));
      expect(await store.get('max')).toMatchObject({ value: 3n });
      await store.merge('counter', counter.add(undefined, 'a', 2n));
      expect(counter.total((await store.merge('counter', counter.add(undefined, 'b', 3n))) as Counter)).toBe(5n);
    });

    it(`${name}: concurrent merges of one key all land`, async () => {
      const store = await fresh();
      const writes = Array.from({ length: 200 }, (_, i) => store.merge('c', counter.add(undefined, `w${i % 20}`, BigInt(i + 1))));
      await Promise.all(writes);
      // Per writer the counter keeps the max p: writer k saw deltas k+1, k+21, ..., k+181.
      const expected = Array.from({ length: 20 }, (_, k) => BigInt(k + 181)).reduce((a, b) => a + b, 0n);
      expect(counter.total((await store.get('c')) as Counter)).toBe(expected);
    });

    it(`${name}: getEncoded returns a copy the caller owns`, async () => {
      const store = await fresh();
      await store.merge('k', lww.write(te.encode('abc'), s(1)));
      const a = (await store.getEncoded('k'))!;
      a.fill(0);
      expect(await store.get('k')).toMatchObject({ type: 'lww' });
    });

    it(`${name}: a type mismatch is KV_TYPE_MISMATCH and leaves the value unchanged`, async () => {
      const store = await fresh();
      await store.merge('k', counter.add(undefined, 'w', 2n));
      const before = (await store.getEncoded('k'))!;
      expect((await rejection(store.merge('k', lww.write(te.encode('x'), s(9))))).code).toBe('KV_TYPE_MISMATCH');
      expect(Buffer.compare((await store.getEncoded('k'))!, before)).toBe(0);
    });

    it(`${name}: a merge that would grow a value over the limit is KV_VALUE_TOO_LARGE and changes nothing`, async () => {
      const store = await fresh();
      // Each member fits alone; the two together do not.
      const member = Math.ceil(subject.maxValueBytes * 0.55);
      await store.merge('k', gset.add(undefined, new Uint8Array(member)));
      const before = (await store.getEncoded('k'))!;
      expect((await rejection(store.merge('k', gset.add(undefined, new Uint8Array(member).fill(1))))).code).toBe('KV_VALUE_TOO_LARGE');
      expect(Buffer.compare((await store.getEncoded('k'))!, before)).toBe(0);
    });

    it(`${name}: values persist across close and reopen`, async () => {
      const dir = await tempDir();
      const first = await subject.open(dir);
      await first.merge('k', lww.write(te.encode('kept'), s(1)));
      await first.close();
      const second = await fresh(dir);
      expect(equals((await second.get('k'))!, lww.write(te.encode('kept'), s(1)))).toBe(true);
    });
  });
}
