import { beforeAll, describe, expect, test } from 'vitest';
import { MAX_PARAMS, readTypesSection } from '../../guest/types-section.ts';
import { readModuleTypes } from '../../host/module-types.ts';
import { guestBytes } from '../helpers/platform.ts';
import { ensureGuests } from '../setup/build-guests.ts';
import { OP, assemble, isTypesSection, joinSections, splitSections, typed, typesJson, withTypes } from '../helpers/wasm-rewrite.ts';

// The upload reads a module's types section with the build's reader (guest/types-section.ts):
// a section either of them refuses is refused at upload with MISSING_TYPES, naming the problem.

const kitchen = (): Uint8Array<ArrayBuffer> => new Uint8Array(guestBytes('kitchen'));
const kitchenTypes = (): Record<string, unknown> => typesJson(kitchen()) as Record<string, unknown>;
const refusal = (wasm: Uint8Array<ArrayBuffer>): unknown => {
  try {
    readModuleTypes(new WebAssembly.Module(wasm));
  } catch (error) {
    return error;
  }
  return new Error('accepted');
};

/** square(x: i32): i32, a module without asc's runtime. */
const square = (typesSection: unknown): Uint8Array<ArrayBuffer> =>
  assemble({ types: [[['i32'], ['i32']]], imports: [], functions: [{ type: 0, code: [OP.localGet, 0], export: 'square' }], typesSection });

beforeAll(() => ensureGuests(['kitchen']));

describe('upload: the types section', () => {
  test('a built guest: the registry keeps the exports and class ids its section gives', () => {
    const types = readTypesSection(kitchen())!;
    expect(readModuleTypes(new WebAssembly.Module(kitchen()))).toEqual({ exports: types.exports, classIds: types.classIds });
  });

  test('a hand-made section may leave out empty skipped and classIds, as before', () => {
    const types = readModuleTypes(new WebAssembly.Module(square({ version: 1, exports: [typed('square', [['x', 'i32']], 'i32')] })));
    expect(types).toEqual({ exports: [typed('square', [['x', 'i32']], 'i32')], classIds: {} });
  });

  const sections: [string, () => Uint8Array<ArrayBuffer>, RegExp][] = [
    ['no section', () => joinSections(splitSections(kitchen()).filter(s => !isTypesSection(s))), /has no "cloudburst.types" section: build it with `cloudburst build`/],
    ['two sections', () => joinSections([...splitSections(kitchen()), ...splitSections(kitchen()).filter(isTypesSection)]), /2 sections, expected one/],
    ['not JSON', () => withTypes(kitchen(), '{"version":1,'), /not UTF-8 JSON/],
    ['another version', () => withTypes(kitchen(), { ...kitchenTypes(), version: 2 }), /unsupported version 2/],
    ['an export that is no function of the module', () => withTypes(kitchen(), { ...kitchenTypes(), exports: [typed('nope', [], 'void')] }), /nope is not an exported function of the module/],
    ['a name that is no ASCII identifier', () => withTypes(kitchen(), { ...kitchenTypes(), exports: [typed('echo-u8', [], 'void')] }), /exports\[0\] has no valid name/],
    ['a runtime export', () => withTypes(kitchen(), { ...kitchenTypes(), exports: [typed('__pin', [['p', 'i32']], 'i32')] }), /names starting with __ are reserved for the runtime/],
    ['an export listed twice', () => withTypes(kitchen(), { ...kitchenTypes(), exports: [typed('noop', [], 'void'), typed('noop', [], 'void')] }), /export noop is listed twice/],
    ['too many parameters', () => withTypes(kitchen(), { ...kitchenTypes(), exports: [typed('noop', Array.from({ length: MAX_PARAMS + 1 }, (_, i): [string, string] => [`a${i}`, 'i32']), 'void')] }), /export noop: 33 parameters, at most 32/],
    ['an unsupported type', () => withTypes(kitchen(), { ...kitchenTypes(), exports: [typed('echoI8', [['x', 'i128']], 'i8')] }), /parameter x has unsupported type i128/],
    ['a class id below 3', () => withTypes(kitchen(), { ...kitchenTypes(), classIds: { Uint8Array: 2 } }), /classIds: bad id for Uint8Array: 2,/],
    ['a typed array without a class id', () => withTypes(kitchen(), { ...kitchenTypes(), classIds: {} }), /export echoBytes uses Uint8Array, which has no class id/],
    ['strings without the runtime', () => square({ version: 1, exports: [typed('square', [['s', 'string']], 'i32')] }), /does not export __new \(build with --exportRuntime\)/],
  ];
  test.each(sections)('%s is MISSING_TYPES, naming the problem', (_, wasm, message) => {
    const error = refusal(wasm());
    expect(error).toMatchObject({ code: 'MISSING_TYPES' });
    expect((error as Error).message).toMatch(message);
  });

  test('a section with nothing to call is MISSING_TYPES, giving each export\'s reason', () => {
    const error = refusal(withTypes(kitchen(), { ...kitchenTypes(), exports: [] }));
    expect(error).toMatchObject({ code: 'MISSING_TYPES' });
    expect((error as Error).message).toBe(
      'the module exports no typed functions (maybeLength: parameter s has unsupported type string | null; ' +
        'withDefault: parameter b is optional (give it no default value); firstOf: parameter a has unsupported type Array<i32>)',
    );
  });
});
