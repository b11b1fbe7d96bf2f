/**
 * The register: last-writer-wins by default, causal when written with causal metadata.
 *
 * Payload: the primary version, then (flag bit 2) a u16 count of sibling versions.
 * A version: stamp, flags u8 (bit 0 tombstone, bit 1 causal metadata, bit 2 siblings follow,
 * primary only), then for a value its length u32 LE and bytes, then the causal metadata
 * (`causal-codec.ts`). A plain LWW value is exactly the old layout.
 */
import { badValue, bytesEqual, compareBytes, compareUtf8, type ByteReader, type ByteWriter } from './bytes.ts';
import { decodeMeta, depOrder, encodeMeta } from './causal-codec.ts';
import type { LatticeKind } from './kind.ts';
import { compareStamps, readStamp, stampSize, writeStamp, type Stamp } from './stamp.ts';

/**
 * A dependency of a causal version: the version of `key` written at `at` (for a causal
 * version, its own stamp), or for `plain` the LWW write at `at`.
 */
export interface Dep {
  readonly key: string;
  readonly at: Stamp;
  readonly plain: boolean;
}

/**
 * What a version written in a causal request (or over a causal version) carries.
 * `vc` is the key's version vector: per writer, the stamp of its latest write of this key in
 * the version's past; the version's own stamp is its own writer's entry (implied, never stored
 * twice). `floor` is the latest plain (LWW) write of the key in its past.
 */
export interface CausalMeta {
  readonly vc: readonly Stamp[];
  readonly floor: Stamp;
  readonly deps: readonly Dep[];
}

/** One version of a register. */
export interface LwwVersion {
  readonly stamp: Stamp;
  readonly tombstone: boolean;
  readonly value: Uint8Array;
  /** Absent for a plain last-writer-wins write. */
  readonly causal?: CausalMeta;
}

/**
 * A register. Plain writes are last-writer-wins: the write with the greatest stamp wins; a
 * delete is a tombstone write, so a later write wins over it again. Causal writes carry a
 * version vector and dependencies; versions that are concurrent (neither in the other's
 * past) are all kept. The top-level fields are the primary version (the greatest stamp: what
 * a plain read returns), `siblings` the other concurrent ones, greatest stamp first.
 *
 * @example
 * const v: Lww = lww.write(new TextEncoder().encode('hi'), hlc.now());
 */
export interface Lww extends LwwVersion {
  readonly type: 'lww';
  readonly siblings?: readonly LwwVersion[];
}

const EMPTY = new Uint8Array(0);
const MAX_VALUE = 0xffffffff;
/** Concurrent versions of one register; the merge is quadratic in them. */
const MAX_SIBLINGS = 256;
const F_TOMBSTONE = 1;
const F_CAUSAL = 2;
const F_SIBLINGS = 4;
/** The flag bits of a version (for lww-raw.ts, which reads them in place). */
export const LWW_FLAGS = { tombstone: F_TOMBSTONE, causal: F_CAUSAL, siblings: F_SIBLINGS } as const;

/**
 * Constructors for registers. The register keeps a reference to `value`: do not mutate the
 * array afterwards.
 *
 * @example
 * const put = lww.write(bytes, hlc.now());
 * const del = lww.tombstone(hlc.now());
 * merge(put, del) // whichever stamp is greater
 */
export const lww = {
  write(value: Uint8Array, stamp: Stamp, causal?: CausalMeta): Lww {
    return causal ? { type: 'lww', stamp, tombstone: false, value, causal } : { type: 'lww', stamp, tombstone: false, value };
  },
  tombstone(stamp: Stamp, causal?: CausalMeta): Lww {
    return causal ? { type: 'lww', stamp, tombstone: true, value: EMPTY, causal } : { type: 'lww', stamp, tombstone: true, value: EMPTY };
  },
} as const;

// Equal stamps only happen when one writer reuses a stamp (a bug or hostile input); the rule
// must still be commutative, so a tombstone beats a value and larger bytes beat smaller ones.
function compareVersions(a: LwwVersion, b: LwwVersion): number {
  const c = compareStamps(a.stamp, b.stamp);
  if (c !== 0) return c;
  if (a.tombstone !== b.tombstone) return a.tombstone ? 1 : -1;
  const v = compareBytes(a.value, b.value);
  if (v !== 0) return v;
  return compareBytes(metaKey(a), metaKey(b));
}

function wins(a: LwwVersion, b: LwwVersion): boolean {
  return compareVersions(a, b) >= 0;
}

