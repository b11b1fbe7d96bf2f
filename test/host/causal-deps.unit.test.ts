// What a new causal version depends on (host/consistency/causal-deps.ts): the versions its
// request observed, what the versions of its key it supersedes depended on, without what
// another dependency implies.
import { describe, expect, it } from 'vitest';
import { addDepWire, depToWire } from '../../host/consistency/causal-wire.ts';
import { CAUSAL_WINDOW_MS, MAX_DEPS, dependenciesOf } from '../../host/consistency/causal-deps.ts';
import { causalMeta, compactDeps, lww, versionsOf, ZERO_STAMP, type Dep, type Lww, type Stamp } from '../../kvs/index.ts';

const s = (ms: number, writer: string, c = 0): Stamp => ({ ms, c, writer });
const on = (key: string, at: Stamp, plain = false): Dep => ({ key, at, plain });
/** A causal version of a key written at `own` over `past` (vector entries), with `deps`. */
const version = (own: Stamp, past: Stamp[] = [], deps: Dep[] = []): Lww => lww.write(Buffer.from('x'), own, causalMeta(own, past, ZERO_STAMP, deps));
const plainVersion = (own: Stamp): Lww => lww.write(Buffer.from('x'), own);
const none = (): undefined => undefined;
const keysOf = (deps: readonly Dep[]): string[] => deps.map((d) => `${d.key}@${d.plain ? 'p' : 'c'}${d.at.ms}.${d.at.writer}`);

describe('compact dependencies', () => {
  it('keeps per key the latest version of each writer and the latest plain write', () => {
    const deps = [on('a', s(1, 'w1')), on('a', s(3, 'w1')), on('a', s(2, 'w2')), on('a', s(5, 'p'), true), on('a', s(4, 'q'), true), on('b', s(1, 'w1'))];
    expect(keysOf(compactDeps(deps))).toEqual(['a@c2.w2', 'a@c3.w1', 'a@p5.p', 'b@c1.w1']);
    const list: string[] = [];
    for (const d of deps.filter((x) => x.key === 'a')) addDepWire(list, 'a', depToWire(d));
    expect(list.sort()).toEqual(['c2.0.w2', 'c3.0.w1', 'p5.0.p'].sort());
  });
});

describe('dependenciesOf', () => {
  const self = version(s(100, 'me'), [s(50, 'w1')]);

  it('a version depends on what the versions it supersedes depended on, read or not', () => {
    // r1 (of key r) depended on the post p@10; the new version of r is written over r1 by a
    // request that observed only q@20.
    const r1 = version(s(50, 'w1'), [], [on('p', s(10, 'a'))]);
    const deps = dependenciesOf('r', self, [on('q', s(20, 'b'))], versionsOf(r1), new Map(), none);
    expect(keysOf(deps)).toEqual(['p@c10.a', 'q@c20.b']);
  });

  it('a dependency older than the window is no longer carried; at most MAX_DEPS are, the newest', () => {
    const now = 1_000_000;
    const fresh = version(s(now, 'me'));
    const deps = dependenciesOf('r', fresh, [on('old', s(now - CAUSAL_WINDOW_MS - 1, 'a')), on('edge', s(now - CAUSAL_WINDOW_MS, 'b'))], [], new Map(), none);
    expect(keysOf(deps)).toEqual([`edge@c${now - CAUSAL_WINDOW_MS}.b`]);
    const many = Array.from({ length: MAX_DEPS + 5 }, (_, i) => on(`k${i}`, s(now - 1000 + i, 'w')));
    const capped = dependenciesOf('r', fresh, many, [], new Map(), none);
    expect(capped).toHaveLength(MAX_DEPS);
    expect(Math.min(...capped.map((d) => d.at.ms))).toBe(now - 1000 + 5);
  });

  it('leaves out the versions of its own key it has in its past, but not those it does not', () => {
    const deps = dependenciesOf('r', self, [on('r', s(40, 'w1')), on('r', s(60, 'w9'))], [], new Map(), none);
    expect(keysOf(deps)).toEqual(['r@c60.w9']);
  });

  it('leaves out what a version the call observed has in its past or depends on', () => {
    // The call observed q2 (q's vector covers q@20 by w2; q2 depends on p@10): an inherited
    // dependency on q@20 or on p@10 is implied by the one on q2.
    const q2 = version(s(30, 'w3'), [s(20, 'w2')], [on('p', s(10, 'a'))]);
    const over = versionsOf(version(s(50, 'w1'), [], [on('q', s(20, 'w2')), on('p', s(10, 'a')), on('x', s(5, 'c'))]));
    const seen = new Map([['q', versionsOf(q2)]]);
    const deps = dependenciesOf('r', self, [on('q', s(30, 'w3'))], over, seen, none);
    expect(keysOf(deps)).toEqual(['q@c30.w3', 'x@c5.c']);
  });

  it('several versions of a key it did not observe stand as the one this host holds, when that one has them all', () => {
    const over = versionsOf(version(s(50, 'w1'), [], [on('k', s(10, 'a')), on('k', s(11, 'b')), on('k', s(3, 'z'), true), on('m', s(1, 'a')), on('m', s(2, 'b'))]));
    const k = version(s(12, 'c'), [s(10, 'a'), s(11, 'b')], [on('n', s(7, 'd'))]);
    const held = (key: string): Lww | undefined => (key === 'k' ? lww.write(k.value, k.stamp, { ...k.causal!, floor: s(3, 'z') }) : key === 'm' ? version(s(9, 'e'), [s(1, 'a')]) : undefined);
    // k: one held version covers all three; m: the held version lacks m@2 by b, so both stay.
    expect(keysOf(dependenciesOf('r', self, [], over, new Map(), held))).toEqual(['k@c12.c', 'm@c1.a', 'm@c2.b']);
    // What the held version stands for depends on comes along: n@7 is implied by k@12.
    const withN = versionsOf(version(s(50, 'w1'), [], [...over[0]!.causal!.deps, on('n', s(7, 'd'))]));
    expect(keysOf(dependenciesOf('r', self, [], withN, new Map(), held))).toEqual(['k@c12.c', 'm@c1.a', 'm@c2.b']);
    // Without a held version (evicted), they all stay.
    expect(dependenciesOf('r', self, [], over, new Map(), none)).toHaveLength(5);
  });

  it('a plain version depended on is kept unless a newer plain write or a floor covers it', () => {
    const over = versionsOf(version(s(50, 'w1'), [], [on('a', s(5, 'p'), true)]));
    expect(keysOf(dependenciesOf('r', self, [on('a', s(6, 'p'), true)], over, new Map(), none))).toEqual(['a@p6.p']);
    const seen = new Map([['a', versionsOf(plainVersion(s(6, 'p')))]]);
    expect(keysOf(dependenciesOf('r', self, [on('a', s(6, 'p'), true)], over, seen, none))).toEqual(['a@p6.p']);
  });
});
