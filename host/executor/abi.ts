import { CloudburstError } from '../../common/index.ts';
import { isArrayType, type ArrayType, type ResultType, type ValueType } from '../../guest/types-section.ts';
import { ELEMENT_BYTES, type ModuleTypes } from '../module-types.ts';

/**
 * The host's half of the AssemblyScript ABI: how values cross into and out of a guest's
 * linear memory. This mirrors what asc's generated glue does (`__lowerString`,
 * `__lowerTypedArray`, `__liftString`, ...) so that uploaded modules never need their glue.
 *
 * Object layout (wasm32): a managed object is preceded by a 20-byte header whose last field
 * (ptr - 4) is the payload size in bytes. Strings are UTF-16LE (class id 2); an
 * ArrayBufferView is `{ buffer: usize, dataStart: usize, byteLength: i32 }` (12 bytes)
 * pointing into an ArrayBuffer (class id 1).
 */
export const ARRAYBUFFER_ID = 1;
export const STRING_ID = 2;

export interface GuestExports {
  __new(size: number, id: number): number;
  __pin(ptr: number): number;
  __unpin(ptr: number): void;
}

export interface Guest {
  memory: WebAssembly.Memory;
  runtime: GuestExports;
}

const CTORS = {
  Uint8Array, Int8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array,
  Int64Array: BigInt64Array, Uint64Array: BigUint64Array, Float32Array, Float64Array,
} as const;

const utf16 = new TextDecoder('utf-16le');

/**
 * A view of `len` bytes at `ptr` in the guest's memory. The guest chose both numbers (a
 * pointer it returned, a length it stored), so a range outside its memory is its fault:
 * `GUEST_TRAP`, saying what the range was for.
 */
export function guestView(memory: WebAssembly.Memory, ptr: number, len: number, what: string): Uint8Array {
  const size = memory.buffer.byteLength;
  if (!(Number.isSafeInteger(ptr) && Number.isSafeInteger(len) && ptr >= 0 && len >= 0 && ptr + len <= size)) {
    throw new CloudburstError('GUEST_TRAP', `${what}: ${len} bytes at address ${ptr} lie outside the guest's memory (${size} bytes)`);
  }
  return new Uint8Array(memory.buffer, ptr, len);
}

/** A u32 (little-endian) of the guest's memory at `ptr`, checked as guestView does. */
function guestU32(memory: WebAssembly.Memory, ptr: number, what: string): number {
  const b = guestView(memory, ptr, 4, what);
  return new DataView(b.buffer, b.byteOffset, 4).getUint32(0, true);
}

/** Allocates an AssemblyScript string and pins it; the caller unpins after the call. */
export function lowerString(g: Guest, s: string): number {
  const ptr = g.runtime.__pin(g.runtime.__new(s.length << 1, STRING_ID)) >>> 0;
  // Re-derive the view after __new: it may have grown memory (and detached old views).
  const at = guestView(g.memory, ptr, s.length << 1, 'the string __new allocated for an argument');
  Buffer.from(at.buffer, at.byteOffset, at.byteLength).write(s, 'utf16le'); // code units as they are, lone surrogates too
  return ptr;
}

/**
 * Allocates a typed array of `type` holding `bytes` (already in the element layout). Both
 * the header and its buffer stay pinned (pushed to `pins`) until the call ends: we write the
 * header's pointer fields from outside, without the runtime's write barrier.
 */
export function lowerArray(g: Guest, classIds: ModuleTypes['classIds'], type: ArrayType, bytes: Uint8Array, pins: number[]): number {
  const id = classIds[type];
  if (id === undefined) throw new Error(`no class id for ${type}`);
  const { runtime } = g;
  const buffer = runtime.__pin(runtime.__new(bytes.byteLength, ARRAYBUFFER_ID)) >>> 0;
  pins.push(buffer);
  const header = runtime.__pin(runtime.__new(12, id)) >>> 0;
  pins.push(header);
  const fields = guestView(g.memory, header, 12, `the ${type} header __new allocated for an argument`);
  const view = new DataView(fields.buffer, fields.byteOffset, 12);
  view.setUint32(0, buffer, true);
  view.setUint32(4, buffer, true);
  view.setUint32(8, bytes.byteLength, true);
  guestView(g.memory, buffer, bytes.byteLength, `the ${type} buffer __new allocated for an argument`).set(bytes);
  return header;
}

