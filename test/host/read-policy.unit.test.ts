// The read-policy contract (host/consistency/read-policy.ts): a call's state (GuestState) on a
// real LMDB cache, run in every consistency mode over the same scripted reads and writes. The
// bridge is this test playing the worker's main thread: a read miss absorbs the "tier"'s
// value into the cache, snapshots, pins and causal catch-up answer what the script sets.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { counter, depOn, encode, gset, Hlc, lww, type Lattice, type Lww } from '../../kvs/index.ts';
import { HostCache } from '../../host/cache/cache.ts';
import { ABSENT_VERSION, versionOf, type CausalNeed, type ReadVersion, type SessionSpec } from '../../host/consistency/call-session.ts';
import { depToWire } from '../../host/consistency/causal-wire.ts';
import { GuestState } from '../../host/executor/guest-state.ts';
import { TierBridge } from '../helpers/tier-bridge.ts';

const K = (name: string): string => `default/k/${name}`;
const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);
const text = (b: Uint8Array | undefined): string | undefined => (b === undefined ? undefined : new TextDecoder().decode(b));

/** The main thread, as far as a call's state sees it. */
class TestBridge extends TierBridge {
  readonly snapshots = new Map<string, Uint8Array | null>();
  /** What `pin` answers (undefined: the proposal wins). */
  agreed: ReadVersion | undefined;
  readonly proposals: { key: string; v: string }[] = [];
  /** What `ensure` brings into the cache (nothing: the request's needs are not met). */
  ensures = new Map<string, Lattice>();

  override   snapshot(rid: string, key: string, at: ReadVersion): Uint8Array | null {
    const got = this.snapshots.get(`${rid} ${key} ${at.version}`);
    if (got === undefined) throw new Error(`no snapshot of ${key} at ${at.version}`);
    return got;
  }
  override ensure(key: string, _need: CausalNeed): void {
    const v = this.ensures.get(key);
    if (v !== undefined) this.cache.absorb(key, v);
  }
  override pin(_rid: string, key: string, v: string): ReadVersion {
    this.proposals.push({ key, v });
    return this.agreed ?? { version: v, host: 'self', url: 'http://self' };
  }
}

const MODES: Record<string, SessionSpec | undefined> = {
  lww: undefined,
  'lww + history': { rr: false, history: true, reads: {} },
  rr: { rr: true, history: false, reads: {} },
  'rr + history': { rr: true, history: true, reads: {} },
  causal: { rr: false, causal: true, history: false, reads: {}, seen: {}, need: {} },
  'causal + history': { rr: false, causal: true, history: true, reads: {}, seen: {}, need: {} },
};

