/**
 * Grow-only set with a reset epoch. Payload: epoch stamp, member count u32 LE, then each
 * member as length u32 LE and bytes, in strictly increasing byte order (so no duplicates).
 */
import { badValue, compareBytes } from './bytes.ts';
import { isResetEmpty, mergeByEpoch, type LatticeKind } from './kind.ts';
import { compareStamps, readStamp, stampSize, writeStamp, ZERO_STAMP, type Stamp } from './stamp.ts';

/**
 * A grow-only set of byte strings, kept sorted by bytes and unique. A delete raises `epoch`
 * and empties it.
 *
 * @example
 * const d = gset.add(current, new TextEncoder().encode('alice')); // a delta
 */
export interface GSet {
  readonly type: 'set';
  readonly epoch: Stamp;
  readonly members: readonly Uint8Array[];
}

/**
 * Set helpers. `add` returns a delta holding just `member`, at `current`'s epoch. The set
 * keeps a reference to `member`: do not mutate it afterwards.
 *
 * @example
 * const s = merge(current, gset.add(current, bytes)) as GSet;
 * gset.has(s, bytes) // true
 */
export const gset = {
  add(current: GSet | undefined, member: Uint8Array): GSet {
    return { type: 'set', epoch: current?.epoch ?? ZERO_STAMP, members: [member] };
  },
  has(s: GSet, member: Uint8Array): boolean {
    let lo = 0;
    let hi = s.members.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const c = compareBytes(s.members[mid]!, member);
      if (c === 0) return true;
      if (c < 0) lo = mid + 1;
      else hi = mid - 1;
    }
    return false;
  },
} as const;

function union(a: GSet, b: GSet): GSet {
  const x = a.members;
  const y = b.members;
  const out: Uint8Array[] = [];
  let i = 0;
  let j = 0;
  while (i < x.length && j < y.length) {
    const c = compareBytes(x[i]!, y[j]!);
    if (c <= 0) out.push(x[i++]!);
    else out.push(y[j++]!);
    if (c === 0) j++;
  }
  while (i < x.length) out.push(x[i++]!);
  while (j < y.length) out.push(y[j++]!);
  // The union contains each side, so equal length means it IS that side: reuse it.
  if (out.length === x.length) return a;
  if (out.length === y.length) return b;
  return { type: 'set', epoch: a.epoch, members: out };
}

export const gsetKind: LatticeKind<GSet> = {
  type: 'set',
  tag: 3,
  merge: (a, b) => mergeByEpoch(a, b, union),
  equals(a, b) {
    if (compareStamps(a.epoch, b.epoch) !== 0 || a.members.length !== b.members.length) return false;
    return a.members.every((m, i) => compareBytes(m, b.members[i]!) === 0);
  },
  isDeleted: (l) => isResetEmpty(l.epoch, l.members.length === 0),
  tombstone: (epoch) => ({ type: 'set', epoch, members: [] }),
  payloadSize(l) {
    let size = stampSize(l.epoch) + 4;
    for (let i = 0; i < l.members.length; i++) {
      const m = l.members[i]!;
      if (i > 0 && compareBytes(l.members[i - 1]!, m) >= 0) throw badValue('set members must be unique and sorted by bytes');
      if (m.byteLength > 0xffffffff) throw badValue('a set member is limited to 2^32-1 bytes');
      size += 4 + m.byteLength;
    }
    return size;
  },
  writePayload(w, l) {
    writeStamp(w, l.epoch);
    w.u32(l.members.length);
    for (const m of l.members) {
      w.u32(m.byteLength);
      w.bytes(m);
    }
  },
  readPayload(r) {
    const epoch = readStamp(r, 'set.epoch');
    const count = r.u32('set.count');
    if (count * 4 > r.remaining) throw r.fail(`set claims ${count} members in ${r.remaining} bytes`);
    const members: Uint8Array[] = [];
    for (let i = 0; i < count; i++) {
      const m = r.bytes(r.u32('set.member length'), 'set.member');
      if (i > 0 && compareBytes(members[i - 1]!, m) >= 0) throw r.fail('set members must be unique and sorted by bytes');
      members.push(m);
    }
    return { type: 'set', epoch, members };
  },
};
