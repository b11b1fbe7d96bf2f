import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { CloudburstError } from '../../common/index.ts';
import { readWasm } from '../../host/wasm-binary.ts';
import { guestBytes } from '../helpers/platform.ts';
import { ensureGuests } from '../setup/build-guests.ts';

// The host's reader of module binaries runs on uploads, after WebAssembly.validate; it is
// written for hostile bytes anyway. Here it is checked against V8's own reading of real
// modules, and fed damaged ones.

const GUESTS = ['kitchen', 'counter', 'math', 'arrays', 'chain', 'hostile', 'bad-import'];

beforeAll(() => ensureGuests(GUESTS));

describe('wasm binary reader', () => {
  it('reads the imports and exports V8 reads, with signatures that link', () => {
    for (const name of GUESTS) {
      const bytes = new Uint8Array(guestBytes(name));
      const module = new WebAssembly.Module(bytes);
      const shape = readWasm(bytes);
      expect(shape.imports.map((i) => [i.module, i.name, i.kind]), name).toEqual(WebAssembly.Module.imports(module).map((i) => [i.module, i.name, i.kind]));
      expect(shape.exports.map((e) => [e.name, e.kind]), name).toEqual(WebAssembly.Module.exports(module).map((e) => [e.name, e.kind]));
      expect(shape.definesMemory, name).toBe(false);
    }
    const math = readWasm(new Uint8Array(guestBytes('math')));
    expect(math.exports.find((e) => e.name === 'square')).toEqual({ name: 'square', kind: 'function', type: { params: ['i64'], results: ['i64'] } });
  });

  it('damaged modules: the reader answers or refuses with INVALID_WASM, never anything else', () => {
    const bases = GUESTS.map((n) => new Uint8Array(guestBytes(n)));
    fc.assert(
      fc.property(
        fc.constantFrom(...bases),
        fc.array(fc.record({ at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }), { minLength: 1, maxLength: 8 }),
        fc.option(fc.nat()),
        (base, edits, cut) => {
          const bytes = base.slice(0, cut === null ? base.length : 8 + (cut % base.length));
          // Damage the framing (the first 600 bytes hold the type, import, function and export sections).
          for (const { at, value } of edits) if (bytes.length > 8) bytes[8 + (at % Math.min(600, bytes.length - 8))] = value;
          try {
            readWasm(bytes);
          } catch (err) {
            expect(err).toBeInstanceOf(CloudburstError);
            expect((err as CloudburstError).code).toBe('INVALID_WASM');
          }
        },
      ),
      { numRuns: 2000 },
    );
  });
});
