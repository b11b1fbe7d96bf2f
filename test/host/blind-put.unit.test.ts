// A put of a call without a session reads nothing (host/executor/blind-put.ts): the commit
// resolves it against the stored value. On a real LMDB cache: a key of another type fails
// the whole commit (nothing of the call written, no outbox record), a read in the call sees
// its own write, and what the commit finds (not what the put would have found) decides
// between a plain write and a causal register write.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { causalMeta, counter, Hlc, lww, type Lattice, type Lww } from '../../kvs/index.ts';
import { HostCache } from '../../host/cache/cache.ts';
import { GuestState, type Bridge } from '../../host/executor/guest-state.ts';

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);
const text = (b: Uint8Array | undefined): string | undefined => (b === undefined ? undefined : new TextDecoder().decode(b));

/** The main thread's side: nothing in the tier, so a miss stays a miss. */
const bridge: Bridge = {
  fetch: () => undefined,
  flush: () => undefined,
  send: () => undefined,
  recv: () => null,
  snapshot: () => null,
  ensure: () => undefined,
  pin: () => {
    throw new Error('no pins here');
  },
};

describe('a blind put, resolved at the commit', () => {
  let dir: string;
  let cache: HostCache;
  const other = new Hlc('other/w0');
  let n = 0;
  const fresh = (name: string): string => `default/k/${name}${n++}`;
  const call = (): GuestState => {
    const state = new GuestState(cache, bridge, new Hlc('test/w0'), 'test/w0');
    state.begin(`call-${n++}`, 'default');
    return state;
  };
  const causal = (value: string): Lww => {
    const s = other.now();
    return lww.write(bytes(value), s, causalMeta(s, [], s, []));
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cb-blind-put-'));
    cache = HostCache.open({ path: join(dir, 'cache'), fsync: 'off' });
  });
  afterAll(async () => {
    await cache.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('a put of a key that holds a counter fails the commit with KV_TYPE_MISMATCH: nothing of the call is written', () => {
    const [c, other1] = [fresh('counter'), fresh('mine')];
    cache.commit(new Map([[c, counter.add(undefined, 'other/w0', 1n)]]));
    cache.clean(cache.dirty(100));
    const state = call();
    state.put(other1, bytes('x'));
    state.put(c, bytes('no')); // no read: nothing thrown yet
    expect(() => state.commit()).toThrow(expect.objectContaining({ code: 'KV_TYPE_MISMATCH', details: { key: c.slice('default/k/'.length) } }));
    state.discard();
    cache.refresh();
    expect(cache.get(other1)).toBeUndefined();
    expect(cache.get(c)).toMatchObject({ type: 'counter' });
    expect(cache.outboxCommits()).toBe(0);
  });

  it('a read in the call sees its own put: over nothing, a plain register, causal versions; a read of another type refuses it', () => {
    const [absent, plain, caus, c] = [fresh('absent'), fresh('plain'), fresh('causal'), fresh('counter')];
    cache.commit(new Map<string, Lattice>([[plain, lww.write(bytes('p'), other.now())], [caus, causal('c')], [c, counter.add(undefined, 'other/w0', 2n)]]));
    const state = call();
    for (const key of [absent, plain, caus]) {
      state.put(key, bytes(`new-${key}`));
      expect(text(state.getStaged(key))).toBe(`new-${key}`);
      expect(state.getAllBytes(key)?.map(text)).toEqual([`new-${key}`]);
    }
    state.put(c, bytes('no'));
    expect(() => state.getStaged(c)).toThrow(expect.objectContaining({ code: 'KV_TYPE_MISMATCH' }));
  });

  it('what the commit finds decides: a key made causal after the put gets a causal write that supersedes it', () => {
    const key = fresh('late-causal');
    const state = call();
    state.put(key, bytes('mine'));
    // Another worker commits causal versions of the key between this call's put and its commit.
    cache.commit(new Map([[key, causal('theirs')]]));
    state.commit();
    cache.refresh();
    const v = cache.get(key) as Lww;
    expect(text(v.value)).toBe('mine');
    expect(v.causal).toBeDefined();
    expect(v.siblings).toBeUndefined();
  });

  it('a put then a delete in one call stays a delete, whatever the commit finds', () => {
    const key = fresh('put-del');
    cache.commit(new Map([[key, lww.write(bytes('old'), other.now())]]));
    const state = call();
    state.put(key, bytes('mine'));
    state.del(key);
    cache.commit(new Map([[key, causal('theirs')]]));
    state.commit();
    cache.refresh();
    expect(state.getBytes(key)).toBeUndefined();
    expect((cache.get(key) as Lww).tombstone).toBe(true);
  });

  it('a call that fails commits nothing of its puts', () => {
    const key = fresh('discarded');
    const state = call();
    state.put(key, bytes('x'));
    state.discard();
    expect(state.commit()).toBe(0);
    cache.refresh();
    expect(cache.get(key)).toBeUndefined();
  });
});
