// The in-place paths of a call's state (host/executor/guest-state.ts): the guest's `get`
// (getStaged) reads a register's bytes out of LMDB without decoding it, a put that finds
// nothing or a plain register writes without decoding, and the cache's commit replaces an
// older plain register without decoding it. Each must give exactly what the decoding path
// gives, on a real LMDB cache; the bridge is this test playing the main thread (a miss
// absorbs the "tier"'s value).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { causalMeta, compareStamps, counter, encode, Hlc, lww, merge, type Lattice, type Lww } from '../../kvs/index.ts';
import { HostCache } from '../../host/cache/cache.ts';
import { GuestState } from '../../host/executor/guest-state.ts';
import { TierBridge } from '../helpers/tier-bridge.ts';

const K = (name: string): string => `default/k/${name}`;
const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);
const text = (b: Uint8Array | undefined): string | undefined => (b === undefined ? undefined : new TextDecoder().decode(b));

describe('a call state\'s in-place reads and writes', () => {
  let dir: string;
  let cache: HostCache;
  const other = new Hlc('other/w0');
  let n = 0;
  const fresh = (name: string): string => K(`${name}${n++}`);

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cb-state-fast-'));
    cache = HostCache.open({ path: join(dir, 'cache') });
  });
  afterAll(async () => {
    await cache.close();
    await rm(dir, { recursive: true, force: true });
  });

  const call = (bridge = new TierBridge(cache), hlc = new Hlc('test/w0')): { state: GuestState; bridge: TierBridge } => {
    const state = new GuestState(cache, bridge, hlc, 'test/w0');
    state.begin(`call-${n++}`, 'default');
    return { state, bridge };
  };

  it('get reads what getBytes reads: a value, a tombstone, the primary of concurrent versions, a miss fetched once, its own writes', () => {
    const [v, del, conc, tierOnly, absent, own] = ['v', 'del', 'conc', 'tier', 'absent', 'own'].map(fresh) as [string, string, string, string, string, string];
    const s1 = other.now();
    const s2 = { ...other.now(), writer: 'third/w0' };
    const x = lww.write(bytes('x'), s1, causalMeta(s1, [], s1, []));
    const y = lww.write(bytes('y'), s2, causalMeta(s2, [], s1, []));
    // The call's own write must be the newer one: another writer's stamp in the same millisecond
    // (its counter well past the call's new clock) would win over it, as it would at commit.
    const past = new Hlc('past/w0', () => Date.now() - 60_000);
    cache.commit(new Map<string, Lattice>([[v, lww.write(bytes('v1'), other.now())], [del, lww.tombstone(other.now())], [conc, merge(x, y)], [own, lww.write(bytes('o1'), past.now())]]));
    expect((merge(x, y) as Lww).siblings?.length).toBe(1);
    const { state, bridge } = call();
    bridge.tier.set(tierOnly, lww.write(bytes('t1'), other.now()));
    state.put(own, bytes('o2'));
    for (const key of [v, del, conc, tierOnly, absent, own]) {
      const staged = state.getStaged(key);
      expect(text(staged)).toBe(text(state.getBytes(key)));
    }
    expect([v, del, conc, tierOnly, absent, own].map((key) => text(state.getStaged(key)))).toEqual(['v1', undefined, 'y', 't1', undefined, 'o2']);
    expect(bridge.fetched).toEqual([tierOnly, absent]);
    expect([...state.touched]).toEqual(expect.arrayContaining([v, del, conc, tierOnly, absent, own]));
  });

  it('get refuses a key of another type, as getBytes does; a put of it is refused at the commit', () => {
    const c = fresh('counter');
    cache.commit(new Map([[c, counter.add(undefined, 'other/w0', 1n)]]));
    const { state } = call();
    expect(() => state.getStaged(c)).toThrow(expect.objectContaining({ code: 'KV_TYPE_MISMATCH' }));
    // A put reads nothing (blind-put.unit.test.ts): the call's commit is what refuses it.
    state.put(c, bytes('no'));
    expect(() => state.commit()).toThrow(expect.objectContaining({ code: 'KV_TYPE_MISMATCH' }));
  });

  it('get moves the call\'s clock past what it read: a put after it wins over it', () => {
    const key = fresh('clock');
    const ahead = new Hlc('ahead/w0', () => Date.now() + 60_000);
    cache.commit(new Map([[key, lww.write(bytes('future'), ahead.now())]]));
    const { state } = call();
    expect(text(state.getStaged(key))).toBe('future');
    state.put(key, bytes('mine'));
    state.commit();
    cache.refresh();
    expect(text((cache.get(key) as Lww).value)).toBe('mine');
  });

  it('a call sees what others committed before it began, and what it committed itself', () => {
    const key = fresh('seen');
    cache.commit(new Map([[key, lww.write(bytes('a'), other.now())]]));
    const first = call().state;
    expect(text(first.getStaged(key))).toBe('a');
    cache.commit(new Map([[key, lww.write(bytes('b'), other.now())]]));
    const second = call().state;
    expect(text(second.getStaged(key))).toBe('b');
    second.putDurable(key, bytes('c'));
    expect(text(second.getStaged(key))).toBe('c');
  });

  it('a put over a causal register stays causal (the decoding path); over a plain one it is plain', () => {
    const [causalKey, plainKey] = [fresh('causal'), fresh('plain')];
    const s = other.now();
    cache.commit(new Map<string, Lattice>([[causalKey, lww.write(bytes('c'), s, causalMeta(s, [], s, []))], [plainKey, lww.write(bytes('p'), other.now())]]));
    const { state } = call();
    state.put(causalKey, bytes('c2'));
    state.put(plainKey, bytes('p2'));
    state.put(plainKey, bytes('p3'));
    state.commit();
    cache.refresh();
    const c = cache.get(causalKey) as Lww;
    expect(text(c.value)).toBe('c2');
    expect(c.causal).toBeDefined();
    const p = cache.get(plainKey) as Lww;
    expect(text(p.value)).toBe('p3');
    expect(p.causal).toBeUndefined();
  });

  it('commit keeps a stored plain write whose stamp is greater or tied-and-winning, and replaces an older one, as the merge does', () => {
    const key = fresh('commit');
    const base = { ms: 1_700_000_000_000, c: 5, writer: 'm' };
    const cases: [Lww, Lww][] = [
      [lww.write(bytes('old'), base), lww.write(bytes('new'), { ...base, c: 6 })],
      [lww.write(bytes('kept'), { ...base, c: 9 }), lww.write(bytes('lost'), { ...base, c: 8 })],
      [lww.write(bytes('same'), base), lww.write(bytes('writer'), { ...base, writer: 'n' })],
      [lww.write(bytes('z'), base), lww.write(bytes('a'), base)],
      [lww.write(bytes('a'), base), lww.tombstone(base)],
      [lww.tombstone(base), lww.write(bytes('later'), { ...base, ms: base.ms + 1 })],
    ];
    for (const [i, [stored, write]] of cases.entries()) {
      const k = `${key}-${i}`;
      cache.commit(new Map([[k, stored]]));
      const merged = cache.commit(new Map([[k, write]])).get(k)!;
      const expected = merge(stored, write);
      cache.refresh();
      expect(Buffer.from(cache.getEncoded(k)!).equals(Buffer.from(encode(expected)))).toBe(true);
      expect(Buffer.from(encode(merged)).equals(Buffer.from(encode(expected)))).toBe(true);
      expect(compareStamps((merged as Lww).stamp, (expected as Lww).stamp)).toBe(0);
    }
  });
});
