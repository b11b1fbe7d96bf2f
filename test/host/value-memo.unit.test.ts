// A worker's value memo (host/executor/value-memo.ts) on a real LMDB cache, and the version
// table it checks (host/cache/versions.ts): a plain get of a kept key skips LMDB, every write
// path of the cache makes the next call read afresh, nothing is kept from a snapshot older
// than its key's version, a hit moves the clock like a read, and the bounds hold.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Hlc, lww } from '../../kvs/index.ts';
import { HostCache } from '../../host/cache/cache.ts';
import { VersionTable } from '../../host/cache/versions.ts';
import { GuestState } from '../../host/executor/guest-state.ts';
import { TierBridge } from '../helpers/tier-bridge.ts';
import { MEMO_MAX_VALUE_BYTES, ValueMemo } from '../../host/executor/value-memo.ts';

const K = (name: string): string => `default/k/${name}`;
const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);
const text = (b: Uint8Array | undefined): string | undefined => (b === undefined ? undefined : new TextDecoder().decode(b));

describe('the version table', () => {
  it('gives each transaction one new sequence and raises its keys\' slots to it, seen from another thread\'s copy', () => {
    const table = VersionTable.create(1 << 4);
    const copy = VersionTable.from(table.buffer);
    const [a, b] = ['default/k/a', 'default/k/b'];
    expect(copy.sequence()).toBe(0);
    table.bump([a, b]);
    expect(copy.sequence()).toBe(1);
    expect(copy.version(copy.slotOf(a))).toBe(1);
    expect(copy.version(copy.slotOf(b))).toBe(1);
    copy.bump([a]);
    expect(table.sequence()).toBe(2);
    expect(table.version(table.slotOf(a))).toBe(2);
    // b keeps 1 unless it shares a's slot (a collision: only a miss more).
    expect(table.version(table.slotOf(b))).toBe(table.slotOf(b) === table.slotOf(a) ? 2 : 1);
  });

  it('puts every key in a slot of the table and refuses a buffer that is not G plus a power of two of slots', () => {
    const table = VersionTable.create(1 << 3);
    for (let i = 0; i < 1000; i++) {
      const slot = table.slotOf(`t${i}/k/key-${i}`);
      expect(slot).toBeGreaterThanOrEqual(1);
      expect(slot).toBeLessThanOrEqual(8);
    }
    expect(() => VersionTable.from(new SharedArrayBuffer(8 * 7))).toThrow(RangeError);
    expect(() => VersionTable.from(new SharedArrayBuffer(8))).toThrow(RangeError);
  });
});

