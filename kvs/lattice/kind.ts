/**
 * The contract every lattice type implements. The registry (`registry.ts`) dispatches the
 * generic operations and the codec through it, so adding a type means writing one of these
 * and registering it (see kvs/README.md, "Adding a lattice type").
 */
import type { ByteReader, ByteWriter } from './bytes.ts';
import { compareStamps, type Stamp } from './stamp.ts';

export interface LatticeKind<L extends { readonly type: string }> {
  readonly type: L['type'];
  /** The codec's type tag (byte 1). Tags are never reused, even for removed types. */
  readonly tag: number;
  /** Associative, commutative, idempotent; never mutates its inputs (it may return one). */
  merge(a: L, b: L): L;
  equals(a: L, b: L): boolean;
  isDeleted(l: L): boolean;
  /** The value a delete of a key of this type merges in. */
  tombstone(stamp: Stamp): L;
  /** Validates the invariants the codec relies on (KV_BAD_VALUE) and returns the payload size. */
  payloadSize(l: L): number;
  writePayload(w: ByteWriter, l: L): void;
  /** Must reject every input that `writePayload` would not produce: encodings stay canonical. */
  readPayload(r: ByteReader): L;
}

/** State shared by the types whose delete is a reset: a stamp that orders resets. */
export interface Epoched {
  readonly epoch: Stamp;
}

/**
 * The lexicographic product (epoch, inner state): the side with the later reset wins outright;
 * with equal epochs the inner states merge. This is itself a lattice when `inner` is one.
 */
export function mergeByEpoch<L extends Epoched>(a: L, b: L, inner: (a: L, b: L) => L): L {
  const c = compareStamps(a.epoch, b.epoch);
  if (c > 0) return a;
  if (c < 0) return b;
  return inner(a, b);
}

/** Deleted = reset at some point (epoch above bottom) and nothing written since. */
export function isResetEmpty(epoch: Stamp, empty: boolean): boolean {
  return empty && (epoch.ms !== 0 || epoch.c !== 0 || epoch.writer !== '');
}
