import { CloudburstError } from '../../common/index.ts';
import { counter, type Lattice } from '../../kvs/index.ts';
import { displayKey, userKey } from '../keys.ts';
import { ELEMENT_BYTES } from '../module-types.ts';
import { isArrayType, type ArrayType, type ExportSignature, type ScalarType, type ValueType } from '../../guest/types-section.ts';
import { ARRAY_CONSTRUCTORS } from './abi.ts';
import type { PreparedArg } from './protocol.ts';

const INT_RANGES: Record<'i8' | 'u8' | 'i16' | 'u16' | 'i32' | 'u32', [number, number]> = {
  i8: [-128, 127], u8: [0, 255], i16: [-32768, 32767], u16: [0, 65535], i32: [-(2 ** 31), 2 ** 31 - 1], u32: [0, 2 ** 32 - 1],
};
const INT64_RANGES = { i64: [-(1n << 63n), (1n << 63n) - 1n], u64: [0n, (1n << 64n) - 1n] } as const;
const ARRAY_ELEMENT: Record<ArrayType, ScalarType> = {
  Uint8Array: 'u8', Int8Array: 'i8', Uint8ClampedArray: 'u8', Int16Array: 'i16', Uint16Array: 'u16', Int32Array: 'i32',
  Uint32Array: 'u32', Int64Array: 'i64', Uint64Array: 'u64', Float32Array: 'f32', Float64Array: 'f64',
};
const SPECIAL_FLOATS: Record<string, number> = { NaN: Number.NaN, Infinity: Number.POSITIVE_INFINITY, '-Infinity': Number.NEGATIVE_INFINITY };

class ArgError extends Error {}

function scalar(type: ScalarType, v: unknown): number | bigint | boolean {
  switch (type) {
    case 'bool':
      if (typeof v !== 'boolean') throw new ArgError('expected true or false');
      return v;
    case 'f32':
    case 'f64':
      if (typeof v === 'number') return v;
      if (typeof v === 'string' && Object.hasOwn(SPECIAL_FLOATS, v)) return SPECIAL_FLOATS[v]!;
      throw new ArgError('expected a number');
    case 'i64':
    case 'u64': {
      let n: bigint;
      if (typeof v === 'number' && Number.isSafeInteger(v)) n = BigInt(v);
      else if (typeof v === 'string' && /^-?\d{1,20}$/.test(v)) n = BigInt(v);
      else if (typeof v === 'number' && Number.isInteger(v)) {
        // JSON.parse has already rounded it (9007199254740993 arrives as 9007199254740992):
        // refused rather than passed on with another value.
        throw new ArgError(`${v} is beyond 2^53, where JSON numbers lose precision: pass it as a decimal string ("${BigInt(v)}", as typed)`);
      } else throw new ArgError('expected an integer (a JSON number, or a decimal string beyond 2^53)');
      const [lo, hi] = INT64_RANGES[type];
      if (n < lo || n > hi) throw new ArgError(`out of range for ${type}`);
      return n;
    }
    default: {
      const n = typeof v === 'string' && /^-?\d{1,10}$/.test(v) ? Number(v) : v;
      if (typeof n !== 'number' || !Number.isInteger(n)) throw new ArgError('expected an integer');
      const [lo, hi] = INT_RANGES[type];
      if (n < lo || n > hi) throw new ArgError(`out of range for ${type} (${lo} to ${hi})`);
      return n;
    }
  }
}

function array(type: ArrayType, v: unknown): ArrayBufferView {
  if (type === 'Uint8Array' && typeof v === 'object' && v !== null && !Array.isArray(v) && typeof (v as { base64?: unknown }).base64 === 'string') {
    const b64 = (v as { base64: string }).base64;
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64)) throw new ArgError('invalid base64');
    return new Uint8Array(Buffer.from(b64, 'base64'));
  }
  if (!Array.isArray(v)) throw new ArgError(`expected an array of numbers${type === 'Uint8Array' ? ' or {"base64": ...}' : ''}`);
  const element = ARRAY_ELEMENT[type];
  const out = new ARRAY_CONSTRUCTORS[type](v.length);
  for (let i = 0; i < v.length; i++) {
    try {
      (out as unknown as Array<unknown>)[i] = scalar(element, v[i]);
    } catch (err) {
      throw new ArgError(`element ${i}: ${(err as Error).message}`);
    }
  }
  return out;
}

/** An argument that waits for another call's result: replaced by its value before the call runs. */
export interface FutureArg {
  kind: 'future';
  id: string;
}