// Ties between byte-identical values with different metadata need an order too (hostile input).
function metaKey(v: LwwVersion): Uint8Array {
  const m = v.causal;
  if (!m) return EMPTY;
  const st = (s: Stamp): string => `${s.ms}.${s.c}.${s.writer}`;
  return Buffer.from(JSON.stringify([m.vc.map(st), st(m.floor), m.deps.map((d) => [d.key, st(d.at), d.plain])]));
}

/** The versions of a register, primary first. */
export function versionsOf(l: Lww): readonly LwwVersion[] {
  return l.siblings && l.siblings.length > 0 ? [l, ...l.siblings] : [l];
}

/** The version vector of a version: its stored entries plus its own stamp (plain: none). */
export function vectorOf(v: LwwVersion): readonly Stamp[] {
  if (!v.causal) return [];
  return insertOwn(v.causal.vc, v.stamp);
}

function insertOwn(vc: readonly Stamp[], own: Stamp): Stamp[] {
  const out: Stamp[] = [];
  let placed = false;
  for (const e of vc) {
    if (!placed && compareUtf8(own.writer, e.writer) < 0) {
      out.push(own);
      placed = true;
    }
    out.push(e);
  }
  if (!placed) out.push(own);
  return out;
}

/** The latest plain write in a version's past (a plain version: itself). */
export function floorOf(v: LwwVersion): Stamp {
  return v.causal ? v.causal.floor : v.stamp;
}

function tick(a: Stamp, b: Stamp): number {
  return a.ms !== b.ms ? a.ms - b.ms : a.c - b.c;
}

/** Every entry of `a` is at or below `b`'s entry for the same writer. Both sorted by writer. */
function vcLeq(a: readonly Stamp[], b: readonly Stamp[]): boolean {
  let j = 0;
  for (const e of a) {
    while (j < b.length && compareUtf8(b[j]!.writer, e.writer) < 0) j++;
    const f = b[j];
    if (f === undefined || f.writer !== e.writer || tick(e, f) > 0) return false;
  }
  return true;
}

/**
 * Whether version `a` is in the past of (or the same as) version `b`: the product of the
 * version-vector order and the plain writes' stamp order. A plain version is below every
 * version whose floor reaches its stamp; no causal version is below a plain one.
 */
export function versionLeq(a: LwwVersion, b: LwwVersion): boolean {
  return compareStamps(floorOf(a), floorOf(b)) <= 0 && vcLeq(vectorOf(a), vectorOf(b));
}

/** The pairwise maximum of version vectors (sorted by writer). */
export function joinVectors(...vcs: (readonly Stamp[])[]): Stamp[] {
  const best = new Map<string, Stamp>();
  for (const vc of vcs) {
    for (const e of vc) {
      const cur = best.get(e.writer);
      if (cur === undefined || tick(e, cur) > 0) best.set(e.writer, e);
    }
  }
  return [...best.values()].sort((x, y) => compareUtf8(x.writer, y.writer));
}

/** Whether some version of the register has `dep` in its past. */
export function satisfies(l: Lww | undefined, dep: Dep): boolean {
  if (l === undefined) return false;
  for (const v of versionsOf(l)) {
    if (dep.plain) {
      if (compareStamps(floorOf(v), dep.at) >= 0) return true;
      continue;
    }
    if (v.causal === undefined) continue;
    if (v.stamp.writer === dep.at.writer) {
      if (tick(v.stamp, dep.at) >= 0) return true;
      continue;
    }
    for (const e of v.causal.vc) if (e.writer === dep.at.writer && tick(e, dep.at) >= 0) return true;
  }
  return false;
}

/**
 * Whether dependency `a` makes `b` redundant: every value that satisfies `a` satisfies `b`.
 * Same key and kind, and for a causal version the same writer at least as far (a writer's
 * later write of a key has its earlier one in its past), for a plain write a stamp at least
 * as great (a floor that reaches it reaches the earlier one).
 */
export function depCovers(a: Dep, b: Dep): boolean {
  if (a.key !== b.key || a.plain !== b.plain) return false;
  if (a.plain) return compareStamps(a.at, b.at) >= 0;
  return a.at.writer === b.at.writer && tick(a.at, b.at) >= 0;
}

/**
 * Dependencies without the redundant ones (`depCovers`), sorted: per key, the latest version
 * of each writer and the latest plain write.
 */
