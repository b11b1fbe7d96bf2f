import { ELEMENT_BYTES, isArrayType, type ArrayType, type ModuleTypes, type ResultType, type ValueType } from '../module-types.ts';

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

/** Allocates an AssemblyScript string and pins it; the caller unpins after the call. */
export function lowerString(g: Guest, s: string): number {
  const ptr = g.runtime.__pin(g.runtime.__new(s.length << 1, STRING_ID)) >>> 0;
  // Re-derive the view after __new: it may have grown memory (and detached old views).
  const u16 = new Uint16Array(g.memory.buffer, ptr, s.length);
  for (let i = 0; i < s.length; i++) u16[i] = s.charCodeAt(i);
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
  const view = new DataView(g.memory.buffer);
  view.setUint32(header, buffer, true);
  view.setUint32(header + 4, buffer, true);
  view.setUint32(header + 8, bytes.byteLength, true);
  new Uint8Array(g.memory.buffer, buffer, bytes.byteLength).set(bytes);
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

export function liftString(memory: WebAssembly.Memory, ptr: number): string {
  const bytes = new Uint32Array(memory.buffer, ptr - 4, 1)[0] ?? 0;
  const view = new Uint8Array(memory.buffer, ptr, bytes);
  return utf16.decode(view);
}

/** Reads an AssemblyScript ArrayBufferView as a copy of its bytes. */
export function liftArrayBytes(memory: WebAssembly.Memory, ptr: number): Uint8Array {
  const view = new DataView(memory.buffer);
  const dataStart = view.getUint32(ptr + 4, true);
  const byteLength = view.getUint32(ptr + 8, true);
  return new Uint8Array(memory.buffer, dataStart, byteLength).slice();
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
      return ptr === 0 ? null : liftString(memory, ptr);
    }
    default: {
      const ptr = (raw as number) >>> 0;
      if (ptr === 0) return null;
      if (!isArrayType(type)) throw new Error(`cannot lift ${String(type)}`);
      const bytes = liftArrayBytes(memory, ptr);
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
