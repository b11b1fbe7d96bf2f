import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { TYPES_SECTION } from '../../guest/abi.ts';
import { MAX_PARAMS, encodeTypesSection, readTypesSection } from '../../guest/types-section.ts';
import { BuildError, buildGuest } from '../../tools/build/index.ts';

// Each compile costs a second or more, so these build with optimize: false where the
// optimizer is beside the point.
describe('build', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cloudburst-build-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('resolves `import ... from "cloudburst"` in a project outside the repository', async () => {
    const entry = join(dir, 'views.ts');
    await writeFile(join(dir, 'keys.ts'), 'export function viewsOf(page: string): string { return "views:" + page; }\n');
    await writeFile(
      entry,
      [
        'import { counter, log } from "cloudburst";',
        'import { viewsOf } from "./keys";',
        'export function view(page: string): i64 {',
        '  log.info("view " + page);',
        '  return counter.add(viewsOf(page), 1);',
        '}',
      ].join('\n'),
    );
    const outFile = join(dir, 'out', 'views.wasm');
    const { wasm, types, stderr } = await buildGuest({ entry, outFile, optimize: false });

    expect(types.exports).toEqual([{ name: 'view', params: [{ name: 'page', type: 'string' }], result: 'i64' }]);
    expect(stderr).toBe('');
    expect(readFileSync(outFile)).toEqual(Buffer.from(wasm));
    expect(readTypesSection(wasm)).toEqual(types);
    const imports = WebAssembly.Module.imports(new WebAssembly.Module(wasm)).map(i => `${i.module}.${i.name}`);
    expect(imports.sort()).toEqual(['cloudburst.counter_add', 'cloudburst.log', 'env.abort', 'env.memory']);
  });

  test('a compile error in user code is a BuildError carrying asc\'s diagnostics', async () => {
    const entry = join(dir, 'broken.ts');
    await writeFile(entry, ['import { get } from "cloudburst";', 'export function f(x: i32): i32 {', '  return x + undefinedThing;', '}'].join('\n'));
    const error = await buildGuest({ entry, optimize: false }).then(
      () => expect.unreachable('the build should fail'),
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(BuildError);
    const { message, diagnostics } = error as BuildError;
    expect(message.split('\n')[0]).toBe(`${entry}: 1 compile error(s)`);
    expect(diagnostics).toContain("ERROR TS2304: Cannot find name 'undefinedThing'.");
    expect(diagnostics).toContain('broken.ts(3,14)'); // file(line,column) of the author's file
    expect(diagnostics).not.toMatch(/\u001b\[/); // no terminal colors
    expect(message).toContain(diagnostics);
  });

  test('importing a name the SDK does not export fails with the name in the message', async () => {
    const entry = join(dir, 'typo.ts');
    await writeFile(entry, 'import { gett } from "cloudburst";\nexport function f(): i32 { return gett("k") === null ? 0 : 1; }\n');
    await expect(buildGuest({ entry, optimize: false })).rejects.toThrow(/Module '~lib\/cloudburst' has no exported member 'gett'/);
  });

  test('a missing entry file is a BuildError, and nothing is written', async () => {
    const outFile = join(dir, 'never.wasm');
    await expect(buildGuest({ entry: join(dir, 'nope.ts'), outFile })).rejects.toThrow(BuildError);
    expect(existsSync(outFile)).toBe(false);
  });

  test('an export the host cannot call is built, listed under skipped, and warned about', async () => {
    const entry = join(dir, 'nullable.ts');
    await writeFile(entry, 'export function len(s: string | null): i32 { return s === null ? 0 : s.length; }\n');
    const { types, stderr } = await buildGuest({ entry, optimize: false });
    expect(types.exports).toEqual([]);
    expect(types.skipped).toEqual([{ name: 'len', reason: 'parameter s has unsupported type string | null' }]);
    expect(stderr).toContain("export 'len' cannot be called by the host: parameter s has unsupported type string | null");
  });

  test('exports beyond the limits of the types contract are skipped and warned about, never written for the host to refuse', async () => {
    const entry = join(dir, 'limits.ts');
    const many = Array.from({ length: MAX_PARAMS + 1 }, (_, i) => `a${i}: i32`).join(', ');
    await writeFile(entry, [
      `export function many(${many}): i32 { return a0; }`,
      'export function añadir(x: i32): i32 { return x + 1; }',
      'export function double(año: i32): i32 { return año * 2; }',
    ].join('\n'));
    const { wasm, types, stderr } = await buildGuest({ entry, optimize: false });
    // A parameter name outside the contract is only renamed: arguments go by position.
    expect(types.exports).toEqual([{ name: 'double', params: [{ name: 'arg0', type: 'i32' }], result: 'i32' }]);
    expect(types.skipped).toEqual([
      { name: 'many', reason: `it has ${MAX_PARAMS + 1} parameters, at most ${MAX_PARAMS}` },
      { name: 'añadir', reason: 'its name is not an ASCII identifier of at most 128 characters' },
    ]);
    expect(stderr).toContain("export 'many' cannot be called by the host: it has 33 parameters, at most 32");
    expect(stderr).toContain("export 'añadir' cannot be called by the host: its name is not an ASCII identifier");
    const [section] = WebAssembly.Module.customSections(new WebAssembly.Module(wasm), TYPES_SECTION);
    expect(Buffer.from(section!).equals(Buffer.from(encodeTypesSection(types)))).toBe(true);
  });
});
