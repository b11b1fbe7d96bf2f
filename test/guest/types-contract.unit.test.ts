import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, test } from 'vitest';
import { TYPES_SECTION, TYPES_VERSION } from '../../guest/abi.ts';
import {
  ARRAY_TYPES, MAX_PARAMS, NAME_PATTERN, RESERVED_PREFIX, SCALAR_TYPES, encodeTypesSection, readTypesSection,
} from '../../guest/types-section.ts';
import { ensureGuests, guestPath, listGuests } from '../setup/build-guests.ts';

// The types section has one contract, guest/types-section.ts, and one writer that cannot
// import it: the asc transform, plain JS. These tests hold the two together.

/** What tools/build/types-transform.js exports of its copy of the contract. */
interface TransformCopy {
  SECTION_NAME: string;
  SECTION_VERSION: number;
  MAX_PARAMS: number;
  NAME_PATTERN: RegExp;
  RESERVED_PREFIX: string;
  /** asc TypeKind → scalar type. */
  SCALAR_TYPES: Map<number, string>;
  /** asc internal class name → typed array type. */
  ARRAY_TYPES: Map<string, string>;
}

// By URL, so that tsc does not look for the plain JS file's types.
const TRANSFORM = new URL('../../tools/build/types-transform.js', import.meta.url).href;
const transform = (await import(/* @vite-ignore */ TRANSFORM)) as TransformCopy;

beforeAll(() => ensureGuests());

describe('types contract: the transform against guest/types-section.ts', () => {
  test('the transform writes the section name and version of guest/abi.ts', () => {
    expect(transform.SECTION_NAME).toBe(TYPES_SECTION);
    expect(transform.SECTION_VERSION).toBe(TYPES_VERSION);
  });

  test('the transform maps exactly the scalar and typed-array types of the contract', () => {
    expect([...new Set(transform.SCALAR_TYPES.values())].sort()).toEqual([...SCALAR_TYPES].sort());
    expect([...transform.ARRAY_TYPES.values()]).toEqual([...ARRAY_TYPES]);
    for (const [className, type] of transform.ARRAY_TYPES) expect(className).toBe(`~lib/typedarray/${type}`);
  });

  test('the transform skips exports by the limits of the contract', () => {
    expect(transform.MAX_PARAMS).toBe(MAX_PARAMS);
    expect(transform.RESERVED_PREFIX).toBe(RESERVED_PREFIX);
    expect({ source: transform.NAME_PATTERN.source, flags: transform.NAME_PATTERN.flags })
      .toEqual({ source: NAME_PATTERN.source, flags: NAME_PATTERN.flags });
  });

  test('every built test guest: its section is read, and encodeTypesSection writes its very bytes', async () => {
    const names = [...(await listGuests()).keys()];
    expect(names).toContain('kitchen');
    for (const name of names) {
      const module = new WebAssembly.Module(readFileSync(guestPath(name)));
      const [section, ...others] = WebAssembly.Module.customSections(module, TYPES_SECTION);
      expect(others, name).toEqual([]);
      const types = readTypesSection(module);
      expect(types, name).toBeDefined();
      expect(Buffer.from(encodeTypesSection(types!)).toString(), name).toBe(Buffer.from(section!).toString());
      expect(Buffer.from(encodeTypesSection(types!)).equals(Buffer.from(section!)), name).toBe(true);
    }
  });
});
