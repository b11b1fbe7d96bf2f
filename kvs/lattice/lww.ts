/**
 * Last-writer-wins register. Payload: stamp, flag u8 (0 = value, 1 = tombstone), then for a
 * value its length u32 LE and bytes. A tombstone has no value bytes at all.
 */
import { badValue, bytesEqual, compareBytes } from './bytes.ts';
import type { LatticeKind } from './kind.ts';
import { compareStamps, readStamp, stampSize, writeStamp, type Stamp } from './stamp.ts';

/**
 * A last-writer-wins register: the write with the greatest stamp wins; a delete is a
 * tombstone write, so a later write wins over it again.
 *
 * @example
 * const v: Lww = lww.write(new TextEncoder().encode('hi'), hlc.now());
 */
export interface Lww {
  readonly type: 'lww';
  readonly stamp: Stamp;
  readonly tombstone: boolean;
  readonly value: Uint8Array;
}

const EMPTY = new Uint8Array(0);
const MAX_VALUE = 0xffffffff;

/**
 * Constructors for LWW registers. The register keeps a reference to `value`: do not mutate
 * the array afterwards.
 *
 * @example
 * const put = lww.write(bytes, hlc.now());
 * const del = lww.tombstone(hlc.now());
 * merge(put, del) // whichever stamp is greater
 */
export const lww = {
  write(value: Uint8Array, stamp: Stamp): Lww {
    return { type: 'lww', stamp, tombstone: false, value };
  },
  tombstone(stamp: Stamp): Lww {
    return { type: 'lww', stamp, tombstone: true, value: EMPTY };
  },
} as const;

// Equal stamps only happen when one writer reuses a stamp (a bug or hostile input); the rule
// must still be commutative, so a tombstone beats a value and larger bytes beat smaller ones.
function wins(a: Lww, b: Lww): boolean {
  const c = compareStamps(a.stamp, b.stamp);
  if (c !== 0) return c > 0;
  if (a.tombstone !== b.tombstone) return a.tombstone;
  return compareBytes(a.value, b.value) >= 0;
}

export const lwwKind: LatticeKind<Lww> = {
  type: 'lww',
  tag: 1,
  merge: (a, b) => (wins(a, b) ? a : b),
  equals: (a, b) =>
    a.tombstone === b.tombstone && compareStamps(a.stamp, b.stamp) === 0 && bytesEqual(a.value, b.value),
  isDeleted: (l) => l.tombstone,
  tombstone: (stamp) => lww.tombstone(stamp),
  payloadSize(l) {
    const size = stampSize(l.stamp) + 1;
    if (l.tombstone) {
      if (l.value.byteLength !== 0) throw badValue('an lww tombstone carries no value bytes');
      return size;
    }
    if (l.value.byteLength > MAX_VALUE) throw badValue('an lww value is limited to 2^32-1 bytes');
    return size + 4 + l.value.byteLength;
  },
  writePayload(w, l) {
    writeStamp(w, l.stamp);
    w.u8(l.tombstone ? 1 : 0);
    if (!l.tombstone) {
      w.u32(l.value.byteLength);
      w.bytes(l.value);
    }
  },
  readPayload(r) {
    const stamp = readStamp(r, 'lww.stamp');
    const flag = r.u8('lww.flag');
    if (flag === 1) return lww.tombstone(stamp);
    if (flag !== 0) throw r.fail(`lww flag must be 0 or 1, got ${flag}`);
    return lww.write(r.bytes(r.u32('lww.length'), 'lww.value'), stamp);
  },
};

/**
 * The value bytes of an encoded LWW register, as a view into `bytes` (no copy), or `null` for a
 * tombstone: the hot path of a host reading a large value straight out of LMDB into a guest's
 * memory. Layout: version, tag, stamp (u48 ms, u16 c, u8 writer length, writer), u8 flags,
 * u32 length, value. Throws like `decode` if `bytes` is not a well-formed LWW encoding.
 *
 * @example
 * const view = lwwValueView(cache.getFast(key)); // then copy it where it must go, at once
 */
export function lwwValueView(bytes: Uint8Array): Uint8Array | null {
  if (bytes.length < 12 || bytes[0] !== 1 || bytes[1] !== lwwKind.tag) throw badValue('not an encoded lww register');
  const flagAt = 11 + bytes[10]!;
  if (bytes.length < flagAt + 1) throw badValue('truncated lww register');
  if (bytes[flagAt] === 1) return null;
  if (bytes.length < flagAt + 5) throw badValue('truncated lww register');
  const len = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(flagAt + 1, true);
  const start = flagAt + 5;
  if (start + len !== bytes.length || bytes[flagAt] !== 0) throw badValue('malformed lww register');
  return bytes.subarray(start, start + len);
}
