// The outbox (host/cache/outbox.ts): one record per commit naming the keys it wrote, on a real
// LMDB cache. What the flusher relies on: a batch's records are deleted exactly, a later
// commit of the same key keeps its own record, refusals never lose a later commit, eviction
// never drops a dirty key (even one committed by another thread's instance after the index
// was built), and a data folder of the old layout (one mark per key) is migrated at open.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { open } from 'lmdb';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { encode, Hlc, lww, type Lww } from '../../kvs/index.ts';
import { HostCache } from '../../host/cache/cache.ts';

const hlc = new Hlc('test/w0');
const write = (s: string): Lww => lww.write(new TextEncoder().encode(s), hlc.now());
const writes = (...keys: string[]): Map<string, Lww> => new Map(keys.map((k) => [k, write(k)]));

describe('the outbox: one record per commit', () => {
  let dir: string;
  let cache: HostCache;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cb-outbox-'));
    cache = HostCache.open({ path: join(dir, 'cache'), fsync: 'off' });
  });
  afterEach(async () => {
    await cache.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('a commit of three keys is one record naming them; the metrics count keys and commits', () => {
    cache.commit(writes('t/k/a', 't/k/b', 't/k/c'));
    cache.commit(writes('t/k/a'));
    expect(cache.outboxCommits()).toBe(2);
    expect(cache.outboxSize()).toBe(3);
    const batch = cache.dirty(10);
    expect(batch.records.map((r) => r.keys)).toEqual([['t/k/a', 't/k/b', 't/k/c'], ['t/k/a']]);
    expect(new Set(batch.keys)).toEqual(new Set(['t/k/a', 't/k/b', 't/k/c']));
    expect(cache.clean(batch)).toBe(4);
    expect(cache.outboxCommits()).toBe(0);
    expect(cache.outboxSize()).toBe(0);
  });

  it('cleaning a batch leaves a later commit of the same key dirty (its own record)', () => {
    cache.commit(writes('t/k/a', 't/k/b'));
    const batch = cache.dirty(10);
    cache.commit(writes('t/k/a'));
    cache.clean(batch);
    expect(cache.dirty(10).keys).toEqual(['t/k/a']);
    expect(cache.dirtyEntries(['t/k/b']).records).toEqual([]);
    expect(cache.dirtyEntries(['t/k/a', 't/k/b']).keys).toEqual(['t/k/a']);
  });

  it('a record stays until every key it names is acknowledged or refused', () => {
    cache.commit(writes('t/k/a', 't/k/b'));
    const batch = cache.dirty(10);
    expect(cache.settle(batch, new Set(['t/k/a']), [])).toEqual({ cleared: 0, rejected: 0 });
    expect(cache.outboxSize()).toBe(2);
    expect(cache.settle(batch, new Set(['t/k/a']), [{ key: 't/k/b', code: 'KV_TYPE_MISMATCH', message: 'no' }])).toEqual({ cleared: 2, rejected: 1 });
    expect(cache.outboxSize()).toBe(0);
    expect(cache.get('t/k/b')).toBeUndefined();
    expect(cache.rejectedOne('t/k/b')).toMatchObject({ code: 'KV_TYPE_MISMATCH' });
    expect(cache.get('t/k/a')).toBeDefined();
  });

  it('a refusal does not take a key that a commit outside the batch wrote again: that commit stays dirty', () => {
    cache.commit(writes('t/k/a'));
    const batch = cache.dirty(10);
    const later = write('later');
    cache.commit(new Map([['t/k/a', later]]));
    expect(cache.settle(batch, new Set(), [{ key: 't/k/a', code: 'KV_TYPE_MISMATCH', message: 'no' }])).toEqual({ cleared: 1, rejected: 0 });
    expect(cache.rejectedCount()).toBe(0);
    expect(Buffer.from((cache.get('t/k/a') as Lww).value).toString()).toBe('later');
    expect(cache.dirty(10).keys).toEqual(['t/k/a']);
  });

  it('eviction never removes a dirty key, even one another thread committed after the index was built', async () => {
    cache.commit(writes('t/k/a', 't/k/b'));
    expect(cache.evict(['t/k/a', 't/k/b'])).toEqual([]);
    cache.clean(cache.dirty(10));
    // A worker's instance (same folder, its own ids) commits after the main thread indexed.
    const worker = HostCache.open({ path: join(dir, 'cache'), fsync: 'off' });
    try {
      worker.commit(writes('t/k/a'));
    } finally {
      await worker.close();
    }
    expect(cache.evict(['t/k/a', 't/k/b'])).toEqual(['t/k/b']);
    expect(cache.get('t/k/a')).toBeDefined();
    cache.clean(cache.dirty(10));
    expect(cache.evict(['t/k/a'])).toEqual(['t/k/a']);
  });

  it('dirty(limit) takes whole records, oldest first, until they name `limit` keys', () => {
    for (let i = 0; i < 5; i++) cache.commit(writes(`t/k/${i}a`, `t/k/${i}b`));
    const batch = cache.dirty(3);
    expect(batch.records.map((r) => r.keys)).toEqual([['t/k/0a', 't/k/0b'], ['t/k/1a', 't/k/1b']]);
    expect(batch.keys).toHaveLength(4);
  });
});

describe('the outbox of the old layout (outbox-v1: one mark per key)', () => {
  it('is migrated at open: every key it marked is dirty, the old marks are gone, values untouched', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cb-outbox-v1-'));
    const path = join(dir, 'cache');
    try {
      // The folder as the old HostCache left it: values-v1, and outbox-v1 with an 8-byte token per dirty key.
      const env = open({ path, encoding: 'binary', maxDbs: 8 });
      const values = env.openDB<Uint8Array, string>('values-v1', { encoding: 'binary' });
      const v1 = env.openDB<Uint8Array, string>('outbox-v1', { encoding: 'binary' });
      const old = new Map(['t/k/dirty1', 't/k/dirty2', 't/k/clean'].map((k) => [k, write(k)]));
      for (const [k, v] of old) await values.put(k, encode(v));
      await v1.put('t/k/dirty1', Buffer.alloc(8, 1));
      await v1.put('t/k/dirty2', Buffer.alloc(8, 2));
      await env.close();

      const cache = HostCache.open({ path, fsync: 'off' });
      try {
        expect(new Set(cache.dirty(100).keys)).toEqual(new Set(['t/k/dirty1', 't/k/dirty2']));
        expect(cache.outboxSize()).toBe(2);
        for (const [k, v] of old) expect(Buffer.from(cache.getEncoded(k)!).equals(Buffer.from(encode(v)))).toBe(true);
      } finally {
        await cache.close();
      }
      // A second open (a worker, a restart) finds nothing more to migrate, and nothing lost.
      const again = HostCache.open({ path, fsync: 'off' });
      try {
        expect(again.outboxCommits()).toBe(1);
        expect(again.outboxSize()).toBe(2);
      } finally {
        await again.close();
      }
      const raw = open({ path, encoding: 'binary', maxDbs: 8 });
      expect(raw.openDB('outbox-v1', { encoding: 'binary' }).getCount()).toBe(0);
      await raw.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