export function compactDeps(deps: readonly Dep[]): Dep[] {
  const best = new Map<string, Dep>();
  for (const d of deps) {
    const id = d.plain ? `${d.key}\0` : `${d.key}\0${d.at.writer}\0c`;
    const cur = best.get(id);
    if (cur === undefined || !depCovers(cur, d)) best.set(id, d);
  }
  return [...best.values()].sort(depOrder);
}

/** The dependency that says "at least this version". */
export function depOn(key: string, v: LwwVersion): Dep {
  return { key, at: v.stamp, plain: v.causal === undefined };
}

/**
 * The versions of both registers that are not in the past of another one: the causal merge.
 * Two versions with the same place in the order are the same write (the stamp tie-break keeps
 * one, deterministically). Without causal metadata this is exactly last-writer-wins.
 */
function mergeLww(a: Lww, b: Lww): Lww {
  if (a.causal === undefined && b.causal === undefined && a.siblings === undefined && b.siblings === undefined) {
    return wins(a, b) ? a : b;
  }
  const all = [...versionsOf(a), ...versionsOf(b)];
  const keep: LwwVersion[] = [];
  for (const x of all) {
    let drop = false;
    for (const y of all) {
      if (x === y || !versionLeq(x, y)) continue;
      // y has x in its past: x goes, unless they are equal in the order and x wins the tie.
      if (!versionLeq(y, x) || !wins(x, y)) {
        drop = true;
        break;
      }
    }
    if (!drop && !keep.some((k) => sameVersion(k, x))) keep.push(x);
  }
  return fromVersions(keep);
}

function sameVersion(a: LwwVersion, b: LwwVersion): boolean {
  return a === b || (versionLeq(a, b) && versionLeq(b, a) && lwwKind.equals(asLww(a), asLww(b)));
}

function asLww(v: LwwVersion): Lww {
  return { type: 'lww', stamp: v.stamp, tombstone: v.tombstone, value: v.value, ...(v.causal ? { causal: v.causal } : {}) };
}

/** A register from an antichain of versions (not checked): the greatest stamp is the primary. */
export function fromVersions(versions: readonly LwwVersion[]): Lww {
  const sorted = [...versions].sort((x, y) => compareVersions(y, x));
  const [first, ...rest] = sorted;
  if (first === undefined) throw badValue('a register needs at least one version');
  const primary = asLww(first);
  if (rest.length === 0) return primary;
  return { ...primary, siblings: rest.map((v) => ({ stamp: v.stamp, tombstone: v.tombstone, value: v.value, ...(v.causal ? { causal: v.causal } : {}) })) };
}


/**
 * Causal metadata in canonical form: the own writer's entry out of `vc` (the stamp is it),
 * one entry per writer (the latest), deps sorted and compacted (`compactDeps`).
 */
export function causalMeta(own: Stamp, vc: readonly Stamp[], floor: Stamp, deps: readonly Dep[]): CausalMeta {
  const entries = joinVectors(vc).filter((e) => e.writer !== own.writer);
  return { vc: entries, floor, deps: compactDeps(deps) };
}

function versionSize(v: LwwVersion): number {
  let size = stampSize(v.stamp) + 1;
  if (v.tombstone) {
    if (v.value.byteLength !== 0) throw badValue('an lww tombstone carries no value bytes');
  } else {
    if (v.value.byteLength > MAX_VALUE) throw badValue('an lww value is limited to 2^32-1 bytes');
    size += 4 + v.value.byteLength;
  }
  if (v.causal) size += encodeMeta(v.stamp, v.causal).length;
  return size;
}

function writeVersion(w: ByteWriter, v: LwwVersion, siblings: boolean): void {
  writeStamp(w, v.stamp);
  w.u8((v.tombstone ? F_TOMBSTONE : 0) | (v.causal ? F_CAUSAL : 0) | (siblings ? F_SIBLINGS : 0));
  if (!v.tombstone) {
    w.u32(v.value.byteLength);
    w.bytes(v.value);
  }
  if (v.causal) w.bytes(encodeMeta(v.stamp, v.causal));
}

