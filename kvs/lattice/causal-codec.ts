/**
 * The compact encoding of a version's causal metadata (see kvs/README.md, "Causal registers").
 * Most of the metadata is stamps of a handful of writers and keys with a common prefix, so:
 *
 *   varint total length of what follows, then
 *   u8 n, n writers (u8 length + UTF-8), sorted, each used, never the version's own writer
 *   u8 n, n vector entries: u8 writer index (1..n), zigzag varint ms before the own stamp, varint c
 *   the floor: u8 0 (= the own stamp) | 1 (= ZERO_STAMP) | 2 then a stamp reference
 *   varint n, n dependencies, sorted: u8 bytes shared with the previous key, varint suffix
 *     length, suffix, u8 writer index (0 = own writer) | 0x80 when plain, zigzag varint ms, varint c
 *
 * Writer index 0 is the version's own writer. Decoding checks canonical form as it reads: one
 * value has exactly one encoding.
 */
import { Buffer, isUtf8 } from 'node:buffer';
import { badValue, ByteReader, compareUtf8 } from './bytes.ts';
import { checkWriter, compareStamps, STAMP_LIMITS, stampSize, ZERO_STAMP, type Stamp } from './stamp.ts';

/** What `lww.ts` calls CausalMeta (repeated here to keep the import graph one-way). */
export interface Meta {
  readonly vc: readonly Stamp[];
  readonly floor: Stamp;
  readonly deps: readonly { readonly key: string; readonly at: Stamp; readonly plain: boolean }[];
}

export const MAX_WRITERS = 127;
const MAX_DEPS = 0xffff;
const MAX_KEY = 0xffff;

class Out {
  readonly bytes: number[] = [];
  u8(v: number): void {
    this.bytes.push(v);
  }
  varint(v: number): void {
    // Non-negative integers below 2^53, 7 bits per byte, low bits first, minimal.
    while (v >= 0x80) {
      this.bytes.push((v % 0x80) + 0x80);
      v = Math.floor(v / 0x80);
    }
    this.bytes.push(v);
  }
  zigzag(v: number): void {
    this.varint(v >= 0 ? v * 2 : -v * 2 - 1);
  }
  raw(b: Uint8Array): void {
    for (const x of b) this.bytes.push(x);
  }
}

function readVarint(r: ByteReader, what: string): number {
  let v = 0;
  let scale = 1;
  for (let i = 0; i < 8; i++) {
    const b = r.u8(what);
    v += (b & 0x7f) * scale;
    if (b < 0x80) {
      if (b === 0 && i > 0) throw r.fail(`${what}: overlong varint`);
      return v;
    }
    scale *= 0x80;
  }
  throw r.fail(`${what}: varint too long`);
}

function readZigzag(r: ByteReader, what: string): number {
  const z = readVarint(r, what);
  return z % 2 === 0 ? z / 2 : -(z + 1) / 2;
}

const memo = new WeakMap<Meta, Map<string, Uint8Array>>();

/** The encoded metadata of a version written at `own` (cached per metadata object). */
export function encodeMeta(own: Stamp, m: Meta): Uint8Array {
  const ownId = `${own.ms}.${own.c}.${own.writer}`;
  let byOwn = memo.get(m);
  const hit = byOwn?.get(ownId);
  if (hit) return hit;
  const body = encodeBody(own, m);
  const out = new Out();
  out.varint(body.length);
  out.raw(body);
  const bytes = Uint8Array.from(out.bytes);
  if (!byOwn) memo.set(m, (byOwn = new Map()));
  byOwn.set(ownId, bytes);
  return bytes;
}

function encodeBody(own: Stamp, m: Meta): Uint8Array {
  stampSize(own);
  if (m.deps.length > MAX_DEPS) throw badValue(`a version is limited to ${MAX_DEPS} dependencies`);
  const writers = new Set<string>();
  for (let i = 0; i < m.vc.length; i++) {
    const e = m.vc[i]!;
    stampSize(e);
    if (e.writer === own.writer) throw badValue('a version vector must not repeat its own writer');
    if (i > 0 && compareUtf8(m.vc[i - 1]!.writer, e.writer) >= 0) throw badValue('version vector entries must be sorted by writer, once each');
    writers.add(e.writer);
  }
  stampSize(m.floor);
  const floorTag = sameStamp(m.floor, own) ? 0 : sameStamp(m.floor, ZERO_STAMP) ? 1 : 2;
  if (floorTag === 2 && m.floor.writer !== own.writer) writers.add(m.floor.writer);
  for (let i = 0; i < m.deps.length; i++) {
    const d = m.deps[i]!;
    stampSize(d.at);
    if (i > 0 && depOrder(m.deps[i - 1]!, d) >= 0) throw badValue('dependencies must be sorted, once each');
    if (d.at.writer !== own.writer) writers.add(d.at.writer);
  }
  const table = [...writers].sort(compareUtf8);
  if (table.length > MAX_WRITERS) throw badValue(`causal metadata is limited to ${MAX_WRITERS} writers besides its own`);
  const index = new Map(table.map((w, i) => [w, i + 1]));
  index.set(own.writer, 0);
  const out = new Out();
  out.u8(table.length);
  for (const w of table) {
    const n = checkWriter(w);
    out.u8(n);
    out.raw(Buffer.from(w, 'utf8'));
  }
  const stamp = (s: Stamp, flags = 0): void => {
    out.u8(index.get(s.writer)! | flags);
    out.zigzag(own.ms - s.ms);
    out.varint(s.c);
  };
  out.u8(m.vc.length);
  for (const e of m.vc) stamp(e);
  out.u8(floorTag);
  if (floorTag === 2) stamp(m.floor);
  out.varint(m.deps.length);
  let prev: Buffer = Buffer.alloc(0);
  for (const d of m.deps) {
    const key = Buffer.from(d.key, 'utf8');
    if (key.length > MAX_KEY) throw badValue(`a dependency key is limited to ${MAX_KEY} bytes`);
    let shared = 0;
    const limit = Math.min(255, prev.length, key.length);
    while (shared < limit && prev[shared] === key[shared]) shared++;
    out.u8(shared);
    out.varint(key.length - shared);
    out.raw(key.subarray(shared));
    stamp(d.at, d.plain ? 0x80 : 0);
    prev = key;
  }
  return Uint8Array.from(out.bytes);
}

