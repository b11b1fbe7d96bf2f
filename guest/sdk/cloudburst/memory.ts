// Moving bytes across the host boundary. Outgoing strings are encoded to UTF-8 (keys into a
// static buffer, other strings into a fresh ArrayBuffer) whose address and length go to the host; incoming data is staged by the host,
// and the guest allocates exactly the announced length before asking for it with `take`, so the
// host never has to allocate in (or grow) the guest's memory during an import.

import { ABSENT } from "./abi";
import * as host from "./imports";

/** UTF-8 bytes of `s`, kept alive by the caller's local for the duration of the host call. */
// @ts-ignore: decorator
@inline
export function utf8(s: string): ArrayBuffer {
  return String.UTF8.encode(s);
}

/**
 * Keys up to this many UTF-16 units are encoded into a static buffer (at most 3 bytes of
 * UTF-8 each): 512 units cover every key the host takes (MAX_USER_KEY_BYTES); longer ones,
 * which the host refuses with INVALID_KEY, get an allocation of their own as before.
 */
const KEY_SCRATCH_UNITS = 512;
const keyScratch: usize = memory.data(3 * KEY_SCRATCH_UNITS);
/** Keeps a long key's fresh encoding alive until the next `keyBytes`. */
let longKey: ArrayBuffer | null = null;
/** Where the last `keyBytes` put its encoding. */
export let keyAt: usize = 0;

/**
 * Encodes `s` (a key) to UTF-8, as `utf8` does, but into a static buffer: a get or put does
 * not allocate (nor later collect) an ArrayBuffer for its key. Returns the byte length; the
 * bytes are at `keyAt`, valid until the next call (the host copies or decodes them during
 * the import that receives them).
 */
export function keyBytes(s: string): i32 {
  const units = s.length;
  if (units <= KEY_SCRATCH_UNITS) {
    keyAt = keyScratch;
    return <i32>String.UTF8.encodeUnsafe(changetype<usize>(s), units, keyScratch);
  }
  const b = String.UTF8.encode(s);
  longKey = b;
  keyAt = changetype<usize>(b);
  return b.byteLength;
}

/** Copies `length` staged bytes into a new Uint8Array, or returns null for ABSENT. */
export function takeBytes(length: i32): Uint8Array | null {
  if (length == ABSENT) return null;
  assert(length >= 0, "cloudburst: host staged a negative length");
  const out = new Uint8Array(length);
  host.take(out.dataStart);
  return out;
}

/** Copies `length` staged UTF-8 bytes and decodes them, or returns null for ABSENT. */
export function takeString(length: i32): string | null {
  const bytes = takeBytes(length);
  if (bytes === null) return null;
  return String.UTF8.decodeUnsafe(bytes.dataStart, <usize>bytes.length);
}

/** Splits a staged list (set members, register versions: u32 LE count, then u32 LE length + bytes each). */
export function takeMembers(length: i32): Uint8Array[] {
  const staged = takeBytes(length);
  if (staged === null) return [];
  // The host wrote the layout, but a bounds check per field keeps a host bug from becoming
  // an out-of-bounds read of the guest's own heap.
  const base = staged.dataStart;
  const end = <usize>staged.length;
  assert(end >= 4, "cloudburst: truncated set members");
  const count = load<u32>(base);
  const members = new Array<Uint8Array>(0);
  let offset: usize = 4;
  for (let i: u32 = 0; i < count; i++) {
    assert(offset + 4 <= end, "cloudburst: truncated set members");
    const size = <usize>load<u32>(base + offset);
    offset += 4;
    assert(size <= end - offset, "cloudburst: truncated set members");
    const member = new Uint8Array(<i32>size);
    memory.copy(member.dataStart, base + offset, size);
    members.push(member);
    offset += size;
  }
  return members;
}
