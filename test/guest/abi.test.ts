import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import {
  ENV_FUNCTIONS, ENV_NAMESPACE, HOST_FUNCTIONS, IMPORT_NAMESPACE, MEMORY_IMPORT,
} from '../../guest/abi.ts';
import { guestPath } from '../setup/build-guests.ts';
import { readImports, type ValType } from './wasm-imports.ts';

// The guest half of the import contract. The host's tests check its import object against
// HOST_FUNCTIONS and ENV_FUNCTIONS; these check that the SDK and asc import exactly that.

/** Signatures of the host functions, as in the table of guest/README.md. */
const SIGNATURES: Record<string, [params: ValType[], results: ValType[]]> = {
  get: [['i32', 'i32'], ['i32']],
  get_all: [['i32', 'i32'], ['i32']],
  take: [['i32'], []],
  put: [['i32', 'i32', 'i32', 'i32'], []],
  put_durable: [['i32', 'i32', 'i32', 'i32'], []],
  del: [['i32', 'i32'], []],
  counter_add: [['i32', 'i32', 'i64'], ['i64']],
  counter_get: [['i32', 'i32'], ['i64']],
  set_add: [['i32', 'i32', 'i32', 'i32'], ['i32']],
  set_has: [['i32', 'i32', 'i32', 'i32'], ['i32']],
  set_members: [['i32', 'i32'], ['i32']],
  max_put: [['i32', 'i32', 'i64'], ['i64']],
  max_get: [['i32', 'i32'], ['i64']],
  log: [['i32', 'i32', 'i32'], []],
  now: [[], ['f64']],
  id: [[], ['i32']],
  send: [['i32', 'i32', 'i32', 'i32'], []],
  recv: [['i32'], ['i32']],
  abort: [['i32', 'i32', 'i32', 'i32'], []],
  seed: [[], ['f64']],
  trace: [['i32', 'i32', 'f64', 'f64', 'f64', 'f64', 'f64'], []],
};

describe('abi', () => {
  test('kitchen imports every host function and asc helper, and nothing else', () => {
    const imports = readImports(readFileSync(guestPath('kitchen')));
    const names = (namespace: string) => imports.filter(i => i.module === namespace && i.kind === 'function').map(i => i.name).sort();
    expect(names(IMPORT_NAMESPACE)).toEqual([...HOST_FUNCTIONS].sort());
    expect(names(ENV_NAMESPACE)).toEqual([...ENV_FUNCTIONS].sort());
    expect(imports.filter(i => i.kind !== 'function')).toEqual([
      // No maximum: the host decides how far a guest may grow.
      { module: ENV_NAMESPACE, name: MEMORY_IMPORT, kind: 'memory', minimum: expect.any(Number), maximum: undefined },
    ]);
    expect(new Set(imports.map(i => i.module))).toEqual(new Set([IMPORT_NAMESPACE, ENV_NAMESPACE]));
  });

  test('every import has the signature documented in guest/README.md', () => {
    for (const i of readImports(readFileSync(guestPath('kitchen')))) {
      if (i.kind !== 'function') continue;
      expect([i.params, i.results], `${i.module}.${i.name}`).toEqual(SIGNATURES[i.name]);
    }
  });

  test('the SDK declares exactly HOST_FUNCTIONS, in the cloudburst namespace', () => {
    const source = readFileSync(new URL('../../guest/sdk/cloudburst/imports.ts', import.meta.url), 'utf8');
    const declared = [...source.matchAll(/@external\("([^"]+)", "([^"]+)"\)/g)].map(([, namespace, name]) => {
      expect(namespace).toBe(IMPORT_NAMESPACE);
      return name;
    });
    expect(declared.sort()).toEqual([...HOST_FUNCTIONS].sort());
  });

  test('guest/README.md documents every host function', () => {
    const readme = readFileSync(new URL('../../guest/README.md', import.meta.url), 'utf8');
    for (const name of [...HOST_FUNCTIONS, ...ENV_FUNCTIONS]) expect(readme, name).toContain(`\`${name}(`);
  });

  test('examples and fixtures import only what the host provides, except bad-import', () => {
    const provided = new Set([
      ...HOST_FUNCTIONS.map(n => `${IMPORT_NAMESPACE}.${n}`),
      ...[...ENV_FUNCTIONS, MEMORY_IMPORT].map(n => `${ENV_NAMESPACE}.${n}`),
    ]);
    for (const name of ['math', 'counter', 'arrays', 'kitchen', 'hostile']) {
      const foreign = readImports(readFileSync(guestPath(name))).map(i => `${i.module}.${i.name}`).filter(n => !provided.has(n));
      expect(foreign, name).toEqual([]);
    }
    const bad = readImports(readFileSync(guestPath('bad-import'))).map(i => `${i.module}.${i.name}`).filter(n => !provided.has(n));
    expect(bad.sort()).toEqual(['cloudburst.teleport', 'sneaky.read_host_file']);
  });
});
