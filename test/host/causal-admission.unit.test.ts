// The causal cut's rule of admission (host/consistency/causal-admission.ts), on values alone:
// the cut itself, with its cache, fetches and peers, is tested in causal.test.ts.
import { describe, expect, it } from 'vitest';
import { causalMeta, lww, ZERO_STAMP, type Dep, type Lww, type Stamp } from '../../kvs/index.ts';
import { closedSubset, closeOverHeld, depChecker } from '../../host/consistency/causal-admission.ts';

const s = (ms: number, writer: string): Stamp => ({ ms, c: 0, writer });
const dep = (key: string, at: Stamp): Dep => ({ key, at, plain: false });
/** A causal version written by `own`'s writer with dependencies `deps`. */
const write = (own: Stamp, deps: Dep[] = []): Lww => lww.write(Buffer.from(own.writer), own, causalMeta(own, [], ZERO_STAMP, deps));
const held = (entries: Record<string, Lww>): Map<string, { value: Lww }> => new Map(Object.entries(entries).map(([k, value]) => [k, { value }]));
const admitted = (closed: Map<string, unknown[]>): string[] => [...closed].filter(([, vs]) => vs.length > 0).map(([k]) => k).sort();

describe('the causal cut\'s admission rule', () => {
  it('a dependency is met by the local value, or by a dependency a local version of the same key already has', () => {
    const local = new Map<string, Lww>([
      ['y', write(s(5, 'q'))],
      ['k', write(s(30, 'w'), [dep('x', s(20, 'z'))])],
    ]);
    const reads: string[] = [];
    const met = depChecker((key) => {
      reads.push(key);
      return local.get(key);
    });
    expect(met('k', dep('y', s(5, 'q')))).toBe(true);
    expect(met('k', dep('y', s(6, 'q')))).toBe(false);
    // x is not here, but k's local version depends on a later write of x by the same writer.
    expect(met('k', dep('x', s(15, 'z')))).toBe(true);
    expect(met('k', dep('x', s(25, 'z')))).toBe(false);
    expect(met('other', dep('x', s(15, 'z')))).toBe(false);
    // One pass reads each key once, however many dependencies name it.
    expect(reads.sort()).toEqual(['k', 'other', 'x', 'y']);
  });

  it('versions that depend on each other go in together; an unmet dependency keeps out its version and what depends on it', () => {
    const values = held({
      a: write(s(10, 'w'), [dep('b', s(11, 'v'))]),
      b: write(s(11, 'v'), [dep('a', s(10, 'w'))]),
      c: write(s(12, 'u'), [dep('missing', s(9, 'z'))]),
      d: write(s(13, 't'), [dep('c', s(12, 'u'))]),
      e: write(s(14, 'r'), [dep('here', s(1, 'h'))]),
    });
    const here = new Map([['here', write(s(1, 'h'))]]);
    const closed = closedSubset(values, depChecker((k) => here.get(k)));
    expect(admitted(closed)).toEqual(['a', 'b', 'e']);
    expect([...closed.keys()].sort()).toEqual(['a', 'b', 'c', 'd', 'e']);
  });

  it('a root is closed over the held keys its held versions depend on, transitively, and only held ones', () => {
    const values = held({
      a: write(s(10, 'w'), [dep('b', s(11, 'v')), dep('notHeld', s(1, 'n'))]),
      b: write(s(11, 'v'), [dep('c', s(12, 'u'))]),
      c: write(s(12, 'u')),
      unrelated: write(s(13, 't'), [dep('a', s(10, 'w'))]),
    });
    const roots = new Set(['a']);
    closeOverHeld(values, roots);
    expect([...roots].sort()).toEqual(['a', 'b', 'c']);
  });
});
