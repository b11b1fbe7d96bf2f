/**
 * HostCache.absorb: a value from the KV tier that the cache already holds (or dominates) is
 * absorbed without a write transaction; one that adds something is merged in. The transactions
 * are counted by LMDB itself (the environment's last transaction id, read through a second
 * handle on the same folder).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { open } from 'lmdb';
import { afterEach, describe, expect, it } from 'vitest';
import { HostCache } from '../../host/cache/cache.ts';
import { counter, equals, type Counter } from '../../kvs/index.ts';

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const fn of cleanup.reverse()) await fn();
  cleanup = [];
});

describe('HostCache.absorb', () => {
  it('absorbs a value the cache dominates without a write transaction, and merges one that adds something', async () => {
    const path = await mkdtemp(join(tmpdir(), 'cloudburst-absorb-'));
    cleanup.push(() => rm(path, { recursive: true, force: true }));
    const cache = HostCache.open({ path, fsync: 'off' });
    cleanup.push(() => cache.close());
    const env = open({ path, noSync: true });
    cleanup.push(() => env.close());
    const lastTxn = (): number => (env.getStats() as { lastTxnId: number }).lastTxnId;

    const mine = counter.add(undefined, 'host-a', 2n);
    cache.commit(new Map([['t/k', mine]]));
    const afterCommit = lastTxn();
    let stored = 0;
    cache.onStored = () => stored++;

    // The tier pushes back exactly what the host wrote, then an older value: nothing to write.
    expect(equals(cache.absorb('t/k', mine), mine)).toBe(true);
    expect(equals(cache.absorb('t/k', counter.add(undefined, 'host-a', 1n)), mine)).toBe(true);
    expect(lastTxn()).toBe(afterCommit);
    expect(stored).toBe(2); // the LRU still hears of the key

    // Another writer's share: merged in, one transaction.
    const merged = cache.absorb('t/k', counter.add(undefined, 'host-b', 5n));
    expect(counter.total(merged as Counter)).toBe(7n);
    expect(counter.total(cache.get('t/k') as Counter)).toBe(7n);
    expect(lastTxn()).toBe(afterCommit + 1);

    // A key the cache does not hold is stored.
    cache.absorb('t/new', mine);
    expect(equals(cache.get('t/new')!, mine)).toBe(true);
    expect(lastTxn()).toBe(afterCommit + 2);
  });
});