function readVersion(r: ByteReader, primary: boolean): { v: LwwVersion; siblings: boolean } {
  const stamp = readStamp(r, 'lww.stamp');
  const flags = r.u8('lww.flag');
  if ((flags & ~(F_TOMBSTONE | F_CAUSAL | F_SIBLINGS)) !== 0 || (!primary && (flags & F_SIBLINGS) !== 0)) {
    throw r.fail(`lww flags ${flags} are not valid here`);
  }
  const tombstone = (flags & F_TOMBSTONE) !== 0;
  const value = tombstone ? EMPTY : r.bytes(r.u32('lww.length'), 'lww.value');
  let causal: CausalMeta | undefined;
  if ((flags & F_CAUSAL) !== 0) causal = decodeMeta(r, stamp);
  const v: LwwVersion = causal ? { stamp, tombstone, value, causal } : { stamp, tombstone, value };
  return { v, siblings: (flags & F_SIBLINGS) !== 0 };
}

export const lwwKind: LatticeKind<Lww> = {
  type: 'lww',
  tag: 1,
  merge: mergeLww,
  equals(a, b) {
    const va = versionsOf(a);
    const vb = versionsOf(b);
    if (va.length !== vb.length) return false;
    return va.every((x, i) => {
      const y = vb[i]!;
      return x.tombstone === y.tombstone && compareStamps(x.stamp, y.stamp) === 0 && bytesEqual(x.value, y.value)
        && bytesEqual(metaKey(x), metaKey(y));
    });
  },
  isDeleted: (l) => l.tombstone,
  tombstone: (stamp) => lww.tombstone(stamp),
  payloadSize(l) {
    let size = versionSize(l);
    const sib = l.siblings ?? [];
    if (sib.length > 0) {
      if (sib.length > MAX_SIBLINGS) throw badValue(`a register is limited to ${MAX_SIBLINGS} concurrent versions`);
      size += 2;
      for (const s of sib) size += versionSize(s);
    }
    return size;
  },
  writePayload(w, l) {
    const sib = l.siblings ?? [];
    writeVersion(w, l, sib.length > 0);
    if (sib.length === 0) return;
    w.u16(sib.length);
    for (const s of sib) writeVersion(w, s, false);
  },
  readPayload: readRegister,
};

function readRegister(r: ByteReader): Lww {
  const first = readVersion(r, true);
  if (!first.siblings) return asLww(first.v);
  const n = r.u16('lww.sibling count');
  if (n === 0 || n > MAX_SIBLINGS) throw r.fail(`a register with siblings has 1 to ${MAX_SIBLINGS} of them`);
  const versions = [first.v];
  for (let i = 0; i < n; i++) versions.push(readVersion(r, false).v);
  // Canonical: greatest stamp first, and no version in the past of another.
  for (let i = 1; i < versions.length; i++) {
    if (compareVersions(versions[i - 1]!, versions[i]!) <= 0) throw r.fail('register versions are not sorted');
  }
  for (const x of versions) for (const y of versions) if (x !== y && versionLeq(x, y)) throw r.fail('a register version is in the past of another');
  return fromVersions(versions);
}

/**
 * The value bytes of an encoded register's primary version, as a view into `bytes` (no copy),
 * or `null` for a tombstone: the hot path of a host reading a large value straight out of LMDB
 * into a guest's memory. Layout: version, tag, stamp (u48 ms, u16 c, u8 writer length,
 * writer), u8 flags, u32 length, value, then causal metadata and siblings when the flags say
 * so. Throws like `decode` if `bytes` is not a well-formed register encoding.
 *
 * @example
 * const view = lwwValueView(cache.getFast(key)); // then copy it where it must go, at once
 */
export function lwwValueView(bytes: Uint8Array): Uint8Array | null {
  if (bytes.length < 12 || bytes[0] !== 1 || bytes[1] !== lwwKind.tag) throw badValue('not an encoded lww register');
  const flagAt = 11 + bytes[10]!;
  if (bytes.length < flagAt + 1) throw badValue('truncated lww register');
  const flags = bytes[flagAt]!;
  if ((flags & ~(F_TOMBSTONE | F_CAUSAL | F_SIBLINGS)) !== 0) throw badValue('malformed lww register');
  if ((flags & F_TOMBSTONE) !== 0) return null;
  if (bytes.length < flagAt + 5) throw badValue('truncated lww register');
  // The u32 LE length read by hand: a DataView per read is an allocation on the hottest read path.
  const len = (bytes[flagAt + 1]! | (bytes[flagAt + 2]! << 8) | (bytes[flagAt + 3]! << 16)) + bytes[flagAt + 4]! * 0x1000000;
  const start = flagAt + 5;
  const exact = flags === 0;
  if (exact ? start + len !== bytes.length : start + len > bytes.length) throw badValue('malformed lww register');
  return bytes.subarray(start, start + len);
}
