import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CloudburstError } from '../../common/index.ts';
import { devTargets } from '../../tools/cli/dev.ts';
import { initProject, moduleNameOf } from '../../tools/cli/init.ts';

// What `cloudburst init` writes and refuses, and which entries and module names `cloudburst dev`
// takes from a project. The project building and its test passing: tools/pack-install.test.ts;
// dev running: tools/dev.test.ts.

const codeOf = (f: () => unknown): string | undefined => {
  try {
    f();
  } catch (err) {
    return err instanceof CloudburstError ? err.code : String(err);
  }
  return undefined;
};

describe('cli: cloudburst init', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cb-init-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes the project into a new folder, the module named after it', () => {
    const result = initProject(join(dir, 'hello'), undefined);
    expect(result.module).toBe('hello');
    expect(result.files.sort()).toEqual(['.gitignore', 'README.md', 'asconfig.json', 'package.json', 'src/index.ts', 'test/greet.test.js']);
    const pkg = JSON.parse(readFileSync(join(dir, 'hello', 'package.json'), 'utf8')) as { scripts: Record<string, string>; cloudburst: { module: string } };
    expect(pkg.scripts).toEqual({ build: 'cloudburst build src/index.ts -o build/hello.wasm', dev: 'cloudburst dev --name hello', test: 'node --test' });
    expect(pkg.cloudburst.module).toBe('hello');
    expect(readFileSync(join(dir, 'hello', 'test', 'greet.test.js'), 'utf8')).toContain("const MODULE = 'hello';");
    expect(readFileSync(join(dir, 'hello', '.gitignore'), 'utf8')).toContain('.cloudburst/');
  });

  it('writes into an empty folder; --name names the module (the package name is its lower case)', () => {
    mkdirSync(join(dir, 'empty'));
    const result = initProject(join(dir, 'empty'), 'Greeter_2');
    expect(result.module).toBe('Greeter_2');
    const pkg = JSON.parse(readFileSync(join(dir, 'empty', 'package.json'), 'utf8')) as { name: string };
    expect(pkg.name).toBe('greeter_2');
  });

  it('refuses a folder that is not empty, or a file, with DIR_NOT_EMPTY, and writes nothing', () => {
    mkdirSync(join(dir, 'taken'));
    writeFileSync(join(dir, 'taken', 'notes.txt'), 'mine');
    expect(codeOf(() => initProject(join(dir, 'taken'), undefined))).toBe('DIR_NOT_EMPTY');
    expect(readdirSync(join(dir, 'taken'))).toEqual(['notes.txt']);
    writeFileSync(join(dir, 'file'), 'x');
    expect(codeOf(() => initProject(join(dir, 'file'), undefined))).toBe('DIR_NOT_EMPTY');
  });

  it('refuses a --name that is not a module name with INVALID_NAME, and writes nothing', () => {
    expect(codeOf(() => initProject(join(dir, 'x'), 'no spaces'))).toBe('INVALID_NAME');
    expect(readdirSync(dir)).toEqual([]);
  });

  it('makes a module name of any folder name', () => {
    expect(moduleNameOf('My App!')).toBe('My-App');
    expect(moduleNameOf('---')).toBe('functions');
    expect(moduleNameOf('x'.repeat(100))).toHaveLength(64);
  });
});

describe('cli: cloudburst dev, its entries and module names', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cb-dev-targets-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('a project init made: asconfig.json entries, package.json module', () => {
    const project = initProject(join(dir, 'hello'), 'greeter').dir;
    expect(devTargets([], undefined, project)).toEqual([{ entry: join(project, 'src', 'index.ts'), module: 'greeter' }]);
    expect(devTargets([], 'other', project)).toEqual([{ entry: join(project, 'src', 'index.ts'), module: 'other' }]);
  });

  it('files given: one takes --name or its file name, several their file names (--name refused)', () => {
    writeFileSync(join(dir, 'a.ts'), '');
    writeFileSync(join(dir, 'b.ts'), '');
    expect(devTargets(['a.ts'], undefined, dir)).toEqual([{ entry: join(dir, 'a.ts'), module: 'a' }]);
    expect(devTargets(['a.ts', 'b.ts'], undefined, dir).map((t) => t.module)).toEqual(['a', 'b']);
    expect(codeOf(() => devTargets(['a.ts', 'b.ts'], 'x', dir))).toBe('INVALID_REQUEST');
  });

  it('no entry, or a missing file: INVALID_REQUEST naming the way out', () => {
    expect(() => devTargets([], undefined, dir)).toThrow(/cloudburst init NAME/);
    expect(codeOf(() => devTargets(['missing.ts'], undefined, dir))).toBe('INVALID_REQUEST');
  });
});
