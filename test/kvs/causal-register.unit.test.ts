// The register's causal half: version vectors, the order, the merge that keeps concurrent
// versions, dependencies, and the codec's checks. The lattice laws run in lattice-laws.unit.test.ts
// over registers with causal metadata too.
import { describe, expect, it } from 'vitest';
import { CloudburstError } from '../../common/index.ts';
import {
  causalMeta, decode, encode, fromVersions, lww, lwwValueView, merge, satisfies, versionLeq, versionsOf,
  ZERO_STAMP, type Dep, type Lww, type Stamp,
} from '../../kvs/index.ts';

const s = (ms: number, writer: string, c = 0): Stamp => ({ ms, c, writer });
const b = (t: string): Uint8Array => Buffer.from(t);
const text = (l: Lww): string[] => versionsOf(l).map((v) => Buffer.from(v.value).toString());

/** A causal write by `own` over the versions in `past` (their vectors joined), with `deps`. */
function write(value: string, own: Stamp, past: Stamp[] = [], deps: Dep[] = [], floor: Stamp = ZERO_STAMP): Lww {
  return lww.write(b(value), own, causalMeta(own, past, floor, deps));
}

describe('causal registers', () => {
  it('a version that has another in its past replaces it, in either merge order', () => {
    const v1 = write('v1', s(10, 'a'));
    const v2 = write('v2', s(5, 'b'), [s(10, 'a')]); // b saw v1: its vector covers a@10, whatever its clock says
    expect(versionLeq(v1, v2)).toBe(true);
    expect(versionLeq(v2, v1)).toBe(false);
    expect(text(merge(v1, v2) as Lww)).toEqual(['v2']);
    expect(text(merge(v2, v1) as Lww)).toEqual(['v2']);
  });

  it('concurrent versions are all kept, the greatest stamp first; a later write over both replaces both', () => {
    const x = write('x', s(10, 'a'));
    const y = write('y', s(11, 'b'));
    const both = merge(x, y) as Lww;
    expect(text(both)).toEqual(['y', 'x']);
    expect(Buffer.from(both.value).toString()).toBe('y'); // what a plain read returns
    expect(encode(merge(y, x))).toEqual(encode(both));
    const z = write('z', s(12, 'c'), [s(10, 'a'), s(11, 'b')]);
    expect(text(merge(both, z) as Lww)).toEqual(['z']);
    // Decoding keeps the siblings; the value view (the reference fast path) reads the primary.
    expect(text(decode(encode(both)) as Lww)).toEqual(['y', 'x']);
    expect(Buffer.from(lwwValueView(encode(both))!).toString()).toBe('y');
  });

  it('plain writes stay last-writer-wins, and are below every causal version whose floor reaches them', () => {
    const p1 = lww.write(b('p1'), s(10, 'a'));
    const p2 = lww.write(b('p2'), s(20, 'a'));
    expect(merge(p1, p2)).toBe(p2);
    const c = write('c', s(15, 'b'), [], [], s(10, 'a')); // a causal write that had seen p1
    expect(text(merge(p1, c) as Lww)).toEqual(['c']);
    // p2 is newer than c's floor: concurrent, both kept, and the plain read sees the newest.
    expect(text(merge(merge(p1, c), p2) as Lww)).toEqual(['p2', 'c']);
  });

  it('a dependency is satisfied by any version that has it in its past', () => {
    const dep: Dep = { key: 'k', at: s(10, 'a'), plain: false };
    expect(satisfies(undefined, dep)).toBe(false);
    expect(satisfies(write('v', s(10, 'a')), dep)).toBe(true);
    expect(satisfies(write('v', s(9, 'a')), dep)).toBe(false);
    expect(satisfies(write('v', s(3, 'b'), [s(10, 'a')]), dep)).toBe(true);
    expect(satisfies(lww.write(b('p'), s(99, 'a')), dep)).toBe(false); // a plain write has no vector
    const plainDep: Dep = { key: 'k', at: s(10, 'a'), plain: true };
    expect(satisfies(lww.write(b('p'), s(11, 'z')), plainDep)).toBe(true);
    expect(satisfies(write('v', s(3, 'b'), [], [], s(10, 'a')), plainDep)).toBe(true);
    expect(satisfies(merge(write('old', s(1, 'c')), write('v', s(10, 'a'))) as Lww, dep)).toBe(true);
  });

  it('metadata is canonical: the own writer out of the vector, dependencies sorted and once each', () => {
    const meta = causalMeta(s(10, 'a'), [s(3, 'b'), s(9, 'a'), s(4, 'b')], ZERO_STAMP, [
      { key: 'z', at: s(1, 'x'), plain: false }, { key: 'k', at: s(2, 'y'), plain: true }, { key: 'z', at: s(1, 'x'), plain: false },
    ]);
    expect(meta.vc).toEqual([s(4, 'b')]);
    expect(meta.deps.map((d) => d.key)).toEqual(['k', 'z']);
  });

  it('decode refuses what encode would not produce', () => {
    const x = write('x', s(10, 'a'));
    const y = write('y', s(11, 'b'));
    const good = encode(merge(x, y));
    expect(decode(good)).toBeDefined();
    // encode checks each version, not their order: forge the wrong order, and a non-antichain.
    const swapped = { ...x, siblings: [{ stamp: y.stamp, tombstone: false, value: y.value, causal: y.causal! }] } as Lww;
    const forged = Buffer.from(encode(swapped));
    expect(codeOf(() => decode(forged))).toBe('KV_BAD_VALUE');
    // A sibling in the past of the primary is not an antichain.
    const stale = { ...write('z', s(12, 'c'), [s(10, 'a')]), siblings: [{ stamp: x.stamp, tombstone: false, value: x.value, causal: x.causal! }] } as Lww;
    expect(codeOf(() => decode(Buffer.from(encode(stale))))).toBe('KV_BAD_VALUE');
    // The own writer repeated in the vector.
    expect(codeOf(() => encode(lww.write(b('v'), s(10, 'a'), { vc: [s(9, 'a')], floor: ZERO_STAMP, deps: [] })))).toBe('KV_BAD_VALUE');
  });

  it('fromVersions picks the greatest stamp as the primary', () => {
    const l = fromVersions([write('x', s(10, 'a')), write('y', s(11, 'b'))]);
    expect(Buffer.from(l.value).toString()).toBe('y');
  });
});

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return err instanceof CloudburstError ? err.code : 'not a CloudburstError';
  }
  return undefined;
}