/**
 * Checks JSON call arguments against an export's signature and converts them to the values
 * the worker lowers into the guest. `{"ref": key}` becomes a cache read done by the worker, of
 * the key of `tenant` (the caller's). Nothing reaches a guest that does not match its declared
 * type and range.
 */
export function prepareArgs(tenant: string, fn: string, sig: ExportSignature, args: unknown): (PreparedArg | FutureArg)[] {
  if (!Array.isArray(args)) throw new CloudburstError('INVALID_ARGUMENTS', '"args" must be an array');
  if (args.length !== sig.params.length) {
    const want = sig.params.map((p) => `${p.name}: ${p.type}`).join(', ');
    throw new CloudburstError('INVALID_ARGUMENTS', `${fn}(${want}) takes ${sig.params.length} argument(s), got ${args.length}`);
  }
  return sig.params.map(({ name, type }, i): PreparedArg | FutureArg => {
    const v: unknown = args[i];
    try {
      if (typeof v === 'object' && v !== null && !Array.isArray(v) && 'ref' in v) {
        if (Object.keys(v).length !== 1) throw new ArgError('a reference is exactly {"ref": "key"}');
        return { kind: 'ref', key: userKey(tenant, (v as { ref: unknown }).ref) };
      }
      if (typeof v === 'object' && v !== null && !Array.isArray(v) && 'future' in v) {
        const id = (v as { future: unknown }).future;
        if (Object.keys(v).length !== 1 || typeof id !== 'string' || !/^[0-9a-f]{32}$/.test(id)) throw new ArgError('a future argument is exactly {"future": "<32 hex digits>"}');
        return { kind: 'future', id };
      }
      return { kind: 'value', value: prepareValue(type, v) };
    } catch (err) {
      if (err instanceof ArgError) throw new CloudburstError('INVALID_ARGUMENTS', `argument ${i} (${name}: ${type}) of ${fn}: ${err.message}`);
      throw err;
    }
  });
}

/** Converts a future's JSON result into argument `i` of the function, with the same checks as a literal. */
export function prepareResolved(fn: string, sig: ExportSignature, i: number, v: unknown): PreparedArg {
  const { name, type } = sig.params[i]!;
  try {
    return { kind: 'value', value: prepareValue(type, v) };
  } catch (err) {
    if (err instanceof ArgError) throw new CloudburstError('INVALID_ARGUMENTS', `argument ${i} (${name}: ${type}) of ${fn}, from a future: ${err.message}`);
    throw err;
  }
}

function prepareValue(type: ValueType, v: unknown): number | bigint | boolean | string | ArrayBufferView {
  if (type === 'string') {
    if (typeof v !== 'string') throw new ArgError('expected a string');
    return v;
  }
  if (isArrayType(type)) return array(type, v);
  return scalar(type, v);
}

/**
 * A `{"ref": key}` argument from the key's value, as the parameter's type wants it: LWW bytes
 * for strings and arrays, a counter or a maximum for i64, u64 and f64. Used by the worker that
 * runs the call, and by the main thread to refuse an asynchronous call before it is accepted.
 *
 * @throws CloudburstError `REF_NOT_FOUND` (no value, or a deleted one), `INVALID_ARGUMENTS` (a value of another type)
 */
export function refArgument(key: string, v: Lattice | undefined, type: ValueType): unknown {
  const display = displayKey(key);
  if (v === undefined || (v.type === 'lww' && v.tombstone)) throw new CloudburstError('REF_NOT_FOUND', `no value under key ${JSON.stringify(display)}`, { key: display });
  if (v.type === 'lww') {
    if (type === 'string') return new TextDecoder().decode(v.value);
    if (isArrayType(type)) {
      if (v.value.byteLength % ELEMENT_BYTES[type] !== 0) {
        throw new CloudburstError('INVALID_ARGUMENTS', `key ${JSON.stringify(display)} holds ${v.value.byteLength} bytes, not a whole number of ${type} elements`);
      }
      return v.value;
    }
  }
  if ((v.type === 'counter' || v.type === 'max') && (type === 'i64' || type === 'u64' || type === 'f64')) {
    const n = v.type === 'counter' ? counter.total(v) : (v.value ?? 0n);
    return type === 'f64' ? Number(n) : n;
  }
  throw new CloudburstError('INVALID_ARGUMENTS', `key ${JSON.stringify(display)} holds a ${v.type}, which cannot be passed as ${type}`);
}
