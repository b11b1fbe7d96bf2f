import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, test } from 'vitest';
import {
  ENV_FUNCTIONS, ENV_NAMESPACE, HOST_FUNCTIONS, IMPORT_NAMESPACE, MEMORY_IMPORT,
} from '../../guest/abi.ts';
import { HOST_IMPORTS, parseSignature } from '../../host/module-abi.ts';
import { readWasm, type WasmImport } from '../../host/wasm-binary.ts';
import { ensureGuests, guestPath } from '../setup/build-guests.ts';

// The guest half of the import contract. The host's tests check its import object against
// HOST_FUNCTIONS and ENV_FUNCTIONS; these check that the SDK and asc import exactly that.

const hostNames = HOST_FUNCTIONS.map((s) => parseSignature(s).name);
const envNames = ENV_FUNCTIONS.map((s) => parseSignature(s).name);
const importsOf = (name: string): WasmImport[] => readWasm(readFileSync(guestPath(name))).imports;
/** The examples and fixtures that must import only what the host provides. */
const CLEAN = ['math', 'counter', 'arrays', 'gossip', 'retwis', 'kitchen', 'hostile', 'chain'];

beforeAll(() => ensureGuests([...CLEAN, 'bad-import']));

describe('abi', () => {
  test('kitchen imports every host function and asc helper, and nothing else', () => {
    const imports = importsOf('kitchen');
    const names = (namespace: string) => imports.filter(i => i.module === namespace && i.kind === 'function').map(i => i.name).sort();
    expect(names(IMPORT_NAMESPACE)).toEqual([...hostNames].sort());
    expect(names(ENV_NAMESPACE)).toEqual([...envNames].sort());
    expect(imports.filter(i => i.kind !== 'function')).toEqual([
      // No maximum: the host decides how far a guest may grow.
      { module: ENV_NAMESPACE, name: MEMORY_IMPORT, kind: 'memory', initialPages: expect.any(Number), maximumPages: undefined, shared: false },
    ]);
    expect(new Set(imports.map(i => i.module))).toEqual(new Set([IMPORT_NAMESPACE, ENV_NAMESPACE]));
  });

  test('every import has the signature of guest/abi.ts', () => {
    for (const i of importsOf('kitchen')) {
      if (i.kind !== 'function') continue;
      const provided = HOST_IMPORTS.get(i.module)?.get(i.name);
      expect(provided, `${i.module}.${i.name}`).toBeDefined();
      expect(i.type, `${i.module}.${i.name}`).toEqual({ params: provided!.params, results: provided!.results });
    }
  });

  test('guest/README.md documents every host function with the signature of guest/abi.ts', () => {
    const readme = readFileSync(new URL('../../guest/README.md', import.meta.url), 'utf8');
    for (const text of HOST_FUNCTIONS) {
      const { name, params, results } = parseSignature(text);
      // A README row: `get(kp: i32, kl: i32) -> i32` (parameter names are the README's).
      const row = new RegExp(`\\| \`${name}\\(([^)]*)\\)(?: -> (\\w+))?\``).exec(readme);
      expect(row, name).not.toBeNull();
      const documented = row![1]!.length === 0 ? [] : row![1]!.split(', ').map((p) => p.split(': ')[1]);
      expect([documented, row![2] === undefined ? [] : [row![2]]], name).toEqual([params, results]);
    }
  });

  test('the SDK declares exactly HOST_FUNCTIONS, in the cloudburst namespace', () => {
    const source = readFileSync(new URL('../../guest/sdk/cloudburst/imports.ts', import.meta.url), 'utf8');
    const declared = [...source.matchAll(/@external\("([^"]+)", "([^"]+)"\)/g)].map(([, namespace, name]) => {
      expect(namespace).toBe(IMPORT_NAMESPACE);
      return name;
    });
    expect(declared.sort()).toEqual([...hostNames].sort());
  });

  test('guest/README.md documents every host function', () => {
    const readme = readFileSync(new URL('../../guest/README.md', import.meta.url), 'utf8');
    for (const name of [...hostNames, ...envNames]) expect(readme, name).toContain(`\`${name}(`);
  });

  test('examples and fixtures import only what the host provides, with its signatures, except bad-import', () => {
    const foreign = (name: string) => importsOf(name).filter((i) => {
      if (i.module === ENV_NAMESPACE && i.name === MEMORY_IMPORT) return i.kind !== 'memory';
      const provided = HOST_IMPORTS.get(i.module)?.get(i.name);
      return provided === undefined || i.kind !== 'function' || JSON.stringify(i.type) !== JSON.stringify({ params: provided.params, results: provided.results });
    }).map((i) => `${i.module}.${i.name}`);
    for (const name of CLEAN) expect(foreign(name), name).toEqual([]);
    expect(foreign('bad-import').sort()).toEqual(['cloudburst.teleport', 'sneaky.read_host_file']);
  });

  test('every signature in guest/abi.ts parses, and names are unique per namespace', () => {
    expect(HOST_IMPORTS.get(IMPORT_NAMESPACE)!.size).toBe(HOST_FUNCTIONS.length);
    expect(HOST_IMPORTS.get(ENV_NAMESPACE)!.size).toBe(ENV_FUNCTIONS.length);
    expect(parseSignature('get(i32, i32) -> i32')).toEqual({ name: 'get', params: ['i32', 'i32'], results: ['i32'] });
    expect(parseSignature('take(i32)')).toEqual({ name: 'take', params: ['i32'], results: [] });
    expect(() => parseSignature('get(i32,i32)')).toThrow();
  });
});
