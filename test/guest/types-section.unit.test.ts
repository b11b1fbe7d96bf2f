import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, test } from 'vitest';
import {
  ARRAY_TYPES, MAX_CLASS_ID, MAX_PARAMS, RESULT_TYPES, VALUE_TYPES, parseGuestTypes, readTypesSection, type GuestTypes,
} from '../../guest/types-section.ts';
import { ensureGuests, guestPath } from '../setup/build-guests.ts';

beforeAll(() => ensureGuests(['math', 'counter', 'arrays', 'kitchen', 'hostile', 'bad-import']));

const load = (name: string): Uint8Array<ArrayBuffer> => readFileSync(guestPath(name));
const typesOf = (name: string): GuestTypes => {
  const types = readTypesSection(load(name));
  if (!types) throw new Error(`${name} has no types section`);
  return types;
};
const fn = (name: string, params: [string, string][], result: string) => ({
  name,
  params: params.map(([n, type]) => ({ name: n, type })),
  result,
});

describe('types section', () => {
  test('examples: math, counter and arrays are described exactly', () => {
    expect(typesOf('math')).toEqual({
      version: 1,
      exports: [fn('increment', [['x', 'i64']], 'i64'), fn('square', [['x', 'i64']], 'i64')],
      skipped: [],
      classIds: {},
    });
    expect(typesOf('counter')).toEqual({
      version: 1,
      exports: [fn('incr', [['key', 'string'], ['by', 'i64']], 'i64'), fn('get', [['key', 'string']], 'i64')],
      skipped: [],
      classIds: {},
    });
    const arrays = typesOf('arrays');
    expect(arrays).toEqual({
      version: 1,
      exports: [
        fn('sum', [['a', 'Float64Array']], 'f64'),
        fn('sum10', 'abcdefghij'.split('').map((n): [string, string] => [n, 'Float64Array']), 'f64'),
      ],
      skipped: [],
      classIds: { Float64Array: expect.any(Number) },
    });
  });

  test('kitchen: every supported type, in declaration order, and the refused exports', () => {
    const kitchen = typesOf('kitchen');
    expect(kitchen.exports).toEqual([
      fn('echoI8', [['x', 'i8']], 'i8'),
      fn('echoU8', [['x', 'u8']], 'u8'),
      fn('echoI16', [['x', 'i16']], 'i16'),
      fn('echoU16', [['x', 'u16']], 'u16'),
      fn('addI32', [['a', 'i32'], ['b', 'i32']], 'i32'),
      fn('echoU32', [['x', 'u32']], 'u32'),
      fn('echoI64', [['x', 'i64']], 'i64'),
      fn('echoU64', [['x', 'u64']], 'u64'),
      fn('echoUsize', [['x', 'u32']], 'u32'),
      fn('echoF32', [['x', 'f32']], 'f32'),
      fn('echoF64', [['x', 'f64']], 'f64'),
      fn('notBool', [['b', 'bool']], 'bool'),
      fn('noop', [], 'void'),
      fn('echoString', [['s', 'string']], 'string'),
      fn('stringLength', [['s', 'string']], 'i32'),
      fn('concat', [['a', 'string'], ['b', 'string']], 'string'),
      fn('echoBytes', [['b', 'Uint8Array']], 'Uint8Array'),
      fn('echoInt8Array', [['a', 'Int8Array']], 'Int8Array'),
      fn('echoUint8ClampedArray', [['a', 'Uint8ClampedArray']], 'Uint8ClampedArray'),
      fn('echoInt16Array', [['a', 'Int16Array']], 'Int16Array'),
      fn('echoUint16Array', [['a', 'Uint16Array']], 'Uint16Array'),
      fn('echoUint32Array', [['a', 'Uint32Array']], 'Uint32Array'),
      fn('echoInt64Array', [['a', 'Int64Array']], 'Int64Array'),
      fn('echoUint64Array', [['a', 'Uint64Array']], 'Uint64Array'),
      fn('echoFloat32Array', [['a', 'Float32Array']], 'Float32Array'),
      fn('sumInt32', [['a', 'Int32Array']], 'i64'),
      fn('scaleF64', [['a', 'Float64Array'], ['k', 'f64']], 'Float64Array'),
      fn('putGet', [['key', 'string'], ['v', 'string']], 'string'),
      fn('getAllJoined', [['key', 'string']], 'string'),
      fn('getOr', [['key', 'string'], ['fallback', 'string']], 'string'),
      fn('putGetBytes', [['key', 'string'], ['v', 'Uint8Array']], 'Uint8Array'),
      fn('getLength', [['key', 'string']], 'i32'),
      fn('putDurableLength', [['key', 'string'], ['v', 'Uint8Array']], 'i32'),
      fn('delThenAbsent', [['key', 'string']], 'bool'),
      fn('counterAdd', [['key', 'string'], ['by', 'i64']], 'i64'),
      fn('counterGet', [['key', 'string']], 'i64'),
      fn('setAddMembers', [['key', 'string'], ['member', 'string']], 'i32'),
      fn('setAdd', [['key', 'string'], ['member', 'Uint8Array']], 'bool'),
      fn('setHas', [['key', 'string'], ['member', 'Uint8Array']], 'bool'),
      fn('setHasString', [['key', 'string'], ['member', 'string']], 'bool'),
      fn('setJoined', [['key', 'string']], 'string'),
      fn('maxPut', [['key', 'string'], ['v', 'i64']], 'i64'),
      fn('maxGet', [['key', 'string']], 'i64'),
      fn('logAll', [['msg', 'string']], 'void'),
      fn('nowMs', [], 'f64'),
      fn('sleepMs', [['ms', 'i32']], 'f64'),
      fn('getOrHold', [['key', 'string'], ['fallback', 'string'], ['ms', 'i32']], 'string'),
      fn('random', [], 'f64'),
      fn('traceTwo', [['msg', 'string'], ['a', 'f64'], ['b', 'f64']], 'void'),
      fn('consoleAll', [['msg', 'string']], 'void'),
      fn('dateNow', [], 'i64'),
      fn('putOnly', [['key', 'string'], ['v', 'string']], 'void'),
      fn('slowSuffix', [['ms', 'i32'], ['suffix', 'string'], ['s', 'string']], 'string'),
      fn('slowPrefix', [['ms', 'i32'], ['prefix', 'string'], ['s', 'string']], 'string'),
      fn('delayI64', [['ms', 'i32'], ['x', 'i64']], 'i64'),
      fn('selfId', [], 'string'),
      fn('recvOne', [['timeoutMs', 'i32']], 'string'),
      fn('announce', [['key', 'string'], ['n', 'i32'], ['timeoutMs', 'i32']], 'string'),
      fn('sendTo', [['key', 'string'], ['prefix', 'string'], ['n', 'i32'], ['waitMs', 'i32']], 'string'),
      fn('readTwice', [['key', 'string'], ['waitMs', 'i32']], 'string'),
    ]);
    expect(kitchen.skipped).toEqual([
      { name: 'maybeLength', reason: 'parameter s has unsupported type string | null' },
      { name: 'withDefault', reason: 'parameter b is optional (give it no default value)' },
      { name: 'firstOf', reason: 'parameter a has unsupported type Array<i32>' },
    ]);
    expect(Object.keys(kitchen.classIds).sort()).toEqual([...ARRAY_TYPES].sort());
  });

  test('kitchen: covers every type the section may name, so the host can test them all', () => {
    const { exports } = typesOf('kitchen');
    const used = new Set(exports.flatMap(e => [...e.params.map(p => p.type), e.result]));
    expect([...used].sort()).toEqual([...RESULT_TYPES].sort());
    expect(VALUE_TYPES).not.toContain('void');
  });

  test('kitchen: classIds are the runtime ids of the typed arrays (checked against RTTI)', () => {
    const wasm = load('kitchen');
    const { classIds } = typesOf('kitchen');
    // Instantiate with do-nothing imports just to read the RTTI table at __rtti_base.
    const module = new WebAssembly.Module(wasm);
    const memory = new WebAssembly.Memory({ initial: 1 });
    const imports: WebAssembly.Imports = { env: { memory } };
    for (const i of WebAssembly.Module.imports(module)) {
      if (i.kind === 'function') ((imports[i.module] ??= {}) as Record<string, unknown>)[i.name] = () => 0;
    }
    const { exports } = new WebAssembly.Instance(module, imports);
    const rttiBase = (exports['__rtti_base'] as WebAssembly.Global).value as number;
    const flagsOf = (id: number): number => new DataView(memory.buffer).getUint32(rttiBase + 4 + 4 * id, true);
    const ARRAYBUFFERVIEW = 1 << 0;
    const VALUE_ALIGN_0 = 1 << 6;
    const VALUE_SIGNED = 1 << 11;
    const VALUE_FLOAT = 1 << 12;
    const expected: Record<string, [align: number, signed: boolean, float: boolean]> = {
      Uint8Array: [0, false, false], Int8Array: [0, true, false], Uint8ClampedArray: [0, false, false],
      Int16Array: [1, true, false], Uint16Array: [1, false, false], Int32Array: [2, true, false],
      Uint32Array: [2, false, false], Int64Array: [3, true, false], Uint64Array: [3, false, false],
      Float32Array: [2, true, true], Float64Array: [3, true, true],
    };
    for (const [type, id] of Object.entries(classIds)) {
      const [align, signed, float] = expected[type]!;
      const flags = flagsOf(id);
      expect(flags & ARRAYBUFFERVIEW, type).toBeTruthy();
      expect(flags & (0b11111 * VALUE_ALIGN_0), type).toBe(VALUE_ALIGN_0 << align);
      expect(Boolean(flags & VALUE_FLOAT), type).toBe(float);
      expect(Boolean(flags & VALUE_SIGNED), type).toBe(signed);
    }
  });

  test('hostile and bad-import: plain i32 exports', () => {
    expect(typesOf('hostile').exports.map(e => e.name)).toEqual(['spin', 'trap', 'fail', 'oom', 'divide', 'recurse']);
    expect(typesOf('bad-import').exports).toEqual([fn('go', [], 'i32')]);
  });

  test('readTypesSection: undefined for a module built without it', () => {
    // (module) with nothing in it
    expect(readTypesSection(new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]))).toBeUndefined();
  });

  test('parseGuestTypes: rejects malformed sections with the first problem', () => {
    const ok = { version: 1, exports: [fn('f', [['x', 'i32']], 'i32')], skipped: [], classIds: {} };
    expect(parseGuestTypes(ok)).toEqual(ok);
    const bad: [unknown, RegExp][] = [
      [null, /not a JSON object/],
      [{ ...ok, version: 2 }, /unsupported version 2/],
      [{ ...ok, exports: {} }, /exports is not an array/],
      [{ ...ok, exports: [fn('f', [['x', 'i128']], 'i32')] }, /parameter x has unsupported type i128/],
      [{ ...ok, exports: [fn('f', [], 'Array')] }, /unsupported result type Array/],
      [{ ...ok, exports: [fn('f', [['x', 'void']], 'i32')] }, /parameter x has unsupported type void/],
      [{ ...ok, exports: [fn('f', [], 'void'), fn('f', [], 'void')] }, /listed twice/],
      [{ ...ok, exports: [fn('f', [['a', 'Uint8Array']], 'void')] }, /uses Uint8Array, which has no class id/],
      [{ ...ok, classIds: { String: 2 } }, /String is not a typed array/],
      [{ ...ok, classIds: { Uint8Array: 1.5 } }, /bad id for Uint8Array/],
      [{ ...ok, skipped: [{ name: 'g' }] }, /skipped export g has no reason/],
      [{ ...ok, skipped: [{ name: 'f', reason: 'twice' }] }, /export f is listed twice/],
      [{ ...ok, exports: [fn('añadir', [], 'void')] }, /exports\[0\] has no valid name/],
      [{ ...ok, exports: [fn(`f${'x'.repeat(128)}`, [], 'void')] }, /exports\[0\] has no valid name/],
      [{ ...ok, exports: [fn('__new', [['size', 'i32'], ['id', 'u32']], 'u32')] }, /names starting with __ are reserved/],
      [{ ...ok, exports: [fn('f', [['año', 'i32']], 'void')] }, /export f: params\[0\] has no valid name/],
      [{ ...ok, exports: [fn('f', Array.from({ length: MAX_PARAMS + 1 }, (_, i): [string, string] => [`a${i}`, 'i32']), 'void')] }, /33 parameters, at most 32/],
      [{ ...ok, classIds: { Uint8Array: 2 } }, /bad id for Uint8Array: 2,/],
      [{ ...ok, classIds: { Uint8Array: MAX_CLASS_ID + 1 } }, /bad id for Uint8Array: 1048576,/],
    ];
    for (const [json, message] of bad) {
      expect(() => parseGuestTypes(json)).toThrow(message);
      expect(() => parseGuestTypes(json)).toThrow(expect.objectContaining({ code: 'MISSING_TYPES' }));
    }
  });

  test('parseGuestTypes: the limits themselves are allowed', () => {
    const most = fn(`f${'x'.repeat(127)}`, Array.from({ length: MAX_PARAMS }, (_, i): [string, string] => [`$_${i}`, 'Uint8Array']), 'void');
    const types = { version: 1, exports: [most], skipped: [], classIds: { Uint8Array: MAX_CLASS_ID } };
    expect(parseGuestTypes(types)).toEqual(types);
    expect(parseGuestTypes({ ...types, classIds: { Uint8Array: 3 } }).classIds).toEqual({ Uint8Array: 3 });
  });

  test('parseGuestTypes: skipped and classIds may be left out when empty, and read as empty', () => {
    expect(parseGuestTypes({ version: 1, exports: [fn('f', [], 'void')] })).toEqual({
      version: 1, exports: [fn('f', [], 'void')], skipped: [], classIds: {},
    });
  });
});
