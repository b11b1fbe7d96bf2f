import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CloudburstError } from '../../common/index.ts';
import {
  counter,
  encode,
  equals,
  gset,
  KvClient,
  LatticeStore,
  lww,
  max,
  type Counter,
  type FsyncPolicy,
  type GSet,
  type Lattice,
} from '../../kvs/index.ts';
import { bundleChild, spawnChild } from './child.ts';

const te = new TextEncoder();
const s = (ms: number, writer = 'w') => ({ ms, c: 0, writer });
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

async function rejection(p: Promise<unknown>): Promise<CloudburstError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(CloudburstError);
  return err as CloudburstError;
}

/** The store contract, written once; a future store implementation runs it too. */
function storeContract(name: string, openStore: (path: string, maxValueBytes?: number) => LatticeStore): void {
  describe(name, () => {
    const open: LatticeStore[] = [];
    const fresh = async (): Promise<LatticeStore> => {
      const store = openStore(await tempDir());
      open.push(store);
      return store;
    };
    afterEach(async () => {
      await Promise.all(open.splice(0).map((st) => st.close()));
    });

    it(`${name}: merge into an absent key stores the value`, async () => {
      const store = await fresh();
      const v = lww.write(te.encode('hello'), s(1));
      expect(equals(await store.merge('k', v), v)).toBe(true);
      expect(equals(store.get('k')!, v)).toBe(true);
      expect(Buffer.compare(store.getEncoded('k')!, encode(v))).toBe(0);
      expect(store.get('absent')).toBeUndefined();
      expect(store.getEncoded('absent')).toBeUndefined();
    });

    it(`${name}: merge joins with the stored value for every type`, async () => {
      const store = await fresh();
      await store.merge('lww', lww.write(te.encode('new'), s(2)));
      expect(equals(await store.merge('lww', lww.write(te.encode('old'), s(1))), lww.write(te.encode('new'), s(2)))).toBe(true);
      await store.merge('set', gset.add(undefined, te.encode('a')));
      expect(members(await store.merge('set', gset.add(undefined, te.encode('b'))))).toEqual(['a', 'b']);
      await store.merge('max', max.put(undefined, 3n));
      await store.merge('max', max.put(undefined, 1n));
      expect(store.get('max')).toMatchObject({ value: 3n });
    });

    it(`${name}: concurrent merges of one key all land`, async () => {
      const store = await fresh();
      const writes = Array.from({ length: 200 }, (_, i) => store.merge('c', counter.add(undefined, `w${i % 20}`, BigInt(i + 1))));
      await Promise.all(writes);
      // Per writer the counter keeps the max p: writer k saw deltas k+1, k+21, ..., k+181.
      const expected = Array.from({ length: 20 }, (_, k) => BigInt(k + 181)).reduce((a, b) => a + b, 0n);
      expect(counter.total(store.get('c') as Counter)).toBe(expected);
    });

    it(`${name}: getEncoded returns a copy the caller owns`, async () => {
      const store = await fresh();
      await store.merge('k', lww.write(te.encode('abc'), s(1)));
      const a = store.getEncoded('k')!;
      a.fill(0);
      expect(store.get('k')).toMatchObject({ type: 'lww' });
    });

    it(`${name}: a type mismatch leaves the value unchanged`, async () => {
      const store = await fresh();
      await store.merge('k', counter.add(undefined, 'w', 2n));
      const before = store.getEncoded('k')!;
      expect((await rejection(store.merge('k', lww.write(te.encode('x'), s(9))))).code).toBe('KV_TYPE_MISMATCH');
      expect(Buffer.compare(store.getEncoded('k')!, before)).toBe(0);
    });

    it(`${name}: invalid keys are INVALID_KEY`, async () => {
      const store = await fresh();
      for (const key of ['', 'x'.repeat(1025), 'é'.repeat(513), '\ud800']) {
        expect((await rejection(store.merge(key, max.put(undefined, 1n)))).code).toBe('INVALID_KEY');
        expect(() => store.get(key)).toThrow(expect.objectContaining({ code: 'INVALID_KEY' }));
      }
      await store.merge('x'.repeat(1024), max.put(undefined, 1n));
      expect(store.keyCount()).toBe(1);
    });

    it(`${name}: mergeMany merges the valid entries and reports the others in place`, async () => {
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

    it(`${name}: a merge over the value limit is KV_VALUE_TOO_LARGE and changes nothing`, async () => {
      const dir = await tempDir();
      const store = openStore(dir, 100);
      open.push(store);
      await store.merge('k', gset.add(undefined, new Uint8Array(50)));
      const before = store.getEncoded('k')!;
      expect((await rejection(store.merge('k', gset.add(undefined, new Uint8Array(60).fill(1))))).code).toBe('KV_VALUE_TOO_LARGE');
      expect(Buffer.compare(store.getEncoded('k')!, before)).toBe(0);
    });

    it(`${name}: values persist across close and reopen`, async () => {
      const dir = await tempDir();
      const first = openStore(dir);
      await first.merge('k', lww.write(te.encode('kept'), s(1)));
      await first.close();
      const second = openStore(dir);
      open.push(second);
      expect(equals(second.get('k')!, lww.write(te.encode('kept'), s(1)))).toBe(true);
      expect(second.keyCount()).toBe(1);
    });

    it(`${name}: a closed store refuses work and close is idempotent`, async () => {
      const store = await fresh();
      await store.close();
      await store.close();
      expect(() => store.get('k')).toThrow(expect.objectContaining({ code: 'SHUTTING_DOWN' }));
      expect((await rejection(store.merge('k', max.put(undefined, 1n)))).code).toBe('SHUTTING_DOWN');
    });
  });
}

// Each policy has its own commit path (see kvs/store.ts), so each runs the whole contract.
for (const fsync of ['batch', 'always', 'off'] as const satisfies readonly FsyncPolicy[]) {
  storeContract(`LatticeStore (fsync ${fsync})`, (path, maxValueBytes) =>
    LatticeStore.open({ path, fsync, ...(maxValueBytes === undefined ? {} : { maxValueBytes }) }),
  );
}

describe('LatticeStore', () => {
  it('LatticeStore: one store per folder per process', async () => {
    const dir = await tempDir();
    const store = LatticeStore.open({ path: dir });
    try {
      expect(() => LatticeStore.open({ path: join(dir, '.') })).toThrow(expect.objectContaining({ code: 'INTERNAL' }));
    } finally {
      await store.close();
    }
    await LatticeStore.open({ path: dir }).close();
  });
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
    const child = spawnChild(script, ['server', dir, 'batch']);
    const acked: number[] = [];
    let client: KvClient | undefined;
    try {
      const url = (await child.waitFor((l) => l.startsWith('url '))).slice(4);
      client = new KvClient({ url, timeoutMs: 2000 });
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
