import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { SOURCE_MAP_SECTION } from '../../guest/abi.ts';
import { CloudburstError } from '../../common/index.ts';
import { functionName, guestWhere } from '../../host/executor/guest-stack.ts';
import { moduleSourceMap } from '../../host/module-source-map.ts';
import { decodeMappings, lookup, readSourceMap, SOURCE_MAP_LIMITS, type SourceMapIndex } from '../../host/source-map.ts';
import { readWasm } from '../../host/wasm-binary.ts';
import { appendCustomSection } from '../../tools/build/source-map-section.ts';
import { guestBytes, ROOT } from '../helpers/platform.ts';
import { ensureGuests } from '../setup/build-guests.ts';

// The source map of a real asc build (test/fixtures/guests/traps.ts), decoded the way the host
// decodes uploads, looked up at the offsets V8 reports when the fixture's functions fail.

const FIXTURE = 'test/fixtures/guests/traps.ts';
/** The 1-based line of `// fails: name` in the fixture: read from the file, never written down here. */
const lineOf = (name: string): number => readFileSync(`${ROOT}/${FIXTURE}`, 'utf8').split('\n').findIndex((l) => l.includes(`// fails: ${name}`)) + 1;

const VLQ = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
/** A reference VLQ encoder (the spec's), for the property below. */
function vlq(value: number): string {
  let v = value < 0 ? (-value * 2) + 1 : value * 2;
  let out = '';
  do {
    let digit = v % 32;
    v = Math.floor(v / 32);
    if (v > 0) digit += 32;
    out += VLQ[digit];
  } while (v > 0);
  return out;
}

let bytes: Uint8Array<ArrayBuffer>;
let index: SourceMapIndex;
let traps: WebAssembly.Instance;

/** The fixture's export `fn` called with `args`: the Error it throws (a trap, or the abort import's). */
function failure(fn: string, ...args: unknown[]): Error {
  try {
    (traps.exports[fn] as (...a: unknown[]) => unknown)(...args);
  } catch (err) {
    return err as Error;
  }
  throw new Error(`${fn} did not fail`);
}

beforeAll(async () => {
  await ensureGuests(['traps', 'kitchen']);
  bytes = new Uint8Array(guestBytes('traps'));
  const module = new WebAssembly.Module(bytes);
  index = moduleSourceMap(module, readWasm(bytes))!;
  const memory = new WebAssembly.Memory({ initial: 1, maximum: 64 });
  const env = Object.assign(Object.create(null), {
    memory, seed: () => 1, trace: () => undefined,
    abort: () => {
      throw new Error('abort');
    },
  });
  traps = new WebAssembly.Instance(module, { env });
});