function sameStamp(a: Stamp, b: Stamp): boolean {
  return compareStamps(a, b) === 0;
}

/** The order of dependencies: key (UTF-8), stamp, causal before plain. */
export function depOrder(a: Meta['deps'][number], b: Meta['deps'][number]): number {
  const k = compareUtf8(a.key, b.key);
  if (k !== 0) return k;
  const s = compareStamps(a.at, b.at);
  if (s !== 0) return s;
  return Number(a.plain) - Number(b.plain);
}

/**
 * Reads metadata written by `encodeMeta`; rejects any other encoding, checking canonical
 * form as it reads (sorted, used writers; increasing vector and dependencies; exact shared
 * prefixes; minimal varints; the floor's short forms), without re-encoding.
 */
export function decodeMeta(r: ByteReader, own: Stamp): Meta {
  const length = readVarint(r, 'lww.causal length');
  const b = new ByteReader(r.view(length, 'lww.causal'));
  const table = [own.writer];
  const nWriters = b.u8('lww.writer count');
  if (nWriters > MAX_WRITERS) throw b.fail(`more than ${MAX_WRITERS} writers`);
  for (let i = 0; i < nWriters; i++) {
    const w = b.utf8(b.u8('lww.writer length'), 'lww.writer');
    if (w === own.writer) throw b.fail('the writer table repeats the own writer');
    if (i > 0 && compareUtf8(table[i]!, w) >= 0) throw b.fail('writers must be sorted, once each');
    table.push(w);
  }
  const used = new Uint8Array(table.length);
  const stamp = (what: string): { s: Stamp; index: number; flags: number } => {
    const x = b.u8(`${what} writer`);
    const index = x & 0x7f;
    const writer = table[index];
    if (writer === undefined) throw b.fail(`${what}: writer index ${index} out of range`);
    used[index] = 1;
    const ms = own.ms - readZigzag(b, `${what} ms`);
    const c = readVarint(b, `${what} c`);
    // The writer came from the table (checked once); ms and c must fit a stamp.
    if (ms < 0 || ms > STAMP_LIMITS.maxMs || c > STAMP_LIMITS.maxC) throw b.fail(`${what}: stamp out of range`);
    return { s: { ms, c, writer }, index, flags: x & 0x80 };
  };
  const vc: Stamp[] = [];
  let lastIndex = 0;
  for (let n = b.u8('lww.vc count'); n > 0; n--) {
    const e = stamp('lww.vc');
    if (e.flags !== 0 || e.index <= lastIndex) throw b.fail('vector entries are sorted by writer, never the own writer');
    lastIndex = e.index;
    vc.push(e.s);
  }
  const tag = b.u8('lww.floor');
  let floor: Stamp;
  if (tag === 0) floor = own;
  else if (tag === 1) floor = ZERO_STAMP;
  else if (tag === 2) {
    const f = stamp('lww.floor');
    if (f.flags !== 0 || sameStamp(f.s, own) || sameStamp(f.s, ZERO_STAMP)) throw b.fail('the floor has a short form');
    floor = f.s;
  } else throw b.fail(`floor tag ${tag}`);
  const count = readVarint(b, 'lww.dep count');
  if (count > MAX_DEPS) throw b.fail(`more than ${MAX_DEPS} dependencies`);
  const deps: Meta['deps'][number][] = [];
  let prev: Buffer = Buffer.alloc(0);
  for (let n = 0; n < count; n++) {
    const shared = b.u8('lww.dep shared');
    if (shared > prev.length) throw b.fail('a dependency shares more than the previous key has');
    const suffix = b.view(readVarint(b, 'lww.dep suffix length'), 'lww.dep key');
    const raw = shared === 0 ? Buffer.from(suffix) : Buffer.concat([prev.subarray(0, shared), suffix]);
    if (raw.length > MAX_KEY || !isUtf8(raw)) throw b.fail('a dependency key is too long or not valid UTF-8');
    // The shared prefix is exactly the common prefix (capped at 255 bytes).
    const limit = Math.min(255, prev.length, raw.length);
    let lcp = 0;
    while (lcp < limit && prev[lcp] === raw[lcp]) lcp++;
    if (lcp !== shared) throw b.fail('a dependency key does not share exactly its common prefix');
    const d = stamp('lww.dep');
    const dep = { key: raw.toString('utf8'), at: d.s, plain: d.flags !== 0 };
    if (deps.length > 0 && depOrder(deps[deps.length - 1]!, dep) >= 0) throw b.fail('dependencies must be sorted, once each');
    deps.push(dep);
    prev = raw;
  }
  b.end();
  for (let i = 1; i < used.length; i++) if (used[i] === 0) throw b.fail('the writer table names a writer nothing uses');
  return { vc, floor, deps };
}