/** Lowers one prepared value to what the wasm export takes; pushes pointers to unpin. */
export function lowerValue(g: Guest, types: ModuleTypes, type: ValueType, value: unknown, pins: number[]): number | bigint {
  switch (type) {
    case 'i64':
    case 'u64':
      // BigInt.asIntN: a u64 above 2^63 travels as the same 64 bits.
      return BigInt.asIntN(64, value as bigint);
    case 'bool':
      return value ? 1 : 0;
    case 'f32':
    case 'f64':
    case 'i8':
    case 'u8':
    case 'i16':
    case 'u16':
    case 'i32':
    case 'u32':
      return value as number;
    case 'string': {
      const ptr = lowerString(g, value as string);
      pins.push(ptr);
      return ptr;
    }
    default: {
      const v = value as ArrayBufferView;
      return lowerArray(g, types.classIds, type, new Uint8Array(v.buffer, v.byteOffset, v.byteLength), pins);
    }
  }
}

/** Reads an AssemblyScript string: its byte length is the object's rtSize, at `ptr - 4`. */
export function liftString(memory: WebAssembly.Memory, ptr: number, what: string): string {
  if (ptr < 4) throw new CloudburstError('GUEST_TRAP', `${what}: ${ptr} is not a pointer to a string`);
  const bytes = guestU32(memory, ptr - 4, `${what}: the length of the string at ${ptr}`);
  return utf16.decode(guestView(memory, ptr, bytes, `${what}: the string at ${ptr}`));
}

/** Reads an AssemblyScript ArrayBufferView as a copy of its bytes. */
export function liftArrayBytes(memory: WebAssembly.Memory, ptr: number, what: string): Uint8Array {
  const dataStart = guestU32(memory, ptr + 4, `${what}: the header of the array at ${ptr}`);
  const byteLength = guestU32(memory, ptr + 8, `${what}: the header of the array at ${ptr}`);
  return guestView(memory, dataStart, byteLength, `${what}: the elements of the array at ${ptr}`).slice();
}

/** JSON form of a 64-bit integer: a number when exact, else a decimal string. */
export function int64ToJson(v: bigint): number | string {
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString();
}

function floatToJson(v: number): number | string {
  return Number.isFinite(v) ? v : String(v); // JSON has no NaN or Infinity: "NaN", "Infinity", "-Infinity"
}

/** Lifts a wasm return value into a JSON-compatible value. */
export function liftResult(memory: WebAssembly.Memory, type: ResultType, raw: unknown): unknown {
  switch (type) {
    case 'void':
      return null;
    case 'i64':
      return int64ToJson(BigInt.asIntN(64, raw as bigint));
    case 'u64':
      return int64ToJson(BigInt.asUintN(64, raw as bigint));
    case 'u32':
      return (raw as number) >>> 0;
    case 'i8':
      return ((raw as number) << 24) >> 24;
    case 'u8':
      return (raw as number) & 0xff;
    case 'i16':
      return ((raw as number) << 16) >> 16;
    case 'u16':
      return (raw as number) & 0xffff;
    case 'i32':
      return raw as number;
    case 'bool':
      return (raw as number) !== 0;
    case 'f32':
    case 'f64':
      return floatToJson(raw as number);
    case 'string': {
      const ptr = (raw as number) >>> 0;
      return ptr === 0 ? null : liftString(memory, ptr, 'the string result');
    }
    default: {
      const ptr = (raw as number) >>> 0;
      if (ptr === 0) return null;
      if (!isArrayType(type)) throw new Error(`cannot lift ${String(type)}`);
      const bytes = liftArrayBytes(memory, ptr, `the ${type} result`);
      const Ctor = CTORS[type];
      const n = Math.floor(bytes.byteLength / ELEMENT_BYTES[type]);
      const typed = new Ctor(bytes.buffer as ArrayBuffer, bytes.byteOffset, n);
      const out: unknown[] = new Array(n);
      for (let i = 0; i < n; i++) {
        const x = typed[i] as number | bigint;
        out[i] = typeof x === 'bigint' ? int64ToJson(x) : floatToJson(x);
      }
      return out;
    }
  }
}

export { CTORS as ARRAY_CONSTRUCTORS };