describe('source map: decoding', () => {
  it('a real asc build carries its map: user and library sources, increasing offsets inside the module', () => {
    expect(index).toBeDefined();
    expect(index.sources).toContain('traps.ts');
    expect(index.sources.some((s) => s.startsWith('~lib/'))).toBe(true);
    expect(index.offsets.length).toBeGreaterThan(10);
    for (let i = 1; i < index.offsets.length; i++) expect(index.offsets[i]).toBeGreaterThanOrEqual(index.offsets[i - 1]!);
    expect(index.offsets[index.offsets.length - 1]).toBeLessThan(bytes.byteLength);
    // Without the sources' text: the section stays small.
    const section = WebAssembly.Module.customSections(new WebAssembly.Module(bytes), SOURCE_MAP_SECTION)[0]!;
    expect(JSON.parse(Buffer.from(section).toString('utf8'))).not.toHaveProperty('sourcesContent');
  });

  it('VLQ: every field round-trips, negatives and values up to 32 bits included', () => {
    fc.assert(fc.property(
      fc.array(fc.tuple(fc.nat({ max: 1 << 20 }), fc.integer({ min: -3, max: 3 }), fc.integer({ min: -(2 ** 31) + 1, max: 2 ** 31 - 1 }), fc.nat({ max: 1000 })), { minLength: 1, maxLength: 40 }),
      (segments) => {
        // Deltas chosen so that source, line and column stay in range.
        let src = 0; let line = 0; let col = 0; let off = 0;
        const text: string[] = [];
        const want: number[][] = [];
        for (const [dOff, dSrc, lineAt, colAt] of segments) {
          const nextSrc = Math.min(3, Math.max(0, src + dSrc));
          const nextLine = Math.abs(lineAt) % 100000;
          text.push(vlq(dOff) + vlq(nextSrc - src) + vlq(nextLine - line) + vlq(colAt - col));
          off += dOff; src = nextSrc; line = nextLine; col = colAt;
          want.push([off, src, line, col]);
        }
        const got = decodeMappings(text.join(','), 4);
        expect(want.map((_, i) => [got.offsets[i], got.source[i], got.line[i], got.column[i]])).toEqual(want);
      },
    ));
    expect(decodeMappings('gB', 0)).toMatchObject({ offsets: Uint32Array.of(16), source: Int32Array.of(-1) });
  });

  it.each([
    ['a second generated line', 'AAAA;AAAA', /one generated line/],
    ['a character that is no base64', 'AA*A', /not base64/],
    ['a number past 32 bits', 'gggggggggA', /too long|32 bits/],
    ['a number cut short', 'g', /end inside a number/],
    ['two fields', 'AA', /2 fields/],
    ['six fields', 'AAAAAA', /more than 5 fields/],
    ['an empty segment', 'AAAA,,AAAA', /empty segment/],
    ['a source index out of range', 'AEAA', /names source 2/],
    ['a negative line', 'AADA', /line 0/],
    ['offsets going backwards', 'EAAA,DAAA', /backwards/],
  ])('malformed mappings (%s): INVALID_WASM saying what', (_what, mappings, why) => {
    expect(() => decodeMappings(mappings, 1)).toThrow(expect.objectContaining({ code: 'INVALID_WASM', message: expect.stringMatching(why) }));
  });

  it.each([
    ['not JSON', '{"version":3,', /not UTF-8 JSON/],
    ['not an object', '[1]', /not a JSON object/],
    ['another version', '{"version":2,"sources":[],"mappings":""}', /version 2/],
    ['sources not a list', '{"version":3,"sources":"a.ts","mappings":""}', /"sources" must be a list/],
    ['a source that is no string', '{"version":3,"sources":[1],"mappings":""}', /source name/],
    ['a source with a control character', '{"version":3,"sources":["a\\nb.ts"],"mappings":""}', /source name/],
    ['a very long source name', JSON.stringify({ version: 3, sources: ['a'.repeat(SOURCE_MAP_LIMITS.maxSourceName + 1)], mappings: '' }), /source name/],
    ['too many sources', JSON.stringify({ version: 3, sources: Array.from({ length: SOURCE_MAP_LIMITS.maxSources + 1 }, (_, i) => `f${i}.ts`), mappings: '' }), /at most/],
    ['mappings not a string', '{"version":3,"sources":[],"mappings":5}', /"mappings" must be a string/],
  ])('a malformed map (%s): INVALID_WASM', (_what, text, why) => {
    expect(() => readSourceMap(new TextEncoder().encode(text), [])).toThrow(expect.objectContaining({ code: 'INVALID_WASM', message: expect.stringMatching(why) }));
  });

  it('a section over the size limit is refused before it is parsed', () => {
    const big = new Uint8Array(SOURCE_MAP_LIMITS.maxBytes + 1).fill(0x20);
    expect(() => readSourceMap(big, [])).toThrow(expect.objectContaining({ code: 'INVALID_WASM', message: expect.stringContaining(`limit of ${SOURCE_MAP_LIMITS.maxBytes}`) }));
  });

  it('a module with two map sections is refused; one without a map has none', () => {
    const twice = appendCustomSection(bytes, SOURCE_MAP_SECTION, new TextEncoder().encode('{"version":3,"sources":[],"mappings":""}'));
    expect(() => moduleSourceMap(new WebAssembly.Module(twice), readWasm(twice))).toThrow(CloudburstError);
    const kitchen = new Uint8Array(guestBytes('kitchen'));
    const sections = WebAssembly.Module.customSections(new WebAssembly.Module(kitchen), SOURCE_MAP_SECTION);
    expect(sections.length).toBe(1); // every cloudburst build has one
  });

  it('damaged maps: the decoder answers or refuses with INVALID_WASM, never anything else', () => {
    const section = Buffer.from(WebAssembly.Module.customSections(new WebAssembly.Module(bytes), SOURCE_MAP_SECTION)[0]!);
    fc.assert(fc.property(fc.array(fc.record({ at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }), { minLength: 1, maxLength: 6 }), (edits) => {
      const damaged = Uint8Array.from(section);
      for (const { at, value } of edits) damaged[at % damaged.length] = value;
      try {
        readSourceMap(damaged, []);
      } catch (err) {
        expect(err).toBeInstanceOf(CloudburstError);
        expect((err as CloudburstError).code).toBe('INVALID_WASM');
      }
    }));
  });
});

describe('source map: the offsets V8 reports', () => {
  it.each([
    ['outOfBounds', [5], 'outOfBounds'],
    ['unreachableAt', [1], 'unreachableAt'],
    ['divide', [1, 0], 'divide'],
  ])('%s: the innermost user frame is the marked line of the fixture, with the function name', (fn, args, marker) => {
    const { where, stack } = guestWhere(failure(fn, ...args).stack, index);
    expect(where).toMatch(new RegExp(`^at traps\\.ts:${lineOf(marker)}:\\d+ \\(${fn}\\)$`));
    expect(stack.length).toBeGreaterThan(0);
    expect(stack[0]!.offset).toMatch(/^0x[0-9a-f]+$/);
  });

  it('an abort: the wasm frames under the abort import map to the failing assertion (one call deeper)', () => {
    const asserted = guestWhere(failure('asserts', 12).stack, index);
    expect(asserted.where).toMatch(new RegExp(`^at traps\\.ts:${lineOf('asserts')}:\\d+ \\((check|asserts)\\)$`));
  });

  it('a library position inside an inlined call falls back to the user statement before it, within the function', () => {
    const top = guestWhere(failure('outOfBounds', 7).stack, index).stack[0]!;
    const offset = Number.parseInt(top.offset, 16);
    const found = lookup(index, offset);
    expect(found.at?.file).toMatch(/^~lib\//);
    expect(found.user).toMatchObject({ file: 'traps.ts', line: lineOf('outOfBounds') });
  });

  it('without a map, frames carry offsets and names only, and no position', () => {
    const { where, stack } = guestWhere(failure('divide', 1, 0).stack, undefined);
    expect(where).toBeUndefined();
    expect(stack[0]).toEqual({ function: 'divide', offset: expect.stringMatching(/^0x/) });
  });

  it('function names lose asc\'s file prefix and stay bounded', () => {
    expect(functionName('traps/outOfBounds')).toBe('outOfBounds');
    expect(functionName('export:traps/fail')).toBe('fail');
    expect(functionName('~lib/map/Map<~lib/string/String,i32>#get')).toBe('Map<~lib/string/String,i32>#get');
    expect(functionName('a\u0000b'.repeat(100)).length).toBeLessThanOrEqual(131);
  });
});
