/**
 * The table of lattice kinds and the generic operations that dispatch through it.
 * To add a type: implement a `LatticeKind` in its own file and add it to `KINDS` below and to
 * the `Lattice` union.
 */
import { CloudburstError } from '../../common/index.ts';
import { counterKind, type Counter } from './counter.ts';
import type { LatticeKind } from './kind.ts';
import { lwwKind, type Lww } from './lww.ts';
import { maxKind, type Max } from './max.ts';
import { gsetKind, type GSet } from './set.ts';
import type { Stamp } from './stamp.ts';

/**
 * Any lattice value the KV tier stores.
 *
 * @example
 * function describe(l: Lattice): string { return l.type === 'lww' ? 'register' : l.type; }
 */
export type Lattice = Lww | Counter | GSet | Max;

/**
 * The name of a lattice type, as it appears in APIs and errors.
 *
 * @example
 * const t: LatticeType = 'counter';
 */
export type LatticeType = Lattice['type'];

const KINDS: { readonly [T in LatticeType]: LatticeKind<Extract<Lattice, { type: T }>> } = {
  lww: lwwKind,
  counter: counterKind,
  set: gsetKind,
  max: maxKind,
};

/**
 * Every lattice type, in tag order.
 *
 * @example
 * for (const t of LATTICE_TYPES) console.log(t, tombstoneFor(t, hlc.now()));
 */
export const LATTICE_TYPES: readonly LatticeType[] = Object.freeze(
  (Object.keys(KINDS) as LatticeType[]).sort((a, b) => KINDS[a].tag - KINDS[b].tag),
);

/**
 * Narrows untrusted input (a query parameter, JSON) to a lattice type name.
 *
 * @example
 * if (!isLatticeType(body.type)) throw new CloudburstError('KV_UNKNOWN_TYPE');
 */
export function isLatticeType(x: unknown): x is LatticeType {
  return typeof x === 'string' && Object.hasOwn(KINDS, x);
}

/** The kind of a type name; one cast here instead of one per call site. */
export function kindOf(type: LatticeType): LatticeKind<Lattice> {
  const kind = KINDS[type] as LatticeKind<Lattice> | undefined;
  if (!kind) throw new CloudburstError('KV_UNKNOWN_TYPE', `unknown lattice type ${JSON.stringify(type)}`);
  return kind;
}

/**
 * Joins two values of the same lattice type: associative, commutative, idempotent. Never
 * mutates its inputs (it may return one of them).
 *
 * @throws CloudburstError `KV_TYPE_MISMATCH` when the types differ.
 * @example
 * const joined = merge(stored, incoming);
 */
export function merge(a: Lattice, b: Lattice): Lattice {
  if (a.type !== b.type) {
    throw new CloudburstError('KV_TYPE_MISMATCH', `cannot merge a ${b.type} into a ${a.type}`, {
      stored: a.type,
      incoming: b.type,
    });
  }
  return kindOf(a.type).merge(a, b);
}

/**
 * Value equality (what `encode` would make byte-identical).
 *
 * @example
 * equals(merge(a, a), a) // true
 */
export function equals(a: Lattice, b: Lattice): boolean {
  return a.type === b.type && kindOf(a.type).equals(a, b);
}

/**
 * Whether the value reads as "no value": an LWW tombstone, or a counter/set/max that was
 * reset (epoch above ZERO_STAMP) with nothing written since.
 *
 * @example
 * isDeleted(tombstoneFor('set', hlc.now())) // true
 */
export function isDeleted(l: Lattice): boolean {
  return kindOf(l.type).isDeleted(l);
}

/**
 * The value that deletes a key of this type when merged in: an LWW tombstone at `stamp`, or
 * for counter/set/max an empty value whose epoch is `stamp` (it beats every write made at an
 * older epoch, such as a cache's write that had not seen the delete).
 *
 * @example
 * await client.merge(key, tombstoneFor('counter', hlc.now()));
 */
export function tombstoneFor(type: LatticeType, stamp: Stamp): Lattice {
  return kindOf(type).tombstone(stamp);
}

/** The kind registered under a codec tag, if any. */
export function kindByTag(tag: number): LatticeKind<Lattice> | undefined {
  return BY_TAG[tag];
}

const BY_TAG: (LatticeKind<Lattice> | undefined)[] = [];
for (const t of LATTICE_TYPES) {
  const kind = kindOf(t);
  if (BY_TAG[kind.tag]) throw new Error(`lattice tag ${kind.tag} registered twice`);
  BY_TAG[kind.tag] = kind;
}