describe('a worker\'s value memo', () => {
  let dir: string;
  let cache: HostCache;
  const other = new Hlc('other/w0');
  let n = 0;
  const fresh = (name: string): string => K(`${name}${n++}`);
  /** LMDB reads of values, counted (GuestState reads through `getFast`). */
  let lmdbReads = 0;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cb-value-memo-'));
    cache = HostCache.open({ path: join(dir, 'cache') });
    const getFast = cache.getFast.bind(cache);
    cache.getFast = (key: string) => {
      lmdbReads++;
      return getFast(key);
    };
  });
  afterAll(async () => {
    await cache.close();
    await rm(dir, { recursive: true, force: true });
  });

  const put = (key: string, value: string): void => void cache.commit(new Map([[key, lww.write(bytes(value), other.now())]]));
  /** A worker: its state and memo, and a way to start each of its calls. */
  const worker = (memo = new ValueMemo(cache.versions, 1 << 20), hlc = new Hlc('test/w0'), bridge = new TierBridge(cache)) => {
    const state = new GuestState(cache, bridge, hlc, 'test/w0', memo);
    return { memo, hlc, bridge, state, call: (): GuestState => (state.begin(`call-${n++}`, 'default'), state) };
  };

  it('serves a key read before without LMDB, with bytes of its own (not LMDB\'s reused buffer)', () => {
    const [a, b] = [fresh('a'), fresh('b')];
    put(a, 'alpha');
    put(b, 'beta');
    const w = worker();
    // The first read only marks the key (the doorkeeper), the second keeps it.
    for (let i = 0; i < 2; i++) {
      expect(text(w.call().getStaged(a))).toBe('alpha');
      expect(text(w.state.getStaged(b))).toBe('beta');
    }
    const before = lmdbReads;
    const again = w.call();
    expect(text(again.getStaged(a))).toBe('alpha');
    expect(text(again.getStaged(b))).toBe('beta');
    expect(lmdbReads - before).toBe(0);
  });

  it('keeps a key at its second read, not its first: a key read once costs no copy', () => {
    const key = fresh('door');
    put(key, 'once');
    const w = worker();
    expect(text(w.call().getStaged(key))).toBe('once');
    expect(w.memo.size).toBe(0);
    expect(text(w.call().getStaged(key))).toBe('once');
    expect(w.memo.size).toBe(1);
    const before = lmdbReads;
    expect(text(w.call().getStaged(key))).toBe('once');
    expect(lmdbReads).toBe(before);
  });

  it('reads afresh after each write path of the cache: a commit, an absorbed value, an eviction, a refusal', () => {
    const w = worker();
    const key = fresh('paths');
    put(key, 'one');
    // Each read after the first leaves the key kept: every write below finds it in the memo.
    const read = (): string | undefined => {
      const v = text(w.call().getStaged(key));
      if (v !== undefined && w.memo.size > 0) expect(text(w.memo.get(key)?.value ?? undefined)).toBe(v);
      return v;
    };
    expect(read()).toBe('one');
    expect(read()).toBe('one');
    put(key, 'two'); // another worker's commit (the same cache: the same table)
    expect(read()).toBe('two');
    cache.absorb(key, lww.write(bytes('three'), other.now())); // a push from the tier
    expect(read()).toBe('three');
    cache.clean(cache.dirtyEntries([key]));
    expect(cache.evict([key])).toEqual([key]);
    w.bridge.tier.set(key, lww.write(bytes('four'), other.now())); // the next read fetches it
    expect(read()).toBe('four');
    put(key, 'five');
    expect(read()).toBe('five');
    // The tier refuses the write for good: the flusher settles it as a refusal, which drops the value.
    expect(cache.settle(cache.dirtyEntries([key]), new Set(), [{ key, code: 'KV_TYPE_MISMATCH', message: 'refused' }]).rejected).toBe(1);
    w.bridge.tier.set(key, lww.write(bytes('six'), other.now()));
    expect(read()).toBe('six');
  });

  it('keeps nothing read from a snapshot older than the key\'s version (a write that snapshot may miss)', () => {
    const key = fresh('race');
    put(key, 'old');
    cache.refresh();
    const snapshot = cache.snapshotSequence;
    const raw = cache.getFast(key)!;
    put(key, 'new'); // commits and bumps after the snapshot's G was read
    const memo = new ValueMemo(cache.versions, 1 << 20);
    memo.keep(key, raw, snapshot); // the doorkeeper's mark
    memo.keep(key, raw, snapshot);
    expect(memo.get(key)).toBeUndefined();
    expect(memo.size).toBe(0);
    cache.refresh();
    memo.keep(key, cache.getFast(key)!, cache.snapshotSequence);
    expect(text(memo.get(key)?.value ?? undefined)).toBe('new');
  });

  it('moves the worker\'s clock past a kept value\'s stamp on a hit, as a read does', () => {
    const key = fresh('clock');
    const ahead = new Hlc('ahead/w0', () => Date.now() + 60_000);
    const stamp = ahead.now();
    cache.commit(new Map([[key, lww.write(bytes('future'), stamp)]]));
    const first = worker();
    expect(text(first.call().getStaged(key))).toBe('future');
    expect(text(first.call().getStaged(key))).toBe('future');
    // Another state with a fresh clock, on the same memo: its read is a hit.
    const second = worker(first.memo);
    const before = lmdbReads;
    expect(text(second.call().getStaged(key))).toBe('future');
    expect(lmdbReads).toBe(before);
    expect(second.hlc.now().ms).toBeGreaterThanOrEqual(stamp.ms);
  });

  it('serves a call\'s own uncommitted write over the kept value, and a deleted key as absent', () => {
    const w = worker();
    const [key, gone] = [fresh('own'), fresh('gone')];
    put(key, 'kept');
    cache.commit(new Map([[gone, lww.tombstone(other.now())]]));
    for (let i = 0; i < 2; i++) {
      expect(text(w.call().getStaged(key))).toBe('kept');
      expect(w.state.getStaged(gone)).toBeUndefined();
    }
    const c = w.call();
    c.put(key, bytes('mine'));
    expect(text(c.getStaged(key))).toBe('mine');
    expect(c.getStaged(gone)).toBeUndefined();
    expect(w.memo.get(gone)?.value).toBeNull();
  });

  it('stays within its bytes and entries, evicting what was not read since the hand passed, and keeps no large value', () => {
    const keys = Array.from({ length: 10 }, () => fresh('bound'));
    for (const key of keys) put(key, 'x'.repeat(1000));
    cache.refresh();
    // Twice: the first is the doorkeeper's mark.
    const keep = (memo: ValueMemo, key: string): void => {
      for (let i = 0; i < 2; i++) memo.keep(key, cache.getFast(key)!, cache.snapshotSequence);
    };
    const byBytes = new ValueMemo(cache.versions, 3 * 1300);
    for (const key of keys) keep(byBytes, key);
    expect(byBytes.size).toBeGreaterThan(0);
    expect(byBytes.bytes).toBeLessThanOrEqual(3 * 1300);
    expect(byBytes.size).toBeLessThanOrEqual(3);
    const byCount = new ValueMemo(cache.versions, 1 << 20, 3);
    for (const key of keys.slice(0, 3)) keep(byCount, key);
    expect(byCount.get(keys[0]!)).toBeDefined(); // read: survives the next eviction
    keep(byCount, keys[3]!);
    expect(byCount.size).toBe(3);
    expect(byCount.get(keys[0]!)).toBeDefined();
    expect([keys[1], keys[2]].filter((k) => byCount.get(k!) === undefined)).toHaveLength(1);
    const large = fresh('large');
    put(large, 'y'.repeat(MEMO_MAX_VALUE_BYTES + 1));
    cache.refresh();
    keep(byCount, large);
    expect(byCount.get(large)).toBeUndefined();
  });
});