describe('read policies: every consistency mode over the same script', () => {
  let dir: string;
  let cache: HostCache;
  const other = new Hlc('other/w0');
  let n = 0;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cb-read-policy-'));
    cache = HostCache.open({ path: join(dir, 'cache') });
  });
  afterAll(async () => {
    await cache.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** A fresh set of keys for one run: a register, a counter and a set cached, a register only in the tier, an absent key. */
  function seed(bridge: TestBridge): Record<'a' | 'c' | 's' | 't' | 'z' | 'b', string> {
    const run = n++;
    const keys = { a: K(`a${run}`), c: K(`c${run}`), s: K(`s${run}`), t: K(`t${run}`), z: K(`z${run}`), b: K(`b${run}`) };
    cache.commit(new Map<string, Lattice>([
      [keys.a, lww.write(bytes('a1'), other.now())],
      [keys.c, counter.add(undefined, 'other/w0', 5n)],
      [keys.s, gset.add(undefined, bytes('m'))],
    ]));
    bridge.tier.set(keys.t, lww.write(bytes('t1'), other.now()));
    return keys;
  }

  const version = (key: string): string => {
    cache.refresh();
    const raw = cache.getEncoded(key);
    return raw === undefined ? ABSENT_VERSION : versionOf(raw);
  };

  for (const [mode, spec] of Object.entries(MODES)) {
    it(`${mode}: first reads as cached, a miss fetched once, own writes read, rr pinned across a recv, versions recorded alike`, () => {
      const bridge = new TestBridge(cache);
      const keys = seed(bridge);
      const state = new GuestState(cache, bridge, new Hlc('test/w0'), 'test/w0');
      state.begin(`call-${mode}`, 'default', spec && structuredClone(spec));

      expect(text(state.getBytes(keys.a))).toBe('a1');
      expect(state.counterGet(keys.c)).toBe(5n);
      expect(state.setMembers(keys.s)?.map((m) => text(m))).toEqual(['m']);
      expect(text(state.getBytes(keys.t))).toBe('t1');
      expect(state.getBytes(keys.z)).toBeUndefined();
      expect(text(state.getBytes(keys.t))).toBe('t1');
      expect(state.getBytes(keys.z)).toBeUndefined();
      expect(bridge.fetched).toEqual([keys.t, keys.z]);
      const first = { a: version(keys.a), c: version(keys.c), s: version(keys.s), t: version(keys.t) };

      // Another call commits a newer `a`; a recv moves this call's view on (lww), never an rr pin.
      cache.commit(new Map([[keys.a, lww.write(bytes('a2'), other.now())]]));
      expect(state.recv(0)).toBeNull();
      const a2 = version(keys.a);
      expect(text(state.getBytes(keys.a))).toBe(spec?.rr ? 'a1' : 'a2');

      expect(state.counterAdd(keys.c, 1n)).toBe(6n);
      state.putDurable(keys.b, bytes('b1'));
      expect(text(state.getBytes(keys.b))).toBe('b1');
      expect(state.counterGet(keys.c)).toBe(6n);
      state.commit();

      // A register written in a causal request is a causal version; in any other mode it stays plain.
      cache.refresh();
      expect((cache.get(keys.b) as Lww).causal !== undefined).toBe(spec?.causal === true);

      const result = state.finishSession();
      if (spec === undefined) {
        expect(result).toBeUndefined();
        return;
      }
      const written = { c: version(keys.c), b: version(keys.b) };
      if (!spec.history) expect(result!.history).toEqual([]);
      else {
        // The same operations with the same versions in every mode, but rr's second read of `a`.
        expect(result!.history.map((o) => [o.op, o.key, o.v])).toEqual([
          ['r', keys.a, first.a], ['r', keys.c, first.c], ['r', keys.s, first.s], ['r', keys.t, first.t], ['r', keys.z, ABSENT_VERSION],
          ['r', keys.t, first.t], ['r', keys.z, ABSENT_VERSION],
          ['r', keys.a, spec.rr ? first.a : a2],
          ['r', keys.c, first.c], ['w', keys.c, written.c], ['w', keys.b, written.b],
          ['r', keys.b, written.b], ['r', keys.c, written.c],
        ]);
        // Registers carry their versions; an absent key none; counters and sets no `ver`.
        expect(result!.history[0]!.ver).toHaveLength(1);
        expect(result!.history.find((o) => o.key === keys.z)!.ver).toEqual([]);
        expect(result!.history.find((o) => o.key === keys.c)!.ver).toBeUndefined();
      }
      if (spec.rr) {
        // rr's snapshots: every first read the request did not know, and the writes, at their committed version.
        expect(result!.snaps.map((x) => [x.key, x.version])).toEqual([
          [keys.a, first.a], [keys.c, written.c], [keys.s, first.s], [keys.t, first.t], [keys.z, ABSENT_VERSION], [keys.b, written.b],
        ]);
        expect(result!.snaps.find((x) => x.key === keys.z)!.bytes).toBeNull();
      } else expect(result!.snaps).toEqual([]);
      if (spec.causal) {
        expect(Object.keys(result!.seen!).sort()).toEqual([keys.a, keys.b, keys.t].sort());
        expect(result!.seen![keys.a]).toEqual([depToWire(depOn(keys.a, cache.get(keys.a) as Lww))]);
      } else {
        expect(result!.seen).toBeUndefined();
        expect(result!.deps).toBeUndefined();
      }
    });
  }

  it('rr: a key an upstream step read is read at that version, from its snapshot when this host holds another', () => {
    const bridge = new TestBridge(cache);
    const keys = seed(bridge);
    const old = encode(lww.write(bytes('a0'), { ms: 1, c: 0, writer: 'up/w0' }));
    bridge.snapshots.set(`r1 ${keys.a} ${versionOf(old)}`, old);
    const state = new GuestState(cache, bridge, new Hlc('test/w0'), 'test/w0');
    state.begin('call-rr-upstream', 'default', {
      rr: true, history: true, rid: 'r1',
      reads: {
        [keys.a]: { version: versionOf(old), host: 'up', url: 'http://up' },
        [keys.s]: { version: ABSENT_VERSION, host: 'up', url: 'http://up' },
        [keys.c]: { version: version(keys.c), host: 'up', url: 'http://up' },
      },
    });
    expect(text(state.getBytes(keys.a))).toBe('a0');
    expect(state.setMembers(keys.s)).toBeUndefined();
    expect(state.counterGet(keys.c)).toBe(5n);
    expect(text(state.getBytes(keys.a))).toBe('a0');
    state.commit();
    const result = state.finishSession()!;
    // What the request knew is not snapshotted again here.
    expect(result.snaps).toEqual([]);
    expect(result.history.map((o) => o.v)).toEqual([versionOf(old), ABSENT_VERSION, version(keys.c), versionOf(old)]);
  });

  it('rr with parallel branches: a first read reads the version the coordinator agreed', () => {
    const bridge = new TestBridge(cache);
    const keys = seed(bridge);
    const old = encode(lww.write(bytes('a0'), { ms: 1, c: 0, writer: 'up/w0' }));
    bridge.snapshots.set(`r2 ${keys.a} ${versionOf(old)}`, old);
    bridge.agreed = { version: versionOf(old), host: 'up', url: 'http://up' };
    const state = new GuestState(cache, bridge, new Hlc('test/w0'), 'test/w0');
    state.begin('call-rr-shared', 'default', { rr: true, history: false, rid: 'r2', shared: true, reads: {} });
    expect(text(state.getBytes(keys.a))).toBe('a0');
    expect(text(state.getBytes(keys.a))).toBe('a0');
    expect(bridge.proposals).toEqual([{ key: keys.a, v: version(keys.a) }]);
    state.commit();
    const result = state.finishSession()!;
    expect(result.shared).toEqual({ [keys.a]: bridge.agreed });
    expect(result.snaps).toEqual([]);
  });

  it('causal: a read waits for a version as new as the request needs, or fails with CONSISTENCY_UNAVAILABLE', () => {
    const bridge = new TestBridge(cache);
    const keys = seed(bridge);
    const a2 = lww.write(bytes('a2'), other.now());
    const need = { [keys.a]: { deps: [depToWire(depOn(keys.a, a2))] } };
    const state = new GuestState(cache, bridge, new Hlc('test/w0'), 'test/w0');

    state.begin('call-causal-behind', 'default', { rr: false, causal: true, history: false, reads: {}, seen: {}, need });
    expect(() => state.getBytes(keys.a)).toThrow(expect.objectContaining({ code: 'CONSISTENCY_UNAVAILABLE' }));
    state.discard();

    bridge.ensures.set(keys.a, a2);
    state.begin('call-causal-caught-up', 'default', { rr: false, causal: true, history: false, reads: {}, seen: {}, need });
    expect(text(state.getBytes(keys.a))).toBe('a2');
    state.commit();
    expect(state.finishSession()!.seen).toEqual({ [keys.a]: [depToWire(depOn(keys.a, a2))] });
  });
});
